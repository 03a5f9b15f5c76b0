"""SMA crossover's rule (parity, no look-ahead and params are the contract test's job)."""

import pandas as pd
import pytest

from toolkit.data import load_sample, panel
from toolkit.strategies import create


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return panel(load_sample(["NASDAQ", "SP500"]))


def test_long_only_when_fast_above_slow(bars):
    strat = create("sma_crossover", {"fast": 20, "slow": 100}, symbols=["NASDAQ"])
    d = strat.decisions(bars)
    fast, slow = d.context["sma_fast_NASDAQ"], d.context["sma_slow_NASDAQ"]
    long = d.weights["NASDAQ"] > 0
    assert (long == (fast > slow)).all()
    assert not long.iloc[:99].any()  # nothing before the slow SMA exists
