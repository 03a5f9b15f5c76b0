"""When a scheduled session runs: exact instants from the exchange calendar, and the cron lines that wake it.

cron knows neither the NYSE's holidays nor its early closes, and on most machines it
fires in the machine's zone rather than New York's. So the toolkit splits the job:

* cron fires a few minutes *before* every instant the execution time can fall on in
  UTC (a ``5min_before_close`` run is 20:55 UTC in winter, 19:55 in summer, and 17:55
  or 16:55 on an early-close day), Monday to Friday;
* the toolkit then asks the calendar for the session's exact instant: a firing that is
  not followed by that instant within its lead time (a holiday, the wrong DST line, the
  normal-close line on an early-close day) exits quietly, the right one waits for the
  exact minute and runs.

Everything here is a pure function of the calendar and an injected clock, so a test
can walk a year of firings without waiting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from toolkit.errors import InvalidInput
from toolkit.model import ExecutionTime
from toolkit.model.timestamps import NEW_YORK
from toolkit.ops.schedule_lead import DEFAULT_LEAD_MINUTES, LEAD_MINUTES, check_lead
from toolkit.time import execution_instant, nyse_calendar
from toolkit.time.calendar import CALENDAR_END

__all__ = [
    "DEFAULT_LEAD_MINUTES",
    "LEAD_MINUTES",
    "NEW_YORK",
    "ScheduledRun",
    "check_lead",
    "cron_times_utc",
    "due_run",
    "parse_instant",
    "runs_between",
    "upcoming_runs",
]


@dataclass(frozen=True)
class ScheduledRun:
    """One session's run: its date, exact UTC instant, and whether the market closes early that day."""

    session: dt.date
    at: pd.Timestamp
    early_close: bool

    @property
    def new_york(self) -> pd.Timestamp:
        return self.at.tz_convert(NEW_YORK)


#: What a date-and-time option accepts (the ``allowed`` part of its error line).
INSTANT_ALLOWED = "a date and time such as '2026-11-27 09:00' (New York when no zone)"


def parse_instant(value: Any, field: str) -> pd.Timestamp:
    """``value`` as a UTC instant (a naive time is New York's); InvalidInput naming ``field`` otherwise.

    A naive time in the hour daylight saving skips (02:30 on a March Sunday) is no New
    York instant, and one in the hour it repeats (01:30 on a November Sunday) is two:
    either way the person must say which, with a zone offset; guessing would run a
    session an hour off.
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(field, value, INSTANT_ALLOWED) from None
    if pd.isna(ts):
        raise InvalidInput(field, value, INSTANT_ALLOWED)
    if ts.tzinfo is not None:
        return ts.tz_convert("UTC")
    first = ts.tz_localize(NEW_YORK, ambiguous=True, nonexistent="NaT")
    second = ts.tz_localize(NEW_YORK, ambiguous=False, nonexistent="NaT")
    if pd.isna(first):
        raise InvalidInput(field, value, "a New York wall-clock time (this one is skipped by the daylight-saving "
                                         f"change); give a zone, such as '{ts:%Y-%m-%d %H:%M}-05:00'")
    if first != second:
        raise InvalidInput(field, value, "one New York wall-clock time (this one happens twice at the "
                                         f"daylight-saving change); give a zone: '{ts:%Y-%m-%d %H:%M}-04:00' (the "
                                         "first) or '-05:00' (the second)")
    return first.tz_convert("UTC")


def _calendar_end() -> pd.Timestamp:
    """The end of the calendar's last day (its close is on it: midnight would drop that session)."""
    return pd.Timestamp(CALENDAR_END, tz=NEW_YORK) + pd.Timedelta(days=1)


def _early_close(label: pd.Timestamp) -> bool:
    cal = nyse_calendar()
    close = cal.session_close(label).tz_convert(NEW_YORK)
    return (close.hour, close.minute) < (16, 0)


def runs_between(execution_time: str, start: Any, end: Any) -> list[ScheduledRun]:
    """Every session's run with ``start < instant <= end`` (naive times are New York's)."""
    when = ExecutionTime.parse(execution_time)
    lo, hi = parse_instant(start, "after"), parse_instant(end, "until")
    sessions = nyse_calendar().sessions
    first = lo.tz_convert(NEW_YORK).tz_localize(None).normalize() - pd.Timedelta(days=1)
    last = hi.tz_convert(NEW_YORK).tz_localize(None).normalize()
    out: list[ScheduledRun] = []
    for label in sessions[(sessions >= first) & (sessions <= last)]:
        at = execution_instant(label, when)
        if lo < at <= hi:
            out.append(ScheduledRun(label.date(), at, _early_close(label)))
    return out


def upcoming_runs(execution_time: str, *, after: Any, count: int = 5) -> list[ScheduledRun]:
    """The next ``count`` runs strictly after ``after``, as far as the calendar reaches."""
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
        raise InvalidInput("count", count, "a whole number from 1 to 1000")
    start = parse_instant(after, "after")
    end = min(start + pd.Timedelta(days=7 * count // 4 + 14), _calendar_end())
    runs: list[ScheduledRun] = []
    while len(runs) < count and start < end:
        runs.extend(runs_between(execution_time, start, end))
        start, end = end, min(end + pd.Timedelta(days=366), _calendar_end())
    return runs[:count]


def due_run(execution_time: str, *, now: Any, lead: pd.Timedelta) -> ScheduledRun | None:
    """The run a firing at ``now`` should wait for: the next instant within ``lead``, else None."""
    nxt = upcoming_runs(execution_time, after=parse_instant(now, "now") - pd.Timedelta(seconds=1), count=1)
    if nxt and nxt[0].at - parse_instant(now, "now") <= lead:
        return nxt[0]
    return None


def cron_times_utc(execution_time: str, *, lead_minutes: int = 5, years: int = 10,
                   start: Any = "2026-01-01") -> list[tuple[int, int]]:
    """UTC (hour, minute) pairs at which cron fires: ``lead_minutes`` before every distinct instant.

    Read off the calendar over ``years`` from ``start`` (up to the calendar's end), so
    both DST offsets and the rare summer early close are covered.
    """
    if not 0 <= lead_minutes <= 120:
        raise InvalidInput("lead_minutes", lead_minutes, "a number of minutes from 0 to 120")
    begin = parse_instant(start, "start")
    stop = min(begin + pd.Timedelta(days=366 * years), _calendar_end())
    runs = runs_between(execution_time, begin, stop)
    fires = {(r.at - pd.Timedelta(minutes=lead_minutes)) for r in runs}
    return sorted({(f.hour, f.minute) for f in fires})
