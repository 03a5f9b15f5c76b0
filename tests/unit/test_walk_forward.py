"""The walk-forward job: choices, stitching, diagnostics, hand-off, and dask == local."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from toolkit import params as P
from toolkit.backtest.engine import run_backtest
from toolkit.backtest.metrics import compute_metrics
from toolkit.optimize.evaluate import METRICS
from toolkit.optimize.executors import progress_bar
from toolkit.optimize.walk_forward import pbo_sample, recommend, run_walk_forward
from toolkit.report import walk_forward as wf_report
from toolkit.report import walk_forward_sections as wf_sections
from toolkit.strategies import registry

RAW = {
    "grid": {"fast": [5, 10, 20], "slow": [20, 50]},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2012-01-01", "end": "2015-12-31"},
    "in_sample": 250,
    "out_of_sample": 125,
    "constraints": {"min_trades": 3},
    "costs": {"fees_bps": 10, "slippage_bps": 0, "fill": "close"},
    "chunk_size": 2,
    "pbo_splits": 8,
}


@pytest.fixture(scope="module")
def report():
    return run_walk_forward(P.validate("walk_forward", RAW), progress="off")


def _is_metrics(report, fold, combo):
    """Independent reference: the strategy's decisions with warm-up, the backtest engine, compute_metrics."""
    cls = registry.get("sma_crossover")
    bars = report.dataset.panel
    start, stop = fold.is_slice.start, fold.is_slice.stop
    ds = max(0, start - report.warmup)
    dec = cls(combo, symbols=["NASDAQ"]).decisions(bars.iloc[ds:stop])
    ow = dec.order_weights().iloc[start - ds :].copy()
    ow.iloc[0] = dec.weights.iloc[start - ds]
    res = run_backtest(bars.iloc[start:stop], ow, initial_cash=100_000.0, fees_bps=10)
    return compute_metrics(res)


def test_shape_of_the_run(report):
    # 1006 bars: 250 in sample, then 6 full OOS windows of 125 and a last one of 6 (partial_last).
    assert len(report.dataset.panel) == 1006
    assert len(report.folds) == 7 and report.folds[-1].n_out_of_sample == 6
    assert report.grid.n_kept == 5 and report.grid.n_dropped == 1
    assert len(report.trials) == 7 * 5
    assert report.warmup == 50
    assert list(report.fold_results["fold"]) == [1, 2, 3, 4, 5, 6, 7]


def test_each_fold_picks_the_best_valid_combination(report):
    """Recompute every combination of every fold one at a time and pick by hand."""
    grid = report.grid.grid
    for fold in report.folds:
        best, best_sharpe = None, -np.inf
        for combo_id, combo in zip(grid.index, grid.to_dict("records")):
            m = _is_metrics(report, fold, combo)
            row = report.trials[(report.trials["fold"] == fold.number) & (report.trials["combination"] == combo_id)].iloc[0]
            assert row["sharpe"] == pytest.approx(m["sharpe"], rel=1e-9)
            assert row["valid"] == (m["n_trades"] >= 3)
            if m["n_trades"] >= 3 and m["sharpe"] is not None and m["sharpe"] > best_sharpe:
                best, best_sharpe = combo_id, m["sharpe"]
        got = report.fold_results.set_index("fold").loc[fold.number, "combination"]
        assert (None if pd.isna(got) else int(got)) == best, fold
        chosen = report.trials[(report.trials["fold"] == fold.number) & report.trials["chosen"]]
        assert list(chosen["combination"]) == ([] if best is None else [best])


