"""Live path == backtest path, bar by bar, on the bundled real sample.

For every strategy of this module the bar-by-bar ``decide_each`` must give the same
weights and rebalance flags as the vectorised ``decisions`` (exactly, not within a
tolerance), and no decision may change when later bars are cut off.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.strategies.allocator import MultiStrategy
from toolkit.strategies.atr_momentum import AtrMomentum
from toolkit.strategies.ema_breakout import EmaBreakout
from toolkit.strategies.mean_reversion import MeanReversion

SYMBOLS = ["NASDAQ", "SP500"]
LATE = 250  # SP500 starts this many bars late, to exercise NaN-before-first-bar


def _arch_sample(name: str) -> pd.DataFrame:
    """What ``arch.data.<name>.load()`` returns, read from the same bundled file.

    Importing ``arch`` compiles its numba code (about 10 s per process); locating the
    package with ``find_spec`` does not execute it.
    """
    spec = importlib.util.find_spec("arch")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the arch package (bundled sample data) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / name / f"{name}.csv.gz"
    return pd.read_csv(path, index_col="Date", parse_dates=["Date"])


def sample_panel() -> pd.DataFrame:
    """NASDAQ Composite and S&P 500 daily bars (1999-2018) from ``arch`` as a
    ``(symbol, field)`` panel with a UTC index; SP500 made to start late."""
    frames = {}
    for sym, name in (("NASDAQ", "nasdaq"), ("SP500", "sp500")):
        df = _arch_sample(name)[["Open", "High", "Low", "Close", "Volume"]].astype(float)
        df.columns = [c.lower() for c in df.columns]
        df.index = pd.DatetimeIndex(df.index).tz_localize("UTC").rename("timestamp")
        frames[sym] = df
    panel = pd.concat(frames, axis=1)
    panel.loc[panel.index[:LATE], "SP500"] = np.nan
    return panel


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return sample_panel()


CASES = {
    "ema_breakout": (EmaBreakout, {}),
    "ema_breakout_exits": (EmaBreakout, {"trailing_atr_k": 3.0, "stop_loss": 0.05, "take_profit": 0.25}),
    "mean_reversion": (MeanReversion, {}),
    "mean_reversion_exits": (MeanReversion, {"stop_loss": 0.04, "trailing_atr_k": 2.0}),
    "atr_momentum": (AtrMomentum, {}),
    "atr_momentum_exits": (AtrMomentum, {"lookback": 63, "trailing_atr_k": 2.5, "take_profit": 0.15}),
}
#: The exit variants are checked on a window (decide_each costs a millisecond a bar).
WINDOW = {"ema_breakout_exits": 2500, "mean_reversion_exits": 2500, "atr_momentum_exits": 2500}


def assert_same(a, b) -> None:
    assert list(a.weights.columns) == list(b.weights.columns)
    np.testing.assert_array_equal(a.weights.to_numpy(), b.weights.to_numpy())
    np.testing.assert_array_equal(a.rebalance.to_numpy(), b.rebalance.to_numpy())


@pytest.mark.parametrize("case", list(CASES))
def test_decide_each_equals_decisions(bars, case):
    cls, params = CASES[case]
    data = bars.iloc[: WINDOW.get(case, len(bars))]
    strat = cls(params, symbols=SYMBOLS)
    vec = strat.decisions(data)
    live = strat.decide_each(data)
    assert_same(vec, live)
    # The context a trader sees agrees too.
    pd.testing.assert_frame_equal(vec.context, live.context[vec.context.columns], check_dtype=False)
    # The sample really exercises the strategy: it trades, and both symbols are used.
    assert vec.rebalance.sum() > 5
    assert (vec.weights > 0).any().all()
    assert np.isclose(vec.weights.sum(axis=1), 0).any()


def test_exit_variants_record_their_reasons(bars):
    def reasons(params):
        ctx = EmaBreakout(params, symbols=SYMBOLS).decisions(bars).context
        return set(ctx["exit_reason_NASDAQ"]) | set(ctx["exit_reason_SP500"])

    assert reasons({}) == {"", "signal"}
    assert {"trailing_stop", "stop_loss", "take_profit"} <= reasons(CASES["ema_breakout_exits"][1])


@pytest.mark.parametrize("case", list(CASES))
def test_truncation_changes_no_earlier_decision(bars, case):
    cls, params = CASES[case]
    full = cls(params, symbols=SYMBOLS).decisions(bars)
    rng = np.random.default_rng(20240607)
    for cut in sorted(rng.integers(1, len(bars), size=6)):
        part = cls(params, symbols=SYMBOLS).decisions(bars.iloc[:cut])
        np.testing.assert_array_equal(part.weights.to_numpy(), full.weights.to_numpy()[:cut])
        np.testing.assert_array_equal(part.rebalance.to_numpy(), full.rebalance.to_numpy()[:cut])
        # A fresh instance deciding on the cut history lands on the same last row.
        d = cls(params, symbols=SYMBOLS).decide(bars.iloc[:cut])
        assert list(d.target_weights.values()) == full.weights.iloc[cut - 1].tolist()
        assert d.rebalance == bool(full.rebalance.iloc[cut - 1])


@pytest.mark.parametrize("case", ["ema_breakout_exits", "mean_reversion", "atr_momentum_exits"])
def test_cached_decide_rebuilds_when_history_is_not_an_extension(bars, case):
    cls, params = CASES[case]
    data = bars.iloc[:1800]
    strat = cls(params, symbols=SYMBOLS)
    strat.decide(data.iloc[:1500])
    strat.decide(data.iloc[:1600])  # an extension: resumes from the cache
    # A shorter history, then a rewritten one: both must match a fresh instance.
    for history in (data.iloc[:1400], _rewrite(data.iloc[:1700], row=1000)):
        got = strat.decide(history)
        fresh = cls(params, symbols=SYMBOLS).decide(history)
        assert got.target_weights == fresh.target_weights and got.rebalance == fresh.rebalance
    # Asking twice for the same bar returns the same decision.
    assert strat.decide(data).target_weights == strat.decide(data).target_weights


def _rewrite(history: pd.DataFrame, row: int) -> pd.DataFrame:
    """A history whose earlier bars changed (a data vendor's correction)."""
    out = history.copy()
    out.iloc[row:, :] = out.iloc[row:, :] * 1.03
    return out


MULTI = {
    "strategies": [
        {"name": "ema_breakout", "params": {"fast": 10, "slow": 30}},
        {"name": "mean_reversion", "params": {"stop_loss": 0.05}},
        {"name": "atr_momentum", "params": {"lookback": 40, "rebalance_every": 10}},
    ],
    "vol_window": 30,
    "cap": 0.45,
    "rebalance_every": 15,
}


@pytest.mark.parametrize("method", ["equal", "inverse_vol", "rank"])
def test_multi_strategy_parity_and_truncation(bars, method):
    data = bars.iloc[:700]
    params = {**MULTI, "method": method}
    strat = MultiStrategy(params, symbols=SYMBOLS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vec = strat.decisions(data)
        assert_same(vec, strat.decide_each(data))
        for cut in (300, 551):
            part = MultiStrategy(params, symbols=SYMBOLS).decisions(data.iloc[:cut])
            np.testing.assert_array_equal(part.weights.to_numpy(), vec.weights.to_numpy()[:cut])
    shares = vec.context[[f"share_{k}" for k in strat.labels]]
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert (shares.to_numpy() <= 0.45 + 1e-12).all()
    varies = not np.allclose(shares.to_numpy(), 1 / 3)
    assert varies == (method != "equal")  # trailing statistics move the shares


def test_multi_strategy_with_a_named_role_strategy_and_sma(bars):
    """Sub-strategies from the registry, including another helper's sma_crossover."""
    data = bars.iloc[:400]
    params = {"strategies": [{"name": "sma_crossover", "params": {"fast": 5, "slow": 20}},
                             {"name": "ema_breakout", "label": "breakout"}],
              "method": "inverse_vol", "vol_window": 20}
    strat = MultiStrategy(params, symbols=SYMBOLS)
    assert strat.labels == ["sma_crossover", "breakout"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(strat.decisions(data), strat.decide_each(data))
