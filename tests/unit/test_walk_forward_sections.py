"""The walk-forward report's headline, degradation, hindsight and PBO sections on a real (small) run.

Every figure is compared with the numbers it is drawn from, the full-sample optimum
with a from-scratch pass over the grid, and the formatting rules (dates as dates,
counts as integers, money with separators, Sharpe ratios annualised) are checked on
the rendered HTML.
"""

from __future__ import annotations

import math
import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from toolkit import params as P
from toolkit.backtest.metrics import TRADING_DAYS
from toolkit.optimize.evaluate import METRICS, constraint_mask, evaluate_task
from toolkit.optimize.full_sample import full_sample_optimum
from toolkit.optimize.walk_forward import WalkForwardReport, run_walk_forward, window_task
from toolkit.report import plots
from toolkit.report import walk_forward as wf_report
from toolkit.report import walk_forward_sections as S
from toolkit.report.axis_ticks import LOG_AXIS_NTICKS
from toolkit.report.glossary import GLOSSARY, glossary_anchor
from toolkit.report.html_table import format_cell
from toolkit.runner import LOG_ONLY_TAG, export_html

RAW = {
    "grid": {"fast": [5, 10, 20], "slow": [20, 50]},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2011-01-01", "end": "2015-12-31"},
    "in_sample": 250,
    "out_of_sample": 125,
    "constraints": {"min_trades": 3},
    "costs": {"fees_bps": 10, "slippage_bps": 0, "fill": "close"},
    "chunk_size": 2,
    "pbo_splits": 8,
}
ANNUAL = math.sqrt(TRADING_DAYS)


@pytest.fixture(scope="module")
def report() -> WalkForwardReport:
    return run_walk_forward(P.validate("walk_forward", RAW), progress="off")


@pytest.fixture(scope="module")
def optimum(report: WalkForwardReport):
    return full_sample_optimum(report)


def test_full_sample_optimum_is_the_best_valid_combination_over_every_bar(report, optimum) -> None:
    p, bars = report.params, report.dataset.panel
    # From scratch: every combination alone, over the same bars, measured the walk-forward's way.
    rows = {}
    for combo in report.grid.grid.index:
        task = window_task(p, 0, 0, 0, report.warmup, len(bars), report.grid.grid.loc[[combo]],
                           fixed=dict(report.fixed_params), symbols=("NASDAQ",))
        rows[combo] = evaluate_task(task, bars).metrics.iloc[0]
    m = pd.DataFrame(rows).T
    arrays = {k: m[k].to_numpy(dtype=float) for k in METRICS}
    objective = report.objective(arrays)
    valid = constraint_mask(arrays, p.constraints.as_dict())
    assert optimum.n_valid == int(valid.sum()) > 0
    assert optimum.objective == pytest.approx(float(np.max(objective[valid])), rel=1e-12)
    assert optimum.params == report.grid.grid.loc[optimum.combination].to_dict()
    # Its curve is the run its metrics describe.
    eq = optimum.equity
    assert eq.index[0] == bars.index[report.warmup] and eq.index[-1] == bars.index[-1]
    assert eq.iloc[-1] / p.initial_cash - 1 == pytest.approx(optimum.metrics["total_return"], rel=1e-9)


def test_degradation_table_is_the_fold_results(report) -> None:
    t = S.degradation_table(report)
    fr = report.fold_results
    assert t["fold"].tolist() == fr["fold"].tolist()
    np.testing.assert_array_equal(t["is_sharpe"].to_numpy(), fr["is_sharpe"].to_numpy(dtype=float))
    np.testing.assert_array_equal(t["oos_sharpe"].to_numpy(), fr["oos_sharpe"].to_numpy(dtype=float))
    np.testing.assert_allclose(t["degradation"], t["oos_sharpe"] - t["is_sharpe"])
    fig = S.degradation_figure(report)
    assert [tr.name for tr in fig.data] == ["in sample", "out of sample"]
    np.testing.assert_array_equal(np.asarray(fig.data[0].y, dtype=float), t["is_sharpe"].to_numpy())
    np.testing.assert_array_equal(np.asarray(fig.data[1].y, dtype=float), t["oos_sharpe"].to_numpy())
    text = S.degradation_html(report)
    assert text.count("<tr>") == len(t) + 1
    first = pd.Timestamp(t["oos_start"].iloc[0])
    assert f">{first:%Y-%m-%d}<" in text and "00:00" not in text