def test_stitched_equity_is_continuous(report):
    oos, fr = report.oos, report.fold_results
    bars = report.dataset.panel
    first, last = report.folds[0].oos_slice.start, report.folds[-1].oos_slice.stop
    assert oos.equity.index.equals(bars.index[first:last])  # no gaps, no overlaps
    assert oos.initial_cash == 100_000.0 and fr["oos_start_equity"].iloc[0] == 100_000.0
    for prev, nxt in zip(report.folds, report.folds[1:]):
        end_prev = oos.equity.loc[prev.oos_end]
        assert fr.set_index("fold").loc[nxt.number, "oos_start_equity"] == end_prev  # exactly the same money
        assert oos.equity.index.get_loc(nxt.oos_start) == oos.equity.index.get_loc(prev.oos_end) + 1
    assert list(report.oos_fold.groupby(report.oos_fold).size()) == [f.n_out_of_sample for f in report.folds]
    # The folds' returns compound to the stitched total return.
    growth = np.prod(1 + fr["oos_total_return"].to_numpy())
    assert growth - 1 == pytest.approx(report.oos_metrics["total_return"], rel=1e-12)
    assert fr["oos_final_equity"].iloc[-1] == report.oos_metrics["final_equity"]


def test_oos_trades_only_inside_the_oos_windows(report):
    orders = report.oos.orders
    assert orders["timestamp"].min() >= report.folds[0].oos_start
    assert orders["timestamp"].max() <= report.folds[-1].oos_end


def test_one_combination_everywhere_is_a_plain_backtest():
    """With a single combination every fold trades it: the stitched curve is its backtest
    over the same bars (warm-up before the first OOS bar), up to the re-targeting at
    fold starts, which trades nothing when the position already matches."""
    raw = {**RAW, "grid": {"fast": [10], "slow": [50]}, "constraints": {}}
    rep = run_walk_forward(P.validate("walk_forward", raw), progress="off")
    bars = rep.dataset.panel
    s = rep.folds[0].oos_slice.start
    dec = registry.get("sma_crossover")({"fast": 10, "slow": 50}, symbols=["NASDAQ"]).decisions(bars)
    ow = dec.order_weights().iloc[s:].copy()
    ow.iloc[0] = dec.weights.iloc[s]
    ref = run_backtest(bars.iloc[s:], ow, initial_cash=100_000.0, fees_bps=10)
    pd.testing.assert_series_equal(rep.oos.equity, ref.equity, rtol=1e-10)
    assert rep.pbo is None and "two combinations" in rep.pbo_note
    assert rep.recommended == {"fast": 10, "slow": 50}


def test_a_fold_without_a_valid_combination_stays_in_cash():
    raw = {**RAW, "constraints": {"min_trades": 1000}}
    rep = run_walk_forward(P.validate("walk_forward", raw), progress="off")
    assert rep.fold_results["combination"].isna().all()
    assert (rep.oos.equity == 100_000.0).all() and rep.oos.orders.empty
    assert rep.recommended is None and rep.recommended_params("x") is None
    assert any("stay in cash" in n for n in rep.notes)


def test_overfitting_diagnostics_come_from_the_trials(report):
    """DSR: N = distinct configurations (not folds x configurations, the old, wrong count),
    V = variance of their Sharpes over the stitched OOS bars, each from its own
    continuous backtest of the full sample (an independent run here)."""
    assert report.dsr is not None and report.pbo is not None and report.psr is not None
    assert report.dsr.n_trials == report.grid.n_kept == 5
    assert report.dsr.n_obs == report.psr.n_obs == len(report.oos.equity)
    bars = report.dataset.panel
    span = slice(report.folds[0].oos_slice.start, report.folds[-1].oos_slice.stop)
    cls = registry.get("sma_crossover")
    sharpes = []
    for combo in report.grid.grid.to_dict("records"):
        dec = cls(combo, symbols=["NASDAQ"]).decisions(bars)
        ow = dec.order_weights()
        ow.iloc[0] = dec.weights.iloc[0]
        res = run_backtest(bars, ow, initial_cash=100_000.0, fees_bps=10)
        r = res.equity.pct_change().fillna(res.equity.iloc[0] / 100_000.0 - 1).to_numpy()[span]
        sharpes.append(r.mean() / r.std(ddof=1))
    assert report.dsr.sr_variance == pytest.approx(np.var(sharpes, ddof=1), rel=1e-9)
    oos_r = report.oos.equity.pct_change().fillna(report.oos.equity.iloc[0] / 100_000.0 - 1)
    assert report.psr.sr == pytest.approx(oos_r.mean() / oos_r.std(ddof=1), rel=1e-9) == report.dsr.sr
    assert report.dsr.psr == pytest.approx(report.psr.psr, abs=1e-15)
    assert report.pbo.n_trials == report.grid.n_kept and report.pbo.n_splits == 8
    assert 0 <= report.dsr.dsr <= 1 and 0 <= report.pbo.pbo <= 1
    assert report.dsr.reading().startswith("DSR") and report.pbo.reading().startswith("PBO")


