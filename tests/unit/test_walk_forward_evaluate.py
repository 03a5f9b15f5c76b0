"""Vectorised grid evaluation against the one-at-a-time path it replaces.

* the SMA crossover fast path gives exactly the order weights of ``decisions()``;
* the metrics of every column of one many-column vectorbt simulation equal
  ``compute_metrics`` of ``run_backtest`` for that combination alone.
"""

import math

import numpy as np
import pandas as pd
import pytest

from toolkit.backtest.engine import run_backtest
from toolkit.backtest.metrics import compute_metrics
from toolkit.data import load_sample, panel
from toolkit.optimize.evaluate import METRICS, GridTask, decide_weights, evaluate_task, grid_warmup
from toolkit.strategies import registry

COMBOS = pd.DataFrame({"fast": [3, 5, 10, 20, 8], "slow": [10, 20, 50, 60, 9]})
COMBOS.index = pd.RangeIndex(len(COMBOS), name="combination")


@pytest.fixture(scope="module")
def bars():
    frames = load_sample(["NASDAQ", "SP500"], prices="adjusted")
    b = panel(frames)
    return b.loc["2011-01-01":"2012-12-31"]


@pytest.mark.parametrize("symbols", [["NASDAQ"], ["NASDAQ", "SP500"]])
@pytest.mark.parametrize("trade_start", [0, 60])
def test_sma_fast_path_equals_decisions_exactly(bars, symbols, trade_start):
    fast_cols, fast = decide_weights("sma_crossover", COMBOS, {}, symbols, bars, trade_start=trade_start)
    slow_cols, slow = decide_weights("sma_crossover", COMBOS, {}, symbols, bars, trade_start=trade_start, fast_path=False)
    assert fast_cols == slow_cols == symbols
    assert fast.shape == (len(bars) - trade_start, len(COMBOS), len(symbols))
    np.testing.assert_array_equal(fast, slow)  # NaN in the same places, every value bit for bit


def test_generic_path_is_the_strategys_order_weights_plus_a_first_order(bars):
    cls = registry.get("sma_crossover")
    _, w = decide_weights("sma_crossover", COMBOS.iloc[[2]], {}, ["NASDAQ"], bars, trade_start=60, fast_path=False)
    dec = cls({"fast": 10, "slow": 50}, symbols=["NASDAQ"]).decisions(bars)
    expected = dec.order_weights().to_numpy()[60:].copy()
    expected[0] = dec.weights.to_numpy()[60]
    np.testing.assert_array_equal(w[:, 0, :], expected)


def test_grid_warmup_is_the_longest_slow_window():
    assert grid_warmup("sma_crossover", COMBOS, {}, ["NASDAQ"]) == 60


def _one_at_a_time(bars, combo, symbols, *, decide_start, start, fees_bps, slippage_bps, fill, initial_cash):
    """The reference: the strategy's decisions and the backtest engine, one combination."""
    cls = registry.get("sma_crossover")
    window = bars.iloc[decide_start:]
    dec = cls(combo, symbols=symbols).decisions(window)
    k = start - decide_start
    ow = dec.order_weights().iloc[k:].copy()
    ow.iloc[0] = dec.weights.iloc[k]
    res = run_backtest(bars.iloc[start:], ow, initial_cash=initial_cash, fees_bps=fees_bps,
                       slippage_bps=slippage_bps, fill=fill)
    return compute_metrics(res, risk_free_rate=0.02)


@pytest.mark.parametrize(
    "symbols, fill, fees_bps, slippage_bps",
    [(["NASDAQ"], "close", 10.0, 0.0), (["NASDAQ"], "next_open", 5.0, 7.0), (["NASDAQ", "SP500"], "close", 10.0, 2.0)],
)
def test_vectorised_metrics_equal_compute_metrics(bars, symbols, fill, fees_bps, slippage_bps):
    task = GridTask(
        key=1, chunk=0, decide_start=0, start=70, stop=len(bars), combos=COMBOS, strategy="sma_crossover", fixed={},
        symbols=tuple(symbols), initial_cash=50_000.0, fees_bps=fees_bps, slippage_bps=slippage_bps, fill=fill,
        risk_free_rate=0.02, keep_returns=True,
    )
    res = evaluate_task(task, bars)
    assert list(res.metrics.columns) == list(METRICS) and list(res.metrics.index) == list(COMBOS.index)
    assert res.returns.shape == (len(COMBOS), len(bars) - 70)
    for i, combo in enumerate(COMBOS.to_dict("records")):
        ref = _one_at_a_time(bars, combo, symbols, decide_start=0, start=70, fees_bps=fees_bps,
                             slippage_bps=slippage_bps, fill=fill, initial_cash=50_000.0)
        got = res.metrics.iloc[i]
        for name in METRICS:
            want = ref[name]
            if want is None:
                assert math.isnan(got[name]), (combo, name)
            else:
                assert got[name] == pytest.approx(want, rel=1e-9, abs=1e-12), (combo, name)
    assert (res.metrics["n_trades"] > 0).all() and res.metrics["n_trades"].dtype == np.int64


def test_a_combinations_metrics_do_not_depend_on_its_chunk(bars):
    common = dict(key=1, decide_start=0, start=70, stop=len(bars), strategy="sma_crossover", fixed={},
                  symbols=("NASDAQ",), initial_cash=1e5, fees_bps=10.0, slippage_bps=0.0, fill="close")
    whole = evaluate_task(GridTask(chunk=0, combos=COMBOS, **common), bars).metrics
    parts = pd.concat([evaluate_task(GridTask(chunk=i, combos=COMBOS.iloc[i : i + 2], **common), bars).metrics
                       for i in range(0, len(COMBOS), 2)])
    pd.testing.assert_frame_equal(whole, parts, check_exact=True)
