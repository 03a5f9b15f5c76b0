"""Indicator maths and the resumable-strategy plumbing shared by the built-in strategies.

Why this module exists: a strategy's live path (``decide`` on a growing history) and
its backtest path (``decisions`` over the whole panel) must give bit-identical targets.
Two rules make that hold without a tolerance:

* Window statistics (rolling sum, mean, std, max) add a window's rows in one fixed
  order, oldest first, with elementwise numpy operations. A value is then the same
  whether it is computed alone or among thousands of rows; numpy's pairwise ``sum``
  would change the order of additions with the shape of the array.
* Recursive indicators (EMA, Wilder RSI and ATR) and position paths run a bar-by-bar
  loop (vectorised across symbols) that resumes from a saved state. A live ``decide``
  extends yesterday's state by one bar and lands on exactly the value the full-history
  loop produces.

Arrays are ``(bars, symbols)`` float64 with NaN where a symbol has no bar (before its
first bar, or on a day only other symbols traded).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

from toolkit.errors import DataError
from toolkit.strategies.base import Decision, Decisions, Strategy

# --------------------------------------------------------------------------- panel


def field_arrays(history: pd.DataFrame, symbols: list[str], fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``{field: (bars, symbols) float array}`` from a ``(symbol, field)`` panel.

    One ``to_numpy`` plus a column take, because ``decide`` runs this on every bar.
    A missing column is a :class:`DataError` naming the symbol and the field.
    """
    where = {col: i for i, col in enumerate(_column_tuples(history.columns))}
    wanted = [(s, f) for f in fields for s in symbols]
    missing = [col for col in wanted if col not in where]
    if missing:
        sym, fld = missing[0]
        raise DataError(sym, None, "panel has the field", f"no ({sym!r}, {fld!r}) column")
    pos = [where[col] for col in wanted]
    values = history.to_numpy(dtype=float)[:, pos]
    n = len(symbols)
    return {f: values[:, i * n : (i + 1) * n] for i, f in enumerate(fields)}


def _column_tuples(cols: pd.Index) -> list:
    """Column labels as tuples, built from levels and codes.

    ``get_indexer`` and ``tolist`` on a freshly sliced MultiIndex cost about a
    millisecond each (they materialise its values); this costs a tenth of that.
    """
    if isinstance(cols, pd.MultiIndex):
        levels = [lev.tolist() for lev in cols.levels]
        codes = [c.tolist() for c in cols.codes]
        return [tuple(levels[k][c[i]] for k, c in enumerate(codes)) for i in range(len(cols))]
    return cols.tolist()


def lagged(x: np.ndarray, k: int, start: int = 0) -> np.ndarray:
    """``x[t - k]`` for rows ``start..T-1`` (NaN where ``t < k``)."""
    T = len(x)
    out = np.full((T - start,) + x.shape[1:], np.nan)
    first = max(start, k)
    if first < T:
        out[first - start :] = x[first - k : T - k]
    return out


