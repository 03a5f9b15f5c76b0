"""atr_momentum's decisions for one combination, in numba (:mod:`toolkit.strategies.atr_momentum`).

:func:`prepare` computes ATR per distinct ``atr_period`` and the rate of change per
distinct ``lookback`` (``close / lagged(close, lookback) - 1``) with the strategy's
own functions. :func:`fill_decisions` walks one combination bar by bar: membership
(rate of change above ``threshold`` with a positive ATR) through the exit rules
(:mod:`.exits_nb`), the rebalance schedule (a membership change, or
``rebalance_every`` bars since the last rebalance), and on a rebalance the
risk-parity targets ``risk_per_trade / (atr_mult x ATR / last close)`` capped at
``max_weight`` and scaled to a total of at most 1, the total added left to right like
``seq_sum``. Between rebalances the targets carry; a symbol without a bar keeps its
weight of its last bar (``hold_gaps``). Bit for bit
``AtrMomentum.grid_decisions(params, bars)[:, c]`` (tests check it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numba import njit, prange

from toolkit.optimize.kernels.exits_nb import exit_step, rule_levels
from toolkit.optimize.kernels.inputs import SimInputs
from toolkit.optimize.kernels.simulate import N_SCRATCH, simulate_combo
from toolkit.optimize.kernels.tables import IndicatorTable, Prepared, run_fused, table_key
from toolkit.strategies.atr_momentum import AtrMomentum, AtrMomentumParams
from toolkit.strategies.indicators import atr, lagged
from toolkit.strategies.resumable import field_arrays

__all__ = ["fill_decisions", "grid_kernel", "grid_metrics", "prepare"]


def _roc(close: np.ndarray, n: int) -> np.ndarray:
    """The strategy's rate of change, the same expression on the same arrays."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return close / lagged(close, n, 0) - 1.0


def prepare(
    params: Sequence[AtrMomentumParams], bars: pd.DataFrame, symbols: list[str], window_key: str | None = None
) -> Prepared:
    """Tables and per-combination arrays of ``params`` on ``bars`` (the full decision window).

    ``window_key`` (the window's fingerprint) lets the tables be reused by the
    window's other chunks (:mod:`~toolkit.optimize.kernels.reuse`).

    ``arrays``: close, atr, roc tables, then per combination atr_idx, roc_idx,
    threshold, atr_mult, risk_per_trade, max_weight, rebalance_every, sl_level,
    tp_level, trail_k.
    """
    a = field_arrays(bars, symbols, AtrMomentum.fields)
    high, low, close = a["high"], a["low"], a["close"]
    T, S = close.shape
    atr_tab = IndicatorTable(lambda n: atr(high, low, close, n)[0], T, S, table_key(window_key, "atr"))
    roc_tab = IndicatorTable(lambda n: _roc(close, n), T, S, table_key(window_key, "roc(close)"))
    per_combo = (
        atr_tab.indices([p.atr_period for p in params]),
        roc_tab.indices([p.lookback for p in params]),
        np.array([p.threshold for p in params], dtype=np.float64),
        np.array([p.atr_mult for p in params], dtype=np.float64),
        np.array([p.risk_per_trade for p in params], dtype=np.float64),
        np.array([p.max_weight for p in params], dtype=np.float64),
        np.array([p.rebalance_every for p in params], dtype=np.int64),
    )
    levels = np.array([rule_levels(p.stop_loss, p.take_profit, p.trailing_atr_k) for p in params]).reshape(-1, 3)
    rules = tuple(np.ascontiguousarray(levels[:, i]) for i in range(3))
    tables = (atr_tab.table(), roc_tab.table())
    return Prepared(list(symbols), T, len(params), (np.ascontiguousarray(close), *tables, *per_combo, *rules))


