"""Float helpers of the fused kernels, copied operation for operation from their references.

Why copies and not calls: the kernels must give the floats of the vectorbt-backed
path (:mod:`toolkit.optimize.evaluate`), and a float result depends on the exact
operations and their order. vectorbt's order execution snaps values near zero with
its own tolerances (``vectorbt.utils.math_``: relative 1e-9, absolute 1e-12), and
numpy reduces a contiguous row by pairwise summation; a kernel that added the same
numbers another way would drift in the last bits and, through the tolerance checks,
occasionally change a trade. Importing vectorbt's numba functions would tie the
kernels' compiled cache to vectorbt's and load vectorbt (seconds) in every fresh
process, so the few functions needed are restated here.

All functions are ``@njit(cache=True)`` and use numpy's error model (a division by
zero gives inf or NaN, as numpy does, instead of raising).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: vectorbt.utils.math_ tolerances.
REL_TOL = 1e-9
ABS_TOL = 1e-12

#: numpy's pairwise-summation block (``PW_BLOCKSIZE`` in numpy's loops_utils.h).
_PW_BLOCK = 128


@njit(cache=True, error_model="numpy")
def is_close(a: float, b: float) -> bool:
    """vectorbt ``is_close_nb``."""
    if np.isnan(a) or np.isnan(b):
        return False
    if np.isinf(a) or np.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


@njit(cache=True, error_model="numpy")
def is_close_or_less(a: float, b: float) -> bool:
    """vectorbt ``is_close_or_less_nb``."""
    if is_close(a, b):
        return True
    return a < b


@njit(cache=True, error_model="numpy")
def is_less(a: float, b: float) -> bool:
    """vectorbt ``is_less_nb``."""
    if is_close(a, b):
        return False
    return a < b


@njit(cache=True, error_model="numpy")
def snap0(x: float) -> float:
    """``0.0 if is_close(x, 0.0) else x`` (vectorbt's snapping of state near zero).

    For a finite non-zero x, ``is_close(x, 0)`` is ``|x| <= max(1e-9 |x|, 1e-12)``,
    that is ``|x| <= 1e-12``; NaN and inf are never close. One comparison instead of
    the general test, on every bar of every combination.
    """
    return 0.0 if abs(x) <= ABS_TOL else x


@njit(cache=True, error_model="numpy")
def _sign(x: float) -> float:
    """``np.sign`` of a scalar (NaN for NaN)."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    if x == 0:
        return 0.0
    return np.nan


@njit(cache=True, error_model="numpy")
def add(a: float, b: float) -> float:
    """vectorbt ``add_nb``: ``a + b``, or exactly 0 when the two (nearly) cancel.

    Same signs: ``is_close(a + b, 0)``, which is ``|a + b| <= 1e-12`` (see :func:`snap0`).
    """
    total = a + b
    if _sign(a) != _sign(b):
        if is_close(abs(a), abs(b)):
            return 0.0
        return total
    return 0.0 if abs(total) <= ABS_TOL else total


@njit(cache=True, error_model="numpy")
def _block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise sum of at most 128 values: below 8 left to right, else eight
    interleaved partial sums combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the tail."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    stop = n - (n % 8)
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, error_model="numpy")
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's sum of the contiguous run ``a[lo:lo+n]`` (its ``pairwise_sum_DOUBLE``).

    Up to 128 values one block (:func:`_block_sum`); above, split in two halves (the
    first a multiple of 8) and add their sums. numba's cache cannot hold a recursive
    function, so the recursion is walked with an explicit stack (depth < 64 for any n).
    """
    if n <= _PW_BLOCK:
        return _block_sum(a, lo, n)
    st_lo = np.empty(64, dtype=np.int64)
    st_n = np.empty(64, dtype=np.int64)
    phase = np.zeros(64, dtype=np.int64)  # 0: new, 1: left half pending, 2: right half pending
    left = np.empty(64)
    right = np.empty(64)
    st_lo[0] = lo
    st_n[0] = n
    sp = 1
    while True:
        top = sp - 1
        m = st_n[top]
        if m <= _PW_BLOCK or phase[top] == 2:
            v = _block_sum(a, st_lo[top], m) if m <= _PW_BLOCK else left[top] + right[top]
            sp -= 1
            if sp == 0:
                return v
            if phase[sp - 1] == 1:
                left[sp - 1] = v
            else:
                right[sp - 1] = v
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if phase[top] == 0:
            phase[top] = 1
            st_lo[sp] = st_lo[top]
            st_n[sp] = n2
        else:
            phase[top] = 2
            st_lo[sp] = st_lo[top] + n2
            st_n[sp] = m - n2
        phase[sp] = 0
        sp += 1


@njit(cache=True, error_model="numpy")
def row_mean(a: np.ndarray, n: int) -> float:
    """``np.mean(a[:n])`` bit for bit."""
    return pairwise_sum(a, 0, n) / n


@njit(cache=True, error_model="numpy")
def row_std(a: np.ndarray, n: int, ddof: int, work: np.ndarray) -> float:
    """``np.std(a[:n], ddof=ddof)`` bit for bit (two passes, as numpy); ``work`` is scratch of length n."""
    return row_std_about(a, n, pairwise_sum(a, 0, n) / n, ddof, work)


@njit(cache=True, error_model="numpy")
def row_std_about(a: np.ndarray, n: int, mean: float, ddof: int, work: np.ndarray) -> float:
    """:func:`row_std` given ``mean == row_mean(a, n)`` already computed (one pass fewer)."""
    for i in range(n):
        d = a[i] - mean
        work[i] = d * d
    return np.sqrt(pairwise_sum(work, 0, n) / max(n - ddof, 0))
