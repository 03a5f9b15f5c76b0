"""The scheduled instants of an execution time, kept in a small file so a health check needs no calendar.

Building the exchange calendar costs about half a second (importing exchange_calendars
and laying out 1990-2035), which ``toolkit health``, run every few minutes by a
monitor, should not pay. The instants are a pure function of the execution time and
the exchange_calendars version, so they are read once over a window (a month back, a
year ahead), written to ``<cache>/schedule/<execution_time>.json`` with that version,
and answered from there while a request falls inside the window and the version is the
same; anything else recomputes from the calendar (:func:`toolkit.ops.schedule.runs_between`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.ops.schedule import ScheduledRun, parse_instant, runs_between

__all__ = ["cached_runs_between"]

BEFORE, AFTER = pd.Timedelta(days=31), pd.Timedelta(days=366)


def _cache_file(execution_time: str, folder: Path | None) -> Path:
    from toolkit.data.cache import CACHE_ENV

    if folder is None:
        env = os.environ.get(CACHE_ENV, "").strip()
        if env:
            folder = Path(env).expanduser()
        else:
            from toolkit.params.files import repo_root

            folder = repo_root() / "outputs" / "cache"
    return folder / "schedule" / f"{execution_time}.json"


def cached_runs_between(execution_time: str, start: Any, end: Any, *, folder: Path | None = None) -> list[ScheduledRun]:
    """:func:`~toolkit.ops.schedule.runs_between`, from the cache file when it covers ``start..end``."""
    lo, hi = parse_instant(start, "after"), parse_instant(end, "until")
    path = _cache_file(execution_time, folder)
    version = metadata.version("exchange_calendars")
    try:
        data = json.loads(path.read_text())
        covers = (data["version"] == version and pd.Timestamp(data["from"]) <= lo and hi <= pd.Timestamp(data["to"]))
    except (OSError, ValueError, KeyError, TypeError):
        covers = False
    if covers:
        runs = [ScheduledRun(dt.date.fromisoformat(s), pd.Timestamp(at), bool(early)) for s, at, early in data["runs"]]
        return [r for r in runs if lo < r.at <= hi]
    window_lo, window_hi = lo - BEFORE, hi + AFTER
    runs = runs_between(execution_time, window_lo, window_hi)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": version, "from": window_lo.isoformat(), "to": window_hi.isoformat(),
                                   "runs": [[r.session.isoformat(), r.at.isoformat(), r.early_close] for r in runs]}))
        os.replace(tmp, path)
    except OSError:  # a read-only disk: the answer is still right, only slower next time
        pass
    return [r for r in runs if lo < r.at <= hi]
