"""The exit rules of :func:`toolkit.strategies.exits.apply_exits`, one bar at a time, in numba.

The fused grid kernels decide each combination inside compiled code, so the rule
book of :mod:`toolkit.strategies.exits` is written again here as a step over one
symbol's bar: same branches, same precedence (stop-loss, trailing stop,
take-profit, signal), same fresh-entry rule, same IEEE operations in the same
order, so the held flags agree with ``apply_exits`` bit for bit (the kernels' tests
compare every combination they draw against ``grid_decisions``).

State lives in arrays of one element per symbol, so a kernel walks bars in the outer
loop and symbols in the inner one (what a schedule across symbols, like
atr_momentum's rebalance, needs) without a ``(bars, symbols)`` scratch array.

A rule that is off is NaN in its level (``sl_level = 1 - stop_loss``, ``tp_level =
1 + take_profit``, ``trail_k``); the code tests for NaN explicitly rather than
relying on NaN comparisons, so it reads like the rule book.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Same codes as :data:`toolkit.strategies.exits.EXIT_REASONS`.
NO_EXIT, SIGNAL, STOP_LOSS, TRAILING_STOP, TAKE_PROFIT = range(5)


def rule_levels(
    stop_loss: float | None, take_profit: float | None, trailing_atr_k: float | None
) -> tuple[float, float, float]:
    """``(sl_level, tp_level, trail_k)`` of one parameter set, NaN for a rule that is off.

    The levels are computed exactly as ``apply_exits`` computes them (``1.0 - x``,
    ``1.0 + x`` in Python floats).
    """
    nan = float("nan")
    sl = nan if stop_loss is None else 1.0 - stop_loss
    tp = nan if take_profit is None else 1.0 + take_profit
    k = nan if trailing_atr_k is None else float(trailing_atr_k)
    return sl, tp, k


@njit(cache=True, error_model="numpy")
def new_state(n_symbols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat positions (``PositionState.flat``): held, entry price, highest, stop, armed."""
    held = np.zeros(n_symbols, dtype=np.bool_)
    price = np.full(n_symbols, np.nan)
    highest = np.full(n_symbols, np.nan)
    stop = np.full(n_symbols, np.nan)
    armed = np.ones(n_symbols, dtype=np.bool_)
    return held, price, highest, stop, armed


@njit(cache=True, error_model="numpy", inline="always")
def _fmax(a: float, b: float) -> float:
    """``max`` ignoring a NaN side (``exits._fmax``)."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a >= b else b


@njit(cache=True, error_model="numpy")
def exit_step(
    j: int,
    c: float,
    entry: bool,
    keep: bool,
    atr: float,
    sl_level: float,
    tp_level: float,
    trail_k: float,
    held: np.ndarray,
    price: np.ndarray,
    highest: np.ndarray,
    stop: np.ndarray,
    armed: np.ndarray,
) -> int:
    """Walk symbol ``j`` over one bar (close ``c``); updates the state, returns the exit code.

    ``atr`` is read only when the trailing stop is on. A NaN close changes nothing.
    """
    if math.isnan(c):
        return NO_EXIT
    has_k = not math.isnan(trail_k)
    if not held[j]:
        if not entry:
            armed[j] = True
        elif armed[j]:
            held[j] = True
            price[j] = c
            highest[j] = c
            if has_k:
                stop[j] = highest[j] - trail_k * atr
        return NO_EXIT
    code = NO_EXIT
    if not math.isnan(sl_level) and c <= price[j] * sl_level:
        code = STOP_LOSS
    elif has_k and c <= stop[j]:
        code = TRAILING_STOP
    elif not math.isnan(tp_level) and c >= price[j] * tp_level:
        code = TAKE_PROFIT
    elif not keep:
        code = SIGNAL
    if code != NO_EXIT:
        if code != SIGNAL:
            armed[j] = not entry
        else:
            armed[j] = armed[j] or not entry
        held[j] = False
        price[j] = np.nan
        highest[j] = np.nan
        stop[j] = np.nan
        return code
    if has_k:
        highest[j] = _fmax(highest[j], c)
        stop[j] = _fmax(stop[j], highest[j] - trail_k * atr)
    return NO_EXIT
