"""Trailing-window statistics: THE rule every strategy's rolling mean follows.

The rule. A window's values, oldest first, lie as one contiguous run of float64 in
memory (a row of a C-contiguous ``(rows, width)`` copy, or a row of a sliding-window
view over a contiguous column), and numpy reduces that run:

* sum  = numpy's sum of the run (its pairwise summation);
* mean = sum / width;
* standard deviation = ``sqrt(sum((run - mean) ** 2) / (width - ddof))``, two passes
  (never ``E[x²] - E[x]²``, which cancels catastrophically on price levels);
* maximum = the run's maximum (exact in any order).

Why a rule at all: a strategy's live path (``decide``, one window) and its backtest
path (``decisions``, every bar at once) must give the same floats bit for bit, and a
float sum depends on the order of its additions. numpy sums a contiguous run with the
same pairwise scheme whether it stands alone or is one row among thousands, so a value
depends neither on how many windows were computed together nor on the memory layout
of the caller's panel. Adding rows one by one, reducing over a strided axis or
cumulative-sum shortcuts would each differ in the last bits.

This is exactly what ``np.mean`` gives for a 1-D window (``np.mean(x[t-n+1:t+1])``),
so a reader can check any value by hand; ``tests/unit/test_strategies_indicators.py``
checks it bit for bit on random data for widths from 1 to 300 (around numpy's
pairwise block sizes 8 and 128). Before this module became the one library there were
three spellings: ``sma_crossover``'s sliding-window mean and v3.5b's windows already
followed this rule (their results did not move); the resumable strategies' rolling
sums added rows one by one, which agrees with the rule for widths below 8 only.

Two ways in, one arithmetic:

* :func:`trailing_windows` + :func:`row_mean` / :func:`row_std`: windows ending at
  chosen positions of a 1-D series, copied (v3.5b, whose last value may be today's
  execution-time price instead of the close);
* :func:`rolling_mean`, :func:`rolling_mean_std`, :func:`rolling_max`: every row of a
  ``(bars, symbols)`` array from ``start`` on, optionally lagged (the previous ``n``
  bars), over each symbol's own bars (below).

Missing bars (the toolkit's gap policy, see ``toolkit/strategies/base.py``). A panel
of several symbols holds NaN where a symbol has no bar: before its first bar, and on a
day the calendar symbol traded but it did not (a gap in its file, a holiday of its own
market). A symbol's windows are taken over ITS OWN bars: the ``n`` values of a window
are the symbol's last ``n`` non-NaN values, so a missing day neither makes ``slow``
windows NaN (which switched an SMA position off for ``slow`` bars before this rule)
nor invents a price. A row without a bar has no statistic (NaN). Without gaps this is
exactly the plain trailing window, so no result moved for gap-free data; and a window
is still one contiguous run (the symbol's bars are copied together first), so the
rule above holds as it is.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "rolling_max",
    "rolling_mean",
    "rolling_mean_std",
    "row_mean",
    "row_mean_std",
    "row_std",
    "trailing_windows",
]

#: The rolling helpers reduce this many window values at a time (512 KB of float64), so
#: the deviations of a block stay in the CPU cache and a long window over many bars
#: never needs a ``bars x width`` array at once. Each row is reduced on its own, so the
#: block size cannot change a result.
_BLOCK_VALUES = 1 << 16


def trailing_windows(base: np.ndarray, idx: np.ndarray, width: int, last: np.ndarray | None = None) -> np.ndarray:
    """Rows ``base[i - width + 1 : i + 1]`` for each ``i`` in ``idx`` (a C-contiguous copy).

    ``last``, when given, replaces the final element of each row: that is how today's
    execution-time price takes the place of today's close in v3.5b's causal series.
    Every ``i`` must be ``>= width - 1``.
    """
    idx = np.asarray(idx, dtype=np.intp)
    w = base[idx[:, None] + np.arange(1 - width, 1, dtype=np.intp)]
    if last is not None:
        w[:, -1] = last
    return w


def row_mean(w: np.ndarray) -> np.ndarray:
    """Mean of each row of a ``(rows, width)`` array whose rows are contiguous runs: row sum / width."""
    return w.sum(axis=1) / w.shape[1]


def row_mean_std(w: np.ndarray, ddof: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each row (``ddof=1``: sample; ``ddof=0``: population)."""
    mean = row_mean(w)
    d = w - mean[:, None]
    return mean, np.sqrt((d * d).sum(axis=1) / (w.shape[1] - ddof))


def row_std(w: np.ndarray, ddof: int = 1) -> np.ndarray:
    """Standard deviation of each row (sample, ``ddof=1``, unless told otherwise)."""
    return row_mean_std(w, ddof)[1]


