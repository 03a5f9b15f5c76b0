"""Re-running one combination of one fold gives what the walk-forward recorded, to the bit.

A two-symbol walk-forward with costs, slippage and next-open fills (the paths where a
re-implementation would drift), and a chunk size that leaves one combination alone in
a chunk (a one-group vectorbt portfolio, which once crashed the metrics).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from toolkit import params as P
from toolkit.errors import ParamsError
from toolkit.optimize.evaluate import METRICS
from toolkit.optimize.fold_replay import chosen_combinations, replay_fold
from toolkit.optimize.walk_forward import WalkForwardReport, run_walk_forward

RAW = {
    "grid": {"fast": [5, 10, 20], "slow": [20, 50]},
    "data": {"source": "sample", "symbols": ["SP500", "NASDAQ"], "start": "2011-01-01", "end": "2015-12-31"},
    "in_sample": 250,
    "out_of_sample": 125,
    "constraints": {"min_trades": 3},
    "costs": {"fees_bps": 10, "slippage_bps": 5, "fill": "next_open"},
    "chunk_size": 2,  # 5 combinations: the last chunk holds one
    "pbo_splits": 8,
}


@pytest.fixture(scope="module")
def report() -> WalkForwardReport:
    return run_walk_forward(P.validate("walk_forward", RAW), progress="off")


def same(a: float, b: float) -> bool:
    return bool(a == b or (math.isnan(a) and math.isnan(b)))


def test_a_one_combination_chunk_of_several_symbols_runs(report: WalkForwardReport) -> None:
    assert report.grid.n_kept == 5 and len(report.folds) >= 8
    assert len(report.trials) == 5 * len(report.folds)


def test_the_chosen_combination_replays_the_fold_table_exactly(report: WalkForwardReport) -> None:
    chosen = chosen_combinations(report)
    replayed = 0
    for fold in report.folds:
        combo = chosen[fold.number]
        if combo is None:
            continue
        r = replay_fold(report, fold.number, combo)
        row = report.fold_results[report.fold_results["fold"] == fold.number].iloc[0]
        t = report.trials
        trial = t[(t["fold"] == fold.number) & (t["combination"] == combo)].iloc[0]
        for name in (*METRICS, "objective"):
            assert same(r.in_sample_metrics[name], float(trial[name])), (fold.number, name)
            assert same(r.out_of_sample_metrics[name], float(row[f"oos_{name}"])), (fold.number, name)
        assert r.in_sample_metrics["objective"] == row["is_objective"]
        assert r.in_sample.iloc[-1] == trial["final_equity"]
        assert r.in_sample.index.equals(report.dataset.panel.index[fold.is_slice])
        recorded = report.oos.equity[report.oos_fold == fold.number]
        pd.testing.assert_series_equal(r.out_of_sample, recorded, check_names=False, check_freq=False, rtol=0, atol=0)
        assert r.out_of_sample_start_equity == row["oos_start_equity"]
        replayed += 1
    assert replayed >= 5


def test_every_combination_of_a_fold_replays_its_trial(report: WalkForwardReport) -> None:
    fold = report.folds[3].number
    t = report.trials[report.trials["fold"] == fold]
    for combo in report.grid.grid.index:
        r = replay_fold(report, fold, int(combo))
        trial = t[t["combination"] == combo].iloc[0]
        assert all(same(r.in_sample_metrics[k], float(trial[k])) for k in (*METRICS, "objective")), combo
        assert r.params == {"fast": int(trial["fast"]), "slow": int(trial["slow"])}


def test_another_combination_trades_from_the_portfolio_the_previous_fold_handed_over(
    report: WalkForwardReport,
) -> None:
    chosen = chosen_combinations(report)
    fold = next(f for f in report.folds[1:] if chosen[f.number] is not None)
    other = next(int(c) for c in report.grid.grid.index if c != chosen[fold.number])
    r = replay_fold(report, fold.number, other)
    row = report.fold_results[report.fold_results["fold"] == fold.number].iloc[0]
    assert r.out_of_sample_start_equity == row["oos_start_equity"]
    recorded = report.oos.equity[report.oos_fold == fold.number]
    assert r.out_of_sample.index.equals(recorded.index)
    assert not np.array_equal(r.out_of_sample.to_numpy(), recorded.to_numpy())


def test_a_fold_or_combination_not_in_the_run_is_refused(report: WalkForwardReport) -> None:
    with pytest.raises(ParamsError, match=r"^fold: got 99; allowed: a fold of this walk-forward, 1 to \d+$"):
        replay_fold(report, 99, 0)
    dropped = 4  # (fast 20, slow 20), the fifth in grid order: dropped by the strategy
    assert dropped not in report.grid.grid.index
    with pytest.raises(ParamsError, match=r"^combination: got 4; allowed: a combination of the grid"):
        replay_fold(report, 1, dropped)
