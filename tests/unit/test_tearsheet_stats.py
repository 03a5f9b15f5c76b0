"""The tearsheet statistics against independent references, on real runs and on hand-checked series.

* empyrical-reloaded (test-only) on the real runs: alpha, beta, information ratio,
  tail ratio, capture (all / up / down), rolling Sharpe / volatility / beta, max
  drawdown, yearly and monthly returns, per-cell annual return / volatility / Sharpe /
  max drawdown. Where empyrical's convention differs the test says so and converts:
  its ``excess_sharpe`` is the information ratio per bar (ours is annualised).
* quantstats (test-only): skew and excess kurtosis, correlation-free greeks (its alpha
  is the daily alpha times 252, not compounded), rolling Sharpe, drawdown episodes
  (its ``start`` is the first bar under water, ours the peak bar before it; its
  ``end`` the last bar under water, ours the recovery bar after it).
* Drawdown episodes, flat periods and MAE / MFE by hand on a short series, and MAE /
  MFE on the real backtest by a plain loop over the trades.

The real runs: the default params (SMA crossover on the bundled NASDAQ sample,
benchmark buy and hold NASDAQ) and the same strategy on two real ETFs (SPY, TLT,
2008-2016, from ``../shared/data``; benchmark SPY), both through ``toolkit.run_backtest``.
"""

from __future__ import annotations

import html.parser
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit
from toolkit.backtest import metrics as M
from toolkit.backtest.benchmark_stats import (
    ROLLING_WINDOWS,
    aligned_returns,
    alpha_beta,
    capture_ratios,
    correlation,
    information_ratio,
    rolling_stats,
    tracking_error,
)
from toolkit.backtest.distribution import return_distribution, return_distributions, tail_ratio
from toolkit.backtest.drawdowns import (
    DRAWDOWN_COLUMNS,
    drawdown_periods,
    longest_flat_period,
    underwater,
    worst_drawdowns,
)
from toolkit.backtest.exposure import (
    contribution_to_return,
    cumulative_contribution,
    daily_contribution,
    exposure_over_time,
    holdings_weights,
    symbol_pnl,
)
from toolkit.backtest.period_returns import best_worst, monthly_return_series, yearly_returns, yearly_returns_table
from toolkit.backtest.regime_stats import REGIME_COLUMNS, regime_cell_stats
from toolkit.backtest.round_trips import ROUND_TRIP_COLUMNS, round_trip_table
from toolkit.backtest.tearsheet_stats import BENCHMARK_RELATIVE_KEYS, STANDALONE_KEYS, tearsheet_metrics
from toolkit.errors import InvalidInput
from toolkit.report.glossary import GLOSSARY, glossary_anchor, glossary_entry, glossary_html
from toolkit.report.metric_format import METRIC_FORMATS

empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded is a test dependency (make setup)")

ROOT = Path(__file__).resolve().parents[2]
ETF_FILE = "daily/lean-tests/etf_closes_2008_2016.csv"
RTOL = 1e-9


@pytest.fixture(scope="module")
def default_run():
    """The default params: SMA 20/100 on the bundled NASDAQ sample, 2000-2018; benchmark buy and hold NASDAQ."""
    return toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/sma_crossover.yaml"))


@pytest.fixture(scope="module")
def etf_run(shared_data):
    """SMA 10/50 on two real ETFs (SPY, TLT 2008-2016), benchmark buy and hold SPY."""
    overrides = {"data.source": "csv", "data.path": str(shared_data / ETF_FILE), "data.symbols": ["SPY", "TLT"],
                 "data.start": None, "data.end": None, "strategy_params.fast": 10, "strategy_params.slow": 50,
                 "benchmark": "SPY", "fees_bps": 10}
    return toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/sma_crossover.yaml", overrides))


@pytest.fixture(params=["default", "etf"])
def run(request):
    return request.getfixturevalue(f"{request.param}_run")


def _pair(run):
    res = run.result
    pair = aligned_returns(res.equity, run.benchmark_equity, res.initial_cash)
    return pair["strategy"], pair["benchmark"]


# --------------------------------------------------------------------------- against empyrical, real runs


