"""The price at an intraday execution time: ONE rule for the decision and the fill.

A daily bar has no price at 15:55, so on daily bars alone a session at
``15min_before_close`` or ``5min_before_close`` fills at the day's close and decides on
the bars through yesterday (the fallback, :mod:`toolkit.engine.market`). With minute bars
(``data.intraday``) the session does what a live one does at that instant:

* **the price** of a symbol is the close of its minute bar stamped at the execution
  instant in New York, or of the last one before it in the same session
  (:func:`minute_quotes`): 15:55 for ``5min_before_close``, 12:55 on an early close
  (2019-12-24), 09:30 for ``open``, 09:45 for ``15min_after_open``. Minute bars are
  stamped at the start of their minute, so that close is the last trade of the minute
  the order goes out in. ``close`` keeps the daily bar: its close IS the price then;
* **the decision** sees that same price: the history the strategy gets ends with a
  provisional row for today, today's bar as known at the instant
  (:func:`bar_so_far`: the session's first open, the high and low so far, the
  execution-time price as its close, the volume so far). v3.5b's causal "today's
  price" is that close (at ``open``, the bar's open, which is then the same price);
* **the fill** in the simulated broker, and the order's ``decision_price`` in the
  ledger, is the same price; the session result and its report name its minute and
  source (``minute bar 15:55 America/New_York from .../SPY.csv``);
* **staleness**: a symbol whose newest minute bar is older than
  ``guards.max_data_age`` (5 minutes when that is null: :func:`quote_age_limit`) at the
  decision's time (the instant, where a dry run's clock stands) has no execution-time
  price, and the session stops before deciding, as on stale daily data
  (:func:`quote_problems`). An old minute is never used silently.

A session is priced by minute bars when they cover it: some symbol of the run has a bar
in its regular hours. Then every symbol the session prices needs a fresh one. A session
they do not cover (a date outside the files) keeps the daily fallback, and the result
says "priced at the daily close: no minute bars for <date>".

The live engine takes the same path: its broker's latest trades become
:class:`ExecutionQuote` objects through :func:`quote_from_trade` and go to
:func:`~toolkit.engine.session.run_session` as ``quotes``, where the same
:func:`quote_problems`, provisional bar and prices apply (a trade is a bar of one price
whose volume so far is unknown: the previous bar's volume stands in). So paper, live,
dry run and replay price 15:55 by one rule; only where the price comes from differs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.model import ExecutionTime
from toolkit.time import execution_instant

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import Quote
    from toolkit.data.intraday import MinuteBook

__all__ = [
    "DEFAULT_MAX_QUOTE_AGE",
    "LATEST_TRADE",
    "MINUTE_BAR",
    "MINUTE_PRICED_TIMES",
    "NEW_YORK",
    "ExecutionQuote",
    "bar_so_far",
    "minute_quotes",
    "new_york_minute",
    "quote_age_limit",
    "quote_from_trade",
    "quote_problems",
]

NEW_YORK = "America/New_York"
#: What an :class:`ExecutionQuote` was made from (also the strategy's ``price_source``).
MINUTE_BAR = "minute_bar"
LATEST_TRADE = "latest_trade"
#: How old the newest minute bar (or trade) may be at the execution instant when
#: ``guards.max_data_age`` is null: a minute bar is never used unchecked.
DEFAULT_MAX_QUOTE_AGE = pd.Timedelta(minutes=5)
#: Execution times a minute bar prices; ``close`` is the daily bar's own close.
MINUTE_PRICED_TIMES = frozenset({ExecutionTime.OPEN, ExecutionTime.AFTER_OPEN_15MIN,
                                 ExecutionTime.BEFORE_CLOSE_15MIN, ExecutionTime.BEFORE_CLOSE_5MIN})


@dataclass(frozen=True, slots=True)
class ExecutionQuote:
    """A symbol's price at the execution instant, when it was made and where it came from.

    ``open``, ``high``, ``low`` and ``volume`` describe the session so far (through the
    quote's minute): what the provisional bar of the decision holds besides the price.
    A single trade (a broker's latest trade) has ``open = high = low = price`` and an
    unknown volume (NaN).
    """

    symbol: str
    price: float
    at: pd.Timestamp  # UTC: the start of the minute bar, or the trade's time
    source: str
    open: float
    high: float
    low: float
    volume: float
    kind: str = MINUTE_BAR  # MINUTE_BAR or LATEST_TRADE


def new_york_minute(instant: pd.Timestamp) -> str:
    """``15:55`` for an instant (the wall-clock minute in New York, as reports show it)."""
    return instant.tz_convert(NEW_YORK).strftime("%H:%M")


def quote_age_limit(max_data_age: dt.timedelta | None) -> pd.Timedelta:
    """The oldest a quote may be at the instant: ``guards.max_data_age``, else :data:`DEFAULT_MAX_QUOTE_AGE`."""
    return DEFAULT_MAX_QUOTE_AGE if max_data_age is None else pd.Timedelta(max_data_age)


def minute_quotes(book: MinuteBook, symbols: list[str], session_date: Any,
                  execution_time: ExecutionTime | str) -> dict[str, ExecutionQuote] | None:
    """Each symbol's quote from its last minute bar at or before the instant, in the session's hours.

    ``None`` when the time is not minute-priced (``close``) or when no symbol of ``symbols``
    has a bar in the session's regular hours (the minute bars do not cover the session:
    the daily bar prices it). A symbol without a bar between the open and the instant is
    left out (:func:`quote_problems` reports it); its age is not judged here.
    """
    when = ExecutionTime.parse(execution_time)
    if when not in MINUTE_PRICED_TIMES:
        return None
    open_ns = execution_instant(session_date, ExecutionTime.OPEN).value
    close_ns = execution_instant(session_date, ExecutionTime.CLOSE).value
    instant_ns = execution_instant(session_date, when).value
    covered = False
    quotes: dict[str, ExecutionQuote] = {}
    for sym in symbols:
        i, j_close = book.span(sym, open_ns, close_ns - 1)
        if j_close <= i:
            continue
        covered = True
        _, j = book.span(sym, open_ns, instant_ns)
        if j <= i:
            continue
        rows = book.values(sym, i, j)
        at = book.stamp(sym, j - 1)
        price = float(rows[-1, 3])
        volume = float(np.nansum(rows[:, 4])) if not np.isnan(rows[:, 4]).all() else math.nan
        quotes[sym] = ExecutionQuote(
            symbol=sym, price=price, at=at,
            source=f"minute bar {new_york_minute(at)} {NEW_YORK} from {book.origin(sym)}",
            open=float(rows[0, 0]), high=float(rows[:, 1].max()), low=float(rows[:, 2].min()), volume=volume,
            kind=MINUTE_BAR,
        )
    return quotes if covered else None


#: How far a broker's trade may be stamped after the broker's clock (the data and trading
#: servers' clocks differ by milliseconds) before it reads as a price from the future.
CLOCK_SKEW = pd.Timedelta(seconds=5)


def quote_from_trade(quote: Quote) -> ExecutionQuote:
    """A broker's latest trade (:class:`toolkit.brokers.base.Quote`) as an execution quote (the live path)."""
    px = float(quote.price)
    at = pd.Timestamp(quote.timestamp)
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    return ExecutionQuote(quote.symbol, px, at, f"{quote.source} at {at.tz_convert(NEW_YORK):%H:%M:%S} {NEW_YORK}",
                          px, px, px, math.nan, LATEST_TRADE)


def quote_problems(quotes: Mapping[str, ExecutionQuote], symbols: list[str], decided_at: pd.Timestamp,
                   limit: pd.Timedelta) -> list[str]:
    """Why some of ``symbols`` have no execution-time price (empty: every one is fresh).

    ``decided_at`` is the decision's time: the execution instant in a dry run or replay
    (their clock stands there), the broker's time in a live session. A symbol needs a
    quote no older than ``limit`` then and not after it (a quote from the future would
    be look-ahead). One sentence per symbol.
    """
    decided_at = pd.Timestamp(decided_at).tz_convert("UTC")
    hhmm = f"{new_york_minute(decided_at)} {NEW_YORK}"
    day = decided_at.tz_convert(NEW_YORK).date()
    out = []
    for sym in symbols:
        q = quotes.get(sym)
        if q is None:
            out.append(f"{sym} has no price at or before {hhmm} on {day} (no minute bar since the open, or no "
                       f"trade, while there are for other symbols): no execution-time price")
            continue
        age = decided_at - q.at
        what = "minute bars" if q.kind == MINUTE_BAR else "quote"
        newest = "newest one" if q.kind == MINUTE_BAR else "latest trade"
        if age < (pd.Timedelta(0) if q.kind == MINUTE_BAR else -CLOCK_SKEW):
            out.append(f"{sym}'s price at {hhmm} on {day} is stamped {q.at.isoformat()}, after the decision")
        elif age > limit:
            out.append(f"stale {what}: {sym}'s {newest} at or before {hhmm} on {day} is "
                       f"{new_york_minute(q.at)}, {_age(age)} old (more than the {_age(limit)} allowed by "
                       f"guards.max_data_age): no execution-time price")
    return out


def bar_so_far(quote: ExecutionQuote, execution_time: ExecutionTime | str) -> dict[str, float]:
    """Today's bar as known at the instant: the provisional last row of the decision's history.

    Its close is the execution-time price, so a strategy reading today's close decides on
    the price it trades at. At ``open`` the session has traded only that price so far, and
    the bar's open is set to it too: v3.5b reads today's open at ``open``. A single trade
    has no volume so far (NaN): the cursor then carries the previous bar's volume
    (:meth:`toolkit.engine.market.MarketCursor.history`).
    """
    when = ExecutionTime.parse(execution_time)
    first = quote.price if when is ExecutionTime.OPEN else quote.open
    return {"open": first, "high": max(quote.high, quote.price, first), "low": min(quote.low, quote.price, first),
            "close": quote.price, "volume": quote.volume}


def _age(delta: pd.Timedelta) -> str:
    """``3 min``, ``1 h 5 min``, ``45 s``: an age as a person reads it."""
    secs = int(delta.total_seconds())
    if secs < 60:
        return f"{secs} s"
    hours, minutes = divmod(secs // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
