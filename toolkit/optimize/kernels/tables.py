"""Indicator tables shared by the fused grid kernels, and the prepared inputs of one task.

A grid varies a handful of parameters, and most indicators depend on one of them
only (an EMA on its length, ATR on its period, a rolling maximum on its lookback).
:class:`IndicatorTable` computes each distinct value ONCE, with the toolkit's own
indicator functions (:mod:`toolkit.strategies.indicators`), so the kernels read the
very floats ``Strategy.decisions`` computes; only the path-dependent part (exits,
entry/keep logic, schedules, sizing) runs per combination in compiled code.

Tables are ``(values, symbols, bars)`` float64 (C order: a kernel walks one
symbol's bars, so they are contiguous; measured 10-20 % faster than ``(bars,
values, symbols)`` on a 16-value table) and each combination carries the position
of its value (``-1`` when it does not use the indicator at all, e.g. ATR without a
trailing stop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from toolkit.optimize.kernels.reuse import remember
from toolkit.strategies.base import GridDecisions

if TYPE_CHECKING:
    from toolkit.optimize.kernels.inputs import SimInputs

__all__ = ["FillDecisions", "IndicatorTable", "Prepared", "run_fused", "table_key"]


def table_key(window_key: str | None, name: str) -> tuple[str, str] | None:
    """An :class:`IndicatorTable` key: ``name`` in the window ``window_key`` (None: no reuse)."""
    return None if window_key is None else (window_key, name)


class IndicatorTable:
    """Values of one indicator for each distinct parameter value, stacked ``(L, S, T)``.

    ``compute(value)`` returns the ``(T, S)`` indicator for one parameter value; it is
    called once per distinct value in first-seen order. With a ``key`` (the window's
    fingerprint and a name for the indicator and its inputs, e.g. ``(fp, "ema(close)")``)
    values are also looked up in and kept for the window's other chunks
    (:mod:`~toolkit.optimize.kernels.reuse`); tables that share a key share their values.
    """

    def __init__(
        self, compute: Callable[[Any], np.ndarray], n_bars: int, n_symbols: int, key: tuple[Any, ...] | None = None
    ) -> None:
        self._compute = compute
        self._key = key
        self._shape = (n_bars, n_symbols)
        self._slot: dict[Any, int] = {}
        self._values: list[np.ndarray] = []

    def index(self, value: Any) -> int:
        """Slot of ``value`` (computed on first use); ``None`` gives -1 (not used)."""
        if value is None:
            return -1
        if value not in self._slot:
            self._slot[value] = len(self._values)
            self._values.append(self._value(value))
        return self._slot[value]

    def _value(self, value: Any) -> np.ndarray:
        def build() -> np.ndarray:
            return np.asarray(self._compute(value), dtype=np.float64)

        if self._key is None:
            return build()
        return remember((*self._key, value), build)

    def indices(self, values: Sequence[Any]) -> np.ndarray:
        """Slots of one value per combination, as the ``int64`` array the kernels take."""
        return np.array([self.index(v) for v in values], dtype=np.int64)

    def table(self) -> np.ndarray:
        """The ``(L, S, T)`` C-contiguous table (``L`` may be 0)."""
        if not self._values:
            return np.empty((0, self._shape[1], self._shape[0]))
        return np.ascontiguousarray(np.stack([v.T for v in self._values]))


class FillDecisions(Protocol):
    """``fill_decisions(c, *arrays, w_out, reb_out) -> None`` of a kernel module."""

    def __call__(self, c: int, *args: Any) -> None: ...


@dataclass(frozen=True)
class Prepared:
    """Everything a strategy's ``fill_decisions`` reads for one task, in argument order.

    ``arrays`` go between the combination number and the output buffers;
    ``n_combos`` combinations decide ``n_bars`` bars of ``instruments``.
    """

    instruments: list[str]
    n_bars: int
    n_combos: int
    arrays: tuple[np.ndarray, ...]

    def decide(self, fill: FillDecisions) -> GridDecisions:
        """Every combination's decisions through ``fill`` (a Python loop: tests, debugging)."""
        S = len(self.instruments)
        weights = np.empty((self.n_bars, self.n_combos, S))
        rebalance = np.empty((self.n_bars, self.n_combos), dtype=bool)
        w = np.empty((self.n_bars, S))
        r = np.empty(self.n_bars, dtype=np.bool_)
        for c in range(self.n_combos):
            fill(c, *self.arrays, w, r)
            weights[:, c, :] = w
            rebalance[:, c] = r
        return GridDecisions(list(self.instruments), weights, rebalance)


class GridDriver(Protocol):
    """A strategy's ``@njit(parallel=True)`` driver: ``(arrays, trade_start, market, costs,
    n_blocks, metrics_out, returns_out) -> None``."""

    def __call__(self, *args: Any) -> None: ...


def run_fused(prepared: Prepared, driver: GridDriver, sim: SimInputs) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Run a strategy's fused driver over every combination of ``prepared``.

    Returns the instruments, the ``(C, N_METRICS)`` metrics and the ``(C, n or 0)``
    returns, as ``grid_metrics`` of a kernel module must
    (:mod:`toolkit.optimize.kernels`). Combinations go in ``4 x threads`` blocks, so a
    thread that drew cheap combinations takes another block instead of idling.
    """
    import numba

    n = prepared.n_combos
    metrics = sim.metrics_out(n)
    returns = sim.returns_out(n)
    n_blocks = max(1, min(n, 4 * numba.get_num_threads()))
    driver(prepared.arrays, sim.trade_start, sim.market, sim.costs, n_blocks, metrics, returns)
    return list(prepared.instruments), metrics, returns