def test_recommend_rules():
    fr = pd.DataFrame({"fold": [1, 2, 3, 4, 5], "combination": pd.array([3, 7, 3, 7, None], dtype="Int64")})
    assert recommend(fr, "last_fold")[0] == 7  # the last fold that chose something
    combo, why = recommend(fr, "most_frequent")
    assert combo == 7 and "2 of 5 folds" in why  # a 2-2 tie goes to the most recent
    assert recommend(fr.iloc[:3], "most_frequent")[0] == 3
    assert recommend(fr.iloc[4:], "last_fold")[0] is None


def test_pbo_sample_is_evenly_spaced_and_bounded():
    grid = pd.DataFrame({"a": range(10)})
    assert pbo_sample(grid, 20) is grid
    assert list(pbo_sample(grid, 4)["a"]) == [0, 3, 6, 9]
    assert pbo_sample(grid.iloc[:1], 5) is None


def test_text_progress_writes_whole_lines(capsys):
    bar = progress_bar(3, desc="folds", unit="fold", mode="text")
    bar.update(3)
    bar.close()
    out = capsys.readouterr().out
    assert "\r" not in out and out.endswith("\n") and "folds: 100%" in out and "3/3" in out
    progress_bar(3, desc="x", unit="x", mode="off").update(1)  # off: does nothing, fails nothing


def test_heatmap_table_and_figures(report):
    table = report.heatmap_table()
    assert list(table.index) == [5, 10, 20] and list(table.columns) == [20, 50]
    assert math.isnan(table.loc[20, 20])  # dropped combination
    mean = report.trials.groupby(["fast", "slow"])["objective"].mean()
    assert table.loc[5, 50] == pytest.approx(mean.loc[(5, 50)])
    for fig in (wf_report.equity_figure(report), wf_report.stability_figure(report), wf_report.scatter_figure(report),
                wf_report.heatmap_figure(report)):
        assert fig.data


def test_overfitting_table_shows_psr_beside_dsr_and_pbo(report):
    t = wf_report.overfitting_table(report)
    assert list(t.index[:2]) == ["PSR", "DSR"] and t.index[-1] == "PBO"
    # One format for probabilities (percent, 2 decimals) and Sharpe ratios (2 decimals), as the headline's.
    assert t.loc["PSR", "value"] == f"{report.psr.psr * 100:.2f}%"
    assert t.loc["DSR", "value"] == f"{report.dsr.dsr * 100:.2f}%"
    assert t.loc["PBO", "value"] == f"{report.pbo.pbo * 100:.2f}%"
    assert t.loc["configurations N", "value"] == "5"
    assert t.loc["SR0 (annualised)", "value"] == f"{report.dsr.sr0 * math.sqrt(252):.2f}"
    assert t.loc["OOS Sharpe (annualised)", "value"] == f"{report.dsr.sr * math.sqrt(252):.2f}"
    html = wf_report.overfitting_html(report)
    for key in ("psr", "dsr", "sr0", "wf-n-configurations", "wf-sharpe-spread", "wf-skew", "wf-excess-kurtosis", "pbo"):
        assert f'href="#metric-{key}"' in html, key
    # The headline's readings write the probability the same way; metrics.json keeps its 0.94 form.
    assert wf_sections.annualised_dsr_reading(report).startswith(f"DSR {report.dsr.dsr * 100:.2f}%: ")
    assert f"is {report.dsr.dsr * 100:.2f}% likely" in wf_sections.annualised_dsr_reading(report)
    assert wf_sections.pbo_reading(report).startswith(f"PBO {report.pbo.pbo * 100:.2f}%: ")


