"""The toolkit's lines in the user's crontab: written, listed and removed without touching any other line.

cron fires in the machine's zone and knows no exchange calendar, so the lines fire a
few minutes before every instant the session can fall on (read off the calendar,
converted to the machine's local wall clock, weekday included), and ``toolkit
schedule fire`` waits for the exact minute or exits quietly (see
:mod:`toolkit.ops.schedule`). One more line, ``@reboot``, runs ``toolkit schedule
run-due`` so sessions missed while the machine was off are run or recorded.

Every toolkit line ends with a tag ``# toolkit-schedule id=<id> key=<key>``: a shell
comment (cron hands the line to ``sh``), naming the params file's entry id, so
``list`` and ``remove`` find exactly the toolkit's lines and a re-``install``
replaces its own lines in place of adding more (idempotent).

The ``crontab`` program is read with ``crontab -l`` and written with ``crontab -``;
``$TOOLKIT_CRONTAB`` names another program taking the same two calls (tests use a
file-backed one, so they never touch the real user crontab).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import ToolkitError

__all__ = ["CRONTAB_ENV", "TAG", "CronEntry", "Crontab", "cron_schedule", "entry_lines", "parse_entries",
           "read_tag", "without_entries"]

CRONTAB_ENV = "TOOLKIT_CRONTAB"
TAG = "# toolkit-schedule"
_TAG_RE = re.compile(r"# toolkit-schedule id=(?P<id>[0-9a-f]{12}) key=(?P<key>\S+) params=(?P<params>.+?)\s*$")
#: cron's day-of-week numbers (0 = Sunday) for pandas' (0 = Monday).
_CRON_DOW = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 0}


class Crontab:
    """The user's crontab through the ``crontab`` program (or ``$TOOLKIT_CRONTAB``)."""

    def __init__(self, program: str | None = None) -> None:
        self.program = program or os.environ.get(CRONTAB_ENV) or "crontab"

    def read(self) -> str:
        """The crontab's text ('' when the user has none)."""
        done = self._call(["-l"])
        if done.returncode != 0:
            if "no crontab" in done.stderr.lower():
                return ""
            raise ToolkitError(f"crontab -l failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def write(self, text: str) -> None:
        done = self._call(["-"], text)
        if done.returncode != 0:
            raise ToolkitError(f"crontab - failed ({done.returncode}): {done.stderr.strip()}; the crontab was not "
                               "changed")

    def _call(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([self.program, *args], input=stdin, capture_output=True, text=True, timeout=60,
                                  check=False)
        except FileNotFoundError:
            raise ToolkitError(f"no crontab program ({self.program}): install cron (Debian: apt-get install cron), "
                               "or use --backend systemd where systemd runs") from None


@dataclass(frozen=True)
class CronEntry:
    """One toolkit line of the crontab, as ``list`` shows it."""

    entry_id: str
    key: str
    params_file: str
    when: str
    line: str


def cron_schedule(instants: list[pd.Timestamp], zone: Any) -> list[str]:
    """The cron time fields (``M H * * DOW``) that fire at every one of ``instants``, in ``zone``'s wall clock.

    ``zone`` None is this machine's local time (what cron fires in). Every (hour, minute)
    fires on every weekday any instant falls on (Monday to Friday in New York or UTC;
    Tuesday to Saturday in Tokyo): an early close on a weekday the calendar has not seen
    yet is still covered, and an extra firing only exits quietly.
    """
    local = [_wall_clock(t, zone) for t in instants]
    days = ",".join(str(d) for d in sorted({_CRON_DOW[ts.weekday()] for ts in local}))
    hours_of: dict[int, set[int]] = defaultdict(set)
    for ts in local:
        hours_of[ts.minute].add(ts.hour)
    return [f"{minute} {','.join(str(h) for h in sorted(hours))} * * {days}"
            for minute, hours in sorted(hours_of.items(), key=lambda kv: (min(kv[1]), kv[0]))]


def _wall_clock(ts: pd.Timestamp, zone: Any) -> datetime:
    """``ts`` on ``zone``'s wall clock; ``zone`` None: this machine's (the C library's rules, DST included)."""
    if zone is None:
        return datetime.fromtimestamp(ts.timestamp())
    out: datetime = ts.tz_convert(zone).to_pydatetime()
    return out


def _cron_quote(text: str) -> str:
    # cron turns an unescaped % into a newline; the rest is sh.
    return shlex.quote(text).replace("%", "\\%")


def toolkit_command(verb: str, params_file: Path, notebook: str, log: Path, root: Path, *extra: str) -> str:
    """``cd ROOT && PYTHON -m toolkit.cli schedule VERB --params FILE --notebook NB [EXTRA] >> LOG 2>&1``."""
    cmd = [sys.executable, "-m", "toolkit.cli", "schedule", verb, "--params", str(params_file), "--notebook", notebook,
           *extra]
    return (f"cd {_cron_quote(str(root))} && {' '.join(_cron_quote(c) for c in cmd)} >> {_cron_quote(str(log))} "
            "2>&1")


def entry_lines(*, entry_id: str, key: str, params_file: Path, notebook: str, fire_times: list[str], log: Path,
                root: Path, lead_minutes: int) -> list[str]:
    """The crontab lines of one params file: one per firing group, and ``@reboot`` for the catch-up.

    ``fire --lead N`` tells each firing how early it fires, so it looks for the session
    exactly that far ahead.
    """
    shown = str(params_file).replace("%", "\\%")  # a comment, but cron reads % before sh does
    tag = f"{TAG} id={entry_id} key={key} params={shown}"
    fire = toolkit_command("fire", params_file, notebook, log, root, "--lead", str(lead_minutes))
    lines = [f"{when} {fire} {tag}" for when in fire_times]
    lines.append(f"@reboot sleep 120 && {toolkit_command('run-due', params_file, notebook, log, root)} {tag}")
    return lines


def read_tag(line: str) -> tuple[str, str, str] | None:
    """``(entry id, key, params file)`` of a line ending with the toolkit's tag, else None."""
    m = _TAG_RE.search(line)
    return None if m is None else (m["id"], m["key"], m["params"].replace("\\%", "%"))


def parse_entries(text: str) -> list[CronEntry]:
    """The toolkit's lines of a crontab (every other line is not ours)."""
    out = []
    for line in text.splitlines():
        m = _TAG_RE.search(line)
        if m is None or line.lstrip().startswith("#"):
            continue
        when = "@reboot" if line.startswith("@reboot") else " ".join(line.split()[:5])
        out.append(CronEntry(m["id"], m["key"], m["params"].replace("\\%", "%"), when, line))
    return out


def without_entries(text: str, entry_id: str | None) -> tuple[list[str], int]:
    """The crontab's lines without the toolkit's lines of ``entry_id`` (all of the toolkit's when None)."""
    kept, dropped = [], 0
    for line in text.splitlines():
        m = _TAG_RE.search(line)
        if m is not None and not line.lstrip().startswith("#") and (entry_id is None or m["id"] == entry_id):
            dropped += 1
            continue
        kept.append(line)
    return kept, dropped
