"""The backtest tearsheet's sections (toolkit/report/backtest_*.py) on real backtests of the bundled data.

Each table is parsed back from its HTML and compared, cell by cell, with the statistics
function behind it written by the formatting rules (percentages, whole counts, money
with separators, dates as dates, an em dash for nothing); each figure's data is
compared with the series it draws. Two real runs: the default params (SMA crossover on
the NASDAQ sample, 2000-2018) and v3.5b (a regime strategy with 34 parameters).
"""

from __future__ import annotations

import html.parser
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit
from toolkit.backtest.benchmark_stats import ROLLING_WINDOWS, aligned_returns, rolling_stats
from toolkit.backtest.distribution import return_distributions
from toolkit.backtest.drawdowns import underwater, worst_drawdowns
from toolkit.backtest.exposure import contribution_to_return, symbol_pnl
from toolkit.backtest.period_returns import yearly_returns_table
from toolkit.backtest.regime_stats import regime_cell_stats
from toolkit.backtest.round_trips import round_trip_table
from toolkit.backtest.tearsheet_stats import tearsheet_metrics
from toolkit.report import backtest_glossary, backtest_headline, backtest_positions, backtest_returns, backtest_risk
from toolkit.report.axis_ticks import LOG_AXIS_NTICKS
from toolkit.report.glossary import glossary_anchor
from toolkit.report.html_table import Column, MetricRow, format_cell, html_table, metric_rows_table
from toolkit.report.metric_format import MISSING, format_value
from toolkit.report.offline_html import strip_remote_scripts
from toolkit.report.plot_data import MAX_POINTS, chart_series, chart_x

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sma():
    return toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/sma_crossover.yaml"))


@pytest.fixture(scope="module")
def v35b():
    return toolkit.run_backtest(
        toolkit.load_params("backtest", ROOT / "params/backtest/hierarchical_adaptive_v3_5b.yaml"))


