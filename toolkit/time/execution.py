"""Execution times in New York: their UTC instant on a session, and which bar a decision may see.

The five execution times themselves are the model's
(:class:`~toolkit.model.ExecutionTime`); this module places them on the exchange
calendar, so an early close or a daylight-saving change moves them correctly.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from toolkit.errors import InvalidInput
from toolkit.model.execution_time import ExecutionTime
from toolkit.time.calendar import nyse_calendar, previous_session, require_session

__all__ = ["execution_instant", "expected_bar_date", "last_bar_is_fresh"]


def execution_instant(session_date: Any, execution_time: ExecutionTime | str) -> pd.Timestamp:
    """The UTC instant of ``execution_time`` on ``session_date``.

    Computed from the session's real open and close, so on an early close (the day
    after Thanksgiving closes at 13:00 New York) ``15min_before_close`` is 12:45, and
    daylight saving is handled by the calendar rather than by a fixed UTC offset.
    """
    when = ExecutionTime.parse(execution_time)
    return _execution_instant(require_session(session_date), when)


@lru_cache(maxsize=65536)
def _execution_instant(label: pd.Timestamp, when: ExecutionTime) -> pd.Timestamp:
    cal = nyse_calendar()
    base = cal.session_open(label) if when.anchor == "open" else cal.session_close(label)
    return (pd.Timestamp(base) + pd.Timedelta(minutes=when.offset_minutes)).tz_convert("UTC")


def expected_bar_date(session_date: Any, execution_time: ExecutionTime | str) -> pd.Timestamp:
    """The date of the newest daily bar a decision at this time can rely on.

    At ``close`` the session's own bar is complete, so it is expected; at any earlier
    execution time the session's bar does not exist yet and the previous session's
    bar is the newest complete one.
    """
    when = ExecutionTime.parse(execution_time)
    label = require_session(session_date)
    return label if when is ExecutionTime.CLOSE else previous_session(label)


def last_bar_is_fresh(last_bar_ts: Any, session_date: Any, execution_time: ExecutionTime | str) -> bool:
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
