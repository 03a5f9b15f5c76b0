"""The explorers driven from Python as a person drives them: set controls, click, read what is drawn.

Real backtests and a real (small) walk-forward; the only stand-ins are spies that
count the runs an explorer starts, to show that building one, or a refused value,
runs nothing.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np
import pytest

import toolkit
from toolkit import params as P
from toolkit.backtest.job import BacktestReport, run_backtest_job
from toolkit.optimize.evaluate import METRICS
from toolkit.optimize.fold_replay import chosen_combinations
from toolkit.optimize.walk_forward import WalkForwardReport, run_walk_forward
from toolkit.params.backtest import BacktestParams
from toolkit.strategies import registry
from toolkit.widgets import backtest_explorer as backtest_module
from toolkit.widgets import dom
from toolkit.widgets import walk_forward_explorer as wf_module
from toolkit.widgets.backtest_explorer import BacktestExplorer
from toolkit.widgets.explorers import backtest_explorer, walk_forward_explorer
from toolkit.widgets.walk_forward_explorer import WalkForwardExplorer

PARAMS_FILE = "params/backtest/sma_crossover.yaml"


@pytest.fixture(scope="module")
def notebook_backtest() -> tuple[BacktestParams, BacktestReport]:
    """What backtest.ipynb holds after its first cell: ``p`` and ``report``."""
    p = P.load("backtest", PARAMS_FILE)
    return p, run_backtest_job(p)


@pytest.fixture
def explorer(notebook_backtest: tuple[BacktestParams, BacktestReport]) -> BacktestExplorer:
    ex = backtest_explorer(*notebook_backtest)
    assert isinstance(ex, BacktestExplorer)
    return ex


@pytest.fixture
def run_spy(monkeypatch: pytest.MonkeyPatch) -> list[BacktestParams]:
    """Every backtest the explorer starts (they still run, through the real job)."""
    calls: list[BacktestParams] = []

    def spy(p: BacktestParams) -> BacktestReport:
        calls.append(p)
        return run_backtest_job(p)

    monkeypatch.setattr(backtest_module, "run_backtest_job", spy)
    return calls


def shown(widget: Any) -> str:
    """The text a person reads in an HTML widget."""
    return html.unescape(re.sub(r"<[^>]+>", "", widget.value))


def y_values(figure: Any) -> list[np.ndarray]:
    return [np.asarray(trace.y, dtype=float) for trace in figure.data]


# ----------------------------------------------------------------------------- backtest explorer


def test_under_papermill_there_is_no_explorer(notebook_backtest: tuple[BacktestParams, BacktestReport]) -> None:
    assert backtest_explorer(*notebook_backtest, output_dir="outputs/backtest/x") is None


def test_building_shows_the_notebook_backtest_and_runs_nothing(
    notebook_backtest: tuple[BacktestParams, BacktestReport], run_spy: list[BacktestParams]
) -> None:
    p, report = notebook_backtest
    ex = BacktestExplorer(p, report)
    assert run_spy == []
    assert ex.report is report
    assert ex.strategy.options == tuple(registry.available()) and ex.strategy.value == "sma_crossover"
    assert list(ex.form.fields) == ["fast", "slow"]
    assert ex.form.fields["fast"].input.value == "20" and ex.form.fields["slow"].input.value == "100"
    assert "a whole number from 1 to 1000" in ex.form.fields["fast"].row.children[0].children[-1].value
    np.testing.assert_array_equal(y_values(ex.figure)[0], report.result.equity.to_numpy())
    assert dom.EXPLORER in ex.widget._dom_classes
    assert dom.explorer_input("fast") in ex.form.fields["fast"].input._dom_classes
    bundle = ex._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id


def test_run_gives_exactly_what_run_backtest_gives_and_redraws(explorer: BacktestExplorer) -> None:
    before_y, before_metrics = y_values(explorer.figure), explorer.metrics.value
    explorer.form.fields["fast"].input.value = "10"
    explorer.form.fields["slow"].input.value = "120"
    explorer.run_button.click()
    expected = toolkit.run_backtest(P.load("backtest", PARAMS_FILE, {"strategy_params.fast": 10,
                                                                     "strategy_params.slow": 120}))
    assert explorer.report is not None and explorer.report.params.strategy_params == {"fast": 10, "slow": 120}
    assert explorer.report.metrics == expected.metrics
    after_y = y_values(explorer.figure)
    np.testing.assert_array_equal(after_y[0], expected.result.equity.to_numpy())
    assert not np.array_equal(after_y[0], before_y[0])  # strategy equity
    assert not np.array_equal(after_y[2], before_y[2])  # its drawdown
    np.testing.assert_array_equal(after_y[1], before_y[1])  # buy and hold did not move
    assert explorer.figure.layout.title.text == "Equity and drawdown: sma_crossover (fast=10, slow=120)"
    # Dates travel as text: the widget protocol would send datetime64[ns] as integers.
    assert list(explorer.figure.data[0].x[:2]) == ["2000-01-03T00:00:00.000", "2000-01-04T00:00:00.000"]
    assert explorer.metrics.value != before_metrics
    assert f"Final equity{expected.metrics['final_equity']:,.2f}" in shown(explorer.metrics)
    assert expected.summary_line() in shown(explorer.status)


def metrics_rows(widget: Any) -> dict[str, list[str]]:
    """The metrics table as a person reads it: row label -> the cells beside it."""
    rows = re.findall(r"<tr>(.*?)</tr>", widget.value)
    cells = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in rows]
    return {c[0]: c[1:] for c in cells if c}


def test_the_metrics_table_writes_each_figure_as_its_kind(explorer: BacktestExplorer) -> None:
    explorer.form.fields["fast"].input.value = "10"  # the README's picture: 36 trades, total return 141.98%
    report = explorer.run()
    assert report is not None
    m, rows = report.metrics, metrics_rows(explorer.metrics)
    assert rows["Trades (round trips)"] == [str(m["n_trades"]), "\u2014"]
    assert m["n_trades"] == 36 and rows["Trades (round trips)"][0] == "36"
    bench = report.benchmark_metrics
    assert rows["Total return"] == [f"{m['total_return'] * 100:.2f}%", f"{bench['total_return'] * 100:.2f}%"]
    assert rows["Total return"][0] == "141.98%" and f"total return {rows['Total return'][0]}" in report.summary_line()
    assert rows["Max drawdown duration (days)"][0] == f"{m['max_drawdown_duration_days']:,.0f}"
    assert rows["Sharpe ratio"][0] == f"{m['sharpe']:.2f}"
    assert rows["Final equity"][0] == f"{m['final_equity']:,.2f}" and "," in rows["Final equity"][0]
    text = shown(explorer.metrics)
    assert not any(bad in text for bad in ("None", "nan", "0000", "_"))


def test_the_equity_axis_reads_round_values(explorer: BacktestExplorer) -> None:
    axis = explorer.figure.layout.yaxis
    # plotly.js picks the ticks (again at every zoom) and labels each in full: 50k, 100k, 200k
    assert axis.type == "log" and axis.tickmode == "auto" and axis.nticks == 3 and axis.tickformat == "~s"
    assert axis.tickvals is None
    explorer.form.fields["fast"].input.value = "10"
    explorer.run()
    axis = explorer.figure.layout.yaxis
    assert axis.type == "log" and axis.tickformat == "~s" and axis.nticks == 3 and axis.tickvals is None
    assert explorer.figure.layout.yaxis2.tickformat != "~s"  # the drawdown axis keeps its percentages


def test_an_out_of_bounds_value_shows_inline_and_runs_nothing(
    explorer: BacktestExplorer, run_spy: list[BacktestParams]
) -> None:
    before = y_values(explorer.figure)
    explorer.form.fields["fast"].input.value = "0"
    fast = explorer.form.fields["fast"]
    assert "strategy_params.fast: got 0; allowed: a whole number from 1 to 1000" in shown(fast.error)
    assert explorer.form.fields["slow"].error.value == "" and explorer.form.form_error.value == ""
    explorer.run_button.click()
    assert run_spy == []
    assert explorer.run() is None and run_spy == []
    assert "Not run" in shown(explorer.status)
    for old, new in zip(before, y_values(explorer.figure), strict=True):
        np.testing.assert_array_equal(old, new)
    explorer.form.fields["fast"].input.value = "5"  # fixed: the error goes away
    assert explorer.form.fields["fast"].error.value == ""


def test_an_invalid_combination_shows_the_models_message_and_runs_nothing(
    explorer: BacktestExplorer, run_spy: list[BacktestParams]
) -> None:
    explorer.form.fields["fast"].input.value = "150"
    assert "fast (150) must be smaller than slow (100)" in shown(explorer.form.form_error)
    assert all(c.error.value == "" for c in explorer.form.fields.values())
    explorer.run_button.click()
    assert run_spy == []


def test_auto_run_reruns_on_every_valid_change_only(explorer: BacktestExplorer, run_spy: list[BacktestParams]) -> None:
    explorer.auto_run.value = True
    explorer.form.fields["fast"].input.value = "30"
    assert [c.strategy_params for c in run_spy] == [{"fast": 30, "slow": 100}]
    explorer.form.fields["slow"].input.value = "10"  # fast >= slow: refused, not run
    assert len(run_spy) == 1 and "must be smaller than slow" in shown(explorer.form.form_error)
    explorer.form.fields["slow"].input.value = "60"
    assert [c.strategy_params for c in run_spy][-1] == {"fast": 30, "slow": 60}
    assert explorer.report.metrics == toolkit.run_backtest(run_spy[-1]).metrics


def test_switching_strategy_builds_its_fields_and_runs_it(explorer: BacktestExplorer) -> None:
    explorer.strategy.value = "ema_breakout"
    model = registry.get("ema_breakout").Params
    assert list(explorer.form.fields) == list(model.model_fields)
    stop = explorer.form.fields["stop_loss"]
    assert stop.enabled is not None and stop.enabled.value is False and stop.value() is None
    stop.enabled.value = True
    stop.input.value = "0.1"
    report = explorer.run()
    assert report is not None
    expected = toolkit.run_backtest(P.load("backtest", PARAMS_FILE, {"strategy": "ema_breakout",
                                                                     "strategy_params": {"stop_loss": 0.1}}))
    assert report.metrics == expected.metrics and report.params.strategy == "ema_breakout"
    stop.input.value = "1.5"
    assert "strategy_params.stop_loss: got 1.5; allowed: a number > 0 and < 1" in shown(stop.error)


def test_a_strategy_the_data_cannot_serve_says_why_inline(explorer: BacktestExplorer) -> None:
    explorer.strategy.value = "hierarchical_adaptive_v3_5b"
    assert explorer.run() is None
    assert "QQQ" in shown(explorer.form.form_error) and "Not run" in shown(explorer.status)


def test_a_structured_field_is_json_and_a_bad_one_is_named(explorer: BacktestExplorer) -> None:
    explorer.strategy.value = "multi_strategy"
    field = explorer.form.fields["strategies"]
    assert field.kind == "json" and '"name": "sma_crossover"' in field.input.value
    field.input.value = '[{"name": "sma_crossover", "params": {"fast": 0}}]'
    assert shown(field.error).endswith(
        "allowed: sma_crossover: params.fast: got 0; allowed: a whole number from 1 to 1000")
    assert shown(field.error).startswith("strategy_params.strategies.0: got ")
    assert explorer.run() is None
    field.input.value = "[{"
    assert "strategy_params.strategies: got '[{'; allowed: JSON" in shown(field.error)


# ----------------------------------------------------------------------------- walk-forward explorer

WF_RAW = {
    "grid": {"fast": [5, 10, 20], "slow": [20, 50, 100]},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2010-01-01", "end": "2015-12-31"},
    "in_sample": 250,
    "out_of_sample": 125,
    "constraints": {"min_trades": 3},
    "costs": {"fees_bps": 10, "slippage_bps": 0, "fill": "close"},
    "chunk_size": 4,
    "pbo_splits": 8,
    "heatmap": ["fast", "slow"],
}


@pytest.fixture(scope="module")
def walk_forward() -> tuple[Any, WalkForwardReport]:
    p = P.validate("walk_forward", WF_RAW)
    return p, run_walk_forward(p, progress="off")


@pytest.fixture
def replay_spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []
    real = wf_module.replay_fold

    def spy(report: WalkForwardReport, fold: int, combo: int) -> Any:
        calls.append((fold, combo))
        return real(report, fold, combo)

    monkeypatch.setattr(wf_module, "replay_fold", spy)
    return calls


def click(figure: Any, x: str, y: str) -> None:
    """What the browser sends when a person clicks the heatmap cell (x, y)."""
    figure._js2py_pointsCallback = {
        "event_type": "plotly_click",
        "points": {"xs": [x], "ys": [y], "point_indexes": [[0, 0]], "trace_indexes": [0]},
    }


def fold_row(report: WalkForwardReport, fold: int) -> Any:
    return report.fold_results[report.fold_results["fold"] == fold].iloc[0]


def test_walk_forward_explorer_builds_without_running(
    walk_forward: tuple[Any, WalkForwardReport], replay_spy: list[tuple[int, int]]
) -> None:
    p, report = walk_forward
    assert walk_forward_explorer(p, report, output_dir="outputs/walk_forward/x") is None
    ex = walk_forward_explorer(p, report)
    assert isinstance(ex, WalkForwardExplorer) and replay_spy == [] and ex.replay is None
    last = report.folds[-1].number
    assert ex.fold.value == last and [v for _, v in ex.fold.options] == [f.number for f in report.folds]
    chosen = fold_row(report, last)
    assert ex.selected_values() == {"fast": chosen["fast"], "slow": chosen["slow"]}
    assert ex.axes == ("fast", "slow") and len(ex.figure.data) == 6
    assert all(len(trace.x) == 0 for trace in ex.figure.data[3:])  # no curves before a pick


def test_the_heatmap_is_the_folds_own_surface(walk_forward: tuple[Any, WalkForwardReport]) -> None:
    p, report = walk_forward
    ex = WalkForwardExplorer(p, report)
    ex.fold.value = 2
    z = np.asarray(ex.figure.data[0].z, dtype=float)
    t = report.trials[report.trials["fold"] == 2]
    for i, fast in enumerate([5, 10, 20]):
        for j, slow in enumerate([20, 50, 100]):
            hit = t[(t["fast"] == fast) & (t["slow"] == slow)]["objective"]
            assert (math.isnan(z[i, j]) and hit.empty) or z[i, j] == hit.iloc[0]
    row = fold_row(report, 2)
    assert list(ex.figure.data[1].x) == [str(row["slow"])] and list(ex.figure.data[1].y) == [str(row["fast"])]


def test_clicking_a_cell_shows_that_combination(
    walk_forward: tuple[Any, WalkForwardReport], replay_spy: list[tuple[int, int]]
) -> None:
    p, report = walk_forward
    ex = WalkForwardExplorer(p, report)
    fold = report.folds[2].number
    ex.fold.value = fold
    replay_spy.clear()
    click(ex.figure, "100", "5")
    assert ex.selected_values() == {"fast": 5, "slow": 100}
    grid = report.grid.grid
    combo = int(grid.index[(grid["fast"] == 5) & (grid["slow"] == 100)][0])
    assert replay_spy == [(fold, combo)]
    assert ex.replay is not None and ex.replay.combination == combo
    assert list(ex.figure.data[2].x) == ["100"] and list(ex.figure.data[2].y) == ["5"]
    curves = ex.figure.data[3:]
    np.testing.assert_array_equal(np.asarray(curves[0].y, dtype=float),
                                  (ex.replay.in_sample / report.params.initial_cash).to_numpy())
    np.testing.assert_array_equal(np.asarray(curves[1].y, dtype=float),
                                  (ex.replay.out_of_sample / ex.replay.out_of_sample_start_equity).to_numpy())
    trial = report.trials[(report.trials["fold"] == fold) & (report.trials["combination"] == combo)].iloc[0]
    assert ex.replay.in_sample_metrics["sharpe"] == trial["sharpe"]


def test_the_folds_choice_shows_the_walk_forwards_recorded_figures(
    walk_forward: tuple[Any, WalkForwardReport],
) -> None:
    p, report = walk_forward
    ex = WalkForwardExplorer(p, report)
    chosen = chosen_combinations(report)
    for fold in [f.number for f in report.folds if chosen[f.number] is not None][:4]:
        ex.fold.value = fold  # selects the fold's choice and shows it
        r = ex.replay
        assert r is not None and r.fold == fold and r.combination == chosen[fold]
        row = fold_row(report, fold)
        for name in ("objective", *METRICS):
            a, b = r.out_of_sample_metrics[name], float(row[f"oos_{name}"])
            assert a == b or (math.isnan(a) and math.isnan(b)), (fold, name)
        for name in ("objective", "sharpe", "cagr", "max_drawdown", "n_trades"):
            assert r.in_sample_metrics[name] == row[f"is_{name}"], (fold, name)
        assert "the fold's choice" in shown(ex.status)
        assert f"{row['oos_final_equity']:,.2f}" in shown(ex.metrics)
        assert "Objective (sharpe)" in shown(ex.metrics) and "nan" not in shown(ex.metrics)


def test_the_dropdowns_reach_the_same_point_and_refuse_a_dropped_one(
    walk_forward: tuple[Any, WalkForwardReport], replay_spy: list[tuple[int, int]]
) -> None:
    p, report = walk_forward
    ex = WalkForwardExplorer(p, report)
    ex.choosers["slow"].value = 50
    ex.choosers["fast"].value = 20
    assert ex.replay is not None and ex.replay.params == {"fast": 20, "slow": 50}
    ex.choosers["slow"].value = 20  # fast 20, slow 20: dropped by the strategy
    assert ex.replay is None and "not in the grid" in shown(ex.status)
    assert all(len(trace.x) == 0 for trace in ex.figure.data[3:])
