"""EMA trend with a volume-confirmed breakout entry.

A symbol goes long when its fast EMA is above its slow EMA *and* the bar breaks out:
the close is above the highest high of the previous ``breakout_lookback`` bars on
volume above ``volume_mult`` times the average of the previous ``volume_lookback``
bars. The trend alone never opens a position (that is what the breakout is for); it
only keeps one: the position closes when the fast EMA falls to or below the slow one,
or when an exit rule (:mod:`toolkit.strategies.exits`) fires.

Each long symbol gets 1/N of equity (N = symbols of the run). Orders go out on the
first bar and whenever a symbol opens or closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator

from toolkit.strategies.exits import ExitParams, PositionState, apply_exits
from toolkit.strategies.indicators import AtrState, SmoothState, atr, changed_rows, ema, rolling_max, rolling_mean
from toolkit.strategies.registry import register
from toolkit.strategies.resumable import Chunk, ResumableStrategy


class EmaBreakoutParams(ExitParams):
    fast: int = Field(20, ge=1, le=1000, description="fast EMA length in bars")
    slow: int = Field(50, ge=2, le=5000, description="slow EMA length in bars")
    breakout_lookback: int = Field(20, ge=1, le=1000, description="bars whose highest high the close must beat")
    volume_lookback: int = Field(20, ge=1, le=1000, description="bars of the average volume")
    volume_mult: float = Field(1.2, gt=0, le=100, description="volume must exceed this multiple of its average")

    @field_validator("slow")
    @classmethod
    def _slow_above_fast(cls, v: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if fast is not None and v <= fast:
            raise ValueError(f"slow ({v}) must be greater than fast ({fast})")
        return v


@dataclass(frozen=True)
class _State:
    fast: SmoothState
    slow: SmoothState
    atr: AtrState | None
    position: PositionState
    held: np.ndarray


@register
class EmaBreakout(ResumableStrategy[EmaBreakoutParams]):
    name = "ema_breakout"
    Params = EmaBreakoutParams
    description = "Long on a volume-confirmed breakout while the fast EMA is above the slow EMA."
    fields = ("high", "low", "close", "volume")

    @property
    def warmup(self) -> int:
        p = self.params
        return max(p.slow, p.breakout_lookback + 1, p.volume_lookback + 1)

    def _compute(self, bars: pd.DataFrame, arrays: dict[str, np.ndarray], start: int, state: Any) -> Chunk:
        p = self.params
        st: _State | None = state
        rules = p.exit_rules()
        high, low, close, volume = (arrays[f] for f in ("high", "low", "close", "volume"))
        c = close[start:]
        fast, fast_st = ema(c, p.fast, st.fast if st else None)
        slow, slow_st = ema(c, p.slow, st.slow if st else None)
        level = rolling_max(high, p.breakout_lookback, start=start, lag=1)
        avg_volume = rolling_mean(volume, p.volume_lookback, start=start, lag=1)
        with np.errstate(invalid="ignore"):
            trend = fast > slow
            breakout = (c > level) & (volume[start:] > p.volume_mult * avg_volume)
        atr_vals, atr_st = None, None
        if rules.needs_atr:
            atr_vals, atr_st = atr(high[start:], low[start:], c, p.atr_period, st.atr if st else None)
        path = apply_exits(trend & breakout, trend, c, atr_vals, rules, st.position if st else None)

        syms = self.instruments()
        weights = path.held / len(syms)
        rebalance = changed_rows(path.held, st.held if st else None)
        reasons = path.reason_names()
        ctx: dict[str, np.ndarray] = {}
        for j, s in enumerate(syms):
            ctx[f"ema_fast_{s}"] = fast[:, j]
            ctx[f"ema_slow_{s}"] = slow[:, j]
            ctx[f"breakout_level_{s}"] = level[:, j]
            ctx[f"exit_reason_{s}"] = reasons[:, j]
            if rules.needs_atr:
                ctx[f"stop_{s}"] = path.stop[:, j]
        held_last = path.held[-1] if len(path.held) else (st.held if st else np.zeros(len(syms), bool))
        return Chunk(weights, rebalance, ctx, _State(fast_st, slow_st, atr_st, path.state, held_last))
