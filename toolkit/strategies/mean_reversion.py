"""Mean reversion: buy oversold closes below the lower Bollinger band.

A symbol goes long when Wilder's RSI is below ``oversold`` *and* the close is below
the lower band (``bb_period`` SMA minus ``bb_std`` population standard deviations).
Both must agree, because either alone fires all through a crash. The position closes
when the close recovers above the middle band or the RSI rises above ``exit_rsi``
(whichever comes first), or when an exit rule (:mod:`toolkit.strategies.exits`) fires;
a stop-loss matters here, since a falling price keeps the entry condition true.

Each long symbol gets 1/N of equity; orders go out on the first bar and whenever a
symbol opens or closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator

from toolkit.strategies.exits import ExitParams, PositionState, apply_exits
from toolkit.strategies.indicators import AtrState, RsiState, atr, changed_rows, rolling_mean_std, rsi
from toolkit.strategies.registry import register
from toolkit.strategies.resumable import Chunk, ResumableStrategy


class MeanReversionParams(ExitParams):
    rsi_period: int = Field(14, ge=2, le=500, description="Wilder RSI length in bars")
    oversold: float = Field(30.0, gt=0, lt=100, description="enter below this RSI")
    exit_rsi: float = Field(50.0, gt=0, lt=100, description="exit above this RSI")
    bb_period: int = Field(20, ge=2, le=1000, description="Bollinger band length in bars")
    bb_std: float = Field(2.0, gt=0, le=10, description="band width in standard deviations")

    @field_validator("exit_rsi")
    @classmethod
    def _exit_above_oversold(cls, v: float, info: ValidationInfo) -> float:
        oversold = info.data.get("oversold")
        if oversold is not None and v <= oversold:
            raise ValueError(f"exit_rsi ({v}) must be greater than oversold ({oversold})")
        return v


@dataclass(frozen=True)
class _State:
    rsi: RsiState
    atr: AtrState | None
    position: PositionState
    held: np.ndarray


@register
class MeanReversion(ResumableStrategy[MeanReversionParams]):
    name = "mean_reversion"
    Params = MeanReversionParams
    description = "Long when RSI is oversold and the close is below the lower Bollinger band."
    fields = ("high", "low", "close")

    @property
    def warmup(self) -> int:
        return max(self.params.rsi_period + 1, self.params.bb_period)

    def _compute(self, bars: pd.DataFrame, arrays: dict[str, np.ndarray], start: int, state: Any) -> Chunk:
        p = self.params
        st: _State | None = state
        rules = p.exit_rules()
        high, low, close = arrays["high"], arrays["low"], arrays["close"]
        c = close[start:]
        rsi_vals, rsi_st = rsi(c, p.rsi_period, st.rsi if st else None)
        middle, sd = rolling_mean_std(close, p.bb_period, start=start)
        lower = middle - p.bb_std * sd
        with np.errstate(invalid="ignore"):
            entry = (rsi_vals < p.oversold) & (c < lower)
            keep = ~((c > middle) | (rsi_vals > p.exit_rsi))
        atr_vals, atr_st = None, None
        if rules.needs_atr:
            atr_vals, atr_st = atr(high[start:], low[start:], c, p.atr_period, st.atr if st else None)
        path = apply_exits(entry, keep, c, atr_vals, rules, st.position if st else None)

        syms = self.instruments()
        weights = path.held / len(syms)
        rebalance = changed_rows(path.held, st.held if st else None)
        reasons = path.reason_names()
        ctx: dict[str, np.ndarray] = {}
        for j, s in enumerate(syms):
            ctx[f"rsi_{s}"] = rsi_vals[:, j]
            ctx[f"bb_middle_{s}"] = middle[:, j]
            ctx[f"bb_lower_{s}"] = lower[:, j]
            ctx[f"exit_reason_{s}"] = reasons[:, j]
            if rules.needs_atr:
                ctx[f"stop_{s}"] = path.stop[:, j]
        held_last = path.held[-1] if len(path.held) else (st.held if st else np.zeros(len(syms), bool))
        return Chunk(weights, rebalance, ctx, _State(rsi_st, atr_st, path.state, held_last))
