"""Metrics against an independent calculation on hand-made series."""

import math

import numpy as np
import pandas as pd
import pytest

from toolkit.backtest import metrics as M


def _equity(values, start="2021-01-04"):
    idx = pd.bdate_range(start, periods=len(values), tz="UTC", name="timestamp")
    return pd.Series(values, index=idx, dtype=float)


def test_return_metrics_against_plain_python():
    eq = _equity([101, 99, 102, 104, 100, 98, 103, 107, 105, 110])
    init = 100.0
    vals = [init] + list(eq)
    r = [vals[i] / vals[i - 1] - 1 for i in range(1, len(vals))]
    n = len(r)
    mean = sum(r) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1))
    down = math.sqrt(sum(min(x, 0) ** 2 for x in r) / n)
    peak, mdd = -1e9, 0.0
    for v in eq:
        peak = max(peak, v)
        mdd = min(mdd, v / peak - 1)
    cagr = (110 / 100) ** (252 / n) - 1
    m = M.return_metrics(eq, init)
    assert m["total_return"] == pytest.approx(0.10, abs=1e-12)
    assert m["cagr"] == pytest.approx(cagr, rel=1e-12)
    assert m["volatility"] == pytest.approx(sd * math.sqrt(252), rel=1e-12)
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(252), rel=1e-12)
    assert m["sortino"] == pytest.approx(mean * 252 / (down * math.sqrt(252)), rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(mdd, rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(98 / 104 - 1, rel=1e-12)
    assert m["calmar"] == pytest.approx(cagr / abs(mdd), rel=1e-12)


def test_risk_free_rate_lowers_sharpe():
    eq = _equity(np.linspace(101, 120, 50) + np.sin(np.arange(50)))
    m0 = M.return_metrics(eq, 100.0)
    m1 = M.return_metrics(eq, 100.0, risk_free_rate=0.05)
    rf = 1.05 ** (1 / 252) - 1
    r = M.daily_returns(eq, 100.0)
    assert m1["sharpe"] == pytest.approx((r - rf).mean() / (r - rf).std(ddof=1) * math.sqrt(252), rel=1e-12)
    assert m1["sharpe"] < m0["sharpe"]


def test_drawdown_duration_in_calendar_days():
    # Peak on day 2 (Jan 5), under water until recovered on day 6 (Jan 11): 6 calendar days.
    eq = _equity([100, 105, 101, 102, 103, 106, 104])
    assert M.max_drawdown_duration_days(eq) == 6.0
    # Not recovered by the end: counts to the last bar.
    eq2 = _equity([100, 105, 101, 102])
    assert M.max_drawdown_duration_days(eq2) == 2.0


def test_trade_metrics():
    trades = pd.DataFrame({"pnl": [10.0, -5.0, 20.0, -5.0, 3.0], "status": ["closed"] * 4 + ["open"]})
    m = M.trade_metrics(trades)
    assert m["win_rate"] == 0.5
    assert m["profit_factor"] == pytest.approx(30 / 10)
    assert m["n_trades"] == 5


def test_no_losses_gives_null_profit_factor_not_infinity():
    trades = pd.DataFrame({"pnl": [1.0, 2.0], "status": ["closed", "closed"]})
    assert M.trade_metrics(trades)["profit_factor"] is None


def test_flat_equity_has_null_ratios():
    m = M.return_metrics(_equity([100.0] * 10), 100.0)
    assert m["sharpe"] is None and m["sortino"] is None and m["calmar"] is None
    assert m["total_return"] == 0.0


def test_monthly_returns_compound():
    idx = pd.to_datetime(["2021-01-29", "2021-02-01", "2021-02-26", "2021-03-01"]).tz_localize("UTC")
    eq = pd.Series([110.0, 99.0, 108.9, 108.9], index=idx)
    t = M.monthly_returns(eq, 100.0)
    assert t.loc[2021, "Jan"] == pytest.approx(0.10)
    assert t.loc[2021, "Feb"] == pytest.approx(108.9 / 110 - 1)
    assert t.loc[2021, "Mar"] == pytest.approx(0.0)