def test_write_archives_every_file(report, tmp_path):
    run_dir = tmp_path / "20260101T000000Z-abcdef12"
    report.write(run_dir)
    names = {p.name for p in run_dir.iterdir()}
    assert names == {"folds.csv", "oos_equity.csv", "trials.parquet", "trials.csv", "metrics.json",
                     "recommended_params.yaml", "run_info.json"}
    assert len(pd.read_csv(run_dir / "trials.csv")) == 35  # the report's trials table links it
    trials = pd.read_parquet(run_dir / "trials.parquet")
    assert len(trials) == 35 and set(METRICS) <= set(trials.columns)
    assert {"fold", "combination", "fast", "slow", "objective", "valid", "chosen"} <= set(trials.columns)
    rec = yaml.safe_load((run_dir / "recommended_params.yaml").read_text())
    assert rec["walk_forward_run_id"] == run_dir.name and rec["strategy"] == "sma_crossover"
    last = report.fold_results.iloc[-1]
    assert rec["strategy_params"] == {"fast": int(last["fast"]), "slow": int(last["slow"])}
    registry.get("sma_crossover").parse_params(rec["strategy_params"])  # ready for the dry run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["total_return"] == pytest.approx(report.oos_metrics["total_return"])
    assert metrics["deflated_sharpe"]["dsr"] == pytest.approx(report.dsr.dsr)
    assert metrics["deflated_sharpe"]["psr"] == metrics["probabilistic_sharpe"]["psr"] == pytest.approx(report.psr.psr)
    assert metrics["probabilistic_sharpe"]["reading"].startswith("PSR")
    # The readings quote Sharpe ratios annualised, like metrics.json's own "sharpe" and the report (the audit found
    # "0.035 per bar" there); the per-bar figures the statistics use are kept under names that say so.
    ann = math.sqrt(252)
    dsr, psr = metrics["deflated_sharpe"], metrics["probabilistic_sharpe"]
    assert dsr["sharpe_annualised"] == psr["sharpe_annualised"] == pytest.approx(metrics["sharpe"], rel=1e-9)
    assert dsr["sharpe_per_bar"] == pytest.approx(report.dsr.sr) and dsr["sr0_per_bar"] == pytest.approx(report.dsr.sr0)
    assert dsr["sr0_annualised"] == pytest.approx(report.dsr.sr0 * ann)
    assert dsr["sr_variance_per_bar"] == pytest.approx(report.dsr.sr_variance)
    assert not {"sr", "sr0", "sr_variance", "sr_benchmark", "kurtosis"} & (set(dsr) | set(psr))
    for block in (dsr, psr):
        assert "per bar" not in block["reading"] and f"({block['sharpe_annualised']:.2f} annualised)" in block["reading"]
    assert f"SR0 = {dsr['sr0_annualised']:.2f} (annualised)" in dsr["reading"]
    assert dsr["reading"] == report.dsr.reading(periods_per_year=252)  # the headline's, probability as 0.94
    assert dsr["reading"].startswith(f"DSR {report.dsr.dsr:.2f}: ")
    assert metrics["pbo"]["pbo"] == pytest.approx(report.pbo.pbo)
    assert metrics["walk_forward"]["n_folds"] == 7
    eq = pd.read_csv(run_dir / "oos_equity.csv", index_col=0, parse_dates=True)
    assert list(eq.columns) == ["equity", "fold", "benchmark"] and len(eq) == len(report.oos.equity)
    info = json.loads((run_dir / "run_info.json").read_text())
    assert len(info["data_fingerprint"]) == 64


def test_dask_gives_exactly_the_local_results(report):
    from toolkit.optimize.executors import DaskExecutor

    with DaskExecutor(n_workers=2) as ex:
        rep = run_walk_forward(P.validate("walk_forward", RAW), progress="off", executor=ex)
    assert rep.executor == "dask"
    pd.testing.assert_series_equal(rep.fold_results["combination"], report.fold_results["combination"])
    pd.testing.assert_frame_equal(rep.fold_results[["fast", "slow"]], report.fold_results[["fast", "slow"]])
    pd.testing.assert_series_equal(rep.oos.equity, report.oos.equity, check_exact=True)
    pd.testing.assert_frame_equal(rep.trials, report.trials, check_exact=True)
    assert rep.pbo.pbo == report.pbo.pbo and rep.dsr.dsr == report.dsr.dsr