def test_hindsight_curves_start_at_one_and_equal_their_sources(report, optimum) -> None:
    c = S.hindsight_curves(report, optimum)
    np.testing.assert_allclose(c["walk-forward OOS"], report.oos.equity / report.oos.initial_cash)
    idx = report.oos.equity.index
    eq = optimum.equity
    before = float(eq[eq.index < idx[0]].iloc[-1])
    np.testing.assert_allclose(c["full-sample optimum"], eq.reindex(idx) / before)
    np.testing.assert_allclose(c[f"buy & hold {report.benchmark_symbol}"],
                               report.benchmark_equity / report.params.initial_cash)
    fig = S.hindsight_figure(report, optimum)
    for trace in fig.data:
        np.testing.assert_array_equal(np.asarray(trace.y), c[trace.name].to_numpy(dtype=np.float32))
        assert list(trace.x) == [f"{t:%Y-%m-%d}" for t in c.index]
    values = c.to_numpy().ravel()
    _assert_adaptive_log_axis(fig.layout.yaxis, "~g" if np.nanmin(values) < 1 else "~s")  # growth of 1


def test_logits_histogram_holds_every_split_and_pbo_is_its_share_left_of_zero(report) -> None:
    fig = S.logits_figure(report)
    assert fig is not None and report.pbo is not None
    x = np.asarray(fig.data[0].x, dtype=float)
    # float32 in the page (half the bytes): every split, each to 7 significant digits, signs intact.
    finite = report.pbo.logits[np.isfinite(report.pbo.logits)]
    np.testing.assert_array_equal(x, finite.astype(np.float32))
    assert ((x <= 0) == (finite <= 0)).all()
    assert len(x) == report.pbo.n_combinations
    assert float(np.mean(x <= 0)) == pytest.approx(report.pbo.pbo)


def test_headline_gives_the_figures_beside_the_benchmark_with_annualised_sharpes(report) -> None:
    text = S.headline_html(report)
    assert text.startswith('<div class="tk-headline">')
    assert format_cell(float(report.oos.equity.iloc[-1]), "money") in text
    assert format_cell(float(report.benchmark_equity.iloc[-1]), "money") in text
    d = report.dsr
    assert d is not None
    assert f"{d.sr * ANNUAL:.2f} annualised" in text and f"SR0 = {d.sr0 * ANNUAL:.2f}" in text
    assert "per bar" not in text  # the stored reading's per-bar figures are not shown
    assert format_cell(d.dsr, "percent") in text and format_cell(report.pbo.pbo, "percent") in text
    assert "PBO " in text and "buy &amp; hold NASDAQ" in text
    anchors = set(re.findall(r'href="#([^"]+)"', text))
    assert anchors and anchors <= {glossary_anchor(k) for k in GLOSSARY}


def _cells(text: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh](?:\s[^>]*)?>(.*?)</t[dh]>", text, flags=re.S)]


def _bad(text: str) -> list[str]:
    return [c for c in _cells(text) if c in ("", "None", "nan", "NaN", "NaT") or c.endswith("...")]


def test_folds_table_is_formatted_scrollable_and_links_the_csv(report) -> None:
    text = S.folds_html(report)
    n = len(report.folds)
    assert text.count("<tr>") == n + 1
    assert 'href="folds.csv"' in text
    assert _bad(text) == []
    fr = report.fold_results
    # Windows merged into one cell each, dates as dates.
    first = fr.iloc[0]
    assert f">{first['is_start']:%Y-%m-%d} \u2013 {first['is_end']:%Y-%m-%d}<" in text
    assert f">{first['oos_start']:%Y-%m-%d} \u2013 {first['oos_end']:%Y-%m-%d}<" in text
    # Counts without decimals, CAGR as a percentage.
    trades = fr["oos_n_trades"].iloc[0]
    assert f">{format_cell(trades, 'count')}<" in text and "." not in format_cell(trades, "count")
    assert re.search(r">-?\d+\.\d+%<", text)
    # The objective is sharpe: its columns would repeat the Sharpe columns, so they are left out.
    assert str(report.objective) == "sharpe"
    headers = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", text)]
    assert "IS objective" not in headers and "OOS objective" not in headers
    assert headers[:3] == ["fold", "train (IS)", "test (OOS)"] and "IS Sharpe" in headers
    # valid combinations: one count per fold, or one sentence when every fold has the same.
    if fr["n_valid"].nunique() == 1:
        assert "valid combinations" not in headers
        assert f"every fold had {int(fr['n_valid'].iloc[0])} valid combinations" in text
    else:
        assert "valid combinations" in headers
    # The first column stays in view when the table scrolls sideways.
    assert re.search(r"\.tk-wf-folds td:first-child,\.tk-wf-folds th:first-child\{position:sticky;left:0", text)
    for key in S.GLOSSARY_KEYS:
        assert key in GLOSSARY


