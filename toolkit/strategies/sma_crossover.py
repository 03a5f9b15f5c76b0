"""SMA crossover: long while the fast SMA of the close is above the slow one.

Each symbol of the run gets an equal share of equity (1/N) while its fast SMA is
strictly above its slow SMA and 0 otherwise. Orders go out on the first bar and on
every bar where any symbol's signal flips, retargeting all symbols to their weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from toolkit.strategies.base import Decision, Decisions, Strategy, StrategyParams
from toolkit.strategies.registry import register


class SmaCrossoverParams(StrategyParams):
    fast: int = Field(20, ge=1, le=1000, description="fast SMA length in bars")
    slow: int = Field(100, ge=2, le=5000, description="slow SMA length in bars")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> "SmaCrossoverParams":
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


@register
class SmaCrossover(Strategy):
    name = "sma_crossover"
    Params = SmaCrossoverParams
    description = "Long when the fast SMA of the close is above the slow SMA, flat otherwise."

    def instruments(self) -> list[str]:
        if not self.symbols:
            raise ValueError("sma_crossover needs the run's symbols (pass symbols=[...])")
        return list(self.symbols)

    @property
    def warmup(self) -> int:
        return self.params.slow

    def _signal_row(self, closes: np.ndarray) -> np.ndarray:
        """Long flags (one per symbol) from the trailing closes, NaN-safe."""
        fast = np.mean(closes[-self.params.fast :], axis=0)
        slow = np.mean(closes[-self.params.slow :], axis=0)
        if len(closes) < self.params.slow:
            return np.zeros(closes.shape[1], dtype=bool)
        with np.errstate(invalid="ignore"):
            return fast > slow

    def _close_positions(self, columns: pd.Index, syms: list[str]) -> np.ndarray:
        """Column positions of the closes, cached per columns object.

        A bar-by-bar run slices rows of one panel, so the columns object repeats;
        looking tuples up in a MultiIndex costs ~2 ms a call on pandas 3.
        """
        cached = getattr(self, "_cols_cache", None)
        if cached is not None and (cached[0] is columns or cached[0].equals(columns)):
            return cached[1]
        cols = columns.get_indexer([(s, "close") for s in syms])
        self._cols_cache = (columns, cols)
        return cols

    def decide(self, history: pd.DataFrame) -> Decision:
        syms = self.instruments()
        cols = self._close_positions(history.columns, syms)
        if (cols < 0).any():
            missing = [s for s, c in zip(syms, cols) if c < 0]
            raise KeyError(f"sma_crossover: no close prices for {missing} in the history")
        # Only the last slow + 1 bars matter: slicing them keeps a bar-by-bar run O(T).
        closes = history.iloc[-(self.params.slow + 1) :, cols].to_numpy(dtype=float)
        n = len(syms)
        now = self._signal_row(closes[-self.params.slow :])
        before = self._signal_row(closes[-self.params.slow - 1 : -1]) if len(closes) > 1 else None
        rebalance = before is None or bool(np.any(now != before))
        weights = {s: (1.0 / n if flag else 0.0) for s, flag in zip(syms, now)}
        ctx = {}
        if len(closes) >= self.params.slow:
            fast = np.mean(closes[-self.params.fast :], axis=0)
            slow = np.mean(closes[-self.params.slow :], axis=0)
        else:
            fast = slow = np.full(n, np.nan)
        for s, f, sl in zip(syms, fast, slow):
            ctx[f"sma_fast_{s}"] = float(f)
            ctx[f"sma_slow_{s}"] = float(sl)
        return Decision(history.index[-1], weights, rebalance, ctx)

    def decisions(self, bars: pd.DataFrame) -> Decisions:
        syms = self.instruments()
        close = bars.loc[:, [(s, "close") for s in syms]].droplevel(1, axis=1)
        # Same arithmetic as ``decide`` (mean of a window), so both paths agree bit for bit.
        arr = close.to_numpy(dtype=float)
        fast = _trailing_mean(arr, self.params.fast)
        slow = _trailing_mean(arr, self.params.slow)
        slow[: self.params.slow - 1] = np.nan
        with np.errstate(invalid="ignore"):
            long = fast > slow
        long[: self.params.slow - 1] = False
        weights = pd.DataFrame(long / len(syms), index=bars.index, columns=syms)
        changed = np.ones(len(bars), dtype=bool)
        changed[1:] = np.any(long[1:] != long[:-1], axis=1)
        ctx = {}
        for j, s in enumerate(syms):
            ctx[f"sma_fast_{s}"] = np.where(np.isnan(slow[:, j]), np.nan, fast[:, j])
            ctx[f"sma_slow_{s}"] = slow[:, j]
        return Decisions(weights, pd.Series(changed, index=bars.index), pd.DataFrame(ctx, index=bars.index))


def _trailing_mean(arr: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last ``n`` rows at each row, computed window by window.

    A cumulative-sum shortcut would differ from ``np.mean`` in the last bits; the
    parity test compares bar-by-bar and vectorised decisions exactly.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    out = np.full(arr.shape, np.nan)
    if len(arr) >= n:
        windows = sliding_window_view(arr, n, axis=0)  # (T-n+1, N, n)
        out[n - 1 :] = windows.mean(axis=2)
    return out
