"""Multi-strategy allocation: gross, caps with water-filling, inverse vol, rank, warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from toolkit.data import load_sample, panel
from toolkit.errors import ParamsError
from toolkit.strategies.allocator import (
    CorrelationWarning,
    MultiStrategy,
    allocate,
    allocate_detailed,
    strategy_returns,
    water_fill,
)

T = 40
# Most books here have perfectly correlated toy returns; the warning has its own tests.
pytestmark = pytest.mark.filterwarnings("ignore::toolkit.strategies.allocator.CorrelationWarning")
INDEX = pd.date_range("2020-01-01", periods=T, freq="B", tz="UTC")


def frame(weights: dict[str, float], index=INDEX) -> pd.DataFrame:
    return pd.DataFrame({k: np.full(len(index), v) for k, v in weights.items()}, index=index)


def alternating(vol: float, drift: float = 0.0) -> np.ndarray:
    """+vol, -vol, ...: population std over an even window is exactly ``vol``."""
    return drift + vol * np.where(np.arange(T) % 2 == 0, 1.0, -1.0)


BOOKS = {
    "calm": frame({"AAA": 1.0}),
    "mid": frame({"BBB": 0.5, "CCC": 0.5}),
    "wild": frame({"CCC": 1.0}),
}


def returns_with(vols: list[float], drifts: list[float] | None = None) -> pd.DataFrame:
    drifts = drifts or [0.0] * len(vols)
    return pd.DataFrame(
        {n: alternating(v, d) for n, v, d in zip(BOOKS, vols, drifts)}, index=INDEX
    )


@pytest.mark.parametrize("gross", [1.0, 0.6, 1.5])
@pytest.mark.parametrize("method", ["equal", "inverse_vol", "rank"])
def test_strategy_weights_sum_to_gross(method, gross):
    alloc = allocate_detailed(BOOKS, method=method, returns=returns_with([0.01, 0.02, 0.03]),
                              gross=gross, cap=0.5, vol_window=4)
    assert np.allclose(alloc.strategy_weights.sum(axis=1), gross)
    # Each book is fully invested, so instrument weights sum to gross too.
    assert np.allclose(alloc.weights.sum(axis=1), gross)
    assert list(alloc.weights.columns) == ["AAA", "BBB", "CCC"]


def test_equal_weights_combine_the_books():
    out = allocate(BOOKS, method="equal")
    third = 1 / 3
    assert out.iloc[0].tolist() == pytest.approx([third, 0.5 * third, 0.5 * third + third])


def test_inverse_vol_gives_calmer_strategies_more_and_caps_with_redistribution():
    # Vols 0.001, 0.01, 0.02 -> raw 1000:100:50 -> calm 0.87 is capped at 0.4 and the
    # remaining 0.6 is split 2:1 between mid and wild.
    alloc = allocate_detailed(BOOKS, method="inverse_vol", returns=returns_with([0.001, 0.01, 0.02]),
                              cap=0.4, vol_window=4)
    sw = alloc.strategy_weights
    assert sw.iloc[:4].to_numpy() == pytest.approx(np.full((4, 3), 1 / 3))  # no full window yet
    assert sw.iloc[-1].tolist() == pytest.approx([0.4, 0.4, 0.2])
    uncapped = allocate_detailed(BOOKS, method="inverse_vol", returns=returns_with([0.001, 0.01, 0.02]),
                                 cap=1.0, vol_window=4).strategy_weights.iloc[-1]
    assert uncapped.tolist() == pytest.approx(np.array([1000, 100, 50]) / 1150)
    assert uncapped["calm"] > uncapped["mid"] > uncapped["wild"]


def test_water_fill_repeats_until_nothing_exceeds_the_cap():
    raw = np.array([[0.5, 0.3, 0.15, 0.05], [0.25, 0.25, 0.25, 0.25]])
    out = water_fill(raw, 0.35)
    assert out[0].tolist() == pytest.approx([0.35, 0.35, 0.225, 0.075])
    assert out[1].tolist() == raw[1].tolist()  # untouched rows keep their exact values
    assert np.allclose(out.sum(axis=1), 1.0)


def test_when_every_strategy_is_capped_the_rest_stays_in_cash():
    books = {"a": frame({"X": 1.0}), "b": frame({"Y": 1.0})}
    alloc = allocate_detailed(books, method="equal", cap=0.4)
    assert alloc.strategy_weights.iloc[0].tolist() == [0.4, 0.4]
    assert alloc.weights.sum(axis=1).iloc[0] == pytest.approx(0.8)


def test_rank_method_weights_by_trailing_sharpe_rank():
    # Same vol, drifts give Sharpe wild > calm > mid: ranks 3, 1, 2 -> shares 2/6, 1/6, 3/6... capped.
    rets = returns_with([0.01, 0.01, 0.01], drifts=[0.001, -0.002, 0.004])
    sw = allocate_detailed(BOOKS, method="rank", returns=rets, cap=1.0, vol_window=4).strategy_weights
    assert sw.iloc[-1].tolist() == pytest.approx([2 / 6, 1 / 6, 3 / 6])
    capped = allocate_detailed(BOOKS, method="rank", returns=rets, cap=0.4, vol_window=4).strategy_weights
    assert capped.iloc[-1].tolist() == pytest.approx([0.6 * 2 / 3, 0.6 * 1 / 3, 0.4])


def test_rank_ties_share_the_average_rank():
    rets = returns_with([0.01, 0.01, 0.01])
    sw = allocate_detailed(BOOKS, method="rank", returns=rets, cap=1.0, vol_window=4).strategy_weights
    assert sw.iloc[-1].tolist() == pytest.approx([1 / 3] * 3)


def test_allocation_is_causal():
    rng = np.random.default_rng(5)
    rets = pd.DataFrame(rng.normal(0, 0.01, (T, 3)), index=INDEX, columns=list(BOOKS))
    base = allocate_detailed(BOOKS, method="inverse_vol", returns=rets, vol_window=5).strategy_weights
    cut = 20
    shocked = rets.copy()
    shocked.iloc[cut:] *= 10
    after = allocate_detailed(BOOKS, method="inverse_vol", returns=shocked, vol_window=5).strategy_weights
    # Row `cut` uses returns up to cut-1 only: unchanged; the next row reacts.
    pd.testing.assert_frame_equal(base.iloc[: cut + 1], after.iloc[: cut + 1])
    assert not np.allclose(base.iloc[cut + 1], after.iloc[cut + 1])


def test_correlation_warning_fires_above_threshold_naming_both():
    rng = np.random.default_rng(11)
    a = rng.normal(0, 0.01, T)
    rets = pd.DataFrame({"calm": a, "mid": a + rng.normal(0, 0.003, T), "wild": rng.normal(0, 0.01, T)},
                        index=INDEX)
    with pytest.warns(CorrelationWarning, match="'calm' and 'mid'"):
        out = allocate(BOOKS, method="inverse_vol", returns=rets)
    pairs = out.attrs["high_correlation"]
    assert [(x, y) for x, y, _ in pairs] == [("calm", "mid")]
    assert pairs[0][2] > 0.7


def test_no_correlation_warning_below_threshold():
    rng = np.random.default_rng(12)
    a, b = rng.normal(0, 0.01, (2, T))
    rho = 0.4
    rets = pd.DataFrame({"calm": a, "mid": rho * a + np.sqrt(1 - rho**2) * b, "wild": rng.normal(0, 0.01, T)},
                        index=INDEX)
    assert rets.corr().to_numpy()[np.triu_indices(3, 1)].max() < 0.7
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorrelationWarning)
        alloc = allocate_detailed(BOOKS, method="inverse_vol", returns=rets)
    assert alloc.high_correlation == []
    assert alloc.correlation.shape == (3, 3)


def test_frames_are_aligned_on_the_union_of_bars_and_instruments():
    late = frame({"BBB": 1.0}, index=INDEX[10:])
    early = frame({"AAA": 1.0}, index=INDEX.delete([12, 13]))
    out = allocate({"early": early, "late": late}, method="equal", cap=0.5)
    assert out.index.equals(INDEX)
    assert out["AAA"].tolist() == [0.5] * T  # carried over the bars it skipped
    assert out["BBB"].iloc[:10].tolist() == [0.0] * 10 and out["BBB"].iloc[10] == 0.5


def test_strategy_returns_hold_yesterdays_weights():
    idx = INDEX[:3]
    weights = {"s": pd.DataFrame({"A": [1.0, 0.5, 0.0], "B": [0.0, 0.5, 1.0]}, index=idx)}
    inst = pd.DataFrame({"A": [0.0, 0.02, 0.04], "B": [0.0, -0.01, 0.10]}, index=idx)
    r = strategy_returns(weights, inst)["s"]
    assert np.isnan(r.iloc[0])
    assert r.iloc[1:].tolist() == pytest.approx([0.02, 0.5 * 0.04 + 0.5 * 0.10])


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"method": "inverse_vol"}, "returns"),
        ({"method": "momentum"}, "method"),
        ({"cap": 0.0}, "cap"),
        ({"gross": -1.0}, "gross"),
        ({"vol_window": 1}, "vol_window"),
        ({"method": "rank", "returns": pd.DataFrame({"calm": [0.0]})}, "returns"),
    ],
)
def test_bad_options_name_the_field(kwargs, field):
    with pytest.raises(ParamsError) as err:
        allocate(BOOKS, **kwargs)
    assert err.value.field == field


def test_multi_strategy_params_are_validated():
    with pytest.raises(ParamsError) as err:
        MultiStrategy({"strategies": [{"name": "no_such_strategy"}]}, symbols=["A"])
    assert err.value.field == "strategy_params.strategies.0"
    assert "no_such_strategy" in str(err.value)
    with pytest.raises(ParamsError) as err:
        MultiStrategy({"strategies": [{"name": "ema_breakout", "params": {"fast": 60, "slow": 50}}]}, symbols=["A"])
    assert "params.slow" in str(err.value)
    with pytest.raises(ParamsError) as err:
        MultiStrategy({"strategies": [{"name": "ema_breakout", "label": "x"},
                                      {"name": "mean_reversion", "label": "x"}]}, symbols=["A"])
    assert "unique" in str(err.value)
    with pytest.raises(ParamsError) as err:
        MultiStrategy({"method": "magic"}, symbols=["A"])
    assert err.value.field == "strategy_params.method"


def test_multi_strategy_defaults_and_labels():
    strat = MultiStrategy({"strategies": [{"name": "ema_breakout"}, {"name": "ema_breakout", "params": {"fast": 5}}]},
                          symbols=["A", "B"])
    assert strat.labels == ["ema_breakout_0", "ema_breakout_1"]
    assert strat.instruments() == ["A", "B"]
    assert MultiStrategy(symbols=["A"]).labels == ["sma_crossover", "ema_breakout", "mean_reversion"]


_MULTI = {
    "strategies": [
        {"name": "ema_breakout", "params": {"fast": 10, "slow": 30}},
        {"name": "mean_reversion", "params": {"stop_loss": 0.05}},
        {"name": "atr_momentum", "params": {"lookback": 40, "rebalance_every": 10}},
    ],
    "vol_window": 30,
    "cap": 0.45,
    "rebalance_every": 15,
}


@pytest.fixture(scope="module")
def sample_bars() -> pd.DataFrame:
    """700 bars of the bundled NASDAQ and S&P 500 sample (parity is the contract test's job)."""
    return panel(load_sample(["NASDAQ", "SP500"])).iloc[:700]


@pytest.mark.parametrize("method", ["equal", "inverse_vol", "rank"])
def test_multi_strategy_shares_on_the_sample(sample_bars, method):
    strat = MultiStrategy({**_MULTI, "method": method}, symbols=["NASDAQ", "SP500"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vec = strat.decisions(sample_bars)
    shares = vec.context[[f"share_{k}" for k in strat.labels]]
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert (shares.to_numpy() <= 0.45 + 1e-12).all()
    varies = not np.allclose(shares.to_numpy(), 1 / 3)
    assert varies == (method != "equal")  # trailing statistics move the shares


def test_multi_strategy_labels_a_named_sub_strategy():
    params = {"strategies": [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20}},
                             {"name": "ema_breakout", "label": "breakout"}],
              "method": "inverse_vol", "vol_window": 20}
    assert MultiStrategy(params, symbols=["NASDAQ", "SP500"]).labels == ["sma_crossover", "breakout"]
