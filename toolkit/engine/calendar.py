"""The NYSE session calendar and the five execution times.

Everything trades on exchange sessions (holidays skipped, early closes honoured) and
every instant the engine stores is UTC. The calendar comes from ``exchange_calendars``
("XNYS"), built once over a fixed range (1990-2035) so that results never depend on
the date the code happens to run (its default range is "20 years back from today").

``exchange_calendars`` is imported on first use: importing it costs about two seconds,
which modules that only need order types should not pay.

Session dates are calendar dates (naive ``pd.Timestamp`` at midnight, the labels
``exchange_calendars`` uses). A tz-aware timestamp passed as a session date is read
as the date on its own wall clock; use :func:`session_date` to find the New York
date of a UTC instant.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.orders import InvalidInput

if TYPE_CHECKING:  # pragma: no cover
    from exchange_calendars import ExchangeCalendar

__all__ = [
    "CALENDAR_NAME",
    "EXECUTION_TIMES",
    "execution_instant",
    "expected_bar_date",
    "is_session",
    "last_bar_is_fresh",
    "next_session",
    "nyse_calendar",
    "previous_session",
    "session_date",
    "sessions_in_range",
    "validate_execution_time",
]

CALENDAR_NAME = "XNYS"
CALENDAR_START = "1990-01-02"
CALENDAR_END = "2035-12-31"
NEW_YORK = "America/New_York"

#: The execution times a run may choose, in the order they happen in a session.
EXECUTION_TIMES: tuple[str, ...] = (
    "open",
    "15min_after_open",
    "15min_before_close",
    "5min_before_close",
    "close",
)

_OFFSETS: dict[str, tuple[str, pd.Timedelta]] = {
    "open": ("open", pd.Timedelta(0)),
    "15min_after_open": ("open", pd.Timedelta(minutes=15)),
    "15min_before_close": ("close", pd.Timedelta(minutes=-15)),
    "5min_before_close": ("close", pd.Timedelta(minutes=-5)),
    "close": ("close", pd.Timedelta(0)),
}


@lru_cache(maxsize=1)
def nyse_calendar() -> ExchangeCalendar:
    """The XNYS calendar over a fixed range (built once per process)."""
    import exchange_calendars as xc

    return xc.get_calendar(CALENDAR_NAME, start=CALENDAR_START, end=CALENDAR_END)


def validate_execution_time(execution_time: str) -> str:
    """Return ``execution_time`` if it is one of :data:`EXECUTION_TIMES`, else raise."""
    if execution_time not in _OFFSETS:
        raise InvalidInput("execution_time", execution_time, "one of " + ", ".join(EXECUTION_TIMES))
    return execution_time


@lru_cache(maxsize=32768)
def _date_label(date: _dt.date, field: str) -> pd.Timestamp:
    return _label_uncached(date, field)


def _label(date: Any, field: str = "session_date") -> pd.Timestamp:
    """Normalise a date-like value to the naive midnight label, inside the calendar range."""
    if type(date) is _dt.date:  # the engine's common case: cached (a pure function of the date)
        return _date_label(date, field)
    return _label_uncached(date, field)


def _label_uncached(date: Any, field: str = "session_date") -> pd.Timestamp:
    try:
        ts = pd.Timestamp(date)
    except (TypeError, ValueError):
        raise InvalidInput(field, date, "a date such as '2018-11-23'") from None
    if ts is pd.NaT:
        raise InvalidInput(field, date, "a date such as '2018-11-23'")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    ts = ts.normalize()
    if not (pd.Timestamp(CALENDAR_START) <= ts <= pd.Timestamp(CALENDAR_END)):
        raise InvalidInput(field, ts.date().isoformat(), f"a date between {CALENDAR_START} and {CALENDAR_END}")
    return ts


@lru_cache(maxsize=1)
def _session_labels() -> frozenset[pd.Timestamp]:
    """Every session label of the calendar (membership is what ``is_session`` asks)."""
    return frozenset(nyse_calendar().sessions)


def _is_session_label(label: pd.Timestamp) -> bool:
    return label in _session_labels()


def is_session(date: Any) -> bool:
    """True when the NYSE trades on ``date`` (weekends and holidays are not sessions)."""
    return _is_session_label(_label(date))


def _require_session(date: Any, field: str = "session_date") -> pd.Timestamp:
    label = _label(date, field)
    if not _is_session_label(label):
        cal = nyse_calendar()
        nxt = cal.date_to_session(label, direction="next").date().isoformat()
        raise InvalidInput(field, label.date().isoformat(), f"an NYSE session (the next one is {nxt})")
    return label


def execution_instant(session_date: Any, execution_time: str) -> pd.Timestamp:
    """The UTC instant of ``execution_time`` on ``session_date``.

    Computed from the session's real open and close, so on an early close (the day
    after Thanksgiving closes at 13:00 New York) ``15min_before_close`` is 12:45, and
    daylight saving is handled by the calendar rather than by a fixed UTC offset.
    """
    validate_execution_time(execution_time)
    return _execution_instant(_require_session(session_date), execution_time)


@lru_cache(maxsize=65536)
def _execution_instant(label: pd.Timestamp, execution_time: str) -> pd.Timestamp:
    cal = nyse_calendar()
    anchor, offset = _OFFSETS[execution_time]
    base = cal.session_open(label) if anchor == "open" else cal.session_close(label)
    return (pd.Timestamp(base) + offset).tz_convert("UTC")


def previous_session(date: Any) -> pd.Timestamp:
    """The last session strictly before ``date`` (``date`` need not be a session)."""
    return _previous_session(_label(date))


@lru_cache(maxsize=65536)
def _previous_session(label: pd.Timestamp) -> pd.Timestamp:
    sessions = nyse_calendar().sessions
    i = sessions.searchsorted(label, side="left") - 1
    if i < 0:
        raise InvalidInput("session_date", label.date().isoformat(), f"a date after {sessions[0].date()}")
    return sessions[i]


def next_session(date: Any) -> pd.Timestamp:
    """The first session strictly after ``date`` (``date`` need not be a session)."""
    label = _label(date)
    sessions = nyse_calendar().sessions
    i = sessions.searchsorted(label, side="right")
    if i >= len(sessions):
        raise InvalidInput("session_date", label.date().isoformat(), f"a date before {sessions[-1].date()}")
    return sessions[i]


def sessions_in_range(start: Any, end: Any) -> pd.DatetimeIndex:
    """Sessions from ``start`` to ``end``, both inclusive, as naive midnight labels."""
    lo, hi = _label(start, "start"), _label(end, "end")
    if hi < lo:
        raise InvalidInput("end", hi.date().isoformat(), f"a date on or after start ({lo.date()})")
    sessions = nyse_calendar().sessions
    return sessions[(sessions >= lo) & (sessions <= hi)]


def session_date(instant: Any) -> pd.Timestamp:
    """The New York calendar date of a tz-aware instant (naive midnight label).

    This is how a clock reading becomes "today" for the engine; whether that date is
    a session is a separate question (:func:`is_session`).
    """
    from toolkit.engine.clock import to_utc

    return to_utc(instant, field="instant").tz_convert(NEW_YORK).tz_localize(None).normalize()


def expected_bar_date(session_date: Any, execution_time: str) -> pd.Timestamp:
    """The date of the newest daily bar a decision at this time can rely on.

    At ``close`` the session's own bar is complete, so it is expected; at any earlier
    execution time the session's bar does not exist yet and the previous session's
    bar is the newest complete one.
    """
    validate_execution_time(execution_time)
    label = _require_session(session_date)
    return label if execution_time == "close" else previous_session(label)


def last_bar_is_fresh(last_bar_ts: Any, session_date: Any, execution_time: str) -> bool:
    """True when the newest bar is at least as recent as :func:`expected_bar_date`.

    Daily bars are stamped at midnight UTC of their session date; the bar's date is
    read in UTC (a naive stamp is taken as that date). Stale data is the classic way
    to trade yesterday's signal twice, which is why the risk engine halts on it.
    """
    try:
        ts = pd.Timestamp(last_bar_ts)
    except (TypeError, ValueError):
        raise InvalidInput("last_bar_ts", last_bar_ts, "a timestamp") from None
    if ts is pd.NaT:
        return False
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return bool(ts.normalize() >= expected_bar_date(session_date, execution_time))
