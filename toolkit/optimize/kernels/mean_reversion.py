"""mean_reversion's decisions for one combination, in numba (:mod:`toolkit.strategies.mean_reversion`).

:func:`prepare` computes RSI per distinct ``rsi_period``, the Bollinger middle band
and standard deviation per distinct ``bb_period`` and ATR per distinct
``atr_period`` (trailing stop only) with the strategy's own functions;
:func:`fill_decisions` forms the lower band (``middle - bb_std x sd``, the strategy's
two operations), the entry (RSI below ``oversold`` and close below the lower band)
and keep (neither close above the middle band nor RSI above ``exit_rsi``) signals,
walks the exit rules (:mod:`.exits_nb`) and writes the 1/N weights. Bit for bit
``MeanReversion.grid_decisions(params, bars)[:, c]`` (tests check it).
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
from toolkit.strategies.indicators import atr, rolling_mean_std, rsi
from toolkit.strategies.mean_reversion import MeanReversion, MeanReversionParams
from toolkit.strategies.resumable import field_arrays

__all__ = ["fill_decisions", "grid_kernel", "grid_metrics", "prepare"]


def prepare(
    params: Sequence[MeanReversionParams], bars: pd.DataFrame, symbols: list[str], window_key: str | None = None
) -> Prepared:
    """Tables and per-combination arrays of ``params`` on ``bars`` (the full decision window).

    ``window_key`` (the window's fingerprint) lets the tables be reused by the
    window's other chunks (:mod:`~toolkit.optimize.kernels.reuse`).

    ``arrays``: close, rsi, middle, sd, atr tables, then per combination rsi_idx,
    bb_idx, atr_idx, oversold, exit_rsi, bb_std, sl_level, tp_level, trail_k.
    """
    a = field_arrays(bars, symbols, MeanReversion.fields)
    high, low, close = a["high"], a["low"], a["close"]
    T, S = close.shape
    bands: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def band(n: int) -> tuple[np.ndarray, np.ndarray]:
        if n not in bands:
            bands[n] = rolling_mean_std(close, n)
        return bands[n]

    rsi_tab = IndicatorTable(lambda n: rsi(close, n)[0], T, S, table_key(window_key, "rsi(close)"))
    middle = IndicatorTable(lambda n: band(n)[0], T, S, table_key(window_key, "bb_mean(close)"))
    sd = IndicatorTable(lambda n: band(n)[1], T, S, table_key(window_key, "bb_sd(close)"))
    atr_tab = IndicatorTable(lambda n: atr(high, low, close, n)[0], T, S, table_key(window_key, "atr"))
    bb_idx = middle.indices([p.bb_period for p in params])
    sd.indices([p.bb_period for p in params])  # same slots as the middle band
    per_combo = (
        rsi_tab.indices([p.rsi_period for p in params]),
        bb_idx,
        atr_tab.indices([p.atr_period if p.trailing_atr_k is not None else None for p in params]),
        np.array([p.oversold for p in params], dtype=np.float64),
        np.array([p.exit_rsi for p in params], dtype=np.float64),
        np.array([p.bb_std for p in params], dtype=np.float64),
    )
    levels = np.array([rule_levels(p.stop_loss, p.take_profit, p.trailing_atr_k) for p in params]).reshape(-1, 3)
    rules = tuple(np.ascontiguousarray(levels[:, i]) for i in range(3))
    tables = (rsi_tab.table(), middle.table(), sd.table(), atr_tab.table())
    return Prepared(list(symbols), T, len(params), (np.ascontiguousarray(close), *tables, *per_combo, *rules))


@njit(cache=True, error_model="numpy")
def fill_decisions(
    c: int,
    close: np.ndarray,
    rsi_tab: np.ndarray,
    middle_tab: np.ndarray,
    sd_tab: np.ndarray,
    atr_tab: np.ndarray,
    rsi_idx: np.ndarray,
    bb_idx: np.ndarray,
    atr_idx: np.ndarray,
    oversold: np.ndarray,
    exit_rsi: np.ndarray,
    bb_std: np.ndarray,
    sl_level: np.ndarray,
    tp_level: np.ndarray,
    trail_k: np.ndarray,
    w_out: np.ndarray,
    reb_out: np.ndarray,
) -> None:
    """Write combination ``c``'s weights ``(T, S)`` and rebalance flags ``(T,)``."""
    T, S = close.shape
    ri, bi, ai = rsi_idx[c], bb_idx[c], atr_idx[c]
    lo_rsi, hi_rsi, width = oversold[c], exit_rsi[c], bb_std[c]
    sl, tp, k = sl_level[c], tp_level[c], trail_k[c]
    share = 1.0 / S
    reb_out[:] = False
    for j in range(S):
        held, price, highest, stop, armed = False, np.nan, np.nan, np.nan, True
        for t in range(T):
            ct = close[t, j]
            r = rsi_tab[ri, j, t]
            mid = middle_tab[bi, j, t]
            lower = mid - width * sd_tab[bi, j, t]
            entry = r < lo_rsi and ct < lower
            keep = not (ct > mid or r > hi_rsi)
            a = atr_tab[ai, j, t] if ai >= 0 else np.nan
            was = held
            held, price, highest, stop, armed, _ = exit_step(
                ct, entry, keep, a, sl, tp, k, held, price, highest, stop, armed
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