def test_folds_table_keeps_the_objective_when_it_is_not_a_shown_metric() -> None:
    rep = run_walk_forward(P.validate("walk_forward", {**RAW, "objective": "sortino"}), progress="off")
    headers = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", S.folds_html(rep))]
    assert "IS objective" in headers and "OOS objective" in headers


def test_metrics_table_writes_each_metric_by_kind_with_the_benchmark_final_equity(report) -> None:
    text = wf_report.metrics_html(report)
    assert _bad(text) == []
    m = report.oos_metrics
    assert f">{format_cell(m['total_return'], 'percent')}<" in text
    assert f">{format_cell(m['n_trades'], 'count')}<" in text
    assert f">{format_cell(m['max_drawdown_duration_days'], 'days')}<" in text
    bench_final = float(report.benchmark_equity.dropna().iloc[-1])
    assert f">{format_cell(bench_final, 'money')}<" in text  # the headline's figure, not a dash
    anchors = set(re.findall(r'href="#([^"]+)"', text))
    for key in ("sortino", "calmar", "volatility", "win_rate", "profit_factor", "exposure", "turnover",
                "max_drawdown_duration_days", "n_partial_exits"):
        assert glossary_anchor(key) in anchors and key in S.GLOSSARY_KEYS


def test_overfitting_table_shows_whole_rows_linked_to_the_glossary(report) -> None:
    text = wf_report.overfitting_html(report)
    assert _bad(text) == []
    assert "<th" in text and "Statistic" in text
    for key in ("psr", "dsr", "sr0", "wf.excess_kurtosis", "pbo"):
        assert f'href="#{glossary_anchor(key)}"' in text
    assert "what the best of N skill-less configurations shows by luck" in text  # not cut


def test_kurtosis_is_quoted_as_excess_kurtosis_everywhere(report) -> None:
    """The audit: the walk-forward quoted raw kurtosis (3 for a normal), the backtest excess kurtosis (0)."""
    d = report.dsr
    assert d is not None
    rows = {r[0]: r[1:] for r in (_cells(tr) for tr in re.findall(r"<tr>.*?</tr>", wf_report.overfitting_html(report),
                                                                    flags=re.S))}
    assert rows["excess kurtosis"][0] == f"{d.kurtosis - 3:.2f}" and d.excess_kurtosis == pytest.approx(d.kurtosis - 3)
    assert not any(k.strip().endswith("kurtosis") and not k.startswith("excess") for k in rows)
    m = report.metrics_json()
    for block in ("deflated_sharpe", "probabilistic_sharpe"):
        assert "kurtosis" not in m[block] and m[block]["excess_kurtosis"] == pytest.approx(d.kurtosis - 3)
    entry = GLOSSARY["wf.excess_kurtosis"]
    assert "excess kurtosis" in entry.definition and "0 for a normal" in entry.definition
    assert "excess kurtosis" in GLOSSARY["daily_excess_kurtosis"].definition
    assert "wf.excess_kurtosis" in S.GLOSSARY_KEYS
    # The DSR itself still takes the raw kurtosis: recomputed from it, it is the stored one.
    from toolkit.optimize.overfitting import probabilistic_sharpe_ratio

    assert probabilistic_sharpe_ratio(d.sr, d.sr0, d.n_obs, d.skew, d.excess_kurtosis + 3) == pytest.approx(d.dsr)


def test_trials_table_shows_every_trial_of_every_fold_by_kind_and_links_the_csv(report, tmp_path) -> None:
    """The audit: only the last fold's top 20 were shown; now every trial of every fold, the CSV in the same order."""
    text = wf_report.trials_html(report)
    assert _bad(text) == []
    ordered = report.trials_by_fold()
    assert len(ordered) == len(report.trials) == len(report.folds) * report.grid.n_kept
    assert text.count("<tr>") == len(ordered) + 1  # every trial, no gap row: short enough to show whole
    rows = [re.findall(r"<td>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", text)[1:]]
    assert [int(r[0]) for r in rows] == list(ordered["fold"])  # fold by fold, every fold
    for fold, group in ordered.groupby("fold"):
        objective = group["objective"].dropna().to_numpy()
        assert (np.diff(objective) <= 0).all(), fold  # best in-sample objective first
    assert f"{len(ordered):,} trials, {len(report.folds):,} folds x {report.grid.n_kept:,} combinations" in text
    assert 'href="trials.csv"' in text and "paged" not in text
    best = ordered.iloc[0]
    assert f">{format_cell(best['total_return'], 'percent')}<" in text
    assert f">{format_cell(best['n_trades'], 'count')}<" in text
    assert ">True<" not in text and ">False<" not in text and ">yes<" in text
    # trials.csv, written by the report, holds the same rows in the same order.
    report.write(tmp_path)
    csv = pd.read_csv(tmp_path / "trials.csv")
    assert list(csv["fold"]) == list(ordered["fold"]) and list(csv["combination"]) == list(ordered["combination"])