def _first_full_row(n: int, start: int, lag: int) -> int:
    """First row (absolute) at or after ``start`` whose window of ``n`` rows ending ``lag`` back exists."""
    return max(start, n - 1 + lag)


def _own_bars(col: np.ndarray, n: int, start: int, lag: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Where the windows of rows ``start..T-1`` of one column lie among the column's own bars.

    Returns ``(values, rows, firsts, contiguous)``: ``values`` the column's bars (its
    non-NaN values, oldest first, one contiguous run), ``rows`` the output rows
    (relative to ``start``) that have a full window, ``firsts`` where each window starts
    in ``values``, and whether ``rows`` and ``firsts`` are consecutive (no gap: the
    windows are plain slices). A row without a bar (NaN) gets no window: a missing
    bar neither enters a window nor has a value of its own.
    """
    T = len(col)
    valid = ~np.isnan(col)
    if valid.all():
        first = _first_full_row(n, start, lag)
        rows = np.arange(first - start, max(T - start, first - start))
        return col, rows, rows + (start - lag - n + 1), True
    pos = np.flatnonzero(valid)
    rank = np.arange(len(pos))
    sel = (pos >= start) & (rank >= n - 1 + lag)
    return np.ascontiguousarray(col[pos]), pos[sel] - start, rank[sel] - lag - n + 1, False


def _own_windows(col: np.ndarray, n: int, start: int, lag: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(rows, windows)`` a block at a time: each window a contiguous run of ``n`` own bars."""
    values, rows, firsts, contiguous = _own_bars(col, n, start, lag)
    if len(rows) == 0:
        return
    view = sliding_window_view(values, n)
    block = max(1, _BLOCK_VALUES // n)
    for b in range(0, len(rows), block):
        fb = firsts[b : b + block]
        yield rows[b : b + block], (view[fb[0] : fb[-1] + 1] if contiguous else view[fb])


def _rolling(x: np.ndarray, n: int, start: int, lag: int, stats: int, ddof: int) -> list[np.ndarray]:
    """Mean (and std when ``stats == 2``) of the windows of rows ``start..T-1``, column by column.

    Each column's own bars are made contiguous once; its windows are then rows of a
    sliding-window view, each a contiguous run of ``n`` values that numpy reduces
    exactly as it reduces a copied row. Rows go a block at a time so the deviations of
    a block stay in the CPU cache.
    """
    T = len(x)
    outs = [np.full((T - start, *x.shape[1:]), np.nan) for _ in range(stats)]
    if _first_full_row(n, start, lag) >= T:
        return outs
    cols = x.reshape(T, -1)
    flat = [o.reshape(T - start, -1) for o in outs]
    for j in range(cols.shape[1]):
        col = np.ascontiguousarray(cols[:, j], dtype=float)
        for rows, w in _own_windows(col, n, start, lag):
            mean = row_mean(w)
            flat[0][rows, j] = mean
            if stats == 2:
                d = w - mean[:, None]  # row_mean_std's arithmetic, squaring in place
                d *= d
                flat[1][rows, j] = np.sqrt(d.sum(axis=1) / (n - ddof))
    return outs


def rolling_mean(x: np.ndarray, n: int, *, start: int = 0, lag: int = 0) -> np.ndarray:
    """Mean of the ``n`` bars ending ``lag`` bars before row ``t``, for rows ``t = start..T-1``.

    ``x`` is ``(bars,)`` or ``(bars, symbols)``; each symbol is its own series, and its
    bars are its non-NaN values (see "Missing bars" in the module doc): without a gap
    that is ``x[t-lag-n+1 .. t-lag]``. ``lag=1`` gives the window of the *previous*
    ``n`` bars (breakout levels, causal volatility). NaN on a row without a bar and
    where the symbol has fewer than ``n + lag`` bars so far.
    """
    return _rolling(x, n, start, lag, 1, 0)[0]


def rolling_mean_std(
    x: np.ndarray, n: int, *, start: int = 0, lag: int = 0, ddof: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each window (see :func:`rolling_mean`).

    ``ddof=0`` (the default) is the population deviation, as Bollinger defined his bands.
    """
    mean, std = _rolling(x, n, start, lag, 2, ddof)
    return mean, std


def rolling_max(x: np.ndarray, n: int, *, start: int = 0, lag: int = 0) -> np.ndarray:
    """Maximum of each window (see :func:`rolling_mean`), over each symbol's own bars."""
    T = len(x)
    out = np.full((T - start, *x.shape[1:]), np.nan)
    if _first_full_row(n, start, lag) >= T:
        return out
    cols = x.reshape(T, -1)
    flat = out.reshape(T - start, -1)
    for j in range(cols.shape[1]):
        for rows, w in _own_windows(np.ascontiguousarray(cols[:, j], dtype=float), n, start, lag):
            flat[rows, j] = w.max(axis=1)
    return out
