"""Exit rules: the right bar, the right reason, a trailing stop that never loosens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.data import load_sample, panel
from toolkit.errors import ParamsError
from toolkit.strategies.ema_breakout import EmaBreakout
from toolkit.strategies.exits import (
    SIGNAL,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    ExitRules,
    apply_exits,
)


def col(values, dtype=float) -> np.ndarray:
    return np.asarray(values, dtype=dtype)[:, None]


def held(path) -> list[bool]:
    return path.held[:, 0].tolist()


def test_stop_loss_exits_on_the_first_close_at_or_below_the_level():
    close = col([100, 97, 96, 95.01, 95, 94])
    entry = col([1, 0, 0, 0, 0, 0], bool)
    keep = col([1] * 6, bool)
    path = apply_exits(entry, keep, close, None, ExitRules(stop_loss=0.05))
    assert held(path) == [True, True, True, True, False, False]
    assert path.reason[4, 0] == STOP_LOSS
    assert path.reason_names()[4, 0] == "stop_loss"
    assert path.reason[:, 0].tolist().count(0) == 5


def test_take_profit_exits_on_the_first_close_at_or_above_the_level():
    close = col([100, 105, 109.99, 110.5, 111])
    entry = col([1, 0, 0, 0, 0], bool)
    keep = col([1] * 5, bool)
    path = apply_exits(entry, keep, close, None, ExitRules(take_profit=0.10))
    assert held(path) == [True, True, True, False, False]
    assert path.reason[3, 0] == TAKE_PROFIT


def test_signal_exit_and_immediate_reentry_on_a_standing_signal():
    close = col([10, 11, 12, 13, 14])
    entry = col([1, 1, 1, 1, 1], bool)
    keep = col([1, 1, 0, 1, 1], bool)
    path = apply_exits(entry, keep, close, None, ExitRules())
    # Out on bar 2 (signal); an ordinary signal exit needs no reset: back in on bar 3.
    assert held(path) == [True, True, False, True, True]
    assert path.reason[2, 0] == SIGNAL


def test_reentry_after_a_stop_needs_a_fresh_entry_signal():
    close = col([100, 90, 91, 92, 93, 94, 95])
    entry = col([1, 1, 1, 0, 1, 1, 1], bool)
    keep = col([1] * 7, bool)
    path = apply_exits(entry, keep, close, None, ExitRules(stop_loss=0.05))
    # Stopped on bar 1; the signal stays on through bar 2 (no re-entry), is off on
    # bar 3, and a fresh signal on bar 4 re-enters.
    assert held(path) == [True, False, False, False, True, True, True]
    assert path.reason[1, 0] == STOP_LOSS


def test_trailing_stop_follows_the_highest_close_and_exits_below_it():
    close = col([100, 104, 110, 108, 106.9, 107])
    atr = col([1.0] * 6)
    entry = col([1, 0, 0, 0, 0, 0], bool)
    keep = col([1] * 6, bool)
    path = apply_exits(entry, keep, close, atr, ExitRules(trailing_atr_k=3.0))
    assert path.stop[:4, 0].tolist() == [97.0, 101.0, 107.0, 107.0]
    assert held(path) == [True, True, True, True, False, False]
    assert path.reason[4, 0] == TRAILING_STOP
    assert np.isnan(path.stop[4:, 0]).all()


def test_precedence_stop_loss_over_trailing_and_signal():
    close = col([100, 80])
    path = apply_exits(col([1, 0], bool), col([1, 0], bool), close, col([1.0, 1.0]),
                       ExitRules(trailing_atr_k=1.0, stop_loss=0.1))
    assert path.reason[1, 0] == STOP_LOSS


def test_trailing_stop_requires_atr():
    with pytest.raises(ValueError, match="ATR"):
        apply_exits(col([1], bool), col([1], bool), col([1.0]), None, ExitRules(trailing_atr_k=2))


def test_walk_resumes_exactly_from_its_state():
    rng = np.random.default_rng(3)
    T, N = 300, 3
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (T, N)), axis=0))
    atr = np.abs(rng.normal(2, 0.5, (T, N)))
    entry = rng.random((T, N)) < 0.2
    keep = rng.random((T, N)) < 0.9
    rules = ExitRules(trailing_atr_k=2.0, stop_loss=0.05, take_profit=0.1)
    full = apply_exits(entry, keep, close, atr, rules)
    for cut in (1, 50, 151, 299):
        head = apply_exits(entry[:cut], keep[:cut], close[:cut], atr[:cut], rules)
        tail = apply_exits(entry[cut:], keep[cut:], close[cut:], atr[cut:], rules, head.state)
        assert np.array_equal(np.vstack([head.held, tail.held]), full.held)
        assert np.array_equal(np.vstack([head.reason, tail.reason]), full.reason)
        assert np.array_equal(np.vstack([head.stop, tail.stop]), full.stop, equal_nan=True)


prices = st.lists(st.floats(min_value=1.0, max_value=1000.0, allow_nan=False), min_size=2, max_size=80)


@settings(max_examples=200, deadline=None)
@given(prices, st.floats(min_value=0.1, max_value=10.0), st.data())
def test_trailing_stop_never_loosens(path_prices, k, data):
    T = len(path_prices)
    atrs = data.draw(st.lists(st.floats(min_value=0.0, max_value=100.0), min_size=T, max_size=T))
    close, atr = col(path_prices), col(atrs)
    entry = col([True] + [False] * (T - 1), bool)
    path = apply_exits(entry, col([True] * T, bool), close, atr, ExitRules(trailing_atr_k=k))
    stops = path.stop[:, 0][path.held[:, 0]]
    assert np.all(np.diff(stops) >= 0)
    # Held bars are exactly the first run, and the exit bar (if any) closed at or below the stop.
    n_held = int(path.held[:, 0].sum())
    assert path.held[:n_held, 0].all()
    if n_held < T:
        assert path.reason[n_held, 0] == TRAILING_STOP
        assert close[n_held, 0] <= stops[-1]


def test_exit_params_are_validated_with_the_field_named():
    with pytest.raises(ParamsError) as err:
        EmaBreakout({"stop_loss": 1.5}, symbols=["A"])
    assert err.value.field == "strategy_params.stop_loss"
    with pytest.raises(ParamsError) as err:
        EmaBreakout({"trailing_atr_k": -1}, symbols=["A"])
    assert err.value.field == "strategy_params.trailing_atr_k"


def test_exit_variants_record_their_reasons_on_the_sample():
    """On the real sample each exit rule fires at least once and names itself in the context."""
    frames = load_sample(["NASDAQ", "SP500"])
    frames["SP500"] = frames["SP500"].iloc[250:]
    bars: pd.DataFrame = panel(frames)

    def reasons(params):
        ctx = EmaBreakout(params, symbols=["NASDAQ", "SP500"]).decisions(bars).context
        return set(ctx["exit_reason_NASDAQ"]) | set(ctx["exit_reason_SP500"])

    assert reasons({}) == {"", "signal"}
    assert {"trailing_stop", "stop_loss", "take_profit"} <= reasons(
        {"trailing_atr_k": 3.0, "stop_loss": 0.05, "take_profit": 0.25}
    )