class _Tables(html.parser.HTMLParser):
    """Every <table> of a fragment as rows of cell texts, plus every href seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.hrefs: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self.hrefs.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(fragment: str) -> _Tables:
    p = _Tables()
    p.feed(fragment)
    return p


def body(fragment: str, n: int = 0) -> list[list[str]]:
    """Rows of the ``n``-th table without its header row."""
    return parse(fragment).tables[n][1:]


def no_blank_cells(fragment: str) -> None:
    for table in parse(fragment).tables:
        for row in table:
            assert all(cell not in ("", "None", "nan", "NaT") for cell in row), row


# --------------------------------------------------------------------------- formatting rules


def test_cells_are_written_by_kind() -> None:
    assert format_cell(0.123456, "percent") == "12.35%"
    assert format_cell(1234567.891, "money") == "1,234,567.89"
    assert format_cell(3484.0, "days") == "3,484"
    assert format_cell(32, "count") == "32"
    assert format_cell(0.2849, "ratio") == "0.28"
    assert format_cell(pd.Timestamp("2008-10-09", tz="UTC"), "date") == "2008-10-09"
    assert format_cell(pd.Timestamp("2024-05-01 15:45", tz="UTC"), "date") == "2024-05-01 15:45"
    assert format_cell(pd.Period("2008-10", "M"), "date") == "2008-10"
    for missing in (None, float("nan"), pd.NaT, float("inf")):
        assert format_cell(missing, "percent" if missing is not pd.NaT else "date") == MISSING
    assert format_cell("", "text") == MISSING and format_cell(None, "text") == MISSING


def test_long_table_shows_every_row_scrolls_and_links_its_csv() -> None:
    frame = pd.DataFrame({"x": np.arange(45) / 100})
    out = html_table(frame, [Column("x", "x", "percent", "trade.return")], scroll_rows=20, csv="trades.csv",
                     what="round trips")
    rows = body(out)
    assert [r[0] for r in rows] == [f"{i}.00%" for i in range(45)]  # none cut
    assert "45 round trips, all shown" in out and "max-height:" in out
    assert 'href="trades.csv"' in out and f'href="#{glossary_anchor("trade.return")}"' in out
    short = html_table(frame.head(5), [Column("x", "x", "percent")], scroll_rows=20)
    assert "max-height" not in short and "all shown" not in short


def test_metric_rows_without_any_value_are_left_out() -> None:
    rows = [MetricRow("Sharpe ratio", "ratio", (0.5, None), "sharpe"), MetricRow("Alpha", "percent", (None, None))]
    out = metric_rows_table(rows, ["strategy", "benchmark"])
    assert body(out) == [["Sharpe ratio", "0.50", MISSING]]
    with pytest.raises(ValueError, match="got 1 values; allowed: 2"):
        metric_rows_table([MetricRow("x", "ratio", (1.0,))], ["a", "b"])


# --------------------------------------------------------------------------- headline and appendix


def test_headline_gives_the_key_figures_beside_the_benchmark(sma) -> None:
    out = backtest_headline.headline_html(sma)
    rows = {r[0]: r[1:] for r in body(out)}
    bench_final = float(sma.benchmark_equity.iloc[-1])
    assert rows["Final equity"] == [format_value(sma.metrics["final_equity"], "money"),
                                    format_value(bench_final, "money")]
    assert "," in rows["Final equity"][0]  # thousands separators
    for key, label, kind in backtest_headline.HEADLINE_METRICS[1:]:
        assert rows[label] == [format_value(sma.metrics[key], kind), format_value(sma.benchmark_metrics[key], kind)]
    assert rows["CAGR"][0].endswith("%") and rows["Max drawdown"][1].startswith("-")
    assert "2000-01-03 to 2018-12-31 (4,779 bars)" in out and "sma_crossover" in out and "NASDAQ" in out
    assert all(h.startswith("#metric-") for h in parse(out).hrefs)


def test_params_table_shows_every_parameter_grouped_and_no_none_row(v35b) -> None:
    out = backtest_headline.params_html(v35b)
    groups = backtest_headline.params_groups(v35b)
    strategy = dict(zip(groups["strategy_params"]["parameter"], groups["strategy_params"]["value"], strict=True))
    assert len(strategy) == len(v35b.params.strategy_params) >= 30  # all of them, not "61 rows x 1 columns"
    assert strategy["measurement_noise"] == "3,000" and strategy["use_inverse_hedge"] == "false"
    assert out.count("<details") == len(groups) and "<details open><summary><b>strategy_params</b>" in out
    tables = parse(out).tables
    assert sum(len(t) - 1 for t in tables) == sum(len(g) for g in groups.values())
    no_blank_cells(out)
    assert MISSING not in out
    # Unset parameters are named once, not shown as rows.
    assert re.search(r"Not set \(their defaults apply\):.*<code>title</code>", out)
    assert "title" not in groups["run"]["parameter"].tolist()


def test_data_table_describes_each_symbol(v35b) -> None:
    rows = body(backtest_headline.data_html(v35b))
    assert [r[0] for r in rows] == list(v35b.dataset.frames)
    assert rows[0][1:4] == ["2000-01-03", "2018-12-31", "4,779"] and rows[0][-1] == "yes (proxy)"


# --------------------------------------------------------------------------- returns and drawdowns


def test_worst_drawdowns_table_equals_the_statistics(sma) -> None:
    expected = worst_drawdowns(sma.result.equity, sma.result.initial_cash, n=5)
    rows = body(backtest_returns.worst_drawdowns_html(sma))
    assert len(rows) == 5
    for row, (rank, dd) in zip(rows, expected.iterrows(), strict=True):
        assert row == [str(rank), format_cell(dd["start"], "date"), format_cell(dd["trough"], "date"),
                       format_cell(dd["recovery"], "date"), format_value(dd["depth"], "percent"),
                       format_value(dd["length_days"], "days"), format_value(dd["recovery_days"], "days")]
    assert rows[0][4] == format_value(sma.metrics["max_drawdown"], "percent")


def test_yearly_table_equals_the_statistics(sma) -> None:
    expected = yearly_returns_table(sma.result.equity, sma.benchmark_equity, sma.result.initial_cash)
    rows = body(backtest_returns.yearly_returns_html(sma))
    assert [int(r[0]) for r in rows] == list(range(2000, 2019))
    for row, (_, y) in zip(rows, expected.iterrows(), strict=True):
        assert row[1:] == [format_value(y[c], "percent") for c in ("strategy", "benchmark", "difference")]


def test_cumulative_figure_has_log_and_linear_panels_with_readable_ticks(sma) -> None:
    fig = backtest_returns.cumulative_returns_figure(sma)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type != "log"
    _assert_adaptive_log_axis(fig.layout.yaxis, "~s")
    strat, linear = fig.data[0], fig.data[1]
    weekly = chart_series(sma.result.equity, how="minmax")
    assert len(sma.result.equity) > MAX_POINTS and len(strat.x) == len(weekly) < len(sma.result.equity)
    assert list(strat.x) == chart_x(weekly.index) and strat.x[0] == "2000-01-03"
    np.testing.assert_allclose(np.asarray(strat.y, float), weekly.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(linear.y, float), weekly.to_numpy() / 100_000 - 1, rtol=1e-5, atol=1e-7)


def test_equity_traces_reach_the_true_trough_and_peak(v35b, sma) -> None:
    """The review of issue 13: weekly week-end points drew v3.5b's trough at 22,696, the table's is 22,382.

    The equity and cumulative-return traces keep each week's lowest and highest bar: the
    drawn minimum is the lowest equity, the cumulative trace's minimum the lowest return.
    """
    for run in (v35b, sma):
        fig = backtest_returns.cumulative_returns_figure(run)
        eq = run.result.equity.astype(float)
        assert len(eq) > MAX_POINTS and len(fig.data[0].x) < len(eq)  # still decimated: the page stays small
        drawn = np.asarray(fig.data[0].y, float)
        assert drawn.min() == pytest.approx(eq.min(), rel=1e-6) and drawn.max() == pytest.approx(eq.max(), rel=1e-6)
        assert fig.data[0].x[int(drawn.argmin())] == chart_x(pd.DatetimeIndex([eq.idxmin()]))[0]
        cum = np.asarray(fig.data[1].y, float)
        assert cum.min() == pytest.approx(eq.min() / run.result.initial_cash - 1, rel=1e-5, abs=1e-6)
        assert list(fig.data[0].x) == sorted(fig.data[0].x)  # in time order
        bench = run.benchmark_equity.dropna().astype(float)
        assert np.asarray(fig.data[2].y, float).min() == pytest.approx(bench.min(), rel=1e-6)


def test_underwater_figure_keeps_every_trough(sma) -> None:
    fig = backtest_returns.underwater_figure(sma)
    uw = underwater(sma.result.equity, sma.result.initial_cash)
    drawn = np.asarray(fig.data[0].y, float)
    assert drawn.min() == pytest.approx(float(uw.min()), rel=1e-6)  # weekly minimum, not a weekly sample
    assert drawn.min() == pytest.approx(sma.metrics["max_drawdown"], rel=1e-6)


def test_chart_series_is_untouched_when_short_and_weekly_when_long() -> None:
    idx = pd.bdate_range("2020-01-01", periods=30, tz="UTC")
    s = pd.Series(np.arange(30.0), index=idx)
    assert chart_series(s) is s
    weekly_min = chart_series(-s, how="min", max_points=10)
    weekly_last = chart_series(s, max_points=10)
    assert len(weekly_last) == 7 and weekly_last.index[-1] == idx[-1]
    assert weekly_min.iloc[-1] == -29.0 and weekly_last.iloc[0] == 2.0  # 2020-01-01 was a Wednesday


# --------------------------------------------------------------------------- metrics and the benchmark


def test_key_metrics_table_writes_every_metric_by_kind(sma) -> None:
    out = backtest_risk.key_metrics_html(sma)
    rows = {r[0]: r[1:] for r in body(out)}
    assert rows["Trades (round trips)"] == [str(sma.metrics["n_trades"]), MISSING]
    assert rows["Total return"][0] == format_value(sma.metrics["total_return"], "percent")
    assert rows["Max drawdown duration (days)"][0] == format_value(sma.metrics["max_drawdown_duration_days"], "days")
    assert len(rows) == len([k for k in sma.metrics if k != "benchmark"])
    no_blank_cells(out)


def test_relative_table_equals_tearsheet_metrics(sma) -> None:
    out = backtest_risk.benchmark_relative_html(sma)
    m = tearsheet_metrics(sma.result.equity, sma.result.initial_cash, benchmark_equity=sma.benchmark_equity)
    rows = {r[0]: r[1:] for r in body(out)}
    assert rows["Beta"] == [format_value(m["beta"], "ratio"), MISSING]
    assert rows["Alpha (annual)"][0] == format_value(m["alpha"], "percent")
    assert rows["Information ratio"][0] == format_value(m["information_ratio"], "ratio")
    assert rows["Tail ratio"][0] == format_value(m["tail_ratio"], "ratio")
    assert rows["Worst month"][0] == format_value(m["worst_month"], "percent")
    assert rows["Longest flat period (days)"][0] == format_value(m["longest_flat_days"], "days")
    assert len(rows) == len(backtest_risk.RELATIVE_ROWS)
    hrefs = parse(out).hrefs
    assert len(hrefs) == len(rows) and f"#{glossary_anchor('information_ratio')}" in hrefs
    bw = {r[0]: r[1:] for r in body(backtest_risk.best_worst_html(sma))}
    assert bw["month"] == ["11.24%", "2000-08", "-12.68%", "2000-09"] and bw["year"][1] == "2009"


def test_rolling_figure_draws_the_rolling_statistics(sma) -> None:
    fig = backtest_risk.rolling_figure(sma)
    assert len(fig.data) == 3 * len(ROLLING_WINDOWS)
    pair = aligned_returns(sma.result.equity, sma.benchmark_equity, sma.result.initial_cash)
    stats = rolling_stats(pair["strategy"], pair["benchmark"], window=ROLLING_WINDOWS["12m"])
    beta_12m = next(t for t in fig.data if t.name.startswith("12m") and t.yaxis == "y3")
    expected = chart_series(stats["beta"])
    np.testing.assert_allclose(np.asarray(beta_12m.y, float), expected.to_numpy(), rtol=1e-6)


def test_distribution_figure_counts_every_return_and_overlays_a_normal(sma) -> None:
    fig = backtest_risk.return_distribution_figure(sma)
    dists = return_distributions(sma.result.equity, sma.result.initial_cash)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [int(np.sum(b.y)) for b in bars] == [dists["daily"].n, dists["monthly"].n]
    assert sum(t.name == "normal" for t in fig.data) == 2
    assert format_cell(dists["daily"].skew, "ratio") in fig.layout.annotations[0].text


# --------------------------------------------------------------------------- holdings, trades, regime, decisions


def test_contribution_adds_up_to_the_total_return(v35b) -> None:
    out = backtest_positions.contribution_html(v35b)
    expected = contribution_to_return(symbol_pnl(v35b.result.holdings_value, v35b.result.orders),
                                      v35b.result.initial_cash)
    rows = body(out)
    assert [r[0] for r in rows] == list(expected.index)
    assert [r[2] for r in rows] == [format_value(v, "percent") for v in expected["contribution"]]
    assert math.isclose(expected["contribution"].sum(), v35b.metrics["total_return"], rel_tol=1e-9)
    assert format_value(v35b.metrics["total_return"], "percent") in out
    fig = backtest_positions.exposure_figure(v35b)
    assert [t.name for t in fig.data][:2] == ["gross", "net"]
    assert len(backtest_positions.holdings_figure(v35b).data) == len(expected)


def test_trade_list_shows_every_round_trip_with_mae_mfe_and_links_the_csv(v35b) -> None:
    out = backtest_positions.trades_html(v35b)
    expected = round_trip_table(v35b.result.trades, v35b.dataset.panel.xs("close", axis=1, level=1), fill="close")
    rows = body(out)
    assert len(rows) == len(v35b.result.trades) > 25  # none cut (the old report showed the last 25)
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    header = parse(out).tables[0][0]
    mae, mfe, pnl = header.index("MAE"), header.index("MFE"), header.index("P&L")
    for row, (_, t) in zip(rows, expected.iterrows(), strict=True):
        assert row[mae] == format_value(t["mae"], "percent") and row[mfe] == format_value(t["mfe"], "percent")
        assert row[pnl] == format_value(t["pnl"], "money")
    assert 'href="trades.csv"' in out and f"{len(rows)} round trips, all shown" in out
    assert 'href="trades.csv"' not in backtest_positions.trades_html(v35b, archived=False)


#: The v3.5b spec's 3x2 cell matrix (/work/shared/specs/hierarchical_adaptive_v3_5b.md, section 5): trend x vol.
SPEC_CELLS = {1: ("bull", "low", "Kill Zone"), 2: ("bull", "high", "Fragile"), 3: ("sideways", "low", "Drift"),
              4: ("sideways", "high", "Chop"), 5: ("bear", "low", "Grind"), 6: ("bear", "high", "Crash")}


def test_regime_cells_are_named_by_the_spec() -> None:
    from toolkit.strategies.hierarchical_adaptive_v3_5b import HierarchicalAdaptiveV35b

    assert dict(HierarchicalAdaptiveV35b.regime_cells) == {
        n: f"{n}: {trend} / {vol} vol ({name})" for n, (trend, vol, name) in SPEC_CELLS.items()}


def test_regime_table_equals_the_cell_statistics(v35b) -> None:
    out = backtest_positions.regime_cells_html(v35b)
    rows = body(out)
    cells = v35b.decisions.context["cell"].shift(1)
    expected = regime_cell_stats(v35b.result.returns, cells)
    # Each cell by its number, trend / volatility state and name (the audit found "1".."6" and no names).
    assert [r[0] for r in rows] == [f"{int(c)}: {SPEC_CELLS[int(c)][0]} / {SPEC_CELLS[int(c)][1]} vol "
                                    f"({SPEC_CELLS[int(c)][2]})" for c in expected.index]
    assert len(rows) == 6 and f'href="#{glossary_anchor("regime.cell")}"' in out
    for row, (_, e) in zip(rows, expected.iterrows(), strict=True):
        assert row[1:] == [format_value(e["days"], "count"), format_value(e["share"], "percent"),
                           format_value(e["annual_return"], "percent"), format_value(e["volatility"], "percent"),
                           format_value(e["sharpe"], "ratio"), format_value(e["max_drawdown"], "percent")]
    # The band colours decision bars, the table counts return bars (one bar later): the caption says so,
    # since a cell's count can differ by one between the two (the review found 185 vs 184 for cell 6).
    assert "return bars" in out and "decided on the bar before" in out


def test_decisions_table_says_it_is_the_tail(v35b) -> None:
    out = backtest_positions.decisions_html(v35b)
    assert len(body(out)) == 10 and "The last 10 of 4,779 bars" in out and 'href="decisions.csv"' in out
    no_blank_cells(out)


def test_decisions_table_writes_weights_in_percent_and_indicators_at_one_precision(v35b, sma) -> None:
    """The audit: weights read "0", t_norm "-0.106" beside "-0.1808", sma "7090" without a separator."""
    for run in (v35b, sma):
        table = parse(backtest_positions.decisions_html(run)).tables[0]
        header, rows = table[0], table[1:]
        columns = {name: [r[i] for r in rows] for i, name in enumerate(header)}
        tail = run.decisions_table().tail(10)
        weights = [c for c in header if c.startswith("weight ")]  # "weight NASDAQ", not "weight_NASDAQ"
        assert weights and not any("_" in c for c in header)
        for name in weights:
            assert columns[name] == [f"{x * 100:.2f}%".replace("-0.00%", "0.00%")
                                     for x in tail["weight_" + name.removeprefix("weight ")]]
        assert set(columns["rebalance"]) <= {"yes", "no"}
        for name, values in columns.items():
            if name.startswith(("SMA ", "t norm", "z score")):
                decimals = {len(v.split(".")[1]) if "." in v else 0 for v in values if v != MISSING}
                assert len(decimals) == 1, (name, values)
    sma_cols = parse(backtest_positions.decisions_html(sma)).tables[0]
    assert all(re.fullmatch(r"\d,\d{3}", v) for v in [r[3] for r in sma_cols[1:]])  # the NASDAQ's SMA: 7,090
    v35_header = parse(backtest_positions.decisions_html(v35b)).tables[0][0]
    assert [r[v35_header.index("cell")] for r in parse(backtest_positions.decisions_html(v35b)).tables[0][1:]] == [
        str(int(c)) for c in v35b.decisions_table().tail(10)["cell"]]


def test_every_glossary_link_of_the_sections_resolves(sma, v35b) -> None:
    fragments = [backtest_glossary.backtest_glossary_html()]
    for run in (sma, v35b):
        fragments += [backtest_headline.headline_html(run), backtest_returns.worst_drawdowns_html(run),
                      backtest_returns.yearly_returns_html(run), backtest_risk.key_metrics_html(run),
                      backtest_risk.benchmark_relative_html(run), backtest_risk.best_worst_html(run),
                      backtest_positions.contribution_html(run), backtest_positions.trades_html(run)]
    fragments.append(backtest_positions.regime_cells_html(v35b))
    page = "".join(fragments)
    ids = set(re.findall(r'id="([^"]+)"', page))
    links = set(re.findall(r'href="#([^"]+)"', page))
    assert len(links) > 40 and links <= ids
    assert "metric-pbo" not in ids  # the walk-forward's figures are not in a backtest's glossary


def test_strip_remote_scripts_removes_only_external_script_elements() -> None:
    page = ('<head><script src="https://cdnjs.example/require.min.js"></script>'
            '<script src="http://cdn.example/mathjax.js?config=x"> </script>'
            '<script>var u = "https://plotly.com/"; var s = \'<script src="https://x">\';</script>'
            '<script src="local.js"></script></head>')
    out = strip_remote_scripts(page)
    assert "cdnjs" not in out and "mathjax" not in out
    assert 'var u = "https://plotly.com/"' in out and '<script src="local.js"></script>' in out


def test_a_short_run_without_trades_renders_every_section() -> None:
    """Three months with a 100-bar slow SMA: no trade, no drawdown table rows to speak of, daily chart points."""
    run = toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/sma_crossover.yaml",
                                                   {"data.start": "2018-10-01"}))
    assert len(run.result.trades) == 0 and len(run.result.equity) < MAX_POINTS
    trades = backtest_positions.trades_html(run)
    assert body(trades) == [] and "0 orders" in trades
    assert body(backtest_returns.worst_drawdowns_html(run)) == []
    fig = backtest_returns.cumulative_returns_figure(run)
    assert len(fig.data[0].x) == len(run.result.equity)  # short: every bar drawn
    for fragment in (backtest_headline.headline_html(run), backtest_risk.key_metrics_html(run),
                     backtest_risk.benchmark_relative_html(run), backtest_returns.yearly_returns_html(run)):
        no_blank_cells(fragment)
    backtest_risk.rolling_figure(run)
    backtest_risk.return_distribution_figure(run)
    backtest_positions.exposure_figure(run)
    backtest_positions.holdings_figure(run)


def _assert_adaptive_log_axis(axis, tickformat: str) -> None:
    """plotly.js picks the ticks at every zoom (1-2-5, powers or round steps) and labels each in full."""
    assert axis.type == "log" and axis.tickmode == "auto" and axis.nticks == LOG_AXIS_NTICKS == 3
    assert axis.tickformat == tickformat and axis.tickvals is None and axis.ticktext is None


def test_regime_timeline_log_axis_reads_in_order(v35b) -> None:
    """The v3.5b equity axis read "2, 100k, 9, 8, 7 ..." (plotly's minor digits); now every tick in full, at every zoom.

    What plotly.js draws from these settings is checked in a browser (tests/browser/test_reports.py).
    """
    fig = backtest_positions.regime_figure(v35b)  # what the notebook draws
    legend = [t.name for t in fig.data[1:]]
    shown = sorted(int(c) for c in v35b.decisions.context["cell"].unique())
    assert legend == [v35b.strategy.regime_cells[c] for c in shown]  # the band's legend names each cell
    _assert_adaptive_log_axis(fig.layout.yaxis, "~s")


def test_price_chart_marks_every_entry_and_exit_per_symbol(v35b, sma) -> None:
    fig = backtest_positions.trade_prices_figure(v35b)
    trades = v35b.result.trades
    symbols = list(dict.fromkeys(trades["symbol"]))
    assert len(symbols) >= 2 and len(fig.data) == 3 * len(symbols)
    for i, sym in enumerate(symbols):
        close, entries, exits = fig.data[3 * i: 3 * i + 3]
        t = trades[trades["symbol"] == sym]
        assert close.name == f"{sym} close" and len(entries.x) == len(t)
        assert len(exits.x) == int((t["status"] != "open").sum())
        np.testing.assert_allclose(np.asarray(entries.y, float), t["entry_price"].to_numpy(), rtol=1e-6)
        assert close.visible is (i == 0) and entries.visible is (i == 0)
    menu = fig.layout.updatemenus[0]
    assert [b.label for b in menu.buttons] == symbols
    assert menu.buttons[1].args[0]["visible"] == [j // 3 == 1 for j in range(3 * len(symbols))]
    single = backtest_positions.trade_prices_figure(sma)
    assert len(single.data) == 3 and not single.layout.updatemenus and "NASDAQ" in single.layout.title.text


# --------------------------------------------------------------------------- review of issue 13: size and polish


def test_cells_carry_no_class_and_numeric_columns_align_by_one_rule_per_table() -> None:
    frame = pd.DataFrame({"sym": ["A", "B"], "ret": [0.1, -0.2], "n": [3, 4]})
    out = html_table(frame, [Column("sym", "symbol"), Column("ret", "return", "percent"), Column("n", "n", "count")])
    assert "<td>A</td><td>10.00%</td><td>3</td>" in out and "<td " not in out and "<th " not in out
    assert '<table class="tk-al-lrr">' in out
    assert ".tk-table table.tk-al-lrr td:nth-child(2),.tk-table table.tk-al-lrr td:nth-child(3){text-align:right" in out
    assert "td:nth-child(1)" not in out  # the text column keeps the default left alignment
    text_only = html_table(frame, [Column("sym", "symbol")])
    assert '<table class="tk-al-l">' in text_only and "nth-child" not in text_only


def test_a_table_past_max_rows_with_its_csv_shows_its_first_and_last_rows_and_says_so() -> None:
    frame = pd.DataFrame({"x": np.arange(1, 1741) / 100}, index=pd.RangeIndex(1, 1741))
    cols = [Column("x", "x", "money")]
    out = html_table(frame, cols, index=Column("n", "#", "count"), csv="trades.csv", what="round trips",
                     max_rows=500)
    rows = body(out)
    assert [r[0] for r in rows[:250]] == [str(i) for i in range(1, 251)]
    assert rows[250] == ["… rows 251–1,490 not shown: all 1,740 round trips are in trades.csv …"]
    assert [r[0] for r in rows[251:]] == [f"{i:,}" for i in range(1491, 1741)]
    assert rows[-1] == ["1,740", "17.40"]
    assert "rows 1–250 and 1,491–1,740 of 1,740 round trips shown; all in trades.csv" in out
    assert 'href="trades.csv"' in out and "all shown" not in out
    # never cut without the CSV to point at, nor at or under the limit
    assert len(body(html_table(frame, cols, max_rows=500))) == 1740
    assert len(body(html_table(frame.head(500), cols, csv="trades.csv", max_rows=500))) == 500


def test_trade_sizes_have_two_decimals_each(v35b) -> None:
    assert format_cell(25, "quantity") == "25.00" and format_cell(38.5, "quantity") == "38.50"
    assert format_cell(1234.5678, "quantity") == "1,234.57" and format_cell(None, "quantity") == MISSING
    out = backtest_positions.trades_html(v35b)
    size = parse(out).tables[0][0].index("size")
    sizes = [r[size] for r in body(out)]
    assert sizes and all(re.fullmatch(r"-?[\d,]+\.\d\d", s) for s in sizes), sizes[:10]


def test_headline_says_which_data_is_synthetic_and_what_is_missing(v35b, sma) -> None:
    out = backtest_headline.headline_html(v35b)
    assert ("QQQ, TQQQ, PSQ, NASDAQ from <code>sample</code> (synthetic proxies of NASDAQ: QQQ, TQQQ, PSQ; "
            "TLT, TMF, TMV missing: the parts of the strategy that need them are off);") in out
    # the same facts as the appendix's data notes
    assert [n.split(" is not in the data")[0] for n in v35b.notes if "is not in the data" in n] == ["TLT", "TMF", "TMV"]
    assert {n.split(" is a ")[0] for n in v35b.notes if "synthetic proxy" in n} == {"QQQ", "TQQQ", "PSQ"}
    assert backtest_headline.data_caveats(sma) == ""
    assert "NASDAQ from <code>sample</code>; initial cash" in backtest_headline.headline_html(sma)


def test_drawdown_caption_agrees_with_its_count(sma) -> None:
    assert "The deepest drawdown;" in backtest_returns.worst_drawdowns_html(sma, n=1)
    assert "The 3 deepest drawdowns;" in backtest_returns.worst_drawdowns_html(sma, n=3)


def test_monthly_heatmap_never_reads_minus_zero() -> None:
    from toolkit.report.plots import monthly_heatmap

    table = pd.DataFrame([[-0.00004, 0.00004, -0.0123, np.nan]], index=[2018], columns=["Jan", "Feb", "Mar", "Apr"])
    assert list(monthly_heatmap(table).data[0].text[0]) == ["0.0%", "0.0%", "-1.2%", ""]


def test_rolling_figure_of_a_run_shorter_than_its_window_says_so(sma) -> None:
    short = toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/sma_crossover.yaml",
                                                     {"data.start": "2018-10-01"}))
    n = len(aligned_returns(short.result.equity, short.benchmark_equity, short.result.initial_cash))
    assert n < min(ROLLING_WINDOWS.values())
    notes = [a.text for a in backtest_risk.rolling_figure(short).layout.annotations]
    assert f"Rolling statistics need at least 126 bars; this run has {n:,}." in notes
    long_notes = [a.text for a in backtest_risk.rolling_figure(sma).layout.annotations]
    assert not any("need at least" in t for t in long_notes)
