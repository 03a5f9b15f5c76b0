"""Strategies written once, as a chunk computation that resumes from a saved state.

A :class:`ResumableStrategy` implements ``_compute(bars, arrays, start, state)``: decide
rows ``start..T-1`` given the full history up to ``T`` and the state after row
``start - 1``. ``decisions`` runs it over every row from a fresh state; ``decide`` runs
it over the rows added since its last call, from the cached state. Every row is
computed by the same arithmetic either way (window statistics by the rule of
:mod:`toolkit.strategies.indicators.windows`, recursions resumed by
:mod:`toolkit.strategies.indicators.recursive`), so the two paths agree bit for bit
and the live path costs one bar of work per call.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from toolkit.errors import DataError
from toolkit.strategies.base import Decision, Decisions, P, Strategy

__all__ = ["Chunk", "HistoryCache", "ResumableStrategy", "field_arrays"]


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


def _column_tuples(cols: pd.Index) -> list[Any]:
    """Column labels as tuples, built from levels and codes.

    ``get_indexer`` and ``tolist`` on a freshly sliced MultiIndex cost about a
    millisecond each (they materialise its values); this costs a tenth of that.
    """
    if isinstance(cols, pd.MultiIndex):
        levels = [lev.tolist() for lev in cols.levels]
        codes = [c.tolist() for c in cols.codes]
        return [tuple(levels[k][c[i]] for k, c in enumerate(codes)) for i in range(len(cols))]
    return cols.tolist()


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


class ResumableStrategy(Strategy[P]):
    """A strategy written once as ``_compute(bars, arrays, start, state)`` (see the module)."""

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
