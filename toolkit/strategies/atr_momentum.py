"""Momentum with ATR risk-parity sizing.

A symbol is a member while its ``lookback``-bar rate of change is above
``threshold`` (and no exit rule has closed it). Members are sized so each risks about
the same: ``weight = risk_per_trade / (atr_mult x ATR / close)``, the fraction of
equity that loses ``risk_per_trade`` if price moves ``atr_mult`` ATRs against it.
Each weight is capped at ``max_weight`` and the total scaled down to at most 1 (no
leverage), so quiet symbols cannot take over the book.

Sizes drift with ATR every bar, but trading every drift costs more than it earns: the
book rebalances when membership changes and otherwise every ``rebalance_every`` bars
(counted from the last rebalance), holding the last targets in between.

Missing bars follow the gap policy (``toolkit/strategies/base.py``): the rate of change
looks ``lookback`` of the symbol's own bars back, ATR skips the missing day, and on a
bar a symbol lacks its weight is held as on its last bar; a rebalance of the others on
that bar sizes it from its last close, so the book's total stays within 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from toolkit.strategies.exits import ExitParams, PositionState, apply_exits
from toolkit.strategies.indicators import AtrState, atr, changed_rows, hold_gaps, lagged, last_value, seq_sum
from toolkit.strategies.registry import register
from toolkit.strategies.resumable import Chunk, ResumableStrategy


class AtrMomentumParams(ExitParams):
    lookback: int = Field(126, ge=1, le=5000, description="rate-of-change lookback in bars")
    threshold: float = Field(0.0, ge=-1, le=10, description="member while the rate of change is above this")
    atr_period: int = Field(20, ge=1, le=500, description="Wilder ATR length (sizing and trailing stop)")
    atr_mult: float = Field(2.0, gt=0, le=50, description="ATRs of adverse move the sizing budgets for")
    risk_per_trade: float = Field(0.01, gt=0, le=1, description="equity fraction risked per member")
    max_weight: float = Field(0.5, gt=0, le=1, description="cap on one symbol's weight")
    rebalance_every: int = Field(21, ge=1, le=5000, description="bars between rebalances without a membership change")


@dataclass(frozen=True)
class _State:
    atr: AtrState
    position: PositionState
    held: np.ndarray
    since: int
    carried: np.ndarray


@register
class AtrMomentum(ResumableStrategy[AtrMomentumParams]):
    name = "atr_momentum"
    Params = AtrMomentumParams
    description = "Long positive-momentum symbols, sized by ATR risk parity, rebalanced on a schedule."
    fields = ("high", "low", "close")

    @property
    def warmup(self) -> int:
        return max(self.params.lookback, self.params.atr_period) + 1

    def target_weights(self, held: np.ndarray, atr_vals: np.ndarray, close: np.ndarray) -> np.ndarray:
        """Risk-parity weights per row: capped per symbol, total at most 1."""
        p = self.params
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = p.risk_per_trade / (p.atr_mult * atr_vals / close)
            w = np.where(held, np.minimum(raw, p.max_weight), 0.0)
        total = seq_sum(w)
        return np.where((total > 1.0)[:, None], w / np.where(total > 1.0, total, 1.0)[:, None], w)

    def _compute(self, bars: pd.DataFrame, arrays: dict[str, np.ndarray], start: int, state: Any) -> Chunk:
        p = self.params
        st: _State | None = state
        high, low, close = arrays["high"], arrays["low"], arrays["close"]
        c = close[start:]
        N = c.shape[1]
        atr_vals, atr_st = atr(high[start:], low[start:], c, p.atr_period, st.atr if st else None)
        with np.errstate(invalid="ignore", divide="ignore"):
            roc = c / lagged(close, p.lookback, start) - 1.0
            signal = (roc > p.threshold) & (atr_vals > 0)
        path = apply_exits(signal, signal, c, atr_vals, p.exit_rules(), st.position if st else None)
        # Sized from each symbol's last close, so one without a bar today keeps its size.
        target = self.target_weights(path.held, atr_vals, last_value(close, start))

        # Rebalance schedule: a plain loop over booleans, then carry the targets.
        changed = changed_rows(path.held, st.held if st else None)
        rebalance = np.zeros(len(c), dtype=bool)
        since = st.since if st else 0
        for t, ch in enumerate(changed.tolist()):
            since += 1
            if ch or since >= p.rebalance_every:
                rebalance[t] = True
                since = 0
        src = np.where(rebalance, np.arange(len(c)), -1)
        np.maximum.accumulate(src, out=src)
        carried0 = st.carried if st else np.zeros(N)
        weights = np.where((src >= 0)[:, None], target[np.maximum(src, 0)], carried0)
        weights = hold_gaps(weights, np.isnan(c), carried0)

        syms = self.instruments()
        reasons = path.reason_names()
        ctx: dict[str, np.ndarray] = {}
        for j, s in enumerate(syms):
            ctx[f"roc_{s}"] = roc[:, j]
            ctx[f"atr_{s}"] = atr_vals[:, j]
            ctx[f"exit_reason_{s}"] = reasons[:, j]
            if p.trailing_atr_k is not None:
                ctx[f"stop_{s}"] = path.stop[:, j]
        new_state = _State(atr_st, path.state, path.held[-1], since, weights[-1].copy()) if len(c) else st
        return Chunk(weights, rebalance, ctx, new_state)