def test_a_long_trials_table_is_paged_and_says_so(report) -> None:
    text = wf_report.trials_html(report, max_rows=10)
    n = len(report.trials)
    assert text.count("<tr>") == 10 + 1 and text.count('<tr class="tk-gap">') == 1
    assert "paged: the first and last 5 rows are shown here" in text
    assert f"rows 1–5 and {n - 4:,}–{n:,} of {n:,} trials shown; all in trials.csv" in text
    assert f"rows 6–{n - 5:,} not shown: all {n:,} trials are in trials.csv" in text


def test_recommended_parameters_read_as_a_table() -> None:
    text = wf_report.recommended_html({"strategy_params": {"fast": 35, "slow": 50}})
    assert _cells(text) == ["parameter", "value", "fast", "35", "slow", "50"]
    assert wf_report.recommended_html(None) == ""


def _assert_adaptive_log_axis(axis, tickformat: str) -> None:
    """plotly.js picks the ticks at every zoom (1-2-5, powers or round steps) and labels each in full."""
    assert axis.type == "log" and axis.tickmode == "auto" and axis.nticks == LOG_AXIS_NTICKS == 3
    assert axis.tickformat == tickformat and axis.tickvals is None and axis.ticktext is None


def test_equity_drawdown_labels_its_log_axis_with_readable_ticks(report) -> None:
    bench = report.benchmark_equity.rename("buy & hold")
    fig = plots.equity_drawdown(report.oos.equity, bench)
    _assert_adaptive_log_axis(fig.layout.yaxis, "~s")  # equity in dollars: 50k, 100k, 1M
    assert fig.layout.yaxis2.tickformat == ".0%" and fig.layout.yaxis2.type != "log"


def test_a_log_only_cell_keeps_its_output_in_the_notebook_not_in_the_report(tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    log = nbformat.v4.new_code_cell("run()", metadata={"tags": [LOG_ONLY_TAG]})
    log.outputs = [nbformat.v4.new_output("stream", name="stdout", text="folds: 100%|##########| 7/7 [00:01, 5.1it/s]")]
    shown = nbformat.v4.new_code_cell("show()")
    shown.outputs = [nbformat.v4.new_output("stream", name="stdout", text="the figure stays")]
    nb.cells = [log, shown]
    out = tmp_path / "report.html"
    export_html(nb, out)
    text = out.read_text()
    assert "the figure stays" in text
    assert "it/s" not in text and "%|" not in text


def test_the_static_equity_figure_carries_the_stitched_record_compactly(report) -> None:
    from toolkit.report import walk_forward as wf_report

    fig = wf_report.equity_figure(report)
    np.testing.assert_array_equal(np.asarray(fig.data[0].y), report.oos.equity.to_numpy(dtype=np.float32))
    assert list(fig.data[0].x[:1]) == [f"{report.oos.equity.index[0]:%Y-%m-%d}"]


def test_headline_names_a_shorter_last_fold(report) -> None:
    """The review of issue 13: "16 folds of 252 bars" over 4,023 bars; the last fold has 243."""
    lengths = [f.n_out_of_sample for f in report.folds]
    assert sum(lengths) == len(report.oos.equity) and 0 < lengths[-1] < 125 and set(lengths[:-1]) == {125}
    phrase = f"{len(lengths)} folds of 125 bars (the last {lengths[-1]})"
    assert S.folds_phrase(report) == phrase and phrase in S.headline_html(report)


def test_every_glossary_link_of_the_report_tables_resolves_to_a_listed_key(report) -> None:
    """The review of issue 13: configurations N, spread, skew and the trials' objective / constraints / chosen
    had no glossary link; each now links to an entry the report's glossary section shows."""
    from toolkit.report import walk_forward as W

    listed = {glossary_anchor(k) for k in S.GLOSSARY_KEYS}
    trials, over = W.trials_html(report), W.overfitting_html(report)
    for key in ("wf.objective", "wf.meets_constraints", "wf.chosen"):
        assert f'href="#{glossary_anchor(key)}"' in trials, key
    for key in ("wf.n_configurations", "wf.sharpe_spread", "wf.skew"):
        assert f'href="#{glossary_anchor(key)}"' in over, key
    for text in (trials, over, S.headline_html(report), S.folds_html(report), W.metrics_html(report)):
        assert set(re.findall(r'href="#([^"]+)"', text)) <= listed
