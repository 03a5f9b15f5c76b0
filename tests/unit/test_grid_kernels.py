"""The fused grid kernels give the vectorbt path's metrics (relative 1e-9, counts exact).

The reference is ``evaluate_task(task, bars, engine="vectorbt")``: vectorbt's
``Portfolio.from_orders`` then ``portfolio_metrics``. The kernel path is
``engine="fused"``. Cases run on real data: the bundled NASDAQ sample, and panels of
several symbols read in place from ``../shared/data`` (one symbol listed years after
the others, and holes punched into another on random days, so the gap rules of both
the decisions and the order masks are exercised), both fills, non-zero fees and
slippage, a risk-free rate, warm-up rows before trading starts, daily returns kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit import params as tkparams
from toolkit.data import load_sample, panel
from toolkit.data.dataset import load_dataset
from toolkit.optimize.evaluate import METRICS, GridTask, evaluate_task
from toolkit.optimize.kernels import KERNELS, kernel_module
from toolkit.optimize.kernels.floats import row_mean, row_std
from toolkit.optimize.kernels.simulate import METRIC_NAMES

COUNTS = ("n_trades", "n_partial_exits")
#: Computed after the kernel with the vectorbt path's own numpy expression: bit for bit equal.
EXACT = ("cagr", "calmar", "final_equity", "max_drawdown", "total_return")


def _combos(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    fast = rng.integers(2, 40, n)
    combos = pd.DataFrame({"fast": fast, "slow": fast + rng.integers(1, 120, n)})
    combos.index = pd.RangeIndex(n, name="combination")
    return combos


def _task(combos, symbols, *, decide_start, start, stop, fill, fees_bps, slippage_bps, rf=0.0, keep_returns=True):
    return GridTask(
        key=0, chunk=0, decide_start=decide_start, start=start, stop=stop, combos=combos, strategy="sma_crossover",
        fixed={}, symbols=tuple(symbols), initial_cash=100_000.0, fees_bps=fees_bps, slippage_bps=slippage_bps,
        fill=fill, risk_free_rate=rf, keep_returns=keep_returns,
    )


def _assert_same(task: GridTask, bars: pd.DataFrame) -> pd.DataFrame:
    ref = evaluate_task(task, bars, engine="vectorbt")
    got = evaluate_task(task, bars, engine="fused")
    assert list(got.metrics.columns) == list(METRICS)
    assert got.metrics.index.equals(ref.metrics.index)
    for name in METRICS:
        a, b = ref.metrics[name].to_numpy(), got.metrics[name].to_numpy()
        if name in COUNTS:
            assert got.metrics[name].dtype == np.int64
            np.testing.assert_array_equal(b, a, err_msg=name)
        elif name in EXACT:
            np.testing.assert_array_equal(b, a, err_msg=name)
        else:
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=0, err_msg=name)  # NaN where the reference has NaN
    assert ref.returns is not None and got.returns is not None
    np.testing.assert_allclose(got.returns, ref.returns, rtol=1e-9, atol=1e-15)
    return ref.metrics


@pytest.fixture(scope="module")
def nasdaq() -> pd.DataFrame:
    return panel(load_sample(["NASDAQ"], prices="adjusted"))


@pytest.fixture(scope="module")
def qstrader(shared_data: Path) -> pd.DataFrame:
    """SPY, AAPL, AGG 2000-2016 with real opens; AGG starts in 2003, AAPL lacks 40 random days."""
    p = tkparams.validate("backtest", {"data": {"source": "csv", "path": str(shared_data / "daily" / "qstrader"),
                                                "symbols": ["SPY", "AAPL", "AGG"]}})
    bars = load_dataset(p.data, base_dir=Path.cwd()).panel.copy()
    rng = np.random.default_rng(7)
    holes = rng.choice(np.arange(100, len(bars)), 40, replace=False)
    for field in bars["AAPL"].columns:
        bars.iloc[holes, bars.columns.get_loc(("AAPL", field))] = np.nan
    return bars


@pytest.fixture(scope="module")
def crypto(shared_data: Path) -> pd.DataFrame:
    """Five coins, 2019-2022, every calendar day; SOL is listed in August 2020."""
    path = shared_data / "daily" / "alphasim" / "crypto_closes_2019_2022.csv"
    with pytest.warns(UserWarning, match="no prices"):  # two empty columns of the file, not ours
        p = tkparams.validate("backtest", {"data": {"source": "csv", "path": str(path),
                                                    "symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "LINKUSDT"]}})
        return load_dataset(p.data, base_dir=Path.cwd()).panel


def test_kernel_metric_columns_are_the_grid_metrics():
    assert METRIC_NAMES == METRICS
    assert all(kernel_module(name) is not None for name in KERNELS)
    assert kernel_module("hierarchical_adaptive_v3_5b") is None


@pytest.mark.parametrize(
    "fill, fees_bps, slippage_bps, rf, decide_start, start",
    [("close", 10.0, 5.0, 0.0, 0, 130), ("next_open", 7.5, 3.0, 0.02, 200, 400), ("close", 0.0, 0.0, 0.03, 0, 0)],
)
def test_nasdaq_sample(nasdaq, fill, fees_bps, slippage_bps, rf, decide_start, start):
    task = _task(_combos(11 + start, 24), ["NASDAQ"], decide_start=decide_start, start=start, stop=len(nasdaq),
                 fill=fill, fees_bps=fees_bps, slippage_bps=slippage_bps, rf=rf)
    metrics = _assert_same(task, nasdaq)
    assert (metrics["n_trades"] > 0).all() and (metrics["n_partial_exits"] == 0).all()


@pytest.mark.parametrize("fill", ["close", "next_open"])
def test_three_symbols_with_a_late_listing_and_holes(qstrader, fill):
    task = _task(_combos(3, 20), ["SPY", "AAPL", "AGG"], decide_start=0, start=150, stop=len(qstrader), fill=fill,
                 fees_bps=10.0, slippage_bps=5.0, rf=0.01)
    metrics = _assert_same(task, qstrader)
    # 1/N retargeting trims the positions still held when another symbol flips
    assert (metrics["n_partial_exits"] > 0).all()


def test_five_coins_every_day(crypto):
    task = _task(_combos(5, 16), ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "LINKUSDT"], decide_start=100,
                 start=300, stop=len(crypto) - 10, fill="next_open", fees_bps=20.0, slippage_bps=10.0)
    _assert_same(task, crypto)


def test_a_combinations_metrics_do_not_depend_on_its_chunk(qstrader):
    combos = _combos(9, 12)
    common = dict(decide_start=0, start=150, stop=len(qstrader), fill="close", fees_bps=10.0, slippage_bps=5.0)
    syms = ["SPY", "AAPL", "AGG"]
    whole = evaluate_task(_task(combos, syms, **common), qstrader, engine="fused")
    parts = [evaluate_task(_task(combos.iloc[i : i + 5], syms, **common), qstrader, engine="fused")
             for i in range(0, len(combos), 5)]
    pd.testing.assert_frame_equal(pd.concat([p.metrics for p in parts]), whole.metrics, check_exact=True)
    np.testing.assert_array_equal(np.concatenate([p.returns for p in parts]), whole.returns)


def test_auto_uses_the_kernel_and_returns_are_dropped_unless_kept(nasdaq):
    task = _task(_combos(1, 4), ["NASDAQ"], decide_start=0, start=120, stop=900, fill="close", fees_bps=1.0,
                 slippage_bps=1.0, keep_returns=False)
    auto = evaluate_task(task, nasdaq)
    assert auto.returns is None
    pd.testing.assert_frame_equal(auto.metrics, evaluate_task(task, nasdaq, engine="fused").metrics)


def test_bad_engine_is_refused(nasdaq):
    task = _task(_combos(1, 2), ["NASDAQ"], decide_start=0, start=120, stop=900, fill="close", fees_bps=1.0,
                 slippage_bps=1.0)
    with pytest.raises(ValueError, match="engine: got 'numpy'"):
        evaluate_task(task, nasdaq, engine="numpy")


@pytest.mark.parametrize("n", [1, 7, 8, 9, 127, 128, 129, 1000, 5031, 8193])
def test_row_reductions_are_numpys_bit_for_bit(n):
    x = np.random.default_rng(n).normal(0.0004, 0.012, n)
    assert row_mean(x, n) == np.mean(x)
    if n > 1:
        assert row_std(x, n, 1, np.empty(n)) == np.std(x, ddof=1)
