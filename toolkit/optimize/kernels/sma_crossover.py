"""Fused grid kernel of ``sma_crossover``: flags, orders, portfolio and metrics per (fast, slow).

Why: the strategy's ``grid_decisions`` materialises ``(bars, pairs, symbols)`` weights
and the vectorbt path then simulates them; here each distinct SMA length is computed
once per task with the toolkit's own :func:`~toolkit.strategies.indicators.rolling_mean`
(the same floats as ``grid_decisions``), and each combination's long flags, 1/N
weights and rebalance bars are written into one thread's ``(T, S)`` buffer right
before :func:`~toolkit.optimize.kernels.simulate.simulate_combo` consumes them, in
parallel over combinations. Memory is the SMA table (lengths x bars x symbols) plus a
few rows per thread, whatever the number of combinations.

The flag rule is ``sma_crossover``'s: long while fast > slow (False where either is
NaN), held through the bars a symbol lacks (gap policy: from its last bar, False
before its first), rebalance on the first bar and whenever any flag changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import pandas as pd
from numba import njit, prange

from toolkit.optimize.kernels.inputs import SimInputs
from toolkit.optimize.kernels.reuse import remember
from toolkit.optimize.kernels.simulate import N_SCRATCH, simulate_combo


@njit(cache=True, error_model="numpy")
def fill_decisions(
    c: int,
    missing: np.ndarray,
    table: np.ndarray,
    fast_idx: np.ndarray,
    slow_idx: np.ndarray,
    w_out: np.ndarray,
    reb_out: np.ndarray,
) -> None:
    """Weights ``(T, S)`` and rebalance flags ``(T,)`` of combination ``c`` (``SmaCrossover.grid_decisions``)."""
    fast = table[fast_idx[c]]
    slow = table[slow_idx[c]]
    T, S = missing.shape
    share = 1.0 / S
    for t in range(T):
        changed = t == 0
        for s in range(S):
            flag = (w_out[t - 1, s] != 0.0 if t > 0 else False) if missing[t, s] else fast[t, s] > slow[t, s]
            w = share if flag else 0.0
            if t > 0 and (w_out[t - 1, s] != 0.0) != flag:
                changed = True
            w_out[t, s] = w
        reb_out[t] = changed


@njit(parallel=True, cache=True, error_model="numpy")
def sma_grid(
    missing: np.ndarray,
    table: np.ndarray,
    fast_idx: np.ndarray,
    slow_idx: np.ndarray,
    trade_start: int,
    market: tuple,
    costs: tuple,
    n_blocks: int,
    metrics_out: np.ndarray,
    returns_out: np.ndarray,
) -> None:
    """Every combination's metrics row (and returns row when ``returns_out`` has columns)."""
    n_combos = fast_idx.shape[0]
    T, S = missing.shape
    n = T - trade_start
    for b in prange(n_blocks):
        lo = b * n_combos // n_blocks
        hi = (b + 1) * n_combos // n_blocks
        w = np.empty((T, S))
        reb = np.empty(T, dtype=np.bool_)
        scratch = np.empty((N_SCRATCH, n))
        for c in range(lo, hi):
            fill_decisions(c, missing, table, fast_idx, slow_idx, w, reb)
            simulate_combo(w, reb, trade_start, market, costs, scratch, metrics_out[c], returns_out[c])


def grid_metrics(
    params: Sequence[Any], window: pd.DataFrame, symbols: list[str], sim: SimInputs, window_key: str | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Instruments, ``(C, N_METRICS)`` metrics and ``(C, n or 0)`` returns of every (fast, slow) pair.

    ``window`` is the decision window (warm-up rows then the traded rows); with a
    ``window_key`` (its fingerprint) each SMA is kept for the window's other chunks
    (:mod:`~toolkit.optimize.kernels.reuse`).
    """
    from toolkit.strategies.indicators import rolling_mean

    close = window.loc[:, [(s, "close") for s in symbols]].to_numpy(dtype=float)
    fast = np.fromiter((p.fast for p in params), dtype=np.int64, count=len(params))
    slow = np.fromiter((p.slow for p in params), dtype=np.int64, count=len(params))
    lengths, idx = np.unique(np.concatenate([fast, slow]), return_inverse=True)
    table = np.empty((len(lengths), *close.shape))
    for i, n in enumerate(lengths.tolist()):

        def sma(n: int = n) -> np.ndarray:
            return rolling_mean(close, n)

        table[i] = sma() if window_key is None else remember((window_key, "mean(close)", n), sma)
    fast_idx = np.ascontiguousarray(idx[: len(params)], dtype=np.int64)
    slow_idx = np.ascontiguousarray(idx[len(params) :], dtype=np.int64)
    missing = np.require(np.isnan(close), requirements=["C", "W"])
    metrics = sim.metrics_out(len(params))
    returns = sim.returns_out(len(params))
    n_blocks = max(1, min(len(params), 4 * numba.get_num_threads()))
    sma_grid(missing, table, fast_idx, slow_idx, sim.trade_start, sim.market, sim.costs, n_blocks, metrics, returns)
    return list(symbols), metrics, returns
