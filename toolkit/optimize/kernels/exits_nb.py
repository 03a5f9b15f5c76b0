"""The exit rules of :func:`toolkit.strategies.exits.apply_exits`, one bar at a time, in numba.

The fused grid kernels decide each combination inside compiled code, so the rule
book of :mod:`toolkit.strategies.exits` is written again here as a step over one
symbol's bar: same branches, same precedence (stop-loss, trailing stop,
take-profit, signal), same fresh-entry rule, same IEEE operations in the same
order, so the held flags agree with ``apply_exits`` bit for bit (the kernels' tests
compare every combination they draw against ``grid_decisions``).

The state is five scalars that a kernel keeps in registers while it walks one
symbol's bars; before the first bar it is flat: ``(False, nan, nan, nan, True)``.

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


@njit(cache=True, error_model="numpy", inline="always")
def _fmax(a: float, b: float) -> float:
    """``max`` ignoring a NaN side (``exits._fmax``)."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a >= b else b


@njit(cache=True, error_model="numpy", inline="always")
def exit_step(
    c: float,
    entry: bool,
    keep: bool,
    atr: float,
    sl_level: float,
    tp_level: float,
    trail_k: float,
    held: bool,
    price: float,
    highest: float,
    stop: float,
    armed: bool,
) -> tuple[bool, float, float, float, bool, int]:
    """Walk one symbol over one bar (close ``c``) from its state; returns the new state and the exit code.

    State and result: ``(held, entry price, highest close, stop, armed)`` (+ code).
    ``atr`` is read only when the trailing stop is on. A NaN close changes nothing.
    Scalars in, scalars out: a call with array arguments would pay reference counting
    on every bar (measured here: ten times the cost of the rule book itself).
    """
    if math.isnan(c):
        return held, price, highest, stop, armed, NO_EXIT
    has_k = not math.isnan(trail_k)
    if not held:
        if not entry:
            return held, price, highest, stop, True, NO_EXIT
        if armed:
            new_stop = c - trail_k * atr if has_k else stop
            return True, c, c, new_stop, armed, NO_EXIT
        return held, price, highest, stop, armed, NO_EXIT
    code = NO_EXIT
    if not math.isnan(sl_level) and c <= price * sl_level:
        code = STOP_LOSS
    elif has_k and c <= stop:
        code = TRAILING_STOP
    elif not math.isnan(tp_level) and c >= price * tp_level:
        code = TAKE_PROFIT
    elif not keep:
        code = SIGNAL
    if code != NO_EXIT:
        # A rule exit needs the entry signal to switch off before re-entering.
        armed = (not entry) if code != SIGNAL else (armed or not entry)
        return False, np.nan, np.nan, np.nan, armed, code
    if has_k:
        highest = _fmax(highest, c)
        stop = _fmax(stop, highest - trail_k * atr)  # never loosens
    return True, price, highest, stop, armed, NO_EXIT
