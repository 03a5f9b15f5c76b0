"""A systemd user timer instead of a crontab, where systemd runs (``/run/systemd/system`` exists).

systemd's ``OnCalendar=`` takes a time zone, so the timer fires at the UTC minutes
read off the calendar (a few minutes before every instant the session can fall on),
whatever the machine's zone; ``toolkit schedule fire`` then waits for the exact
minute or exits quietly, exactly as from cron. A second timer runs
``toolkit schedule run-due`` two minutes after boot (sessions missed while the machine
was off). Unit files are named ``toolkit-<id>-fire.{service,timer}`` and
``toolkit-<id>-run-due.{service,timer}``; each holds the tag line ``# toolkit-schedule
id=<id> key=<key> params=<file>`` so ``list`` finds exactly the toolkit's units.

Where systemd is not PID 1 (containers, these test machines) the files can still be
written, but nothing can start them: :func:`systemd_running` says which case this is.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from toolkit.ops.crontab import TAG

__all__ = ["SYSTEMD_DIR_ENV", "TimerUnits", "linger_note", "on_calendar", "systemd_running", "timer_units",
           "unit_dir", "user_lingers"]

SYSTEMD_DIR_ENV = "TOOLKIT_SYSTEMD_USER_DIR"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def systemd_running() -> bool:
    """True when systemd is the init system (``sd_booted()``'s test)."""
    return Path("/run/systemd/system").is_dir()


def unit_dir() -> Path:
    """Where user units live: ``$TOOLKIT_SYSTEMD_USER_DIR``, else ``$XDG_CONFIG_HOME/systemd/user``."""
    if os.environ.get(SYSTEMD_DIR_ENV):
        return Path(os.environ[SYSTEMD_DIR_ENV])
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "systemd" / "user"


def on_calendar(instants: list[pd.Timestamp]) -> list[str]:
    """``OnCalendar=`` values (UTC) that fire at every one of ``instants``: ``Mon,...,Fri *-*-* 20:50:00 UTC``.

    Every time fires on every weekday any instant falls on (as the cron lines do).
    """
    utc = [ts.tz_convert("UTC") for ts in instants]
    names = ",".join(_DAYS[d] for d in sorted({ts.dayofweek for ts in utc}))
    times = sorted({(t.hour, t.minute) for t in utc})
    return [f"{names} *-*-* {hour:02d}:{minute:02d}:00 UTC" for hour, minute in times]


@dataclass(frozen=True)
class TimerUnits:
    """The four unit files of one params file: name -> text."""

    files: dict[str, str]

    @property
    def timers(self) -> list[str]:
        return sorted(name for name in self.files if name.endswith(".timer"))


def _exec(verb: str, params_file: Path, notebook: str, *extra: str) -> str:
    cmd = [sys.executable, "-m", "toolkit.cli", "schedule", verb, "--params", str(params_file), "--notebook", notebook,
           *extra]
    return " ".join(shlex.quote(c) for c in cmd)


def timer_units(*, entry_id: str, key: str, params_file: Path, notebook: str, calendar: list[str],
                root: Path, lead_minutes: int) -> TimerUnits:
    """The fire and run-due services and timers of one params file (see the module doc)."""
    tag = f"{TAG} id={entry_id} key={key} params={params_file}"
    name = f"toolkit-{entry_id}"
    service = ("{tag}\n[Unit]\nDescription=toolkit {what} of {key}\n\n[Service]\nType=oneshot\n"
               "WorkingDirectory={root}\nExecStart={cmd}\n")
    fire_timer = "\n".join([tag, "[Unit]", f"Description=toolkit sessions of {key}", "", "[Timer]",
                            *(f"OnCalendar={c}" for c in calendar), "AccuracySec=1s", "Persistent=false",
                            f"Unit={name}-fire.service", "", "[Install]", "WantedBy=timers.target", ""])
    due_timer = "\n".join([tag, "[Unit]", f"Description=toolkit catch-up of {key} after boot", "", "[Timer]",
                           "OnBootSec=2min", f"Unit={name}-run-due.service", "", "[Install]", "WantedBy=timers.target",
                           ""])
    return TimerUnits({
        f"{name}-fire.service": service.format(tag=tag, what="session", key=key, root=root,
                                               cmd=_exec("fire", params_file, notebook, "--lead", str(lead_minutes))),
        f"{name}-fire.timer": fire_timer,
        f"{name}-run-due.service": service.format(tag=tag, what="catch-up", key=key, root=root,
                                                  cmd=_exec("run-due", params_file, notebook)),
        f"{name}-run-due.timer": due_timer,
    })


def systemctl(*args: str) -> subprocess.CompletedProcess[str]:
    """``systemctl --user ARGS`` (only called where :func:`systemd_running`)."""
    return subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def user_lingers() -> bool | None:
    """Whether systemd keeps this user's manager (and timers) running with nobody logged in.

    Without lingering a user's timers stop at logout: a schedule installed over SSH
    would stop when the session ends. ``loginctl show-user USER --property=Linger``;
    None when loginctl is missing or cannot say (no systemd-logind here).
    """
    import getpass

    try:
        done = subprocess.run(["loginctl", "show-user", getpass.getuser(), "--property=Linger"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip().partition("=")[2] if done.returncode == 0 else ""
    return {"yes": True, "no": False}.get(value)


def linger_note(lingers: bool | None) -> str | None:
    """What ``install`` says when the timers would stop at logout (None: lingering is on, or unknown)."""
    if lingers is not False:
        return None
    import getpass

    return ("lingering is off for this user, so systemd stops the timers when you log out and no session runs: "
            f"sudo loginctl enable-linger {getpass.getuser()}")
