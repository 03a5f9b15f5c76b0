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
:func:`~toolkit.time.expected_bar_date`.

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
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pandas as pd

from toolkit.errors import DataError
from toolkit.model import ExecutionTime, quantize
from toolkit.time import expected_bar_date, last_bar_is_fresh

__all__ = ["MarketCursor", "SessionPrices", "price_decimal"]

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
class SessionPrices:
    """Execution prices and valuation marks of one session, and a note when they are not the session's own."""

    prices: dict[str, Decimal]
    marks: dict[str, Decimal]
    note: str | None

    def held(self, symbols: list[str]) -> list[str]:
        """The ``symbols`` with a mark but no execution price: their bar is missing, so no order (held)."""
        return [s for s in symbols if s in self.marks and s not in self.prices]


class MarketCursor:
    """Positional reads of one canonical bar panel (UTC index, ``(symbol, field)`` columns).

    The panel is not copied and must not change while the cursor is in use; values
    are read as float64 (one array, made once).
    """

    def __init__(self, panel: pd.DataFrame) -> None:
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

    def history(self, end: int) -> pd.DataFrame:
        """The first ``end`` bars (what ``strategy.decide`` receives)."""
        return self.panel.iloc[:end]

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
    def prices(self, as_of: dt.date, execution_time: ExecutionTime | str) -> SessionPrices:
        """Execution prices and marks (the session's close) of every symbol with a close column."""
        stamp = _utc_midnight_ns(as_of)
        stamps = self._stamps
        i = int(stamps.searchsorted(stamp, side="left"))
        have_bar = i < len(stamps) and stamps[i] == stamp
        fld = ExecutionTime.parse(execution_time).bar_field
        prices: dict[str, Decimal] = {}
        marks: dict[str, Decimal] = {}
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
            if math.isfinite(mk) and mk > 0:
                marks[sym] = price_decimal(mk)
        note = None if have_bar else f"the {as_of} bar is not in the data: prices are the last available close"
        return SessionPrices(prices, marks, note)

    def _last_close(self, end: int, j: int) -> float:
        """The newest non-NaN value of column ``j`` among the first ``end`` bars (NaN when none)."""
        col = self._values[:end, j]
        valid = np.flatnonzero(~np.isnan(col))
        return float(col[valid[-1]]) if len(valid) else math.nan