@njit(cache=True, error_model="numpy")
def fill_decisions(
    c: int,
    close: np.ndarray,
    atr_tab: np.ndarray,
    roc_tab: np.ndarray,
    atr_idx: np.ndarray,
    roc_idx: np.ndarray,
    threshold: np.ndarray,
    atr_mult: np.ndarray,
    risk_per_trade: np.ndarray,
    max_weight: np.ndarray,
    rebalance_every: np.ndarray,
    sl_level: np.ndarray,
    tp_level: np.ndarray,
    trail_k: np.ndarray,
    w_out: np.ndarray,
    reb_out: np.ndarray,
) -> None:
    """Write combination ``c``'s weights ``(T, S)`` and rebalance flags ``(T,)``."""
    T, S = close.shape
    ai, ri = atr_idx[c], roc_idx[c]
    thr, mult, risk, cap, every = threshold[c], atr_mult[c], risk_per_trade[c], max_weight[c], rebalance_every[c]
    sl, tp, k = sl_level[c], tp_level[c], trail_k[c]
    # Pass 1, symbol by symbol (state in registers): membership after exits, as 1.0/0.0 in w_out.
    for j in range(S):
        held, price, highest, stop, armed = False, np.nan, np.nan, np.nan, True
        for t in range(T):
            a = atr_tab[ai, j, t]
            signal = roc_tab[ri, j, t] > thr and a > 0
            held, price, highest, stop, armed, _ = exit_step(
                close[t, j], signal, signal, a, sl, tp, k, held, price, highest, stop, armed
            )
            w_out[t, j] = 1.0 if held else 0.0
    # Pass 2, bar by bar: schedule and sizing across symbols, overwriting the flags row by row.
    member = np.zeros(S, dtype=np.bool_)
    last_close = np.full(S, np.nan)
    target = np.zeros(S)  # the targets of the last rebalance
    last_w = np.zeros(S)  # each symbol's weight on its last bar (no position before its first)
    since = 0
    for t in range(T):
        changed = t == 0
        for j in range(S):
            ct = close[t, j]
            if not math.isnan(ct):
                last_close[j] = ct
            h = w_out[t, j] > 0.5
            if h != member[j]:
                changed = True
            member[j] = h
        since += 1
        rebalance = changed or since >= every
        if rebalance:
            since = 0
            total = 0.0
            for j in range(S):
                w = 0.0
                if member[j]:
                    raw = risk / (mult * atr_tab[ai, j, t] / last_close[j])
                    w = raw if (math.isnan(raw) or raw < cap) else cap  # np.minimum (NaN wins)
                target[j] = w
                total = w if j == 0 else total + w  # seq_sum: left to right
            if total > 1.0:
                for j in range(S):
                    target[j] = target[j] / total
        for j in range(S):
            if not math.isnan(close[t, j]):
                last_w[j] = target[j]
            w_out[t, j] = last_w[j]
        reb_out[t] = rebalance


@njit(parallel=True, cache=True, error_model="numpy")
def grid_kernel(
    arrays: tuple,
    trade_start: int,
    market: tuple,
    costs: tuple,
    n_blocks: int,
    metrics_out: np.ndarray,
    returns_out: np.ndarray,
) -> None:
    """Every combination's decisions then portfolio and metrics, in parallel over blocks of combinations.

    ``arrays`` is :func:`prepare`'s; each thread decides a combination into its own
    ``(T, S)`` buffer and hands it to
    :func:`~toolkit.optimize.kernels.simulate.simulate_combo`.
    """
    T, S = arrays[0].shape
    n_combos = metrics_out.shape[0]
    n = T - trade_start
    for b in prange(n_blocks):
        lo = b * n_combos // n_blocks
        hi = (b + 1) * n_combos // n_blocks
        w = np.empty((T, S))
        reb = np.empty(T, dtype=np.bool_)
        scratch = np.empty((N_SCRATCH, n))
        for c in range(lo, hi):
            fill_decisions(c, *arrays, w, reb)  # type: ignore[call-arg]  # mypy cannot count a star tuple
            simulate_combo(w, reb, trade_start, market, costs, scratch, metrics_out[c], returns_out[c])


def grid_metrics(
    params: Sequence[Any], window: pd.DataFrame, symbols: list[str], sim: SimInputs, window_key: str | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Instruments, ``(C, N_METRICS)`` metrics and ``(C, n or 0)`` returns of every combination.

    ``window`` is the decision window (warm-up rows then the traded rows), ``sim`` the
    traded bars' inputs (:func:`~toolkit.optimize.kernels.inputs.prepare_inputs`).
    """
    return run_fused(prepare(params, window, symbols, window_key), grid_kernel, sim)
