"""Replay parity: the daily path trades what the backtest trades.

Same strategy (SMA crossover 10/30 on the NASDAQ sample, two years so several
round trips happen), same parameters, same costs (10 bps fees, 5 bps slippage) and
whole shares. The replay walks ``run_session`` session by session (translator,
guards, ledger, simulated broker); the backtest runs vectorbt on the vectorised
decisions. They agree exactly on trades because both size orders by the one rule of
:mod:`toolkit.model.sizing` (whole shares, sells first, the largest buy absorbs the
fees and slippage); ``test_multi_symbol_parity`` checks the same on real portfolios
of several symbols.

Equity agrees within 1 basis point on every session (the ledger rounds amounts to
6 decimal places, vectorbt keeps float64).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine.replay import replay
from toolkit.ledger import open_ledger
from toolkit.strategies import registry

RAW = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 10, "slow": 30},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2016-01-01", "end": "2017-12-31"},
    "account": "parity",
    "initial_cash": 100000,
    "costs": {"fees_bps": 10, "slippage_bps": 5},
    "guards": {"daily_loss_limit": None, "slippage_abort": None},
}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    from toolkit.backtest.engine import run_backtest

    p = tkparams.validate("daily_dry_run", RAW)
    ds = load_dataset(p.data, base_dir=Path.cwd())
    strat = registry.create(p.strategy, p.strategy_params, symbols=p.data.symbols)
    bt = run_backtest(ds.panel, strat.decisions(ds.panel).order_weights(), initial_cash=100000,
                      fees_bps=10, slippage_bps=5, fill="close", whole_shares=True)
    url = f"sqlite:///{tmp_path_factory.mktemp('parity') / 'ledger.sqlite'}"
    with open_ledger(url) as ledger:
        rp = replay(p, start=dt.date(2016, 1, 1), end=dt.date(2017, 12, 31), ledger=ledger, data=ds)
    return bt, rp


def test_trades_equal(both) -> None:
    bt, rp = both
    assert rp.problems == []
    assert len(bt.orders) >= 6, "the window should hold several round trips"
    replay_trades = pd.DataFrame({
        "date": pd.to_datetime(rp.trades["at"]).dt.tz_convert("America/New_York").dt.date,
        "side": rp.trades["side"],
        "size": rp.trades["quantity"].astype(float),
        "price": rp.trades["price"].astype(float),
        "fees": rp.trades["fees"].astype(float),
    })
    bt_trades = pd.DataFrame({
        "date": [t.date() for t in bt.orders["timestamp"]],
        "side": bt.orders["side"],
        "size": bt.orders["size"].astype(float),
        "price": bt.orders["price"].astype(float),
        "fees": bt.orders["fees"].astype(float),
    })
    assert list(replay_trades["date"]) == list(bt_trades["date"])
    assert list(replay_trades["side"]) == list(bt_trades["side"])
    assert list(replay_trades["size"]) == list(bt_trades["size"])
    np.testing.assert_allclose(replay_trades["price"], bt_trades["price"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(replay_trades["fees"], bt_trades["fees"], rtol=1e-6, atol=1e-6)


def test_equity_within_one_basis_point(both) -> None:
    bt, rp = both
    eq = rp.equity
    ref = bt.equity.reindex(eq.index)
    assert ref.notna().all() and len(eq) == len(bt.equity)
    rel = (eq / ref - 1).abs()
    assert rel.max() < 1e-4, rel.idxmax()


def test_replay_from_mid_history_matches_backtest_report(tmp_path) -> None:
    """The parity section of ``toolkit replay``: warm-up bars before the window, first session trades."""
    from toolkit.report.parity import compare_with_backtest

    raw = {**RAW, "data": {**RAW["data"], "start": "2014-06-02"}, "account": "parity-mid"}
    p = tkparams.validate("daily_dry_run", raw)
    ds = load_dataset(p.data, base_dir=Path.cwd())
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        rp = replay(p, start=dt.date(2016, 3, 1), end=dt.date(2017, 6, 30), ledger=ledger, data=ds)
    report = compare_with_backtest(p, rp, ds.panel)
    assert report.trades_equal, report.trades
    assert len(report.trades) >= 4
    assert report.max_equity_diff_bps < 1.0
    assert "trades equal" in report.summary()
