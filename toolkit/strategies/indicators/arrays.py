"""Small array helpers of the strategies' vectorised paths.

Arrays are ``(bars, symbols)`` float64 with NaN where a symbol has no bar. Sums
*across* columns (symbols, strategies) use :func:`seq_sum`, which adds left to right,
so a row's total does not depend on how many rows were summed together; sums *along*
time are window statistics (:mod:`toolkit.strategies.indicators.windows`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["changed_rows", "lagged", "seq_sum"]


def lagged(x: np.ndarray, k: int, start: int = 0) -> np.ndarray:
    """``x[t - k]`` for rows ``start..T-1`` (NaN where ``t < k``)."""
    T = len(x)
    out = np.full((T - start,) + x.shape[1:], np.nan)
    first = max(start, k)
    if first < T:
        out[first - start :] = x[first - k : T - k]
    return out


def changed_rows(flags: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """True on rows whose flags (last axis) differ from the row before.

    ``flags`` is ``(bars, symbols)`` or ``(bars, parameter sets, symbols)``; the result
    drops the last axis. The first row is True unless ``previous`` (the flags of the
    row before it, when resuming) equals it: a run starts by taking its positions.
    """
    out = np.ones(flags.shape[:-1], dtype=bool)
    if len(flags):
        if previous is not None:
            out[0] = np.any(flags[0] != previous, axis=-1)
        out[1:] = np.any(flags[1:] != flags[:-1], axis=-1)
    return out


def seq_sum(x: np.ndarray) -> np.ndarray:
    """Sum over the last axis, adding columns left to right.

    Used for sums across symbols or strategies so a row's total does not depend on
    how many rows were summed together.
    """
    if x.shape[-1] == 0:
        return np.zeros(x.shape[:-1])
    acc = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        acc += x[..., j]
    return acc

