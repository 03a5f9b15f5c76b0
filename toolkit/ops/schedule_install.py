"""``toolkit schedule install | list | remove``: the entries that start a params file's sessions.

The backend is cron (:mod:`toolkit.ops.crontab`), or a systemd user timer
(:mod:`toolkit.ops.systemd_timer`) where systemd runs; ``auto`` picks the timer when
systemd is the init system and cron otherwise. Either way the entries fire
``lead_minutes`` before every instant the session can fall on, over the years the
exchange calendar covers from today, and ``toolkit schedule fire`` waits for the exact
minute. Installing twice gives the same entries (the old ones of that params file are
replaced); nothing but the toolkit's own entries is ever changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import ParamsError
from toolkit.ops.crontab import (
    CronEntry,
    Crontab,
    cron_schedule,
    entry_lines,
    parse_entries,
    read_tag,
    without_entries,
)
from toolkit.ops.schedule import DEFAULT_LEAD_MINUTES, check_lead, runs_between
from toolkit.ops.schedule_target import ScheduleTarget
from toolkit.ops.systemd_timer import (
    linger_note,
    on_calendar,
    systemctl,
    systemd_running,
    timer_units,
    unit_dir,
    user_lingers,
)

__all__ = ["BACKENDS", "DEFAULT_LEAD_MINUTES", "Installed", "choose_backend", "fire_instants", "install",
           "list_entries", "log_path", "remove"]

BACKENDS = ("auto", "cron", "systemd")
#: How far ahead the entries are read off the calendar (its end, 2035, bounds it).
YEARS_AHEAD = 10


@dataclass
class Installed:
    """What an install wrote: the backend, its lines or unit files, and what a person should know."""

    backend: str
    entries: list[str]
    replaced: int = 0
    notes: list[str] = field(default_factory=list)


def choose_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ParamsError("--backend", backend, "one of " + ", ".join(BACKENDS))
    if backend == "auto":
        return "systemd" if systemd_running() else "cron"
    return backend


def fire_instants(execution_time: str, *, lead_minutes: int, start: Any = None) -> list[pd.Timestamp]:
    """Every firing instant: ``lead_minutes`` before each session's instant, from ``start`` (default now)."""
    check_lead(lead_minutes, "--lead-minutes")
    begin = pd.Timestamp.now(tz="UTC") if start is None else pd.Timestamp(start)
    begin = begin.tz_localize("UTC") if begin.tzinfo is None else begin
    runs = runs_between(execution_time, begin - pd.Timedelta(days=1), begin + pd.Timedelta(days=366 * YEARS_AHEAD))
    return [r.at - pd.Timedelta(minutes=lead_minutes) for r in runs]


def log_path(target: ScheduleTarget, root: Path) -> Path:
    """Where an entry's firings append what they did: ``outputs/schedule/<key>-<id>.log``."""
    safe = target.key.replace("|", "_").replace("/", "_")
    return root / "outputs" / "schedule" / f"{safe}-{target.entry_id}.log"


