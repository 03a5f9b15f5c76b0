"""Replay equals backtest on real multi-symbol portfolios over thousands of sessions.

Both paths size orders by the one rule of :mod:`toolkit.model.sizing` (the
translator for the replay, :mod:`toolkit.backtest.lots` for the backtest), so every
fill (date, symbol, side, quantity) must be the same and equity must agree to
floating-point noise (the ledger keeps 6 decimal places, vectorbt float64). Before
the shared rule, 3 ETFs in whole shares over 2008-2016 differed on 392 fills.

Cases: 10 ETFs in whole shares; 5 ETFs in lots of 0.001 (a crypto-like step) with a
fixed fee per order; VTI, TLT, GLD in whole shares with a minimum order size. The
SMA crossover gives every symbol 1/N while its fast SMA is above the slow one and
retargets all symbols on every flip, so partial sells, simultaneous buys and cash
short by the fees all occur many times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine.replay import replay
from toolkit.ledger import open_ledger
from toolkit.report.parity import compare_with_backtest

ETF = "daily/lean-tests/etf_closes_2008_2016.csv"
VTG = "daily/alphasim/vti_tlt_gld_closes_2004_2012.csv"

CASES = {
    "10 ETFs, whole shares": dict(path=ETF, symbols=["SPY", "TLT", "EEM", "IEF", "XLK", "XLE", "LQD", "EFA",
                                                    "XLF", "XLU"], start="2008-01-02", end="2016-07-01"),
    "5 ETFs, lots of 0.001, fixed fee": dict(path=ETF, symbols=["DIA", "EWJ", "TIP", "XLB", "VGK"],
                                            start="2008-01-02", end="2016-07-01", step=0.001, fixed_fee=1.0),
    "VTI TLT GLD, whole shares, min order": dict(path=VTG, symbols=["VTI", "TLT", "GLD"], start="2004-11-22",
                                                 end="2012-10-31", min_order_fraction=0.005),
}


@pytest.mark.parametrize("case", list(CASES))
def test_replay_trades_every_fill_of_the_backtest(case: str, shared_data: Path, tmp_path: Path) -> None:
    c = CASES[case]
    raw = {
        "strategy": "sma_crossover",
        "strategy_params": {"fast": 10, "slow": 40},
        "data": {"source": "csv", "path": str(shared_data / c["path"]), "symbols": c["symbols"],
                 "start": c["start"], "end": c["end"]},
        "account": "multi-parity",
        "initial_cash": 100_000,
        "costs": {"fees_bps": 10, "slippage_bps": 5, "fixed_fee": c.get("fixed_fee", 0.0)},
        "guards": {"daily_loss_limit": None, "slippage_abort": None, "stale_bar_check": False,
                   "min_order_fraction": c.get("min_order_fraction", 0.0)},
        "check_consistency": False,
    }
    if "step" in c:
        raw["instruments"] = {s: {"step_size": c["step"]} for s in c["symbols"]}
    p = tkparams.validate("daily_dry_run", raw)
    ds = load_dataset(p.data, base_dir=Path.cwd())
    first = ds.panel.index[60].date()  # after the slow SMA's warm-up
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        rp = replay(p, start=first, end=ds.panel.index[-1].date(), ledger=ledger, data=ds)
    assert rp.problems == []
    assert rp.sessions >= 1900, "thousands of sessions"
    report = compare_with_backtest(p, rp, ds.panel)
    assert len(report.trades) >= 100, "enough fills to mean something"
    if "step" in c:
        assert (report.trades["replay_size"] % 1 != 0).any(), "the lot case must trade fractions"
    assert report.trades_equal, report.trades[
        (report.trades["replay_size"] != report.trades["backtest_size"])
        | (report.trades["replay_symbol"] != report.trades["backtest_symbol"])].head()
    assert report.max_equity_diff_bps < 0.01, report.equity["diff_bps"].idxmax()

