"""The market data a session reads: one cursor over the bar panel, built once per run or replay.

A :class:`MarketCursor` holds the panel's index stamps, column positions and values
as one float64 array, so every session of a replay answers its questions (which
bars may the decision see, are they sound, what are the execution prices, the
volumes, the newest bar per symbol) by position rather than through pandas. It is
built by the caller (``run_daily``, ``replay``, a test) and passed to
:func:`~toolkit.engine.session.run_session`: there is no module-level cache, and
there is one path for the checks and the prices.

Prices on daily bars: ``close`` executes at the session's close; ``open`` and
``15min_after_open`` at the session's open; ``15min_before_close`` and
``5min_before_close`` at the session's close (the nearest price a daily bar has,
:attr:`toolkit.model.ExecutionTime.bar_field`). When the session's bar is not in
the data (a morning run on data that ends yesterday) the last close is used and the
cursor says so. The decision at ``close`` sees the session's bar; at any earlier
time it sees bars through the previous session (no look-ahead), see
:func:`~toolkit.time.expected_bar_date`. At a time other than ``close`` the prices
say so: "priced at the daily close: no minute bars for <date>".

Prices on minute bars (a cursor built with a :class:`~toolkit.data.intraday.MinuteBook`,
``data.intraday``): at every time but ``close``, a session the minute bars cover is
priced, decided and filled at each symbol's minute bar at (or last before) the
execution instant, by the one rule of :mod:`toolkit.engine.intraday`
(:meth:`MarketCursor.session_quotes`, :meth:`MarketCursor.history` with its
provisional row for today, :meth:`MarketCursor.prices`). Every price carries its
origin (a :class:`PriceOrigin`: when, and from which bar or file).

Missing bars (the gap policy of ``toolkit/strategies/base.py``, here for the session
path). The panel follows one calendar; a traded symbol may have no bar on a session of
it (the whole bar absent: every price NaN). That is not a corrupt bar: the strategy
holds the symbol's target from its last bar, the cursor gives it no execution price
that day (so no order: the session holds it and trades the others) and marks it at its
last close (so equity still counts it), as the backtest does. A bar with SOME prices
missing, or a price that is not a positive number, is corrupt and stops the session.
A symbol that has missed more than :data:`MAX_HELD_BARS` sessions in a row is stale:
a feed that stopped must not hold a position forever without anyone noticing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from toolkit.engine.intraday import (
    MINUTE_BAR,
    NEW_YORK,
    ExecutionQuote,
    bar_so_far,
    minute_quotes,
    new_york_minute,
    quote_problems,
)
from toolkit.errors import DataError
from toolkit.model import ExecutionTime, quantize
from toolkit.strategies.base import PRICE_SOURCE_ATTR
from toolkit.time import execution_instant, expected_bar_date, last_bar_is_fresh

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.data.intraday import MinuteBook

__all__ = ["MarketCursor", "PriceOrigin", "SessionPrices", "price_decimal"]

#: Sessions in a row a traded symbol may miss (held, with a message) before the session
#: stops as on stale data. A missing day or two in a file is a gap; a week is a feed
#: that stopped.
MAX_HELD_BARS = 5
_PRICE_FIELDS = ("open", "high", "low", "close")


@lru_cache(maxsize=65536)
def _decimal_of_repr(text: str) -> Decimal:
    return quantize(Decimal(text))


def price_decimal(x: float) -> Decimal:
    """A float price (or rate) as the ledger's exact 6-place Decimal: the broker gets the same number."""
    return _decimal_of_repr(repr(float(x)))


@lru_cache(maxsize=65536)
def _utc_midnight_ns(day: dt.date) -> int:
    return pd.Timestamp(day, tz="UTC").value


@dataclass(frozen=True, slots=True)
class PriceOrigin:
    """Where an execution price came from: its instant (UTC; None when unknown) and a line for the report."""

    at: pd.Timestamp | None
    source: str  # "minute bar 15:55 America/New_York from .../SPY.csv", "daily close 2018-06-01", ...

    def describe(self) -> str:
        return self.source


