"""Recursive indicators (EMA, Wilder smoothing, RSI, ATR) that resume from a saved state.

A recursive indicator's value at a bar depends on every bar before it, so the live
path cannot recompute it from a window. Instead each function here takes the state it
stopped at and returns the new state with its values: the backtest runs it once over
the whole history from an empty state, a live ``decide`` extends yesterday's state by
one bar, and both land on the same floats because every bar goes through the same
IEEE operations in the same order (a plain loop over bars, vectorised across symbols).

Arrays are ``(bars, symbols)`` float64 with NaN where a symbol has no bar (before its
first bar, or on a day only other symbols traded); a NaN input is skipped and the
value carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AtrState", "RsiState", "SCALAR_MAX_SYMBOLS", "SmoothState", "atr", "ema", "rsi", "wilder"]


@dataclass(frozen=True)
class SmoothState:
    """Where a recursive smoother stopped: value, valid bars seen, warm-up sum."""

    value: np.ndarray
    count: np.ndarray
    acc: np.ndarray

    @classmethod
    def empty(cls, n_symbols: int) -> "SmoothState":
        return cls(np.full(n_symbols, np.nan), np.zeros(n_symbols, dtype=np.int64), np.zeros(n_symbols))


#: Up to this many symbols the recursions run as plain Python loops per symbol (about
#: 0.1 us a bar); above it, as numpy loops across symbols (about 5 us a bar, any width).
#: Both do the same IEEE operations in the same order, so they agree exactly.
SCALAR_MAX_SYMBOLS = 24


def _smooth(
    x: np.ndarray, n: int, state: SmoothState | None, step: Callable[[Any, Any], Any]
) -> tuple[np.ndarray, SmoothState]:
    """Seed with the mean of the first ``n`` valid values, then apply ``step`` per bar.

    NaN inputs are skipped (the value carries). ``count`` saturates at ``n``.
    """
    T, N = x.shape
    st = state or SmoothState.empty(N)
    if N <= SCALAR_MAX_SYMBOLS:
        return _smooth_scalar(x, n, st, step)
    return _smooth_vector(x, n, st, step)


def _smooth_scalar(
    x: np.ndarray, n: int, st: SmoothState, step: Callable[[Any, Any], Any]
) -> tuple[np.ndarray, SmoothState]:
    T, N = x.shape
    out = np.empty((T, N))
    nf = float(n)
    v_out, c_out, a_out = st.value.copy(), st.count.copy(), st.acc.copy()
    for j in range(N):
        v, cnt, acc = float(v_out[j]), int(c_out[j]), float(a_out[j])
        col = x[:, j].tolist()
        res = [0.0] * T
        for t in range(T):
            xt = col[t]
            if xt == xt:  # not NaN
                if cnt < n:
                    acc = acc + xt
                    cnt += 1
                    if cnt == n:
                        v = acc / nf
                else:
                    v = step(v, xt)
            res[t] = v
        out[:, j] = res
        v_out[j], c_out[j], a_out[j] = v, cnt, acc
    return out, SmoothState(v_out, c_out, a_out)


def _smooth_vector(
    x: np.ndarray, n: int, st: SmoothState, step: Callable[[Any, Any], Any]
) -> tuple[np.ndarray, SmoothState]:
    T, N = x.shape
    v, cnt, acc = st.value.copy(), st.count.copy(), st.acc.copy()
    out = np.empty((T, N))
    nf = float(n)
    all_seeded = bool((cnt >= n).all())
    row_nan = np.isnan(x).any(axis=1).tolist()
    with np.errstate(invalid="ignore"):
        for t in range(T):
            xt = x[t]
            if all_seeded and not row_nan[t]:
                v = step(v, xt)
            else:
                valid = ~np.isnan(xt)
                grow = valid & (cnt < n)
                acc = np.where(grow, acc + xt, acc)
                cnt = cnt + grow
                v = np.where(grow & (cnt == n), acc / nf, np.where(valid & ~grow, step(v, xt), v))
                all_seeded = bool((cnt >= n).all())
            out[t] = v
    return out, SmoothState(v, cnt, acc)


def ema(x: np.ndarray, n: int, state: SmoothState | None = None) -> tuple[np.ndarray, SmoothState]:
    """Exponential moving average, ``alpha = 2 / (n + 1)``, seeded with the SMA of the
    first ``n`` values (the textbook and TA-Lib convention), NaN before that.

    Returns the values for the rows of ``x`` and the state to resume from.
    """
    a = 2.0 / (n + 1.0)
    b = 1.0 - a
    return _smooth(x, n, state, lambda v, xt: a * xt + b * v)


def wilder(x: np.ndarray, n: int, state: SmoothState | None = None) -> tuple[np.ndarray, SmoothState]:
    """Wilder's smoothing: seed with the mean of ``n`` values, then ``(prev*(n-1) + x)/n``."""
    nm1 = float(n - 1)
    nf = float(n)
    return _smooth(x, n, state, lambda v, xt: (v * nm1 + xt) / nf)


def _previous_valid(x: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the last valid value *before* it (``prev`` before the first row)."""
    stacked = np.vstack([prev[None, :], x])
    idx = np.where(np.isnan(stacked), 0, np.arange(len(stacked))[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = stacked[idx, np.arange(stacked.shape[1])]
    return filled[:-1], filled[-1]


@dataclass(frozen=True)
class RsiState:
    prev_close: np.ndarray
    gain: SmoothState
    loss: SmoothState


def rsi(close: np.ndarray, n: int, state: RsiState | None = None) -> tuple[np.ndarray, RsiState]:
    """Wilder's RSI: smoothed gains over smoothed gains plus losses, times 100.

    ``100 * g / (g + l)`` equals ``100 - 100 / (1 + g/l)`` and needs no special case
    when ``l`` is 0. A window with no change at all reads 50.
    """
    N = close.shape[1]
    prev0 = state.prev_close if state else np.full(N, np.nan)
    prev, last = _previous_valid(close, prev0)
    change = close - prev
    g, gs = wilder(np.maximum(change, 0.0), n, state.gain if state else None)
    lo, ls = wilder(np.maximum(-change, 0.0), n, state.loss if state else None)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = g + lo
        out = np.where(total > 0, 100.0 * g / total, np.where(np.isnan(total), np.nan, 50.0))
    return out, RsiState(last, gs, ls)


@dataclass(frozen=True)
class AtrState:
    prev_close: np.ndarray
    tr: SmoothState


def atr(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int, state: AtrState | None = None
) -> tuple[np.ndarray, AtrState]:
    """Wilder's average true range.

    True range is ``max(high - low, |high - prev close|, |low - prev close|)``; on a
    symbol's first bar there is no previous close and it is ``high - low``.
    """
    N = close.shape[1]
    prev0 = state.prev_close if state else np.full(N, np.nan)
    prev, last = _previous_valid(close, prev0)
    tr = np.fmax(high - low, np.fmax(np.abs(high - prev), np.abs(low - prev)))
    out, ts = wilder(tr, n, state.tr if state else None)
    return out, AtrState(last, ts)