@pytest.mark.parametrize("rf_annual", [0.0, 0.03])
def test_relative_statistics_equal_empyrical(run, rf_annual):
    r, b = _pair(run)
    assert len(r) == len(run.result.equity) > 2000  # the benchmark covers every bar
    rf = (1 + rf_annual) ** (1 / 252) - 1
    alpha, beta = alpha_beta(r, b, risk_free_rate=rf_annual)
    ref_alpha, ref_beta = empyrical.alpha_beta(r, b, risk_free=rf)
    assert alpha == pytest.approx(ref_alpha, rel=RTOL)
    assert beta == pytest.approx(ref_beta, rel=RTOL)
    # empyrical's excess_sharpe is the per-bar information ratio; ours is annualised.
    assert information_ratio(r, b) == pytest.approx(empyrical.excess_sharpe(r, b) * math.sqrt(252), rel=RTOL)
    assert tail_ratio(r) == pytest.approx(empyrical.tail_ratio(r), rel=RTOL)
    caps = capture_ratios(r, b)
    assert caps["capture"] == pytest.approx(empyrical.capture(r, b), rel=RTOL)
    assert caps["up_capture"] == pytest.approx(empyrical.up_capture(r, b), rel=RTOL)
    assert caps["down_capture"] == pytest.approx(empyrical.down_capture(r, b), rel=RTOL)
    # Up capture / down capture: Morningstar's and pyfolio's "capture ratio" (issue 13 review, finding 9).
    assert caps["up_down_capture"] == pytest.approx(empyrical.up_down_capture(r, b), rel=RTOL)
    assert caps["up_down_capture"] != pytest.approx(caps["capture"], rel=1e-3)  # a different figure, not a relabel
    assert correlation(r, b) == pytest.approx(float(np.corrcoef(r, b)[0, 1]), rel=RTOL)
    assert tracking_error(r, b) == pytest.approx(empyrical.annual_volatility(r - b), rel=RTOL)
    # The one-call dict says the same.
    m = tearsheet_metrics(run.result.equity, run.result.initial_cash, benchmark_equity=run.benchmark_equity,
                          risk_free_rate=rf_annual)
    assert m["alpha"] == pytest.approx(ref_alpha, rel=RTOL) and m["beta"] == pytest.approx(ref_beta, rel=RTOL)
    assert m["up_capture"] == pytest.approx(empyrical.up_capture(r, b), rel=RTOL)
    assert m["up_down_capture"] == pytest.approx(empyrical.up_down_capture(r, b), rel=RTOL)


@pytest.mark.parametrize("label", sorted(ROLLING_WINDOWS))
def test_rolling_statistics_equal_empyrical(run, label):
    window = ROLLING_WINDOWS[label]
    r, b = _pair(run)
    rf_annual = 0.02
    rf = (1 + rf_annual) ** (1 / 252) - 1
    got = rolling_stats(r, b, window=window, risk_free_rate=rf_annual)
    assert got.iloc[: window - 1].isna().all().all()
    full = got.iloc[window - 1:]
    # A window spent wholly in cash has no spread: its Sharpe is undefined (NaN), for empyrical too.
    assert full[["volatility", "beta"]].notna().all().all() and full["sharpe"].notna().mean() > 0.9
    # empyrical labels each window by its last bar too, and drops the incomplete ones.
    refs = {
        "sharpe": empyrical.roll_sharpe_ratio(r, window, risk_free=rf),
        "volatility": empyrical.roll_annual_volatility(r, window),
        "beta": empyrical.roll_beta(r, b, window),
    }
    for col, ref in refs.items():
        assert list(ref.index) == list(full.index), col
        ours, theirs = full[col].to_numpy(), ref.to_numpy(dtype=float)
        # empyrical divides by the zero spread (-inf); we call that Sharpe undefined (NaN).
        undefined = np.isnan(ours)
        assert not np.isfinite(theirs[undefined]).any(), col
        np.testing.assert_allclose(ours[~undefined], theirs[~undefined], rtol=RTOL, err_msg=col)