@dataclass(frozen=True, slots=True)
class SessionPrices:
    """Execution prices and valuation marks of one session, and a note when they are not the session's own.

    ``origins`` says where each execution price came from; ``basis`` how the session was
    priced when that is worth saying (at every time but ``close``: minute bars, or the
    daily fallback "priced at the daily close: no minute bars for <date>").
    """

    prices: dict[str, Decimal]
    marks: dict[str, Decimal]
    note: str | None
    origins: dict[str, PriceOrigin] = field(default_factory=dict)
    basis: str | None = None
    #: True when minute bars priced the session (its basis says so; the decision's history ends with
    #: today's provisional bar, as it does with a live session's latest trades).
    minute_priced: bool = False

    def held(self, symbols: list[str]) -> list[str]:
        """The ``symbols`` with a mark but no execution price: their bar is missing, so no order (held)."""
        return [s for s in symbols if s in self.marks and s not in self.prices]


class MarketCursor:
    """Positional reads of one canonical bar panel (UTC index, ``(symbol, field)`` columns).

    The panel is not copied and must not change while the cursor is in use; values
    are read as float64 (one array, made once).
    """

    def __init__(self, panel: pd.DataFrame, minutes: MinuteBook | None = None) -> None:
        idx, cols = panel.index, panel.columns
        if not (isinstance(idx, pd.DatetimeIndex) and str(idx.tz) == "UTC" and idx.is_unique
                and idx.is_monotonic_increasing):
            raise DataError("(panel)", None, "bars on a sorted, unique, UTC DatetimeIndex",
                            "load the data with toolkit's dataset loader")
        if not (isinstance(cols, pd.MultiIndex) and cols.nlevels == 2 and cols.is_unique):
            raise DataError("(panel)", None, "unique (symbol, field) columns",
                            "load the data with toolkit's dataset loader")
        self.panel = panel
        self.index = idx
        self._stamps = idx.as_unit("ns").asi8
        self._pos = {c: j for j, c in enumerate(cols)}
        values = panel.to_numpy()
        self._values = values if values.dtype == np.float64 else panel.to_numpy(dtype=np.float64, na_value=np.nan)
        #: Symbols of the panel in column order.
        self.symbols: list[str] = list(dict.fromkeys(cols.get_level_values(0)))
        #: Minute bars that price intraday execution times (None: daily bars only).
        self.minutes = minutes

    def __len__(self) -> int:
        return len(self._stamps)

    @property
    def first_date(self) -> dt.date:
        return self.index[0].date()

    @property
    def last_date(self) -> dt.date:
        """The date of the newest bar (a run without ``as_of`` trades this session)."""
        return self.index[-1].date()

    def has(self, symbol: str, field: str = "close") -> bool:
        return (symbol, field) in self._pos

    # -- what a decision may see ---------------------------------------------------
    def visible_end(self, as_of: dt.date, execution_time: ExecutionTime | str) -> int:
        """How many bars a decision at ``execution_time`` on ``as_of`` may see (bars through the expected one)."""
        cutoff = _utc_midnight_ns(expected_bar_date(as_of, execution_time).date())
        return int(self._stamps.searchsorted(cutoff, side="right"))

    def history(self, end: int, quotes: Mapping[str, ExecutionQuote] | None = None, as_of: dt.date | None = None,
                execution_time: ExecutionTime | str = ExecutionTime.CLOSE) -> pd.DataFrame:
        """The first ``end`` bars (what ``strategy.decide`` receives).

        With ``quotes`` (minute bars, :meth:`session_quotes`, or a live session's latest
        trades) a provisional row for ``as_of`` follows them: today's bar as known at the
        instant (:func:`~toolkit.engine.intraday.bar_so_far`), so the strategy decides on
        the price the session trades at; a quote without a volume so far (a single trade)
        carries the symbol's previous volume (the day's is not known yet); symbols
        without a quote are NaN there (a missing bar). Its ``attrs`` name the price
        source for the strategy's context.
        """
        base = self.panel.iloc[:end]
        if not quotes or as_of is None:
            return base
        row = np.full(len(self._pos), np.nan)
        for sym, q in quotes.items():
            for fld, v in bar_so_far(q, execution_time).items():
                j = self._pos.get((sym, fld))
                if j is None:
                    continue
                row[j] = self._last_close(end, j) if fld == "volume" and math.isnan(v) else v  # newest volume
        stamp = pd.DatetimeIndex([pd.Timestamp(as_of, tz="UTC")], name=self.index.name).as_unit(self.index.unit)
        out = pd.concat([base, pd.DataFrame([row], index=stamp, columns=self.panel.columns)])
        out.attrs[PRICE_SOURCE_ATTR] = next(iter(quotes.values())).kind
        return out

    def bar_problems(self, end: int, symbols: list[str], as_of: dt.date, execution_time: str,
                     stale_check: bool) -> list[str]:
        """What is wrong with the newest visible bar of the traded ``symbols`` (empty = sound).

        A symbol whose whole bar is missing there is not a problem (it is held, see the
        module doc: :meth:`missing_bars`) unless it has missed more than
        :data:`MAX_HELD_BARS` sessions in a row.
        """
        expected = expected_bar_date(as_of, execution_time)
        if end <= 0:
            return [f"no bars at or before {expected.date()} in the data"]
        row = self._values[end - 1]
        when = self.index[end - 1].date()
        problems = []
        for sym in symbols:
            if self._bar_absent(end - 1, sym):
                run = self._missing_run(end, sym)
                if run > MAX_HELD_BARS and run < end:  # had a bar once, none for a week
                    problems.append(f"{sym} has no bar in the last {run} sessions (newest "
                                    f"{self.index[end - 1 - run].date()}): more than {MAX_HELD_BARS} missing "
                                    f"sessions is stale data, not a gap")
                continue
            for fld in ("open", "close"):
                j = self._pos.get((sym, fld))
                v = None if j is None else float(row[j])
                if v is None or not (math.isfinite(v) and v > 0):
                    problems.append(f"{sym} {fld} on {when} is {v} (missing or corrupt)")
        if stale_check and not last_bar_is_fresh(self.index[end - 1], as_of, execution_time):
            problems.append(f"stale data: the newest bar is {when}; a decision at {execution_time} on {as_of} "
                            f"needs the {expected.date()} bar")
        return problems

    def _bar_absent(self, i: int, symbol: str) -> bool:
        """True when row ``i`` holds no bar of ``symbol`` at all (every price field NaN)."""
        cols = [self._pos[(symbol, f)] for f in _PRICE_FIELDS if (symbol, f) in self._pos]
        return bool(cols) and all(math.isnan(self._values[i, j]) for j in cols)

    def _missing_run(self, end: int, symbol: str) -> int:
        """How many of the first ``end`` rows, counted back from the newest, have no close of ``symbol``."""
        j = self._pos.get((symbol, "close"))
        if j is None:
            return 0
        valid = np.flatnonzero(~np.isnan(self._values[:end, j]))
        return end - 1 - int(valid[-1]) if len(valid) else end

    def missing_bars(self, end: int, symbols: list[str]) -> list[str]:
        """The ``symbols`` without a bar on the newest visible row (the strategy holds them)."""
        if end <= 0:
            return []
        return [s for s in symbols if self._bar_absent(end - 1, s)]

    def last_bar_stamp(self, end: int, symbol: str) -> pd.Timestamp | None:
        """The stamp of ``symbol``'s newest visible bar with a close (None when it has none)."""
        col = self._values[:end, self._pos[(symbol, "close")]]
        k = end - 1
        while k >= 0 and math.isnan(col[k]):
            k -= 1
        return None if k < 0 else self.index[k]

    def volumes(self, end: int, symbols: list[str]) -> dict[str, float]:
        """The newest visible bar's volume per symbol (the participation cap's denominator).

        Daily bars carry the whole session's volume, also at ``open``: the cap is a
        liquidity model of the day, not a forecast the strategy decides on.
        """
        out: dict[str, float] = {}
        for sym in dict.fromkeys(symbols):
            j = self._pos.get((sym, "volume"))
            if j is not None:
                v = self._values[end - 1, j]
                if not math.isnan(v):
                    out[sym] = float(v)
        return out

    # -- prices at the execution instant --------------------------------------------
    def session_quotes(self, as_of: dt.date, execution_time: ExecutionTime | str, end: int,
                       max_age: pd.Timedelta, decided_at: pd.Timestamp | None = None,
                       ) -> tuple[dict[str, ExecutionQuote] | None, list[str]]:
        """The minute quotes that price this session, and what is wrong with them (empty = sound).

        ``(None, [])`` when there are no minute bars for the session (or the time is
        ``close``): the daily bar prices it. Otherwise every symbol with a visible bar
        (among the first ``end``) needs a quote no older than ``max_age`` at
        ``decided_at`` (default: the execution instant, where a dry run's clock stands);
        a stale or missing one is a problem that stops the session, like stale daily data.
        """
        if self.minutes is None:
            return None, []
        priced = [s for s in self.symbols if self.has(s) and self.last_bar_stamp(end, s) is not None]
        quotes = minute_quotes(self.minutes, priced, as_of, execution_time)
        if quotes is None:
            return None, []
        at = execution_instant(as_of, execution_time) if decided_at is None else decided_at
        return quotes, quote_problems(quotes, priced, at, max_age)

    def prices(self, as_of: dt.date, execution_time: ExecutionTime | str,
               quotes: Mapping[str, ExecutionQuote] | None = None) -> SessionPrices:
        """Execution prices and marks (the session's close) of every symbol with a close column.

        With ``quotes`` (minute bars, :meth:`session_quotes`, or a live session's latest
        trades) the execution prices are the quotes' and nothing else; marks stay the
        session's daily close where the data has it (the end-of-day valuation), else the
        quote.
        """
        stamp = _utc_midnight_ns(as_of)
        stamps = self._stamps
        i = int(stamps.searchsorted(stamp, side="left"))
        have_bar = i < len(stamps) and stamps[i] == stamp
        when = ExecutionTime.parse(execution_time)
        fld = when.bar_field
        if quotes is not None:
            return self._quote_prices(as_of, when, quotes, i if have_bar else None)
        prices: dict[str, Decimal] = {}
        marks: dict[str, Decimal] = {}
        origins: dict[str, PriceOrigin] = {}
        at = execution_instant(as_of, ExecutionTime.OPEN if fld == "open" else ExecutionTime.CLOSE) \
            if have_bar else None
        daily = PriceOrigin(at, f"daily {fld} {as_of}") if have_bar else \
            PriceOrigin(None, f"last available close (no {as_of} bar)")
        for sym in self.symbols:
            jc = self._pos.get((sym, "close"))
            if jc is None:
                continue
            if have_bar:
                jf = self._pos.get((sym, fld))
                px = self._values[i, jf] if jf is not None else math.nan
                mk = self._values[i, jc]
                if math.isnan(mk) and self._bar_absent(i, sym):
                    mk = self._last_close(i, jc)  # no bar today: held, valued at its last close
            else:
                px = mk = self._last_close(i, jc)
            if math.isfinite(px) and px > 0:
                prices[sym] = price_decimal(px)
                origins[sym] = daily
            if math.isfinite(mk) and mk > 0:
                marks[sym] = price_decimal(mk)
        note = None if have_bar else f"the {as_of} bar is not in the data: prices are the last available close"
        basis = None if when is ExecutionTime.CLOSE else f"priced at the daily {fld}: no minute bars for {as_of}"
        return SessionPrices(prices, marks, note, origins, basis)

    def _quote_prices(self, as_of: dt.date, when: ExecutionTime, quotes: Mapping[str, ExecutionQuote],
                      today: int | None) -> SessionPrices:
        prices: dict[str, Decimal] = {}
        marks: dict[str, Decimal] = {}
        origins: dict[str, PriceOrigin] = {}
        end = today if today is not None else int(self._stamps.searchsorted(_utc_midnight_ns(as_of), side="left"))
        for sym in self.symbols:
            jc = self._pos.get((sym, "close"))
            if jc is None:
                continue
            q = quotes.get(sym)
            mk = self._values[today, jc] if today is not None else math.nan
            if q is not None:
                prices[sym] = price_decimal(q.price)
                origins[sym] = PriceOrigin(q.at, q.source)
                if not (math.isfinite(mk) and mk > 0):
                    mk = q.price  # no daily close of today (yet): the minute price is the freshest mark
            elif not (math.isfinite(mk) and mk > 0):
                mk = self._last_close(end, jc)
            if math.isfinite(mk) and mk > 0:
                marks[sym] = price_decimal(mk)
        hhmm = new_york_minute(execution_instant(as_of, when))
        minute = any(q.kind == MINUTE_BAR for q in quotes.values())
        if minute:
            basis = (f"priced at minute bars: each symbol's close of the {hhmm} {NEW_YORK} minute bar (or the last "
                     f"one before it) on {as_of}")
        else:
            basis = f"priced at the broker's latest trades at {hhmm} {NEW_YORK} on {as_of}"
        return SessionPrices(prices, marks, None, origins, basis, minute_priced=minute)

    def _last_close(self, end: int, j: int) -> float:
        """The newest non-NaN value of column ``j`` among the first ``end`` bars (NaN when none)."""
        col = self._values[:end, j]
        valid = np.flatnonzero(~np.isnan(col))
        return float(col[valid[-1]]) if len(valid) else math.nan
