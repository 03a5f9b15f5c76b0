"""SMA crossover: the bar-by-bar and vectorised paths agree; no look-ahead."""

import numpy as np
import pandas as pd
import pytest

from toolkit.data import load_sample, panel
from toolkit.strategies import create


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return panel(load_sample(["NASDAQ", "SP500"]))


def test_decide_each_equals_decisions_on_every_bar(bars):
    strat = create("sma_crossover", {"fast": 20, "slow": 100}, symbols=["NASDAQ", "SP500"])
    vec = strat.decisions(bars)
    each = strat.decide_each(bars)
    np.testing.assert_array_equal(vec.weights.to_numpy(), each.weights.to_numpy())
    np.testing.assert_array_equal(vec.rebalance.to_numpy(), each.rebalance.to_numpy())
    assert vec.rebalance.sum() > 20  # the signal really flips


def test_truncation_changes_no_earlier_decision(bars):
    strat = create("sma_crossover", {"fast": 10, "slow": 50}, symbols=["NASDAQ", "SP500"])
    full = strat.decisions(bars)
    rng = np.random.default_rng(11)
    for cut in rng.integers(60, len(bars), size=6):
        part = strat.decisions(bars.iloc[:cut])
        pd.testing.assert_frame_equal(part.weights, full.weights.iloc[:cut])
        pd.testing.assert_series_equal(part.rebalance, full.rebalance.iloc[:cut])


def test_long_only_when_fast_above_slow(bars):
    strat = create("sma_crossover", {"fast": 20, "slow": 100}, symbols=["NASDAQ"])
    d = strat.decisions(bars)
    fast, slow = d.context["sma_fast_NASDAQ"], d.context["sma_slow_NASDAQ"]
    long = d.weights["NASDAQ"] > 0
    assert (long == (fast > slow)).all()
    assert not long.iloc[:99].any()  # nothing before the slow SMA exists