def test_period_returns_and_drawdown_equal_empyrical(run):
    res = run.result
    eq, cash = res.equity, res.initial_cash
    r = M.daily_returns(eq, cash)
    ref_year = empyrical.aggregate_returns(r, "yearly")
    got_year = yearly_returns(eq, cash)
    assert list(got_year.index) == list(ref_year.index)
    np.testing.assert_allclose(got_year.to_numpy(), ref_year.to_numpy(), rtol=RTOL)
    ref_month = empyrical.aggregate_returns(r, "monthly")
    got_month = monthly_return_series(eq, cash)
    assert [(p.year, p.month) for p in got_month.index] == list(ref_month.index)
    np.testing.assert_allclose(got_month.to_numpy(), ref_month.to_numpy(), rtol=RTOL)
    table = yearly_returns_table(eq, run.benchmark_equity, cash)
    bench_year = empyrical.aggregate_returns(_pair(run)[1], "yearly")
    np.testing.assert_allclose(table["benchmark"].to_numpy(), bench_year.to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(table["difference"], table["strategy"] - table["benchmark"], rtol=0, atol=0)
    bw = best_worst(eq, cash)
    assert (bw.best_day, bw.worst_day) == (r.max(), r.min())
    assert (bw.best_month, bw.worst_month) == (ref_month.max(), ref_month.min())
    assert bw.best_year == pytest.approx(ref_year.max(), rel=RTOL)
    assert bw.worst_year_when == ref_year.idxmin() and bw.best_day_when == r.idxmax()
    worst = worst_drawdowns(eq, cash)
    assert worst["depth"].iloc[0] == pytest.approx(empyrical.max_drawdown(r), rel=RTOL)


def test_regime_cell_statistics_equal_empyrical_on_each_cell(run):
    """Cells: the benchmark above / below its 200-bar average at the previous close (a real, aligned label)."""
    res = run.result
    r = M.daily_returns(res.equity, res.initial_cash)
    bench = run.benchmark_equity
    above = (bench > bench.rolling(200).mean()).map({True: "up", False: "down"})
    cells = above.where(bench.rolling(200).mean().notna()).shift(1)
    got = regime_cell_stats(r, cells, risk_free_rate=0.02)
    assert list(got.columns) == list(REGIME_COLUMNS) and list(got.index) == ["down", "up"]
    assert got["days"].sum() == cells.notna().sum() and got["days"].sum() < len(r)
    rf = (1 + 0.02) ** (1 / 252) - 1
    for cell, row in got.iterrows():
        sub = r[cells == cell]
        assert row["days"] == len(sub) and row["share"] == pytest.approx(len(sub) / len(r), rel=1e-15)
        assert row["annual_return"] == pytest.approx(empyrical.annual_return(sub), rel=RTOL), cell
        assert row["volatility"] == pytest.approx(empyrical.annual_volatility(sub), rel=RTOL), cell
        assert row["sharpe"] == pytest.approx(empyrical.sharpe_ratio(sub, risk_free=rf), rel=RTOL), cell
        assert row["max_drawdown"] == pytest.approx(empyrical.max_drawdown(sub), rel=RTOL), cell


# --------------------------------------------------------------------------- against quantstats, real runs


def _qs():
    qs = pytest.importorskip("quantstats", reason="quantstats is a test dependency (make setup)")
    warnings.filterwarnings("ignore", module="quantstats")
    return qs


def _naive(s: pd.Series) -> pd.Series:
    return pd.Series(s.to_numpy(), index=s.index.tz_convert(None))


def test_distribution_greeks_and_rolling_sharpe_equal_quantstats(run):
    qs = _qs()
    r, b = (_naive(x) for x in _pair(run))
    d = return_distribution(r)
    assert d.skew == pytest.approx(qs.stats.skew(r, prepare_returns=False), rel=1e-9)
    assert d.excess_kurtosis == pytest.approx(qs.stats.kurtosis(r, prepare_returns=False), rel=1e-9)
    assert d.std == pytest.approx(float(r.std()), rel=1e-12) and d.n == len(r)
    greeks = qs.stats.greeks(r, b, periods=252, prepare_returns=False)
    alpha, beta = alpha_beta(r, b)
    assert beta == pytest.approx(greeks["beta"], rel=1e-9)
    # quantstats annualises the daily alpha by x 252; ours compounds it like empyrical.
    assert alpha == pytest.approx((1 + greeks["alpha"] / 252) ** 252 - 1, rel=1e-9)
    # quantstats' information ratio is per bar; quantstats' rolling Sharpe runs on pandas' running sums.
    assert information_ratio(r, b) == pytest.approx(
        qs.stats.information_ratio(r, b, prepare_returns=False) * math.sqrt(252), rel=1e-9)
    ours = rolling_stats(r, b, window=126)["sharpe"]
    theirs = qs.stats.rolling_sharpe(r, rolling_period=126, periods_per_year=252, prepare_returns=False)
    np.testing.assert_allclose(ours.iloc[125:], theirs.iloc[125:], rtol=1e-7)
    assert tail_ratio(r) == pytest.approx(qs.stats.tail_ratio(r, prepare_returns=False), rel=1e-9)


def test_drawdown_episodes_equal_quantstats(run):
    qs = _qs()
    res = run.result
    eq, cash = res.equity, res.initial_cash
    r = _naive(M.daily_returns(eq, cash))
    theirs = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r))
    theirs = theirs.sort_values("max drawdown", kind="stable").head(5).reset_index(drop=True)
    ours = worst_drawdowns(eq, cash, n=5)
    days = pd.DatetimeIndex(r.index)
    np.testing.assert_allclose(ours["depth"].to_numpy() * 100, theirs["max drawdown"].to_numpy(), rtol=1e-9)
    for (_, o), (_, t) in zip(ours.iterrows(), theirs.iterrows(), strict=True):
        start = days.get_loc(o["start"].tz_convert(None))
        assert str(days[start + 1].date()) == t["start"]  # their start: the first bar under water
        assert o["trough"].tz_convert(None).strftime("%Y-%m-%d") == t["valley"]
        if pd.notna(o["recovery"]):  # their end: the last bar under water
            assert str(days[days.get_loc(o["recovery"].tz_convert(None)) - 1].date()) == t["end"]


