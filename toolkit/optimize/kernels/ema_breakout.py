"""ema_breakout's decisions for one combination, in numba (:mod:`toolkit.strategies.ema_breakout`).

:func:`prepare` computes the indicators that depend on one parameter once per
distinct value (fast and slow EMA, breakout level, average volume, ATR) with the
strategy's own functions; :func:`fill_decisions` then walks one combination's bars:
trend (fast EMA above slow), breakout (close above the level on volume above
``volume_mult`` x its average), the exit rules (:mod:`.exits_nb`), and the 1/N
weights with a rebalance on the first bar and on every open or close. The result is
bit for bit ``EmaBreakout.grid_decisions(params, bars)[:, c]`` (tests check it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numba import njit, prange

from toolkit.optimize.kernels.exits_nb import exit_step, rule_levels
from toolkit.optimize.kernels.inputs import SimInputs
from toolkit.optimize.kernels.simulate import N_SCRATCH, simulate_combo
from toolkit.optimize.kernels.tables import IndicatorTable, Prepared, run_fused, table_key
from toolkit.strategies.ema_breakout import EmaBreakout, EmaBreakoutParams
from toolkit.strategies.indicators import atr, ema, rolling_max, rolling_mean
from toolkit.strategies.resumable import field_arrays

__all__ = ["fill_decisions", "grid_kernel", "grid_metrics", "prepare"]


def prepare(
    params: Sequence[EmaBreakoutParams], bars: pd.DataFrame, symbols: list[str], window_key: str | None = None
) -> Prepared:
    """Tables and per-combination arrays of ``params`` on ``bars`` (the full decision window).

    ``window_key`` (the window's fingerprint) lets the tables be reused by the
    window's other chunks (:mod:`~toolkit.optimize.kernels.reuse`).

    ``arrays``: close, volume, fast, slow, level, avg_volume, atr tables, then per
    combination fast_idx, slow_idx, level_idx, volume_idx, atr_idx, volume_mult,
    sl_level, tp_level, trail_k (see :func:`fill_decisions`).
    """
    a = field_arrays(bars, symbols, EmaBreakout.fields)
    high, low, close, volume = (a[f] for f in EmaBreakout.fields)
    T, S = close.shape
    fast = IndicatorTable(lambda n: ema(close, n)[0], T, S, table_key(window_key, "ema(close)"))
    slow = IndicatorTable(lambda n: ema(close, n)[0], T, S, table_key(window_key, "ema(close)"))
    level = IndicatorTable(lambda n: rolling_max(high, n, lag=1), T, S, table_key(window_key, "max(high, lag 1)"))
    avg_volume = IndicatorTable(
        lambda n: rolling_mean(volume, n, lag=1), T, S, table_key(window_key, "mean(volume, lag 1)")
    )
    atr_tab = IndicatorTable(lambda n: atr(high, low, close, n)[0], T, S, table_key(window_key, "atr"))
    levels = np.array([rule_levels(p.stop_loss, p.take_profit, p.trailing_atr_k) for p in params]).reshape(-1, 3)
    arrays = (
        np.ascontiguousarray(close),
        np.ascontiguousarray(volume),
        # indices first: they fill the tables
        fast.indices([p.fast for p in params]),
        slow.indices([p.slow for p in params]),
        level.indices([p.breakout_lookback for p in params]),
        avg_volume.indices([p.volume_lookback for p in params]),
        atr_tab.indices([p.atr_period if p.trailing_atr_k is not None else None for p in params]),
        np.array([p.volume_mult for p in params], dtype=np.float64),
        np.ascontiguousarray(levels[:, 0]),
        np.ascontiguousarray(levels[:, 1]),
        np.ascontiguousarray(levels[:, 2]),
    )
    tables = (fast.table(), slow.table(), level.table(), avg_volume.table(), atr_tab.table())
    return Prepared(list(symbols), T, len(params), arrays[:2] + tables + arrays[2:])


@njit(cache=True, error_model="numpy")
def fill_decisions(
    c: int,
    close: np.ndarray,
    volume: np.ndarray,
    fast_tab: np.ndarray,
    slow_tab: np.ndarray,
    level_tab: np.ndarray,
    avg_volume_tab: np.ndarray,
    atr_tab: np.ndarray,
    fast_idx: np.ndarray,
    slow_idx: np.ndarray,
    level_idx: np.ndarray,
    volume_idx: np.ndarray,
    atr_idx: np.ndarray,
    volume_mult: np.ndarray,
    sl_level: np.ndarray,
    tp_level: np.ndarray,
    trail_k: np.ndarray,
    w_out: np.ndarray,
    reb_out: np.ndarray,
) -> None:
    """Write combination ``c``'s weights ``(T, S)`` and rebalance flags ``(T,)``."""
    T, S = close.shape
    fi, si, li, vi, ai = fast_idx[c], slow_idx[c], level_idx[c], volume_idx[c], atr_idx[c]
    vm, sl, tp, k = volume_mult[c], sl_level[c], tp_level[c], trail_k[c]
    share = 1.0 / S
    reb_out[:] = False
    for j in range(S):
        held, price, highest, stop, armed = False, np.nan, np.nan, np.nan, True
        for t in range(T):
            ct = close[t, j]
            trend = fast_tab[fi, j, t] > slow_tab[si, j, t]
            breakout = ct > level_tab[li, j, t] and volume[t, j] > vm * avg_volume_tab[vi, j, t]
            a = atr_tab[ai, j, t] if ai >= 0 else np.nan
            was = held
            held, price, highest, stop, armed, _ = exit_step(
                ct, trend and breakout, trend, a, sl, tp, k, held, price, highest, stop, armed
            )
            if held != was:
                reb_out[t] = True
            w_out[t, j] = share if held else 0.0
    if T:
        reb_out[0] = True


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
