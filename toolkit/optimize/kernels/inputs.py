"""The per-task arrays every fused kernel shares: prices, masks, costs, scratch.

Why once per task: the vectorbt path prepares its price and size arrays per chunk
(:func:`toolkit.optimize.evaluate.simulate`); here the same preparation (valuation
close carried forward then back, fill price with its gaps filled by that close, which
instrument has a close or an open on each bar) is done once, in plain numpy, and the
compiled kernels only read it. The tuples have the layout
:func:`toolkit.optimize.kernels.simulate.simulate_combo` documents.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.optimize.kernels.simulate import N_METRICS, N_SCRATCH

FILLS = ("close", "next_open")


def _own(a: np.ndarray, dtype: type) -> np.ndarray:
    """A C-contiguous, writeable array of ``dtype``.

    pandas hands out read-only views (copy-on-write), and numba compiles a separate
    kernel for read-only arrays: normalising keeps one compiled (and cached) signature.
    """
    return np.require(a, dtype=dtype, requirements=["C", "W"])


@dataclass(frozen=True)
class SimInputs:
    """What a kernel needs besides a strategy's decisions, for ``n`` traded bars."""

    market: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    costs: tuple[float, float, float, float, float]
    trade_start: int
    keep_returns: bool

    @property
    def n_bars(self) -> int:
        return int(self.market[0].shape[0])

    def metrics_out(self, n_combos: int) -> np.ndarray:
        """An output array for ``n_combos`` metrics rows."""
        return np.empty((n_combos, N_METRICS))

    def returns_out(self, n_combos: int) -> np.ndarray:
        """``(n_combos, n)`` when returns are kept, else ``(n_combos, 0)`` (the core then skips them)."""
        return np.empty((n_combos, self.n_bars if self.keep_returns else 0))

    def scratch(self, n_threads: int) -> np.ndarray:
        """``(n_threads, N_SCRATCH, n)``: one scratch block per thread."""
        return np.empty((n_threads, N_SCRATCH, self.n_bars))


def prepare_market(
    trade_bars: pd.DataFrame, instruments: list[str], fill: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The market tuple of :func:`prepare_inputs` (the part that depends on the bars only)."""
    if fill not in FILLS:
        raise ValueError(f"fill: got {fill!r}; allowed: close, next_open")
    close = trade_bars.loc[:, [(s, "close") for s in instruments]].droplevel(1, axis=1).astype(float)
    have_close = _own(close.notna().to_numpy(), np.bool_)
    val_close = close.ffill().bfill()
    if fill == "close":
        price = close
        have_open = have_close
    else:
        opens = trade_bars.loc[:, [(s, "open") for s in instruments]].droplevel(1, axis=1).astype(float)
        have_open = _own(opens.notna().to_numpy(), np.bool_)
        price = opens
    price = price.fillna(val_close)
    ts = _own(pd.DatetimeIndex(trade_bars.index).as_unit("ns").asi8, np.int64)
    return (
        _own(val_close.to_numpy(dtype=float), np.float64),
        _own(price.to_numpy(dtype=float), np.float64),
        have_close,
        have_open,
        ts,
    )


def prepare_inputs(
    trade_bars: pd.DataFrame,
    instruments: list[str],
    *,
    trade_start: int,
    initial_cash: float,
    fees_bps: float,
    slippage_bps: float,
    fill: str,
    risk_free_rate: float = 0.0,
    keep_returns: bool = False,
    market: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> SimInputs:
    """Arrays of the traded bars prepared exactly as the vectorbt path prepares them.

    ``market``, when given, is :func:`prepare_market` of the same bars computed
    earlier (:mod:`.reuse` keeps it for the other chunks of a window).
    """
    if fill not in FILLS:
        raise ValueError(f"fill: got {fill!r}; allowed: close, next_open")
    if market is None:
        market = prepare_market(trade_bars, instruments, fill)
    costs = (
        float(fees_bps / 1e4),
        float(slippage_bps / 1e4),
        float(initial_cash),
        float(risk_free_rate),
        1.0 if fill == "next_open" else 0.0,
    )
    return SimInputs(market, costs, int(trade_start), bool(keep_returns))
