"""Trailing-window statistics with identical arithmetic for one row or thousands.

The bar-by-bar path computes the statistics of *one* window, the vectorised path those
of every bar; for the parity test to hold bit for bit both must add the same numbers in
the same order. numpy reduces each row of a C-contiguous 2-D array along its fast axis
with the same pairwise summation it uses for a 1-D array, so every helper here
materialises its windows as a C-contiguous ``(rows, window)`` copy (fancy indexing makes
one) and reduces along ``axis=1``. A cumulative-sum shortcut would be faster but
differs in the last bits from window-by-window sums.
"""

from __future__ import annotations

import numpy as np


def trailing_windows(base: np.ndarray, idx: np.ndarray, width: int, last: np.ndarray | None = None) -> np.ndarray:
    """Rows ``base[i - width + 1 : i + 1]`` for each ``i`` in ``idx`` (a C-contiguous copy).

    ``last``, when given, replaces the final element of each row: that is how today's
    execution-time price takes the place of today's close in the causal series (spec §8).
    Every ``i`` must be ``>= width - 1``.
    """
    idx = np.asarray(idx, dtype=np.intp)
    w = base[idx[:, None] + np.arange(1 - width, 1, dtype=np.intp)]
    if last is not None:
        w[:, -1] = last
    return w


def row_mean(w: np.ndarray) -> np.ndarray:
    """Arithmetic mean of each row (row sum / width: what ``ndarray.mean`` does, minus overhead)."""
    return w.sum(axis=1) / w.shape[1]


def row_std(w: np.ndarray) -> np.ndarray:
    """Sample standard deviation (ddof = 1) of each row, spelled out step by step."""
    n = w.shape[1]
    d = w - (w.sum(axis=1) / n)[:, None]
    return np.sqrt((d * d).sum(axis=1) / (n - 1))
