"""SMA crossover: long while the fast SMA of the close is above the slow one.

Each symbol of the run gets an equal share of equity (1/N) while its fast SMA is
strictly above its slow SMA and 0 otherwise. Orders go out on the first bar and on
every bar where any symbol's signal flips, retargeting all symbols to their weights.

Both SMAs follow the toolkit's one rolling-mean rule
(:mod:`toolkit.strategies.indicators.windows`), so ``decide`` (the last two bars),
``decisions`` (every bar) and ``grid_decisions`` (every bar of many (fast, slow) pairs)
compute the same floats. An SMA is NaN until its window is full; a NaN SMA means flat.

Missing bars follow the gap policy (``toolkit/strategies/base.py``): a symbol's SMAs
are over its own closes, and on a bar it lacks its flag is held from its last bar (so
no order is asked for because of the gap).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from toolkit.strategies.base import Decision, Decisions, GridDecisions, Strategy, StrategyParams
from toolkit.strategies.indicators import changed_rows, hold_gaps, rolling_mean
from toolkit.strategies.registry import register


class SmaCrossoverParams(StrategyParams):
    fast: int = Field(20, ge=1, le=1000, description="fast SMA length in bars")
    slow: int = Field(100, ge=2, le=5000, description="slow SMA length in bars")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossoverParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


def _closes(bars: pd.DataFrame, symbols: list[str]) -> np.ndarray:
    """``(bars, symbols)`` close prices."""
    return bars.loc[:, [(s, "close") for s in symbols]].to_numpy(dtype=float)


def _long(fast: np.ndarray, slow: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Long flags: fast SMA strictly above slow (False where either is NaN), held through
    the rows where a symbol has no close (``close`` holds the rows the flags are for)."""
    with np.errstate(invalid="ignore"):
        long = fast > slow
    return hold_gaps(long, np.isnan(close))


@register
class SmaCrossover(Strategy[SmaCrossoverParams]):
    name = "sma_crossover"
    Params = SmaCrossoverParams
    description = "Long when the fast SMA of the close is above the slow SMA, flat otherwise."

    def reset(self) -> None:
        self._cols_cache: tuple[pd.Index, np.ndarray] | None = None

    def instruments(self) -> list[str]:
        if not self.symbols:
            raise ValueError("sma_crossover needs the run's symbols (pass symbols=[...])")
        return list(self.symbols)

    @property
    def warmup(self) -> int:
        return self.params.slow

    def _smas(self, close: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Fast and slow SMAs of rows ``start..T-1``; the fast one NaN wherever the slow one is."""
        slow = rolling_mean(close, self.params.slow, start=start)
        fast = rolling_mean(close, self.params.fast, start=start)
        return np.where(np.isnan(slow), np.nan, fast), slow

    def _close_positions(self, columns: pd.Index, syms: list[str]) -> np.ndarray:
        """Column positions of the closes, cached per columns object.

        A bar-by-bar run slices rows of one panel, so the columns object repeats;
        looking tuples up in a MultiIndex costs ~2 ms a call on pandas 3.
        """
        cached = self._cols_cache
        if cached is not None and (cached[0] is columns or cached[0].equals(columns)):
            return cached[1]
        cols = columns.get_indexer(pd.Index([(s, "close") for s in syms]))
        self._cols_cache = (columns, cols)
        return cols

    def decide(self, history: pd.DataFrame) -> Decision:
        syms = self.instruments()
        cols = self._close_positions(history.columns, syms)
        if (cols < 0).any():
            missing = [s for s, c in zip(syms, cols, strict=True) if c < 0]
            raise KeyError(f"sma_crossover: no close prices for {missing} in the history")
        # Only each symbol's last slow + 1 bars matter (the windows of its last two bars,
        # which give today's and yesterday's flags, held through any gap after them):
        # slicing them keeps a bar-by-bar run O(T). A symbol with missing bars needs a
        # longer slice; it doubles until every symbol has them (or the slice is all).
        need, rows = self.params.slow + 1, self.params.slow + 1
        while True:
            closes = history.iloc[-rows:, cols].to_numpy(dtype=float)
            if rows >= len(history) or bool((np.count_nonzero(~np.isnan(closes), axis=0) >= need).all()):
                break
            rows *= 2
        start = max(len(closes) - 2, 0)
        fast, slow = self._smas(closes, 0)
        long = _long(fast, slow, closes)[start:]
        fast, slow = fast[start:], slow[start:]
        rebalance = bool(changed_rows(long)[-1])
        n = len(syms)
        weights = {s: (1.0 / n if flag else 0.0) for s, flag in zip(syms, long[-1], strict=True)}
        ctx = {}
        for s, f, sl in zip(syms, fast[-1], slow[-1], strict=True):
            ctx[f"sma_fast_{s}"] = float(f)
            ctx[f"sma_slow_{s}"] = float(sl)
        return Decision(history.index[-1], weights, rebalance, ctx)

    def decisions(self, bars: pd.DataFrame) -> Decisions:
        syms = self.instruments()
        close = _closes(bars, syms)
        fast, slow = self._smas(close, 0)
        long = _long(fast, slow, close)
        weights = pd.DataFrame(long / len(syms), index=bars.index, columns=syms)
        ctx = {}
        for j, s in enumerate(syms):
            ctx[f"sma_fast_{s}"] = fast[:, j]
            ctx[f"sma_slow_{s}"] = slow[:, j]
        return Decisions(weights, pd.Series(changed_rows(long), index=bars.index), pd.DataFrame(ctx, index=bars.index))

    @classmethod
    def grid_decisions(
        cls, params: Sequence[SmaCrossoverParams], bars: pd.DataFrame, *, symbols: list[str]
    ) -> GridDecisions:
        """Every (fast, slow) pair at once: each distinct SMA length is computed once.

        Same rolling means on the same closes as :meth:`decisions`, so the same floats;
        only the per-pair loop is gone.
        """
        close = _closes(bars, symbols)
        cache: dict[int, np.ndarray] = {}

        def sma(n: int) -> np.ndarray:
            if n not in cache:
                cache[n] = rolling_mean(close, n)
            return cache[n]

        fast = np.stack([sma(p.fast) for p in params], axis=1)  # (bars, pairs, symbols)
        slow = np.stack([sma(p.slow) for p in params], axis=1)
        long = _long(fast, slow, close)
        return GridDecisions(list(symbols), long / len(symbols), changed_rows(long))
