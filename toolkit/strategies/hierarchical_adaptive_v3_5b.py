"""Hierarchical Adaptive v3.5b: Kalman trend x volatility regime -> 6 cells of QQQ/TQQQ/bonds.

Implements ``shared/specs/hierarchical_adaptive_v3_5b.md`` (the spec; section numbers
below refer to it). On each bar of the signal symbol (QQQ):

1. a volume-adjusted Kalman filter gives a signed trend strength, ``T_norm`` (§3.1-3.2);
2. a 40/140 SMA structure gates it into BullStrong / Sideways / BearStrong (§3.3);
3. a z-score of 21-day realised vol against its trailing baseline, through a
   hysteresis latch plus a "vol-crush" override, gives Low / High vol (§4);
4. trend x vol picks one of 6 cells with fixed TQQQ/QQQ/PSQ/cash weights (§5);
5. in the defensive cells 4/5/6 part of the cash goes to TMF or TMV by the TLT 20/60
   SMA trend (§6); a leverage scalar then rescales and renormalises (§7);
6. orders go out only when the targets differ from the last *issued* targets by more
   than an L1 threshold (§9).

Execution time and today's price (§8). This implementation is the spec's *causal* mode:
the signal series is the closes through yesterday plus today's execution-time price,
and the Kalman filter gets that price with the full-day volume. With the daily bars the
toolkit feeds strategies:

* ``close``: today's price is today's close (``price_source = "daily_close"``);
* ``open``: today's daily open (``"daily_open"``). Note: the full-day volume of today is
  then known only after the close; this follows the spec (the reference feeds the
  full-day volume to the Kalman in every mode) and only scales the filter's noise;
* ``15min_after_open``, ``15min_before_close``, ``5min_before_close``: without
  intraday bars the spec's fallback applies (§8 "if the intraday candle is missing,
  the daily close is used"), so today's price is the daily close and the context says
  ``price_source = "daily_close_fallback"``. ``5min_before_close`` (15:55 New York) is
  *accepted* here although the reference strategy constructor rejects it (§8, §12.9):
  the toolkit's scheduler offers it and, on daily bars, it behaves like the others.
* with minute bars (``data.intraday`` in a dry run or replay), the session hands
  ``decide`` a history ending with today's provisional bar, whose close (at ``open``:
  whose open) is the price of the minute bar at the execution instant, the price the
  orders fill at (:mod:`toolkit.engine.intraday`); the context then says
  ``price_source = "minute_bar"``.

The reference engines' quirks (QQQ end-of-day look-ahead in intraday modes, the TLT
one-bar lag in close-mode backtests, the duplicated live quote; §8, §12.10) are *not*
reproduced: there is no ``execution_mode = reference``.

Interpretations of the spec, each documented where it is implemented:

* Missing data, by the toolkit's gap policy (``toolkit/strategies/base.py``). A row where
  the signal's execution-time price is NaN is not a signal bar (§2 "only this symbol's
  bars trigger the logic"): the strategy carries its last issued targets, asks for no
  orders and repeats the previous context with ``valid = False``. TLT bars are the rows
  where TLT has a price; on a row without one the bond trend of TLT's last bar holds.
  When TLT is absent or has fewer than ``bond_sma_slow`` closes, the bond trend is
  ``None`` and the defensive share stays in cash (§6.3).
* An instrument (TQQQ, QQQ, PSQ, TMF, TMV) with no price on a bar cannot be traded: its
  weight is held at its last issued target on that bar (0 before its first price, so a
  bond fund that starts later, or is absent from the panel, leaves the overlay in cash),
  and if that holds more than the new targets leave room for, the other instruments'
  targets are scaled down to keep the total at most 1. Before the gap policy such a
  weight went to cash, which sold the instrument for one bar and bought it back on
  the next.
* The first valid bar always asks for orders (the forced initial allocation of §2.1),
  even when its targets are all cash.
* The one-share pre-check of §9 belongs to the execution layer, not here.
* The vol latch starts Low and the reference's "first day" rule is dropped (§4.3: it
  can never fire under the golden set and is an engine artefact otherwise).
* The Kalman filter starts on the first signal bar of the history it is given, so, as in
  the reference (§3.1 "path dependence", §12.11), T_norm depends on where the history
  starts.

Context (§11), one entry per bar: ``cell, trend_state, vol_state, t_norm, z_score,
sma_fast, sma_slow, vol_crush, bond_sma_fast, bond_sma_slow, bond_trend, valid,
price_source`` plus ``deviation`` (the L1 distance of this bar's targets from the last
issued ones). Before the first valid bar the regime is (Sideways, Low, 3) with
``valid = False``; indicators are reported wherever they are defined. ``bond_trend`` is
"Bull", "Bear" or ``None`` in a :class:`Decision` (NaN in the ``Decisions`` table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationInfo, field_validator

from toolkit.errors import DataError
from toolkit.model import ExecutionTimeName
from toolkit.strategies.base import PRICE_SOURCE_ATTR, Decision, Decisions, Strategy, StrategyParams
from toolkit.strategies.indicators import KalmanTrend, row_mean, row_std, trailing_windows
from toolkit.strategies.registry import register

#: Hard-coded constants of the reference (§10 "Hard-coded constants").
SQRT252 = math.sqrt(252.0)
SMA_BUFFER = 10  # series length L = max(sma_slow + 10, vol_baseline_window + realized_vol_window)
BOND_BUFFER = 10  # TLT series length bond_sma_slow + 10
SAFE_HAVEN_FRACTION = 0.4  # bond weight = min(0.4 * D, max_bond_weight)
PSQ_BASE = 0.5

#: Slots of the five traded roles, in the reference's order (§9 phases).
TQQQ, QQQ, PSQ, TMF, TMV = range(5)

#: Base weights (TQQQ, QQQ, PSQ, cash) per cell before the overlay and scalar (§5).
#: Cell 6 here is 6a (no inverse hedge); 6b is built from ``w_PSQ_max``.
CELL_WEIGHTS: dict[int, tuple[float, float, float, float]] = {
    1: (0.6, 0.4, 0.0, 0.0),
    2: (0.0, 1.0, 0.0, 0.0),
    3: (0.2, 0.8, 0.0, 0.0),
    4: (0.0, 0.0, 0.0, 1.0),
    5: (0.0, 0.5, 0.0, 0.5),
    6: (0.0, 0.0, 0.0, 1.0),
}
CELL_NAMES = {1: "Kill Zone", 2: "Fragile", 3: "Drift", 4: "Chop", 5: "Grind", 6: "Crash"}
#: Cell by (trend, vol_high) (§5).
_CELL = {
    ("BullStrong", False): 1, ("BullStrong", True): 2,
    ("Sideways", False): 3, ("Sideways", True): 4,
    ("BearStrong", False): 5, ("BearStrong", True): 6,
}
#: How a report names each cell: its number, trend / volatility state and the spec's name (§5),
#: e.g. ``3: sideways / low vol (Drift)``.
CELL_LABELS: dict[int, str] = {
    cell: f"{cell}: {trend.removesuffix('Strong').lower()} / {'high' if high else 'low'} vol ({CELL_NAMES[cell]})"
    for (trend, high), cell in _CELL.items()
}

CONTEXT_FIELDS = (
    "cell", "trend_state", "vol_state", "t_norm", "z_score", "sma_fast", "sma_slow",
    "vol_crush", "bond_sma_fast", "bond_sma_slow", "bond_trend", "valid", "price_source",
    "deviation",
)
#: Column dtypes of ``Decisions.context`` (text columns use pandas' string dtype, so a
#: missing ``bond_trend`` is NaN there and ``None`` in a single ``Decision``).
CONTEXT_DTYPES = {
    "cell": "int64", "trend_state": "str", "vol_state": "str", "t_norm": "float64", "z_score": "float64",
    "sma_fast": "float64", "sma_slow": "float64", "vol_crush": "bool", "bond_sma_fast": "float64",
    "bond_sma_slow": "float64", "bond_trend": "str", "valid": "bool", "price_source": "str",
    "deviation": "float64",
}


class HierarchicalAdaptiveV35bParams(StrategyParams):
    """The 32 flat parameters of §10 plus the two extra constructor flags.

    Defaults are the reference *constructor* defaults (§10 "Default" column); the golden
    live set is ``params/strategies/hierarchical_adaptive_v3_5b.yaml``. Cross-field
    rules (§10 "Constructor validation") are checked on the later field of each pair so
    the error names a field: ``sma_slow``, ``lower_thresh_z``, ``bond_sma_slow``, and
    any traded symbol that repeats an earlier traded role.
    """

    # Kalman (§3.1)
    measurement_noise: float = Field(2000.0, gt=0, description="Kalman base measurement noise R0")
    process_noise_1: float = Field(0.01, gt=0, description="Kalman process noise of the level")
    process_noise_2: float = Field(0.01, gt=0, description="Kalman process noise of the velocity")
    osc_smoothness: int = Field(15, ge=1, description="WMA length of the oscillator (capped at 20)")
    strength_smoothness: int = Field(15, ge=1, description="oscillator-start gate; second WMA length")
    T_max: float = Field(50.0, gt=0, description="divisor giving T_norm = clip(strength / T_max, -1, 1)")
    # Structure (§3.3)
    sma_fast: int = Field(40, ge=1, description="fast structural SMA (must be < sma_slow)")
    sma_slow: int = Field(140, ge=2, validate_default=True, description="slow structural SMA")
    t_norm_bull_thresh: float = Field(0.2, gt=0, description="BullStrong needs T_norm above this (> 0)")
    t_norm_bear_thresh: float = Field(-0.3, lt=0, description="BearStrong needs T_norm below this (< 0)")
    # Volatility (§4)
    realized_vol_window: int = Field(21, ge=2, description="log-return std window")
    vol_baseline_window: int = Field(126, ge=2, description="z-score baseline length")
    upper_thresh_z: float = Field(1.0, description="enter High vol when z > this")
    lower_thresh_z: float = Field(
        0.2, validate_default=True, description="enter Low vol when z < this (must be < upper_thresh_z)"
    )
    vol_crush_threshold: float = Field(-0.15, lt=0, description="relative vol drop triggering the override (< 0)")
    vol_crush_lookback: int = Field(5, ge=1, description="bars back for the vol-crush comparison")
    # Allocation (§5-§7)
    leverage_scalar: float = Field(1.0, ge=0.5, le=1.5, description="multiplier on TQQQ/QQQ/PSQ before renormalising")
    use_inverse_hedge: bool = Field(False, description="cell 6 holds PSQ (+cash) instead of cash/bonds")
    w_PSQ_max: float = Field(0.5, gt=0, le=1, description="PSQ weight = min(0.5, this)")
    allow_treasury: bool = Field(True, description="enable the TMF/TMV overlay in cells 4/5/6")
    bond_sma_fast: int = Field(20, ge=1, description="TLT fast SMA")
    bond_sma_slow: int = Field(60, ge=2, validate_default=True, description="TLT slow SMA (> bond_sma_fast)")
    max_bond_weight: float = Field(0.4, ge=0, le=1, description="cap on the bond weight")
    treasury_trend_symbol: str = Field("TLT", min_length=1, description="bond trend symbol (closes only)")
    rebalance_threshold: float = Field(0.025, gt=0, description="L1 deviation that triggers orders")
    execution_time: ExecutionTimeName = Field("close", description="when orders go out; sets today's signal price (§8)")
    # Symbols (§1)
    signal_symbol: str = Field("QQQ", min_length=1)
    core_long_symbol: str = Field("QQQ", min_length=1)
    leveraged_long_symbol: str = Field("TQQQ", min_length=1, validate_default=True)
    inverse_hedge_symbol: str = Field("PSQ", min_length=1, validate_default=True)
    bull_bond_symbol: str = Field("TMF", min_length=1, validate_default=True)
    bear_bond_symbol: str = Field("TMV", min_length=1, validate_default=True)
    # The two flags outside the 32 (§10)
    symmetric_volume_adjustment: bool = Field(False, description="R = R0 * v_prev / v instead of / max(v_prev, v)")
    double_smoothing: bool = Field(False, description="second WMA pass over the smoothed oscillator")

    @field_validator("sma_slow")
    @classmethod
    def _sma_order(cls, v: int, info: ValidationInfo) -> int:
        fast = info.data.get("sma_fast")
        if fast is not None and not fast < v:
            raise ValueError(f"sma_slow must be greater than sma_fast ({fast})")
        return v

    @field_validator("lower_thresh_z")
    @classmethod
    def _z_order(cls, v: float, info: ValidationInfo) -> float:
        upper = info.data.get("upper_thresh_z")
        if upper is not None and not upper > v:
            raise ValueError(f"lower_thresh_z must be smaller than upper_thresh_z ({upper})")
        return v

    @field_validator("bond_sma_slow")
    @classmethod
    def _bond_sma_order(cls, v: int, info: ValidationInfo) -> int:
        fast = info.data.get("bond_sma_fast")
        if fast is not None and not fast < v:
            raise ValueError(f"bond_sma_slow must be greater than bond_sma_fast ({fast})")
        return v

    @field_validator("leveraged_long_symbol", "inverse_hedge_symbol", "bull_bond_symbol", "bear_bond_symbol")
    @classmethod
    def _distinct_roles(cls, v: str, info: ValidationInfo) -> str:
        """Traded roles need distinct symbols, so each weight column has one meaning.

        Only roles in use count: the inverse hedge with ``use_inverse_hedge``, the bond
        funds with ``allow_treasury``. The signal may (and by default does) equal the
        core long symbol.
        """
        d = info.data

        def used(role: str) -> bool:
            if role == "inverse_hedge_symbol":
                return bool(d.get("use_inverse_hedge", False))
            if role in ("bull_bond_symbol", "bear_bond_symbol"):
                return bool(d.get("allow_treasury", True))
            return True

        name = str(info.field_name)
        if not used(name):
            return v
        for other in _TRADED_ROLES[: _TRADED_ROLES.index(name)]:
            if used(other) and d.get(other) == v:
                raise ValueError(f"{name} must differ from {other} ({v}): each traded role needs its own symbol")
        return v


_TRADED_ROLES = ["core_long_symbol", "leveraged_long_symbol", "inverse_hedge_symbol", "bull_bond_symbol",
                 "bear_bond_symbol"]


@dataclass
class _Panel:
    """The arrays the strategy reads from a bar panel (one entry per row)."""

    index: pd.Index  # the bars' timestamps
    sig_close: np.ndarray
    sig_exec: np.ndarray
    sig_volume: np.ndarray
    bond_close: np.ndarray | None  # None when TLT is off or absent
    bond_exec: np.ndarray | None
    slot_price: np.ndarray  # (rows, 5) execution-time prices of the traded roles (NaN if absent)

    def fingerprint(self, row: int) -> np.ndarray:
        """Values of ``row`` that the state after that row depends on (cache check)."""
        b = self.bond_exec[row] if self.bond_exec is not None else np.nan
        return np.concatenate([[self.sig_exec[row], self.sig_volume[row], b], self.slot_price[row]])


@dataclass
class _Features:
    """Per-signal-bar indicator values (NaN where undefined)."""

    sma_fast: np.ndarray
    sma_slow: np.ndarray
    z: np.ndarray
    sigma: np.ndarray  # today's sigma (with today's execution-time price)
    sigma_past: np.ndarray  # sigma vol_crush_lookback bars earlier, NaN when too few values


class _Regime:
    """Sequential part of the pipeline (§2 steps 6-12): latch, crush, cell, weights, rebalance.

    One instance carries the state between bars; both ``decide`` and ``decisions`` call
    :meth:`step` with the same Python floats, so their outputs agree exactly.
    """

    __slots__ = ("last", "p", "started", "vol_high")

    def __init__(self, params: HierarchicalAdaptiveV35bParams) -> None:
        self.p = params
        self.vol_high = False  # latch starts Low; the "first day" rule is dropped (§4.3)
        self.last: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)  # last issued targets, reset to 0 (§2.1)
        self.started = False

    def step(
        self,
        t_norm: float,
        sma_fast: float,
        sma_slow: float,
        z: float,
        sigma: float,
        sigma_past: float,
        bond: int,
        avail: tuple[bool, ...],
    ) -> tuple[tuple[float, ...], bool, int, str, bool, float]:
        """One valid bar: returns (issued weights, rebalance, cell, trend, crush, deviation)."""
        p = self.p
        # 6. Hysteresis (strict comparisons; dead band keeps the state).
        if z > p.upper_thresh_z:
            self.vol_high = True
        elif z < p.lower_thresh_z:
            self.vol_high = False
        # 7. Vol-crush: a relative sigma drop below the threshold forces Low into the latch.
        crush = False
        if not math.isnan(sigma_past) and sigma_past != 0.0:
            crush = (sigma - sigma_past) / sigma_past < p.vol_crush_threshold
        if crush:
            self.vol_high = False
        # 8. Trend: T_norm gated by the SMA structure (strict everywhere).
        bullish = sma_fast > sma_slow
        if t_norm > p.t_norm_bull_thresh and bullish:
            trend = "BullStrong"
        elif t_norm < p.t_norm_bear_thresh and not bullish:
            trend = "BearStrong"
        else:
            trend = "Sideways"
        if crush and trend == "BearStrong":
            trend = "Sideways"
        # 9. Cell and base weights.
        cell = _CELL[(trend, self.vol_high)]
        tq, q, psq, cash = CELL_WEIGHTS[cell]
        if cell == 6 and p.use_inverse_hedge:
            psq = min(PSQ_BASE, p.w_PSQ_max)
            cash = 1.0 - psq
        # 10. Treasury overlay on the defensive share of cells 4, 5 and 6a (§6).
        tmf = tmv = 0.0
        if p.allow_treasury and (cell in (4, 5) or (cell == 6 and not p.use_inverse_hedge)):
            d = 0.5 if cell == 5 else 1.0
            if bond != 0:  # no bond trend -> the whole of D stays in cash
                b = min(SAFE_HAVEN_FRACTION * d, p.max_bond_weight)
                cash = d - b
                if bond > 0:
                    tmf = b
                else:
                    tmv = b
        # 11. Leverage scalar on TQQQ/QQQ/PSQ, then renormalise all six to sum 1 (§7).
        s = p.leverage_scalar
        tq, q, psq = tq * s, q * s, psq * s
        total = tq + q + psq + tmf + tmv + cash
        w = [tq / total, q / total, psq / total, tmf / total, tmv / total]
        # An instrument without a price on this bar cannot be traded: it keeps its last
        # issued weight (the gap policy; 0 before its first price), and the others make
        # room for it if they must.
        last = self.last
        if not all(avail):
            held = 0.0
            free = 0.0
            for k in range(5):
                if avail[k]:
                    free += w[k]
                else:
                    w[k] = last[k]
                    held += w[k]
            if held > 0.0 and free > 1.0 - held:
                scale = max(1.0 - held, 0.0) / free
                for k in range(5):
                    if avail[k]:
                        w[k] *= scale
        # 12. L1 deviation against the last issued targets (cash excluded, §9).
        dev = (abs(last[0] - w[0]) + abs(last[1] - w[1]) + abs(last[2] - w[2])
               + abs(last[3] - w[3]) + abs(last[4] - w[4]))
        rebalance = (not self.started) or dev > p.rebalance_threshold
        self.started = True
        if rebalance:
            self.last = tuple(w)
        return self.last, rebalance, cell, trend, crush, dev


@dataclass
class _Cache:
    """What ``decide`` keeps between calls to advance by one bar instead of rebuilding."""

    n_rows: int
    first_ts: Any  # index labels (Timestamps)
    last_ts: Any
    last_fp: np.ndarray
    kalman: KalmanTrend
    regime: _Regime
    context: dict[str, Any]
    decision: Decision


def _column_positions(cols: pd.MultiIndex) -> dict[tuple[Any, Any], int]:
    """``{(symbol, field): position}`` built from the levels and codes.

    ``MultiIndex.tolist()`` on a freshly sliced frame costs ~0.4 ms (it materialises
    every tuple through the level arrays); reading the small level lists and the
    integer codes is several times cheaper, which matters in ``decide``.
    """
    lev0, lev1 = (lv.tolist() for lv in cols.levels)
    code0, code1 = (cd.tolist() for cd in cols.codes)
    return {(lev0[a] if a >= 0 else None, lev1[b] if b >= 0 else None): i
            for i, (a, b) in enumerate(zip(code0, code1, strict=True))}


@register
class HierarchicalAdaptiveV35b(Strategy[HierarchicalAdaptiveV35bParams]):
    """Hierarchical Adaptive v3.5b (see the module docstring and the spec)."""

    name = "hierarchical_adaptive_v3_5b"
    Params = HierarchicalAdaptiveV35bParams
    description = (
        "QQQ Kalman trend x realised-vol regime -> 6 cells of TQQQ/QQQ/(PSQ)/cash, "
        "TMF/TMV by the TLT trend in defensive cells, L1 rebalance threshold."
    )
    has_regime = True
    regime_cells = CELL_LABELS

    # ------------------------------------------------------------------ symbols
    def _slot_symbols(self) -> list[str | None]:
        p = self.params
        return [
            p.leveraged_long_symbol,
            p.core_long_symbol,
            p.inverse_hedge_symbol if p.use_inverse_hedge else None,
            p.bull_bond_symbol if p.allow_treasury else None,
            p.bear_bond_symbol if p.allow_treasury else None,
        ]

    def instruments(self) -> list[str]:
        """TQQQ, QQQ, PSQ (if ``use_inverse_hedge``), TMF and TMV (if ``allow_treasury``)."""
        return list(dict.fromkeys(s for s in self._slot_symbols() if s is not None))

    def required_symbols(self) -> list[str]:
        """Signal, core long, leveraged long and the inverse hedge when used."""
        p = self.params
        syms = [p.signal_symbol, p.core_long_symbol, p.leveraged_long_symbol]
        if p.use_inverse_hedge:
            syms.append(p.inverse_hedge_symbol)
        return list(dict.fromkeys(syms))

    def optional_symbols(self) -> list[str]:
        """TLT and the bond funds: without them the defensive share stays in cash (§6.3)."""
        p = self.params
        if not p.allow_treasury:
            return []
        return list(dict.fromkeys([p.treasury_trend_symbol, p.bull_bond_symbol, p.bear_bond_symbol]))

    @property
    def series_length(self) -> int:
        """L of §2 step 3: the signal closes the indicators look at."""
        p = self.params
        return max(p.sma_slow + SMA_BUFFER, p.vol_baseline_window + p.realized_vol_window)

    @property
    def warmup(self) -> int:
        """Signal bars up to the first valid regime (221 for the golden set, §1)."""
        p = self.params
        return max(p.sma_slow, p.vol_baseline_window + p.realized_vol_window)

    @property
    def price_source(self) -> str:
        """Which daily price stands for today's execution-time price (§8)."""
        et = self.params.execution_time
        if et == "close":
            return "daily_close"
        if et == "open":
            return "daily_open"
        return "daily_close_fallback"  # intraday time, daily bars only: §8 fallback

    def reset(self) -> None:
        self._cache: _Cache | None = None

    # ------------------------------------------------------------------ inputs
    def _panel(self, bars: pd.DataFrame) -> _Panel:
        """Pull the columns the strategy reads out of ``bars`` as float arrays.

        One ``to_numpy`` plus a column lookup by position: per-column pandas access on a
        ``(symbol, field)`` MultiIndex costs tens of microseconds a column, which would
        dominate the bar-by-bar ``decide``. Missing columns read as NaN.
        """
        if not isinstance(bars.columns, pd.MultiIndex) or bars.columns.nlevels != 2:
            raise DataError("(panel)", None, "columns are a (symbol, field) MultiIndex")
        p = self.params
        field = "open" if p.execution_time == "open" else "close"
        where = _column_positions(bars.columns)
        for sym in self.required_symbols():
            if (sym, field) not in where:
                raise DataError(sym, None, f"required symbol has a '{field}' column",
                                f"{self.name} reads {sym} as {self._role(sym)}")
        if (p.signal_symbol, "close") not in where:
            raise DataError(p.signal_symbol, None, "required symbol has a 'close' column", "signal closes")
        slots = self._slot_symbols()
        keys: list[tuple[str, str] | None] = [
            (p.signal_symbol, "close"), (p.signal_symbol, field), (p.signal_symbol, "volume"),
            (p.treasury_trend_symbol, "close"), (p.treasury_trend_symbol, field)]
        keys += [(sym, field) if sym is not None else None for sym in slots]
        pos = [where.get(k, -1) if k is not None else -1 for k in keys]
        have = [i for i in pos if i >= 0]
        if bars.shape[1] <= 4 * len(have):  # narrow panel: one copy of everything is cheapest
            data = np.asarray(bars.to_numpy()[:, have], dtype=float)
        else:  # wide panel (many symbols): copy only the columns read
            data = np.asarray(bars.iloc[:, have].to_numpy(), dtype=float)
        n = len(bars)
        out = np.full((n, len(keys)), np.nan)
        out[:, [j for j, i in enumerate(pos) if i >= 0]] = data
        has_bond = p.allow_treasury and pos[3] >= 0 and pos[4] >= 0
        return _Panel(
            index=bars.index,
            sig_close=out[:, 0],
            sig_exec=out[:, 1],
            sig_volume=out[:, 2],
            bond_close=out[:, 3] if has_bond else None,
            bond_exec=out[:, 4] if has_bond else None,
            slot_price=out[:, 5:],
        )

    def _role(self, sym: str) -> str:
        p = self.params
        roles = [r for r, s in (("the signal", p.signal_symbol), ("the core long", p.core_long_symbol),
                                ("the leveraged long", p.leveraged_long_symbol),
                                ("the inverse hedge", p.inverse_hedge_symbol)) if s == sym]
        return " and ".join(roles)

    # ------------------------------------------------------------------ indicators
    def _signal_features(self, c: np.ndarray, px: np.ndarray, idx: np.ndarray) -> _Features:
        """SMAs, z-score and sigmas at signal-bar positions ``idx`` of the compressed series.

        ``c`` are signal closes and ``px`` execution-time prices, one per signal bar.
        The series C of bar i is ``c[i-L+1 : i]`` followed by ``px[i]`` (§8 causal), so
        only closes of earlier bars and today's price enter. Called with every position
        by ``decisions`` and with the last position of a length-L tail by ``decide``;
        every statistic is a row reduction of the same window values, so both agree.
        """
        p = self.params
        L = self.series_length
        fast_n, slow_n = p.sma_fast, p.sma_slow
        rvw, vbw, crush_n = p.realized_vol_window, p.vol_baseline_window, p.vol_crush_lookback
        m = len(idx)
        count = np.minimum(idx + 1, L)  # closes in C for each bar
        out = _Features(*(np.full(m, np.nan) for _ in range(5)))
        for arr, width in ((out.sma_fast, fast_n), (out.sma_slow, slow_n)):
            sel = count >= width
            if sel.any():
                arr[sel] = row_mean(trailing_windows(c, idx[sel], width, px[idx[sel]]))
        # Volatility (§4): needs len(C) >= vbw + rvw.
        sel = np.flatnonzero(count >= vbw + rvw)
        if len(sel) == 0:
            return out
        iv = idx[sel]
        ret = np.full(len(c), np.nan)
        ret[1:] = np.log(c[1:] / c[:-1])
        # Close-only sigmas of earlier bars: every position a baseline or crush lookup needs.
        lo = max(rvw, int(iv.min()) - max(vbw - 1, crush_n))
        hi = int(iv.max())  # exclusive: today's sigma uses today's price instead
        sig_close = np.full(len(c), np.nan)
        if hi > lo:
            js = np.arange(lo, hi)
            sig_close[js] = row_std(trailing_windows(ret, js, rvw)) * SQRT252
        today_ret = np.log(px[iv] / c[iv - 1])
        sigma = row_std(trailing_windows(ret, iv, rvw, today_ret)) * SQRT252
        base = trailing_windows(sig_close, iv, vbw, sigma)  # baseline includes today's sigma
        mu = row_mean(base)
        s = row_std(base)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(s == 0.0, 0.0, (sigma - mu) / s)  # s = 0 -> z = 0 (§4.2)
        out.z[sel] = z
        out.sigma[sel] = sigma
        # sigma_{t-N} exists iff C holds more than N sigma values (§4.4).
        has_past = crush_n <= count[sel] - 1 - rvw
        out.sigma_past[sel[has_past]] = sig_close[iv[has_past] - crush_n]
        return out

    def _bond_features(
        self, c: np.ndarray, px: np.ndarray, idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """TLT SMAs and trend (+1 Bull, -1 Bear, 0 None) at TLT-bar positions ``idx`` (§6).

        Same causal series rule as the signal: closes of earlier TLT bars plus today's
        execution-time price; fewer than ``bond_sma_slow`` closes -> no trend.
        """
        p = self.params
        count = np.minimum(idx + 1, p.bond_sma_slow + BOND_BUFFER)
        fast = np.full(len(idx), np.nan)
        slow = np.full(len(idx), np.nan)
        for arr, width in ((fast, p.bond_sma_fast), (slow, p.bond_sma_slow)):
            sel = count >= width
            if sel.any():
                arr[sel] = row_mean(trailing_windows(c, idx[sel], width, px[idx[sel]]))
        trend = np.zeros(len(idx), dtype=np.int8)
        ok = count >= p.bond_sma_slow
        trend[ok] = np.where(fast[ok] > slow[ok], 1, -1)
        return fast, slow, trend

    def _new_kalman(self) -> KalmanTrend:
        p = self.params
        return KalmanTrend(
            measurement_noise=p.measurement_noise,
            process_noise_1=p.process_noise_1,
            process_noise_2=p.process_noise_2,
            osc_smoothness=p.osc_smoothness,
            strength_smoothness=p.strength_smoothness,
            symmetric_volume_adjustment=p.symmetric_volume_adjustment,
            double_smoothing=p.double_smoothing,
        )

    def _t_norm(self, strength: float) -> float:
        """T_norm = clip(strength / T_max, -1, 1) (§3.2)."""
        return min(1.0, max(-1.0, strength / self.params.T_max))

    # ------------------------------------------------------------------ per-bar output
    def _bar(
        self,
        regime: _Regime,
        valid: bool,
        t_norm: float,
        f: tuple[float, float, float, float, float],
        bond: tuple[float, float, int],
        avail: tuple[bool, ...],
    ) -> tuple[tuple[float, ...], bool, dict[str, Any]]:
        """Weights, rebalance flag and context of one signal bar (shared by both paths)."""
        sma_fast, sma_slow, z, sigma, sigma_past = f
        bond_fast, bond_slow, trend_code = bond
        if valid:
            weights, rebalance, cell, trend, crush, dev = regime.step(
                t_norm, sma_fast, sma_slow, z, sigma, sigma_past, trend_code, avail)
        else:  # before warm-up: no state change, no orders, regime reported as (Sideways, Low, 3) (§11)
            weights, rebalance, cell, trend, crush, dev = regime.last, False, 3, "Sideways", False, math.nan
        ctx = {
            "cell": cell,
            "trend_state": trend,
            "vol_state": "High" if regime.vol_high else "Low",
            "t_norm": t_norm,
            "z_score": z,
            "sma_fast": sma_fast,
            "sma_slow": sma_slow,
            "vol_crush": crush,
            "bond_sma_fast": bond_fast,
            "bond_sma_slow": bond_slow,
            "bond_trend": {1: "Bull", -1: "Bear"}.get(trend_code) if self.params.allow_treasury else None,
            "valid": valid,
            "price_source": self.price_source,
            "deviation": dev,
        }
        return weights, rebalance, ctx

    def _default_context(self) -> dict[str, Any]:
        nan = math.nan
        return {"cell": 3, "trend_state": "Sideways", "vol_state": "Low", "t_norm": nan, "z_score": nan,
                "sma_fast": nan, "sma_slow": nan, "vol_crush": False, "bond_sma_fast": nan,
                "bond_sma_slow": nan, "bond_trend": None, "valid": False,
                "price_source": self.price_source, "deviation": nan}

    @staticmethod
    def _carry(ctx: dict[str, Any]) -> dict[str, Any]:
        """Context of a row without a signal bar: the previous one, marked not valid."""
        out = dict(ctx)
        out["valid"] = False
        return out

    # ------------------------------------------------------------------ full run
    def _run(self, panel: _Panel) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]], KalmanTrend, _Regime]:
        """Every row of ``panel`` from a fresh state: the engine of ``decisions``."""
        n = len(panel.index)
        sig_mask = np.isfinite(panel.sig_exec) & (panel.sig_exec > 0)
        sig_rows = np.flatnonzero(sig_mask)
        c = panel.sig_close[sig_rows]
        px = panel.sig_exec[sig_rows]
        vol = panel.sig_volume[sig_rows]
        kal = self._new_kalman()
        t_norm = [self._t_norm(kal.update(a, b)) for a, b in zip(px.tolist(), vol.tolist(), strict=True)]
        feats = self._signal_features(c, px, np.arange(len(sig_rows)))
        f_rows = list(zip(feats.sma_fast.tolist(), feats.sma_slow.tolist(), feats.z.tolist(),
                          feats.sigma.tolist(), feats.sigma_past.tolist(), strict=True))
        valid = (np.minimum(np.arange(1, len(sig_rows) + 1), self.series_length) >= self.warmup).tolist()
        # Bond trend per row.
        b_fast = np.full(n, np.nan)
        b_slow = np.full(n, np.nan)
        b_trend = np.zeros(n, dtype=np.int8)
        if panel.bond_exec is not None and panel.bond_close is not None:
            b_rows = np.flatnonzero(np.isfinite(panel.bond_exec) & (panel.bond_exec > 0))
            if len(b_rows):
                bf, bs, bt = self._bond_features(panel.bond_close[b_rows], panel.bond_exec[b_rows],
                                                 np.arange(len(b_rows)))
                # Rows after TLT's first bar without one hold its last bar's trend (gap policy).
                src = np.full(n, -1)
                src[b_rows] = np.arange(len(b_rows))
                np.maximum.accumulate(src, out=src)
                has = src >= 0
                b_fast[has], b_slow[has], b_trend[has] = bf[src[has]], bs[src[has]], bt[src[has]]
        bond = list(zip(b_fast.tolist(), b_slow.tolist(), b_trend.tolist(), strict=True))
        avail = [tuple(r) for r in (np.isfinite(panel.slot_price) & (panel.slot_price > 0)).tolist()]

        regime = _Regime(self.params)
        weights = np.zeros((n, 5))
        rebalance = np.zeros(n, dtype=bool)
        contexts: list[dict[str, Any]] = []
        ctx = self._default_context()
        k = 0
        sig_list = sig_mask.tolist()
        for r in range(n):
            if sig_list[r]:
                w, reb, ctx = self._bar(regime, valid[k], t_norm[k], f_rows[k], bond[r], avail[r])
                k += 1
            else:
                w, reb, ctx = regime.last, False, self._carry(ctx)
            weights[r] = w
            rebalance[r] = reb
            contexts.append(ctx)
        return weights, rebalance, contexts, kal, regime

    def decisions(self, bars: pd.DataFrame) -> Decisions:
        """Vectorised twin of :meth:`decide` over every row of ``bars``.

        Indicators are computed for all bars at once with numpy; the Kalman filter and
        the latch/rebalance state machine are plain-Python loops over floats shared
        with ``decide`` (so the two agree exactly on every bar).
        """
        panel = self._panel(bars)
        weights, rebalance, contexts, _, _ = self._run(panel)
        return self._to_decisions(panel.index, weights, rebalance, contexts)

    def _to_decisions(self, index: pd.Index, weights: np.ndarray, rebalance: np.ndarray,
                      contexts: list[dict[str, Any]]) -> Decisions:
        cols = self._instrument_slots()
        w = pd.DataFrame({sym: weights[:, k] for sym, k in cols.items()}, index=index, columns=list(cols))
        # Fixed dtypes, so a run whose bond trend is never known (all None) has the same
        # column types as one where it is (pandas would otherwise infer object vs str).
        ctx = pd.DataFrame(contexts, index=index, columns=list(CONTEXT_FIELDS)).astype(CONTEXT_DTYPES)
        return Decisions(weights=w, rebalance=pd.Series(rebalance, index=index, dtype=bool), context=ctx)

    def _instrument_slots(self) -> dict[str, int]:
        """Instrument -> slot (roles are distinct symbols, checked by the params)."""
        out: dict[str, int] = {}
        for k, sym in enumerate(self._slot_symbols()):
            if sym is not None and sym not in out:
                out[sym] = k
        return out

    # ------------------------------------------------------------------ bar by bar
    def decide(self, history: pd.DataFrame) -> Decision:
        """Decide on the last row of ``history`` (the live path).

        The Kalman filter, the vol latch and the last issued targets are cached between
        calls. The cache is used only when ``history`` is the previous call's history
        plus one row (same first and previous timestamps, and the previous last row
        unchanged in every value the state depended on: a provisional intraday bar
        later replaced by the full daily bar triggers a rebuild). Otherwise the state is
        rebuilt from the whole history, exactly as a fresh instance would. Rows before
        the previous one are assumed unchanged (histories only grow at the end).
        """
        if len(history) == 0:
            raise DataError(self.params.signal_symbol, None, "history holds at least one bar")
        decision = self._decide(history)
        source = history.attrs.get(PRICE_SOURCE_ATTR)
        if source:
            # Today's row is the provisional bar of a minute-priced session: its close is
            # that minute's price, not a daily fallback (§8 causal mode, engine/intraday.py).
            return replace(decision, context={**decision.context, "price_source": source})
        return decision

    def _decide(self, history: pd.DataFrame) -> Decision:
        panel = self._panel(history)
        n = len(history)
        idx = panel.index
        cache = self._cache
        if cache is not None and cache.first_ts == idx[0]:
            if (n == cache.n_rows and cache.last_ts == idx[-1]
                    and np.array_equal(cache.last_fp, panel.fingerprint(n - 1), equal_nan=True)):
                return cache.decision
            if (n == cache.n_rows + 1 and cache.last_ts == idx[-2]
                    and np.array_equal(cache.last_fp, panel.fingerprint(n - 2), equal_nan=True)):
                return self._advance(panel, cache)
        return self._rebuild(panel)

    def _rebuild(self, panel: _Panel) -> Decision:
        weights, rebalance, contexts, kal, regime = self._run(panel)
        n = len(panel.index)
        d = self._decision(panel.index[-1], weights[-1], bool(rebalance[-1]), contexts[-1])
        idx = panel.index
        self._cache = _Cache(n, idx[0], idx[-1], panel.fingerprint(n - 1), kal, regime, contexts[-1], d)
        return d

    def _advance(self, panel: _Panel, cache: _Cache) -> Decision:
        """One more row on top of the cached state (same arithmetic as :meth:`_run`)."""
        n = len(panel.index)
        r = n - 1
        kal, regime = cache.kalman, cache.regime
        pxr = panel.sig_exec[r]
        if np.isfinite(pxr) and pxr > 0:
            sig_rows = np.flatnonzero(np.isfinite(panel.sig_exec) & (panel.sig_exec > 0))
            n_sig = len(sig_rows)
            tail = sig_rows[-self.series_length:]
            c, px = panel.sig_close[tail], panel.sig_exec[tail]
            t_norm = self._t_norm(kal.update(float(pxr), float(panel.sig_volume[r])))
            feats = self._signal_features(c, px, np.array([len(tail) - 1]))
            f = (float(feats.sma_fast[0]), float(feats.sma_slow[0]), float(feats.z[0]),
                 float(feats.sigma[0]), float(feats.sigma_past[0]))
            valid = min(n_sig, self.series_length) >= self.warmup
            bond = self._bond_at_last(panel)
            avail = tuple(bool(a) for a in (np.isfinite(panel.slot_price[r]) & (panel.slot_price[r] > 0)))
            w, reb, ctx = self._bar(regime, valid, t_norm, f, bond, avail)
        else:
            w, reb, ctx = regime.last, False, self._carry(cache.context)
        ts = panel.index[r]
        d = self._decision(ts, np.asarray(w), reb, ctx)
        cache.n_rows, cache.last_ts, cache.last_fp = n, ts, panel.fingerprint(r)
        cache.context, cache.decision = ctx, d
        return d

    def _bond_at_last(self, panel: _Panel) -> tuple[float, float, int]:
        if panel.bond_exec is None or panel.bond_close is None:
            return (math.nan, math.nan, 0)
        b_rows = np.flatnonzero(np.isfinite(panel.bond_exec) & (panel.bond_exec > 0))
        if len(b_rows) == 0:
            return (math.nan, math.nan, 0)
        # TLT's last bar (today's, or the one before a gap: the gap policy holds its trend).
        tail = b_rows[-(self.params.bond_sma_slow + BOND_BUFFER):]
        bf, bs, bt = self._bond_features(panel.bond_close[tail], panel.bond_exec[tail], np.array([len(tail) - 1]))
        return (float(bf[0]), float(bs[0]), int(bt[0]))

    def _decision(self, ts: pd.Timestamp, weights: Any, rebalance: bool, ctx: dict[str, Any]) -> Decision:
        w = [float(x) for x in weights]
        return Decision(ts, {sym: w[k] for sym, k in self._instrument_slots().items()}, rebalance, dict(ctx))
