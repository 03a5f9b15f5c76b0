"""Instants as tz-aware UTC ``pd.Timestamp``, and their New York calendar date.

Stored timestamps are UTC (DESIGN.md, Money and time); a naive timestamp is refused
rather than assumed UTC, because a quant in New York typing ``"2018-11-23 15:45"``
means New York time, and guessing wrong moves an order by five hours.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from toolkit.errors import InvalidInput

__all__ = ["NEW_YORK", "new_york_date", "to_utc"]

NEW_YORK = "America/New_York"


def to_utc(ts: Any, *, field: str = "timestamp") -> pd.Timestamp:
    """Parse ``ts`` into a tz-aware UTC timestamp; naive input is an error."""
    try:
        out = pd.Timestamp(ts)
    except (TypeError, ValueError):
        raise InvalidInput(field, ts, "a timestamp with a timezone, e.g. '2018-11-23T20:45Z'") from None
    if out is pd.NaT:
        raise InvalidInput(field, ts, "a timestamp with a timezone, not NaT")
    if out.tzinfo is None:
        raise InvalidInput(field, ts, "a timezone-aware timestamp (naive times are ambiguous)")
    return out.tz_convert("UTC")


def new_york_date(instant: Any, *, field: str = "instant") -> pd.Timestamp:
    """The New York calendar date of a tz-aware instant, as a naive midnight label.

    This is how a clock reading becomes "today"; whether that date is an exchange
    session is the calendar's question (:func:`toolkit.time.is_session`).
    """
    return to_utc(instant, field=field).tz_convert(NEW_YORK).tz_localize(None).normalize()