# --------------------------------------------------------------------------- drawdowns and flat periods


def _days(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2021-01-04", periods=n, tz="UTC", name="timestamp")  # Monday 4 January


def test_drawdown_episodes_by_hand():
    idx = _days(10)  # Mon 4 .. Fri 8, Mon 11 .. Fri 15
    eq = pd.Series([100, 110, 99, 105, 110, 120, 108, 96, 120, 115], index=idx, dtype=float)
    periods = drawdown_periods(eq, 100.0)
    assert list(periods.columns) == list(DRAWDOWN_COLUMNS)
    t = pd.Timestamp
    expect = [
        (t("2021-01-05", tz="UTC"), t("2021-01-06", tz="UTC"), t("2021-01-08", tz="UTC"), 99 / 110 - 1, 3.0, 2.0),
        (t("2021-01-11", tz="UTC"), t("2021-01-13", tz="UTC"), t("2021-01-14", tz="UTC"), 96 / 120 - 1, 3.0, 1.0),
        (t("2021-01-14", tz="UTC"), t("2021-01-15", tz="UTC"), pd.NaT, 115 / 120 - 1, 1.0, np.nan),
    ]
    got = [tuple(row) for row in periods.itertuples(index=False)]
    for g, e in zip(got, expect, strict=True):
        assert g[:3] == e[:3] or (g[:2] == e[:2] and pd.isna(g[2]) and pd.isna(e[2]))
        np.testing.assert_allclose(g[3:], e[3:], rtol=1e-15)
    worst = worst_drawdowns(eq, 100.0, n=2)
    assert list(worst.index) == [1, 2] and list(worst["depth"]) == [96 / 120 - 1, 99 / 110 - 1]
    assert worst_drawdowns(eq, 100.0, n=50).shape[0] == 3
    # The headline metrics are the table's extremes.
    assert periods["depth"].min() == M.max_drawdown(eq, 100.0)
    assert periods["length_days"].max() == M.max_drawdown_duration_days(eq, 100.0)
    np.testing.assert_allclose(underwater(eq, 100.0).to_numpy(),
                               [0, 0, 99 / 110 - 1, 105 / 110 - 1, 0, 0, -0.1, -0.2, 0, 115 / 120 - 1], rtol=1e-15)
    # No new high from Tuesday 5 (110) to Monday 11 (120): 6 days, although under water for only 3.
    flat = longest_flat_period(eq, 100.0)
    assert (flat.start, flat.end, flat.days, flat.bars, flat.ongoing) == (idx[1], idx[5], 6.0, 4, False)


def test_drawdowns_from_the_initial_cash_and_an_ongoing_flat_period():
    idx = _days(5)
    eq = pd.Series([95, 97, 96, 99, 98], index=idx, dtype=float)  # never back to 100
    (only,) = drawdown_periods(eq, 100.0).itertuples(index=False)
    assert only.start == idx[0] and only.trough == idx[0] and pd.isna(only.recovery)
    assert only.depth == pytest.approx(-0.05) and only.length_days == 4.0 and math.isnan(only.recovery_days)
    flat = longest_flat_period(eq, 100.0)
    assert (flat.start, flat.end, flat.days, flat.ongoing) == (idx[0], idx[-1], 4.0, True)
    rising = pd.Series([101, 102, 103], index=_days(3), dtype=float)
    assert drawdown_periods(rising, 100.0).empty and worst_drawdowns(rising, 100.0).empty
    assert longest_flat_period(rising, 100.0).days == 1.0


def test_drawdown_tables_agree_with_the_headline_metrics_on_real_runs(run):
    res = run.result
    eq, cash = res.equity, res.initial_cash
    periods = drawdown_periods(eq, cash)
    assert periods["depth"].min() == run.metrics["max_drawdown"]
    assert periods["length_days"].max() == run.metrics["max_drawdown_duration_days"]
    assert periods["recovery"].iloc[:-1].notna().all()  # only the last episode may be open
    done = periods.dropna(subset=["recovery"])
    assert (periods["start"] <= periods["trough"]).all() and (done["trough"] < done["recovery"]).all()
    # A plain loop over the bars finds the same episodes.
    peak, start, low, rows = cash, None, None, []
    for i, (ts, x) in enumerate(eq.items()):
        if x < peak:
            if start is None:
                start, low = (eq.index[i - 1] if i else ts), (ts, x / peak - 1)
            elif x / peak - 1 < low[1]:
                low = (ts, x / peak - 1)
        else:
            if start is not None:
                rows.append((start, low[0], ts, low[1]))
                start = None
            peak = x
    if start is not None:
        rows.append((start, low[0], pd.NaT, low[1]))
    assert len(rows) == len(periods)
    assert [r[:2] for r in rows] == list(zip(periods["start"], periods["trough"], strict=True))
    np.testing.assert_allclose([r[3] for r in rows], periods["depth"], rtol=1e-12)
    flat = longest_flat_period(eq, cash)
    assert flat.days >= run.metrics["max_drawdown_duration_days"]


# --------------------------------------------------------------------------- round trips, MAE / MFE


def test_mae_mfe_by_hand():
    idx = _days(8)
    close = pd.DataFrame({"AAA": [10, 7, 9, 8, 11, 12, 10, 13]}, index=idx, dtype=float)
    trades = pd.DataFrame({
        "symbol": ["AAA", "AAA"], "entry_time": [idx[1], idx[5]], "exit_time": [idx[6], pd.NaT],
        "size": [1.0, 1.0], "entry_price": [10.0, 12.0], "exit_price": [10.5, np.nan], "fees": [0.0, 0.0],
        "pnl": [0.5, 1.0], "return": [0.05, 1 / 12], "status": ["closed", "open"], "partial_exits": [0, 0],
    })
    at_close = round_trip_table(trades, close, fill="close")
    assert list(at_close.columns) == list(ROUND_TRIP_COLUMNS)
    # Closed: held over the closes 9, 8, 11, 12 and sold at 10.5 (the entry bar's close 7 is the fill itself).
    assert at_close.loc[0, ["mae", "mfe"]].tolist() == pytest.approx([-0.2, 0.2], rel=1e-15)
    assert (at_close.loc[0, "holding_days"], at_close.loc[0, "holding_bars"]) == (7.0, 5)
    # Open: closes 10, 13 and the last close 13, against 12.
    assert at_close.loc[1, ["mae", "mfe"]].tolist() == pytest.approx([10 / 12 - 1, 13 / 12 - 1], rel=1e-15)
    assert (at_close.loc[1, "holding_days"], at_close.loc[1, "holding_bars"]) == (2.0, 2)
    # Filled at the open, the entry bar's close (7) was lived through.
    at_open = round_trip_table(trades, close, fill="next_open")
    assert at_open.loc[0, "mae"] == pytest.approx(-0.3, rel=1e-15) and at_open.loc[0, "mfe"] == pytest.approx(0.2)
    with pytest.raises(InvalidInput, match="fill: got 'midday'; allowed: close, next_open"):
        round_trip_table(trades, close, fill="midday")  # type: ignore[arg-type]


def test_mae_mfe_on_the_real_backtests_by_a_plain_loop(run):
    res = run.result
    close = run.dataset.panel.xs("close", axis=1, level=1)
    got = round_trip_table(res.trades, close, fill="close")
    assert len(got) == len(res.trades) >= 10
    pd.testing.assert_frame_equal(got[["symbol", "entry_time", "pnl", "status"]],
                                  res.trades[["symbol", "entry_time", "pnl", "status"]])
    for i, t in res.trades.iterrows():
        px = close[t["symbol"]].ffill()
        if t["status"] == "open":
            held = [p for ts, p in px.items() if ts > t["entry_time"]]
            end = px.iloc[-1]
            end_ts = px.index[-1]
        else:
            held = [p for ts, p in px.items() if t["entry_time"] < ts < t["exit_time"]]
            end, end_ts = t["exit_price"], t["exit_time"]
        moves = [p / t["entry_price"] - 1 for p in [*held, end]]
        assert got.loc[i, "mae"] == pytest.approx(min(0.0, min(moves)), rel=1e-12, abs=1e-15)
        assert got.loc[i, "mfe"] == pytest.approx(max(0.0, max(moves)), rel=1e-12, abs=1e-15)
        assert got.loc[i, "holding_days"] == (end_ts - t["entry_time"]).days
        assert got.loc[i, "holding_bars"] == len(held) + (0 if t["status"] == "open" else 1)
        # A closed round trip's exit is one point of its path.
        if t["status"] == "closed":
            assert got.loc[i, "mae"] <= t["exit_price"] / t["entry_price"] - 1 <= got.loc[i, "mfe"]


# --------------------------------------------------------------------------- exposure and contribution


def test_exposure_and_contribution_add_up_on_a_real_portfolio(etf_run):
    res = etf_run.result
    eq, cash = res.equity, res.initial_cash
    ex = exposure_over_time(res.holdings_value, eq)
    np.testing.assert_allclose(ex["gross"], res.gross_exposure, rtol=1e-12)
    np.testing.assert_allclose(ex["net"], ex["long"] + ex["short"], rtol=1e-12)
    assert (ex["short"] == 0).all()  # long only
    np.testing.assert_allclose(ex["cash"], res.cash / eq, rtol=1e-9, atol=1e-12)  # cash + holdings = equity
    assert (ex["gross"] > 0).mean() == pytest.approx(etf_run.metrics["exposure"], abs=1e-12)
    assert ex["gross"].mean() == pytest.approx(etf_run.metrics["avg_gross_exposure"], rel=1e-12)
    w = holdings_weights(res.holdings_value, eq)  # the engine's two-level columns, read per symbol
    assert list(w.columns) == ["SPY", "TLT"] and (w.max() > 0.2).all()  # both were held
    pnl = symbol_pnl(res.holdings_value, res.orders)
    change = eq.diff()
    change.iloc[0] = eq.iloc[0] - cash
    np.testing.assert_allclose(pnl.sum(axis=1), change, rtol=0, atol=1e-6)
    total = contribution_to_return(pnl, cash)
    assert total["contribution"].sum() == pytest.approx(etf_run.metrics["total_return"], rel=1e-9)
    np.testing.assert_allclose(cumulative_contribution(pnl, cash).sum(axis=1), eq / cash - 1, rtol=0, atol=1e-9)
    np.testing.assert_allclose(daily_contribution(pnl, eq, cash).sum(axis=1), M.daily_returns(eq, cash),
                               rtol=0, atol=1e-12)
    # Per symbol, the closed round trips' P&L is what the symbol made while flat at the end.
    for sym in ("SPY", "TLT"):
        trips = res.trades[res.trades["symbol"] == sym]
        assert total.loc[sym, "pnl"] == pytest.approx(trips["pnl"].sum(), rel=1e-9)


# --------------------------------------------------------------------------- the one-call dict, distributions


def test_tearsheet_metrics_are_json_safe_and_match_their_parts(default_run):
    res = default_run.result
    m = tearsheet_metrics(res.equity, res.initial_cash, benchmark_equity=default_run.benchmark_equity)
    assert set(m) == set(STANDALONE_KEYS) | set(BENCHMARK_RELATIVE_KEYS)
    assert all(v is None or math.isfinite(v) for v in m.values())
    alone = tearsheet_metrics(res.equity, res.initial_cash)
    assert set(alone) == set(STANDALONE_KEYS) and all(alone[k] == m[k] for k in STANDALONE_KEYS)
    assert m["longest_flat_days"] == longest_flat_period(res.equity, res.initial_cash).days
    # The benchmark against itself: beta 1, alpha 0, correlation 1.
    bench = default_run.benchmark_equity
    own = tearsheet_metrics(bench, res.initial_cash, benchmark_equity=bench)
    assert own["beta"] == pytest.approx(1.0, rel=1e-12) and own["alpha"] == pytest.approx(0.0, abs=1e-12)
    assert own["correlation"] == pytest.approx(1.0, rel=1e-12) and own["information_ratio"] is None
    dists = return_distributions(res.equity, res.initial_cash)
    assert dists["daily"].n == len(res.equity) and dists["monthly"].n == len(monthly_return_series(
        res.equity, res.initial_cash))
    # The overlay integrates to 1 over a wide grid.
    d = dists["monthly"]
    x = np.linspace(d.mean - 10 * d.std, d.mean + 10 * d.std, 20001)
    assert np.trapezoid(d.normal_pdf(x), x) == pytest.approx(1.0, rel=1e-9)


def test_bad_input_is_named():
    idx = _days(5)
    r = pd.Series(0.01, index=idx)
    with pytest.raises(InvalidInput, match="window: got 1; allowed: a whole number of bars >= 2"):
        rolling_stats(r, r, window=1)
    with pytest.raises(InvalidInput, match="n: got 0; allowed"):
        worst_drawdowns(r + 1, 1.0, n=0)
    with pytest.raises(InvalidInput, match="cells: got"):
        regime_cell_stats(r, pd.Series("a", index=_days(4)))
    with pytest.raises(InvalidInput, match="benchmark: got '4 returns for 5'; allowed: one per strategy return"):
        alpha_beta(r, r.iloc[:4])


# --------------------------------------------------------------------------- glossary


def test_glossary_covers_every_reported_figure():
    for key, fmt in METRIC_FORMATS.items():  # metrics.json
        assert (GLOSSARY[key].name, GLOSSARY[key].kind) == (fmt.label, fmt.kind), key
    for key in (*STANDALONE_KEYS, *BENCHMARK_RELATIVE_KEYS, "psr", "dsr", "pbo"):
        assert key in GLOSSARY, key
    tables = {"drawdown": DRAWDOWN_COLUMNS, "regime": REGIME_COLUMNS, "rolling": ("sharpe", "volatility", "beta"),
              "exposure": ("long", "short", "gross", "net", "cash"),
              "trade": ("pnl", "return", "holding_days", "holding_bars", "mae", "mfe")}
    for table, columns in tables.items():
        for col in columns:
            assert f"{table}.{col}" in GLOSSARY, f"{table}.{col}"
    for e in GLOSSARY.values():
        assert e.name and e.definition.endswith(".") and e.formula, e.key
    with pytest.raises(KeyError, match="glossary: got 'nope'"):
        glossary_entry("nope")


class _Collect(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.ids += [v for k, v in attrs if k == "id" and v]
        if tag not in ("br", "meta"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"


def test_glossary_renders_as_one_self_contained_section():
    text = glossary_html()
    parser = _Collect()
    parser.feed(text)
    assert parser.stack == [] and parser.tags[0] == "section"
    anchors = [glossary_anchor(k) for k in GLOSSARY]
    assert parser.ids == ["metric-glossary", *anchors] and len(set(anchors)) == len(anchors)
    assert "script" not in parser.tags and "http" not in text and "src=" not in text
    assert glossary_anchor("trade.mae") == "metric-trade-mae"
    some = glossary_html(["sharpe", "trade.mae"], title="Definitions")
    assert some.count("<tr id=") == 2 and "Definitions" in some and "Sortino" not in some
