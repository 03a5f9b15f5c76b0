"""A sweep on a dask.distributed cluster of worker PROCESSES gives exactly the local results.

The unit test of the walk-forward checks dask == local on the in-process cluster the
executor starts by default (threads). Here the cluster is what a user points a run at:
a ``LocalCluster`` of two single-threaded worker processes reached by its scheduler
address (the ``scheduler_address`` of the params), so every task and the bars cross a
process boundary (pickling) and run in another interpreter with its own imports and
compiled code. The combinations are split into chunks the workers share; the metrics
frames (and the full-sample returns PBO uses) must be equal bit for bit.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from toolkit import params as P
from toolkit.data.dataset import load_dataset
from toolkit.optimize.evaluate import GridTask, evaluate_task
from toolkit.optimize.executors import DaskExecutor, LocalExecutor
from toolkit.optimize.grid import chunks, expand_grid
from toolkit.optimize.walk_forward import run_walk_forward

distributed = pytest.importorskip("distributed")

#: 48 combinations, 6 chunks of 8 plus 2 full-sample chunks: both workers get several tasks.
GRID = {"fast": [5, 10, 20, 30, 40, 60], "slow": [70, 90, 120, 150, 200, 250, 300, 400]}
CHUNK = 8
N_BARS = 1500


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as c:
        yield c


@pytest.fixture(scope="module")
def bars():
    p = P.load("walk_forward", P.repo_root() / "params/walk_forward/bench_10x500.yaml")
    return load_dataset(p.data, base_dir=P.repo_root()).panel.iloc[:N_BARS]


def _tasks(bars: pd.DataFrame) -> list[GridTask]:
    """In-sample-like windows (warm-up before ``start``) and a full-sample pass keeping returns."""
    grid = expand_grid(GRID)
    n = len(bars)
    out = []
    for i, c in enumerate(chunks(grid, CHUNK)):
        key, (decide_start, start, stop) = (1, (100, 500, 1000)) if i % 2 else (2, (0, 400, n))
        out.append(GridTask(key, i, decide_start, start, stop, c, "sma_crossover", {}, ("NASDAQ",),
                            100_000.0, 10.0, 5.0, "close"))
    out += [GridTask(0, i, 0, 0, n, c, "sma_crossover", {}, ("NASDAQ",), 100_000.0, 10.0, 0.0, "next_open",
                     keep_returns=True) for i, c in enumerate(chunks(grid, 3 * CHUNK))]  # 2 tasks
    return out


def test_sweep_on_worker_processes_equals_the_local_run(cluster, bars):
    tasks = _tasks(bars)
    local = LocalExecutor().map(evaluate_task, tasks, bars)
    with DaskExecutor(cluster.scheduler_address) as ex, distributed.get_task_stream(client=ex.client) as stream:
        remote = ex.map(evaluate_task, tasks, bars)
        assert ex.scheduler_address == cluster.scheduler_address

    workers = {t["worker"] for t in stream.data if str(t["key"]).startswith("evaluate_task")}
    assert len(workers) == 2, f"the chunks ran on {workers}, not on both worker processes"
    assert [(r.key, r.chunk) for r in remote] == [(t.key, t.chunk) for t in tasks]  # task order kept
    for mine, theirs in zip(local, remote, strict=True):
        pd.testing.assert_frame_equal(theirs.metrics, mine.metrics, check_exact=True)
        if mine.returns is None:
            assert theirs.returns is None
        else:
            np.testing.assert_array_equal(theirs.returns, mine.returns)
    # Not vacuous: the combinations differ from one another.
    metrics = pd.concat(r.metrics for r in local if r.key == 0)
    assert len(metrics) == 48 and metrics["final_equity"].nunique() > 24


def test_walk_forward_params_point_at_a_scheduler_address(cluster):
    """What the README shows: ``executor: dask`` and ``scheduler_address`` in the params."""
    raw = {
        "strategy": "sma_crossover",
        "grid": {"fast": [5, 10, 20], "slow": [30, 50, 100]},
        "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2010-01-01", "end": "2015-12-31"},
        "in_sample": 500, "out_of_sample": 250, "chunk_size": 2, "pbo_splits": 8,
        "costs": {"fees_bps": 10, "slippage_bps": 0, "fill": "close"},
    }
    local = run_walk_forward(P.validate("walk_forward", raw), progress="off")
    remote = run_walk_forward(
        P.validate("walk_forward", {**raw, "executor": "dask", "scheduler_address": cluster.scheduler_address}),
        progress="off",
    )
    assert remote.executor == "dask" and local.executor == "local"
    pd.testing.assert_frame_equal(remote.trials, local.trials, check_exact=True)
    pd.testing.assert_series_equal(remote.oos.equity, local.oos.equity, check_exact=True)
    assert remote.pbo.pbo == local.pbo.pbo and remote.dsr.dsr == local.dsr.dsr
