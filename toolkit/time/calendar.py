"""The NYSE session calendar: which dates trade, and the sessions around a date.

Everything trades on exchange sessions (holidays skipped, early closes honoured).
The calendar comes from ``exchange_calendars`` ("XNYS"), built once over a fixed
range (1990-2035) so that results never depend on the date the code happens to run
(its default range is "20 years back from today").

``exchange_calendars`` is imported on first use: importing it costs about two
seconds, which modules that only need order types should not pay. Lookups are
cached (a replay asks the same questions thousands of times).

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

from toolkit.errors import InvalidInput
from toolkit.model.timestamps import new_york_date

if TYPE_CHECKING:  # pragma: no cover
    from exchange_calendars import ExchangeCalendar

__all__ = [
    "CALENDAR_END",
    "CALENDAR_NAME",
    "CALENDAR_START",
    "is_session",
    "next_session",
    "nyse_calendar",
    "previous_session",
    "require_session",
    "session_date",
    "session_label",
    "sessions_in_range",
]

CALENDAR_NAME = "XNYS"
CALENDAR_START = "1990-01-02"
CALENDAR_END = "2035-12-31"


@lru_cache(maxsize=1)
def nyse_calendar() -> ExchangeCalendar:
    """The XNYS calendar over a fixed range (built once per process)."""
    import exchange_calendars as xc

    return xc.get_calendar(CALENDAR_NAME, start=CALENDAR_START, end=CALENDAR_END)


@lru_cache(maxsize=32768)
def _date_label(date: _dt.date, field: str) -> pd.Timestamp:
    return _label_uncached(date, field)


def session_label(date: Any, field: str = "session_date") -> pd.Timestamp:
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


def is_session(date: Any) -> bool:
    """True when the NYSE trades on ``date`` (weekends and holidays are not sessions)."""
    return session_label(date) in _session_labels()


def require_session(date: Any, field: str = "session_date") -> pd.Timestamp:
    """The label of ``date`` when it is a session, else an error naming the next session."""
    label = session_label(date, field)
    if label not in _session_labels():
        nxt = nyse_calendar().date_to_session(label, direction="next").date().isoformat()
        raise InvalidInput(field, label.date().isoformat(), f"an NYSE session (the next one is {nxt})")
    return label


def previous_session(date: Any) -> pd.Timestamp:
    """The last session strictly before ``date`` (``date`` need not be a session)."""
    return _previous_session(session_label(date))


@lru_cache(maxsize=65536)
def _previous_session(label: pd.Timestamp) -> pd.Timestamp:
    sessions = nyse_calendar().sessions
    i = sessions.searchsorted(label, side="left") - 1
    if i < 0:
        raise InvalidInput("session_date", label.date().isoformat(), f"a date after {sessions[0].date()}")
    return sessions[i]


def next_session(date: Any) -> pd.Timestamp:
    """The first session strictly after ``date`` (``date`` need not be a session)."""
    label = session_label(date)
    sessions = nyse_calendar().sessions
    i = sessions.searchsorted(label, side="right")
    if i >= len(sessions):
        raise InvalidInput("session_date", label.date().isoformat(), f"a date before {sessions[-1].date()}")
    return sessions[i]


def sessions_in_range(start: Any, end: Any) -> pd.DatetimeIndex:
    """Sessions from ``start`` to ``end``, both inclusive, as naive midnight labels."""
    lo, hi = session_label(start, "start"), session_label(end, "end")
    if hi < lo:
        raise InvalidInput("end", hi.date().isoformat(), f"a date on or after start ({lo.date()})")
    sessions = nyse_calendar().sessions
    return sessions[(sessions >= lo) & (sessions <= hi)]


def session_date(instant: Any) -> pd.Timestamp:
    """The New York calendar date of a tz-aware instant (naive midnight label).

    This is how a clock reading becomes "today" for the engine; whether that date is
    a session is a separate question (:func:`is_session`).
    """
    return new_york_date(instant)