def changed_rows(flags: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """True on rows whose flags differ from the row before (the first row of a run: always)."""
    out = np.ones(len(flags), dtype=bool)
    if len(flags):
        if previous is not None:
            out[0] = bool(np.any(flags[0] != previous))
        out[1:] = np.any(flags[1:] != flags[:-1], axis=1)
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


# --------------------------------------------------------------------------- windows


def _window_rows(T: int, n: int, start: int, lag: int) -> tuple[int, int]:
    """First row (absolute) with a full window and the index of its window's first row."""
    first = max(start, n - 1 + lag)
    return first, first - lag - n + 1


def rolling_sum(x: np.ndarray, n: int, *, start: int = 0, lag: int = 0) -> np.ndarray:
    """Sum of ``x[t-lag-n+1 .. t-lag]`` for rows ``start..T-1``, oldest row added first.

    ``lag=1`` gives a window of the *previous* ``n`` bars (breakout levels, causal
    volatility). Rows without a full window are NaN.
    """
    T = len(x)
    out = np.full((T - start,) + x.shape[1:], np.nan)
    first, base = _window_rows(T, n, start, lag)
    if first < T:
        m = T - first
        acc = x[base : base + m].astype(float, copy=True)
        for k in range(1, n):
            acc += x[base + k : base + k + m]
        out[first - start :] = acc
    return out


def rolling_mean(x: np.ndarray, n: int, *, start: int = 0, lag: int = 0) -> np.ndarray:
    """Mean of the window (see :func:`rolling_sum`)."""
    return rolling_sum(x, n, start=start, lag=lag) / n


def rolling_mean_std(x: np.ndarray, n: int, *, start: int = 0, lag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation (ddof 0, as Bollinger defined the bands).

    Two passes (mean, then squared deviations) rather than ``E[x²] - E[x]²``, which
    cancels catastrophically on price levels.
    """
    T = len(x)
    mean = rolling_mean(x, n, start=start, lag=lag)
    std = np.full_like(mean, np.nan)
    first, base = _window_rows(T, n, start, lag)
    if first < T:
        m = T - first
        mu = mean[first - start :]
        acc = x[base : base + m] - mu
        acc *= acc
        dev = np.empty_like(acc)
        for k in range(1, n):
            np.subtract(x[base + k : base + k + m], mu, out=dev)
            dev *= dev
            acc += dev
        std[first - start :] = np.sqrt(acc / n)
    return mean, std


def rolling_max(x: np.ndarray, n: int, *, start: int = 0, lag: int = 0) -> np.ndarray:
    """Maximum of the window (exact in any order, so numpy's reduction is fine)."""
    from numpy.lib.stride_tricks import sliding_window_view

    T = len(x)
    out = np.full((T - start,) + x.shape[1:], np.nan)
    first, base = _window_rows(T, n, start, lag)
    if first < T:
        windows = sliding_window_view(x[base : T - lag], n, axis=0)
        out[first - start :] = windows.max(axis=-1)
    return out


# --------------------------------------------------------------------------- recursive


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


# --------------------------------------------------------------------------- resumable strategies


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bitwise equality (NaN equals NaN; faster than ``array_equal(equal_nan=True)``)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype == np.float64:
        return bool(np.array_equal(a.view(np.int64), b.view(np.int64)))
    return bool(np.array_equal(a, b))


class HistoryCache:
    """What a strategy's ``decide`` consumed last time, so the next call can resume.

    ``resume_point`` returns how many leading bars of the new history are exactly the
    cached ones (timestamps and every input value), or 0 when the new history is not
    an extension: then the strategy rebuilds from scratch, as a fresh instance would.
    """

    def __init__(self) -> None:
        self.index: pd.Index | None = None
        self.arrays: dict[str, np.ndarray] = {}
        self.state: Any = None
        self.last: Decision | None = None

    def resume_point(self, index: pd.Index, arrays: dict[str, np.ndarray]) -> int:
        if self.index is None:
            return 0
        n = len(self.index)
        if len(index) < n or index[n - 1] != self.index[n - 1] or not index[:n].equals(self.index):
            return 0
        for key, cached in self.arrays.items():
            if key not in arrays or not _same_bits(arrays[key][:n], cached):
                return 0
        return n

    def store(self, index: pd.Index, arrays: dict[str, np.ndarray], state: Any, last: Decision) -> None:
        self.index, self.arrays, self.state, self.last = index, arrays, state, last


@dataclass
class Chunk:
    """Decisions for rows ``start..T-1`` plus the state after the last of them."""

    weights: np.ndarray
    rebalance: np.ndarray
    context: dict[str, np.ndarray] = field(default_factory=dict)
    state: Any = None


def _scalar(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


class ResumableStrategy(Strategy):
    """A strategy written once as ``_compute(bars, arrays, start, state)``.

    ``decisions`` runs it over every row from a fresh state; ``decide`` runs it over
    the rows added since the last call, from the cached state. Because every row is
    computed by the same arithmetic either way, the two paths agree bit for bit, and
    the live path costs one bar of work per call.
    """

    #: Panel fields the strategy reads for each instrument.
    fields: ClassVar[tuple[str, ...]] = ("close",)

    def reset(self) -> None:
        self._cache = HistoryCache()

    def instruments(self) -> list[str]:
        if not self.symbols:
            raise ValueError(f"{self.name} needs the run's symbols (pass symbols=[...])")
        return list(self.symbols)

    @abstractmethod
    def _compute(self, bars: pd.DataFrame, arrays: dict[str, np.ndarray], start: int, state: Any) -> Chunk:
        """Decide rows ``start..T-1`` of ``arrays`` (full history up to T) from ``state``."""

    def _inputs(self, history: pd.DataFrame) -> dict[str, np.ndarray]:
        """The arrays ``_compute`` reads; also what the cache compares to detect a rewrite."""
        return field_arrays(history, self.instruments(), self.fields)

    def decisions(self, bars: pd.DataFrame) -> Decisions:
        syms = self.instruments()
        chunk = self._compute(bars, self._inputs(bars), 0, None)
        idx = bars.index
        return Decisions(
            weights=pd.DataFrame(chunk.weights, index=idx, columns=syms),
            rebalance=pd.Series(chunk.rebalance, index=idx, dtype=bool),
            context=pd.DataFrame(chunk.context, index=idx),
        )

    def decide(self, history: pd.DataFrame) -> Decision:
        if len(history) == 0:
            raise ValueError(f"{self.name}.decide needs at least one bar of history")
        syms = self.instruments()
        arrays = self._inputs(history)
        start = self._cache.resume_point(history.index, arrays)
        if start == len(history) and self._cache.last is not None:
            return self._cache.last
        chunk = self._compute(history, arrays, start, self._cache.state if start else None)
        decision = Decision(
            timestamp=history.index[-1],
            target_weights={s: float(w) for s, w in zip(syms, chunk.weights[-1])},
            rebalance=bool(chunk.rebalance[-1]),
            context={k: _scalar(v[-1]) for k, v in chunk.context.items()},
        )
        self._cache.store(history.index, arrays, chunk.state, decision)
        return decision
