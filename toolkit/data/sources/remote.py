"""What the sources that fetch from a broker's API share: their date range, their bars' shape.

A broker sends bars as JSON records in its own spelling and stamps a daily bar at some
midnight (Alpaca: New York, Schwab: its own); :func:`bars_from_records` turns them into
canonical bars, daily ones stamped as every other daily source stamps them (midnight UTC
of the session date), so a broker's bar lines up with the calendar the engine uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from toolkit.data.cache import empty_bars
from toolkit.data.sources.base import BarRequest
from toolkit.data.validate import CANONICAL_FIELDS, bar_frame, to_float, validate_bars
from toolkit.errors import DataError, ParamsError
from toolkit.model.timestamps import NEW_YORK
from toolkit.time import sessions_in_range

__all__ = ["api_range", "bars_from_records", "fetch_dates", "require_bars"]


def fetch_dates(request: BarRequest, source: str) -> tuple[dt.date, dt.date | None]:
    """``data.start`` (required: how far back to fetch) and ``data.end`` (None: up to today)."""
    if request.start is None:
        raise ParamsError("data.start", None, f"a date to fetch from (data.source: {source} fetches bars from "
                                              "data.start to data.end, or to today when data.end is null)")
    return request.start, request.end


def api_range(daily: bool, start: pd.Timestamp, end: pd.Timestamp) -> tuple[dt.datetime, dt.datetime]:
    """A cache range ``[start, end)`` of bar stamps as the inclusive instants a broker's API takes.

    Daily stamps are midnight UTC of a session date while the broker stamps the bar at
    some midnight of its own (New York, Chicago): the API is asked from midnight New York
    of the first date to just before midnight New York after the last date.
    """
    if daily:
        start = start.tz_convert("UTC").floor("D").tz_localize(None).tz_localize(NEW_YORK)
        end = end.tz_convert("UTC").ceil("D").tz_localize(None).tz_localize(NEW_YORK)
    return start.tz_convert("UTC").to_pydatetime(), (end - pd.Timedelta(seconds=1)).tz_convert("UTC").to_pydatetime()


def require_bars(frames: Mapping[str, pd.DataFrame], request: BarRequest, source: str, what: str
                 ) -> dict[str, pd.DataFrame]:
    """``frames`` in request order; a symbol without any bar is a ParamsError on ``data.symbols``."""
    for sym in request.symbols:
        if not len(frames[sym]):
            end = request.end.isoformat() if request.end else "today"
            start = request.start.isoformat() if request.start else "?"
            raise ParamsError("data.symbols", sym, f"a symbol with {what} between {start} and {end} "
                                                   f"(data.source: {source} sent none)")
    return {sym: frames[sym] for sym in request.symbols}


def bars_from_records(symbol: str, records: Sequence[Mapping[str, Any]], *, time_key: str,
                      fields: Mapping[str, str], daily: bool, unit: Literal["s", "ms"] | None = None) -> pd.DataFrame:
    """Canonical bars from a broker's JSON records.

    ``fields`` maps each canonical field to the broker's key (``{"open": "o", ...}``);
    ``time_key`` holds the bar's time (ISO text, or epoch numbers in ``unit``). Daily
    bars are stamped at midnight UTC of their New York date, and that date must be an
    NYSE session (a bar on another date means the broker's stamp was misread: an error,
    not a silent shift by a day).
    """
    if not records:
        return empty_bars()
    table = pd.DataFrame.from_records(list(records))
    missing = [key for key in (time_key, *fields.values()) if key not in table.columns]
    if missing:
        raise DataError(symbol, None, f"bars with {time_key}, {', '.join(fields.values())}",
                        f"the broker's bars lack {', '.join(missing)}")
    instants = pd.DatetimeIndex(pd.to_datetime(table[time_key], utc=True, unit=unit))
    index = _session_stamps(symbol, instants) if daily else instants
    index = index.as_unit("ns").rename("timestamp")
    values = np.column_stack([to_float(table[fields[f]], f, index, symbol) for f in CANONICAL_FIELDS])
    order = np.argsort(index.asi8, kind="stable")
    return validate_bars(bar_frame(values[order], index[order]), symbol)


def _session_stamps(symbol: str, instants: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Midnight UTC of each instant's New York date, refusing a date that is not a session."""
    dates = instants.tz_convert(NEW_YORK).tz_localize(None).normalize()
    sessions = sessions_in_range(dates.min(), dates.max())
    off = ~dates.isin(sessions)
    if off.any():
        i = int(np.argmax(off))
        raise DataError(symbol, instants[i], "daily bars fall on NYSE sessions",
                        f"the bar stamped {instants[i].isoformat()} is dated {dates[i].date()} in New York, "
                        "not a session")
    return pd.DatetimeIndex(dates).tz_localize("UTC")