def install(target: ScheduleTarget, *, root: Path, backend: str = "auto", lead_minutes: int = DEFAULT_LEAD_MINUTES,
            zone: Any = None, crontab: Crontab | None = None, units: Path | None = None,
            start: Any = None, lingers: Callable[[], bool | None] = user_lingers) -> Installed:
    """Write (or rewrite) the entries of ``target``; see the module doc.

    ``zone``: the wall clock cron fires in (default: this machine's); ``start``: the
    first day read off the calendar (default: now); ``lingers``: whether systemd keeps
    this user's timers after logout (default: ``loginctl``). All three are for tests.
    """
    chosen = choose_backend(backend)
    instants = fire_instants(target.execution_time, lead_minutes=lead_minutes, start=start)
    notes = _environment_notes()
    if chosen == "cron":
        tab = crontab or Crontab()
        kept, replaced = without_entries(tab.read(), target.entry_id)  # no crontab program: stop, nothing made
        log = log_path(target, root)
        log.parent.mkdir(parents=True, exist_ok=True)
        lines = entry_lines(entry_id=target.entry_id, key=target.key, params_file=target.params_file,
                            notebook=target.notebook, fire_times=cron_schedule(instants, zone), log=log,
                            root=root, lead_minutes=lead_minutes)
        tab.write("\n".join([*kept, *lines]) + "\n")
        return Installed("cron", lines, replaced, [*notes, f"firings are logged to {log}"])
    folder = units or unit_dir()
    folder.mkdir(parents=True, exist_ok=True)
    replaced = _remove_units(folder, target.entry_id)
    written = timer_units(entry_id=target.entry_id, key=target.key, params_file=target.params_file,
                          notebook=target.notebook, calendar=on_calendar(instants), root=root,
                          lead_minutes=lead_minutes)
    for name, text in written.files.items():
        (folder / name).write_text(text)
    names = [str(folder / n) for n in written.files]
    if systemd_running():
        for args in (("daemon-reload",), ("enable", "--now", *written.timers)):
            done = systemctl(*args)
            if done.returncode != 0:
                notes.append(f"systemctl --user {' '.join(args)} failed: {done.stderr.strip()}")
    else:
        notes.append("systemd is not running here: the unit files are written but no timer was started; on a "
                     f"machine with systemd run: systemctl --user daemon-reload && systemctl --user enable --now "
                     f"{' '.join(written.timers)}")
    linger = linger_note(lingers())
    if linger is not None:
        notes.append(linger)
    return Installed("systemd", names, replaced, notes)


def list_entries(target: ScheduleTarget | None = None, *, backend: str = "auto", crontab: Crontab | None = None,
                 units: Path | None = None) -> list[CronEntry]:
    """The toolkit's entries (of ``target`` only, when given), as ``toolkit schedule list`` shows them."""
    chosen = choose_backend(backend)
    entries = parse_entries((crontab or Crontab()).read()) if chosen == "cron" else _unit_entries(units or unit_dir())
    return [e for e in entries if target is None or e.entry_id == target.entry_id]


def remove(target: ScheduleTarget | None = None, *, backend: str = "auto", crontab: Crontab | None = None,
           units: Path | None = None) -> int:
    """Remove the toolkit's entries of ``target`` (every toolkit entry when None); how many went."""
    chosen = choose_backend(backend)
    entry_id = target.entry_id if target is not None else None
    if chosen == "systemd":
        return _remove_units(units or unit_dir(), entry_id)
    tab = crontab or Crontab()
    text = tab.read()
    kept, dropped = without_entries(text, entry_id)
    if dropped:
        tab.write("\n".join(kept) + "\n" if kept else "")
    return dropped


def _unit_entries(folder: Path) -> list[CronEntry]:
    out = []
    for path in sorted(folder.glob("toolkit-*.timer")) if folder.is_dir() else []:
        lines = path.read_text().splitlines()
        tag = read_tag(lines[0]) if lines else None
        if tag is not None:
            when = "; ".join(ln.split("=", 1)[1] for ln in lines if ln.startswith(("OnCalendar=", "OnBootSec=")))
            out.append(CronEntry(*tag, when, str(path)))
    return out


def _remove_units(folder: Path, entry_id: str | None) -> int:
    gone = 0
    names = [e for e in _unit_entries(folder) if entry_id is None or e.entry_id == entry_id]
    for e in names:
        stem = Path(e.line).name.rsplit(".", 1)[0]
        if systemd_running():
            systemctl("disable", "--now", f"{stem}.timer")
        for suffix in (".timer", ".service"):
            path = folder / f"{stem}{suffix}"
            if path.exists():
                path.unlink()
                gone += 1
    return gone


def _environment_notes() -> list[str]:
    """What cron or systemd will not see: variables set in this shell only."""
    notes = []
    for name in ("TOOLKIT_DB_URL", "APCA_API_KEY_ID", "SCHWAB_API_KEY"):
        if os.environ.get(name):
            notes.append(f"{name} is set in this shell, but scheduled runs start with a bare environment: keep it "
                         "in the project's .env file or the secret store (never in the crontab or a params file)")
    return notes
