"""Time of the markets: the NYSE calendar, execution times in New York, injectable clocks.

Importing this package is cheap: ``exchange_calendars`` loads on the first calendar
query. It builds on :mod:`toolkit.model` only.
"""

from toolkit.time.calendar import (
    is_session,
    next_session,
    nyse_calendar,
    previous_session,
    session_date,
    sessions_in_range,
)
from toolkit.time.clock import Clock, FixedClock, OffsetClock, SystemClock
from toolkit.time.execution import execution_instant, expected_bar_date, last_bar_is_fresh

__all__ = [
    "Clock",
    "FixedClock",
    "OffsetClock",
    "SystemClock",
    "execution_instant",
    "expected_bar_date",
    "is_session",
    "last_bar_is_fresh",
    "next_session",
    "nyse_calendar",
    "previous_session",
    "session_date",
    "sessions_in_range",
]
