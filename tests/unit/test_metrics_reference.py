"""Metrics against independent references on real runs.

* the shared return metrics (Sharpe, Sortino, CAGR, volatility, max drawdown, Calmar,
  total return) against empyrical-reloaded (a test-only dependency);
* the trade statistics against flat-to-flat round trips rebuilt here from the run's
  fills (so the expectation follows whatever the engine's order sizing does);
* turnover as documented: one-way (a buy and hold of a year turns over 0.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit
from toolkit.backtest import metrics as M
from toolkit.backtest.engine import run_backtest
from toolkit.optimize.evaluate import GridTask, constraint_mask, evaluate_task

empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded is a test dependency (make setup)")

ROOT = Path(__file__).resolve().parents[2]

#: Real multi-symbol runs from ../shared/data: (file, symbols, extra overrides).
REAL_RUNS = {
    "vti_tlt_gld": ("daily/alphasim/vti_tlt_gld_closes_2004_2012.csv", ["VTI", "TLT", "GLD"], {}),
    "spy_aapl_agg_whole_shares": ("daily/qstrader", ["SPY", "AAPL", "AGG"], {"whole_shares": True}),
}


def _real_run(shared_data: Path, name: str, fast: int = 10, slow: int = 50):
    path, symbols, extra = REAL_RUNS[name]
    overrides = {
        "data.source": "csv", "data.path": str(shared_data / path), "data.symbols": symbols,
        "data.start": None, "data.end": None, "strategy_params.fast": fast, "strategy_params.slow": slow,
        "fees_bps": 10, **extra,
    }
    return toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/sma_crossover.yaml", overrides))


# --------------------------------------------------------------------------- empyrical


def _assert_equal_to_empyrical(metrics: dict, equity: pd.Series, initial_cash: float, rf_annual: float) -> None:
    r = M.daily_returns(equity, initial_cash)
    rf = (1 + rf_annual) ** (1 / 252) - 1
    ref = {
        "total_return": empyrical.cum_returns_final(r),
        "cagr": empyrical.annual_return(r),
        "volatility": empyrical.annual_volatility(r),
        "sharpe": empyrical.sharpe_ratio(r, risk_free=rf),
        "sortino": empyrical.sortino_ratio(r, required_return=rf),
        "max_drawdown": empyrical.max_drawdown(r),
        "calmar": empyrical.calmar_ratio(r),
    }
    for name, want in ref.items():
        assert metrics[name] == pytest.approx(float(want), rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("rf", [0.0, 0.03])
def test_return_metrics_equal_empyrical_on_the_default_backtest(rf):
    report = toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/sma_crossover.yaml"))
    res = report.result
    _assert_equal_to_empyrical(M.compute_metrics(res, risk_free_rate=rf), res.equity, res.initial_cash, rf)


@pytest.mark.parametrize("name", sorted(REAL_RUNS))
def test_return_metrics_equal_empyrical_on_real_multi_symbol_runs(shared_data, name):
    res = _real_run(shared_data, name).result
    _assert_equal_to_empyrical(M.compute_metrics(res, risk_free_rate=0.02), res.equity, res.initial_cash, 0.02)


def test_max_drawdown_counts_a_loss_on_the_first_bar():
    """The initial cash is the first peak: a fall below it on bar 0 is a drawdown (empyrical's convention)."""
    idx = pd.bdate_range("2021-01-04", periods=5, tz="UTC")
    eq = pd.Series([90.0, 95.0, 92.0, 96.0, 99.0], index=idx)
    m = M.return_metrics(eq, 100.0)
    r = M.daily_returns(eq, 100.0)
    assert m["max_drawdown"] == pytest.approx(-0.10) == pytest.approx(empyrical.max_drawdown(r))
    assert m["calmar"] == pytest.approx(empyrical.calmar_ratio(r))
    assert m["max_drawdown_duration_days"] == (idx[-1] - idx[0]).days  # never back to 100
    # The grid fast path agrees.
    from toolkit.optimize.evaluate import metrics_from_arrays

    fast, _ = metrics_from_arrays(
        eq.to_numpy()[None, :], initial_cash=100.0, timestamps_ns=idx.as_unit("ns").asi8,
        positions=np.ones((1, 5)), holdings_value=np.ones((1, 5)), traded_value=np.zeros(1),
        trades={k: np.zeros(1) for k in ("n_trades", "n_closed", "n_wins", "gross_profit", "gross_loss",
                                         "n_partial_exits")},
    )
    for name in ("max_drawdown", "max_drawdown_duration_days", "calmar"):
        assert fast[name][0] == pytest.approx(m[name], rel=1e-12), name


# --------------------------------------------------------------------------- round trips


def _flat_to_flat(orders: pd.DataFrame, last_close: pd.Series) -> pd.DataFrame:
    """Round trips rebuilt from the fills alone: per symbol, from flat back to flat.

    pnl is what the round trip's sells brought in minus what its buys cost minus all
    its fees; a round trip still open is valued at the symbol's last close. A sell
    that leaves shares held is a partial exit of its round trip.
    """
    rows = []
    for sym, fills in orders.groupby("symbol", sort=True):
        held = bought = cash = 0.0
        partial = 0
        entry = None
        for f in fills.sort_values("timestamp", kind="stable").itertuples():
            if entry is None:
                entry, held, bought, cash, partial = f.timestamp, 0.0, 0.0, 0.0, 0
            sign = 1.0 if f.side == "buy" else -1.0
            held += sign * f.size
            bought += f.size if f.side == "buy" else 0.0
            cash -= sign * f.size * f.price + f.fees
            if held <= 1e-9 * bought:  # back to flat
                rows.append((sym, entry, f.timestamp, bought, cash, "closed", partial))
                entry = None
            elif f.side == "sell":
                partial += 1
        if entry is not None:
            rows.append((sym, entry, pd.NaT, bought, cash + held * last_close[sym], "open", partial))
    cols = ["symbol", "entry_time", "exit_time", "size", "pnl", "status", "partial_exits"]
    return pd.DataFrame(rows, columns=cols).sort_values(["entry_time", "symbol"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("name", sorted(REAL_RUNS))
def test_trade_statistics_are_flat_to_flat_round_trips(shared_data, name):
    report = _real_run(shared_data, name)
    res, m = report.result, report.metrics
    last_close = report.dataset.panel.xs("close", axis=1, level=1).ffill().iloc[-1]
    ref = _flat_to_flat(res.orders, last_close)
    closed = ref[ref["status"] == "closed"]
    # The run rebalances (each signal change retargets every symbol), so trims exist:
    # the case where counting every exit as a trade went wrong.
    assert ref["partial_exits"].sum() > 0 and len(closed) >= 20
    assert m["n_trades"] == len(ref)
    assert m["n_partial_exits"] == ref["partial_exits"].sum()
    assert m["n_partial_exits"] + len(closed) == (res.orders["side"] == "sell").sum()
    assert m["win_rate"] == pytest.approx((closed["pnl"] > 0).mean(), abs=1e-12)
    gross_loss = -closed["pnl"][closed["pnl"] < 0].sum()
    assert m["profit_factor"] == pytest.approx(closed["pnl"][closed["pnl"] > 0].sum() / gross_loss, rel=1e-9)
    # Trade by trade, the trades table is the same list of round trips.
    t = res.trades
    assert list(t["symbol"]) == list(ref["symbol"]) and list(t["status"]) == list(ref["status"])
    for col in ("entry_time", "exit_time"):
        pd.testing.assert_series_equal(t[col], ref[col], check_dtype=False, check_index=False)
    np.testing.assert_allclose(t["pnl"], ref["pnl"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(t["size"], ref["size"], rtol=1e-12)
    np.testing.assert_array_equal(t["partial_exits"], ref["partial_exits"])


def test_grid_fast_path_counts_round_trips_on_real_multi_symbol_data(shared_data):
    """The walk-forward's vectorised metrics give the same round-trip statistics as the fills."""
    report = _real_run(shared_data, "vti_tlt_gld")
    bars = report.dataset.panel
    combos = pd.DataFrame({"fast": [10, 20], "slow": [50, 100]}, index=pd.RangeIndex(2, name="combination"))
    task = GridTask(key=1, chunk=0, decide_start=0, start=0, stop=len(bars), combos=combos, strategy="sma_crossover",
                    fixed={}, symbols=("VTI", "TLT", "GLD"), initial_cash=100_000.0, fees_bps=10.0, slippage_bps=0.0,
                    fill="close")
    got = evaluate_task(task, bars).metrics.loc[0]
    last_close = bars.xs("close", axis=1, level=1).ffill().iloc[-1]
    ref = _flat_to_flat(report.result.orders, last_close)
    closed = ref[ref["status"] == "closed"]
    assert got["n_trades"] == len(ref) and got["n_partial_exits"] == ref["partial_exits"].sum()
    assert got["win_rate"] == pytest.approx((closed["pnl"] > 0).mean(), abs=1e-12)
    # Turnover one way, from the fills: half of what was bought and sold, over mean equity, per year.
    eq = report.result.equity
    one_way = report.result.orders["value"].abs().sum() / 2 / eq.mean() / (len(eq) / 252)
    assert got["turnover"] == pytest.approx(one_way, rel=1e-9) == report.metrics["turnover"]
    # ... and that is the figure the walk-forward constraint max_turnover compares.
    frame = evaluate_task(task, bars).metrics
    as_arrays = {k: frame[k].to_numpy() for k in frame.columns}
    assert constraint_mask(as_arrays, {"max_turnover": one_way * 1.001})[0]
    assert not constraint_mask(as_arrays, {"max_turnover": one_way * 0.999})[0]


# --------------------------------------------------------------------------- turnover


def _flat_bars(n: int, symbols=("AAA", "BBB")) -> pd.DataFrame:
    idx = pd.bdate_range("2021-01-04", periods=n, tz="UTC", name="timestamp")
    cols = {}
    for s in symbols:
        cols.update({(s, f): 10.0 for f in ("open", "high", "low", "close")})
        cols[(s, "volume")] = 1e6
    return pd.DataFrame(cols, index=idx)


def test_turnover_is_one_way():
    bars = _flat_bars(252)
    hold = pd.DataFrame(np.nan, index=bars.index, columns=["AAA", "BBB"])
    hold.iloc[0] = [1.0, 0.0]
    res = run_backtest(bars, hold, initial_cash=1000.0)
    assert M.compute_metrics(res)["turnover"] == pytest.approx(0.5, rel=1e-12)  # bought once: half a turn
    switch = hold.copy()
    switch.iloc[126] = [0.0, 1.0]  # sell all of AAA, buy BBB: one full turn more
    res = run_backtest(bars, switch, initial_cash=1000.0)
    assert M.compute_metrics(res)["turnover"] == pytest.approx(1.5, rel=1e-12)
