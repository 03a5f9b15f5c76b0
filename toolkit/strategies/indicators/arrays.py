"""Small array helpers of the strategies' vectorised paths.

Arrays are ``(bars, symbols)`` float64 with NaN where a symbol has no bar. Sums
*across* columns (symbols, strategies) use :func:`seq_sum`, which adds left to right,
so a row's total does not depend on how many rows were summed together; sums *along*
time are window statistics (:mod:`toolkit.strategies.indicators.windows`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["changed_rows", "hold_gaps", "lagged", "last_value", "seq_sum"]


def lagged(x: np.ndarray, k: int, start: int = 0) -> np.ndarray:
    """The value ``k`` bars back, for rows ``start..T-1``, counted in each symbol's own bars.

    Without a gap that is ``x[t - k]``. A symbol's bars are its non-NaN values (the gap
    policy of :mod:`~toolkit.strategies.indicators.windows`): the bar ``k`` back skips
    the days it has no bar, and a row without a bar, or with fewer than ``k`` bars
    before it, is NaN.
    """
    T = len(x)
    out = np.full((T - start, *x.shape[1:]), np.nan)
    first = max(start, k)
    if first >= T:
        return out
    if not np.isnan(x).any():
        out[first - start :] = x[first - k : T - k]
        return out
    cols = x.reshape(T, -1)
    flat = out.reshape(T - start, -1)
    for j in range(cols.shape[1]):
        pos = np.flatnonzero(~np.isnan(cols[:, j]))
        rank = np.arange(len(pos))
        sel = (pos >= start) & (rank >= k)
        flat[pos[sel] - start, j] = cols[pos[rank[sel] - k], j]
    return out


def hold_gaps(values: np.ndarray, missing: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """``values`` with each row where a symbol has no bar replaced by its last row with one.

    The gap policy's second half (see ``toolkit/strategies/base.py``): on a bar a symbol
    does not have, its position is held as on its last bar, never decided from an
    indicator that cannot be computed. ``values`` is ``(bars, symbols)`` or ``(bars,
    sets, symbols)``; ``missing`` is ``(bars, symbols)`` (True: no bar). ``previous``
    (``(symbols,)`` or ``(sets, symbols)``) is the value before the first row (zeros
    when not given: no position before a symbol's first bar).
    """
    T = len(values)
    if T == 0 or not missing.any():
        return values
    idx = np.where(missing, -1, np.arange(T)[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    if values.ndim == 3:
        idx = idx[:, None, :]
    safe = np.broadcast_to(np.maximum(idx, 0), values.shape)
    taken = np.take_along_axis(values, safe, axis=0)
    before = np.zeros(values.shape[1:], dtype=values.dtype) if previous is None else previous
    return np.where(np.broadcast_to(idx >= 0, values.shape), taken, before)


def last_value(x: np.ndarray, start: int = 0) -> np.ndarray:
    """Each symbol's newest non-NaN value at or before each row ``start..T-1`` (NaN before its first)."""
    T = len(x)
    idx = np.where(np.isnan(x), -1, np.arange(T)[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    idx = idx[start:]
    taken = np.take_along_axis(x, np.maximum(idx, 0), axis=0)
    return np.where(idx >= 0, taken, np.nan)


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

