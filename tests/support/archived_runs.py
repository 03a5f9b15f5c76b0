"""The session's one ``toolkit run daily_dry_run`` (and one ``toolkit run live``), shared by the tests that read it.

The fixtures are registered in tests/conftest.py, so the integration tests and the
browser tests (tests/browser/test_reports.py opens these reports) share one run each.

It runs as a real process, so it is also the smoke test of ``toolkit run`` (see
test_cli_smoke.py); the tests that read its archive or query its ledger share it
instead of paying for another papermill run each. ``default_run`` does the same for
the backtest and walk-forward notebooks on their default params (golden results and
explorer cells read one run); ``live_run_archive`` runs the live notebook once against
the Alpaca stand-in for test_live_run.py and the browser test; ``walk_forward_archive``
is one small walk-forward (5 configurations, 7 folds) for test_walk_forward_run.py and
the reference checks of its report (test_walk_forward_reference.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.dummy_secrets import DUMMY_SECRETS


@dataclass(frozen=True)
class DryRunArchive:
    """A completed ``toolkit run daily_dry_run`` on 2018-06-01 (when the SMA crossover buys NASDAQ)."""

    returncode: int
    stdout: str  # its last line is the run folder
    outputs: Path
    run_dir: Path
    db: str


@pytest.fixture(scope="session")
def dry_run_archive(tmp_path_factory: pytest.TempPathFactory, toolkit_process: Callable) -> DryRunArchive:
    """One papermill run of the dry-run notebook through the real command.

    A test that changes its ledger (the kill switch) sets it back before it ends. It runs
    with the dummy credentials set, so test_secret_leaks.py checks its archive too.
    """
    tmp = tmp_path_factory.mktemp("dry")
    db = f"sqlite:///{tmp / 'ledger.sqlite'}"
    done = toolkit_process(["run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                            "--set", "as_of=2018-06-01", "--outputs", str(tmp / "out")], db,
                           env=dict(DUMMY_SECRETS))
    assert done.returncode == 0, done.stderr
    return DryRunArchive(done.returncode, done.stdout, tmp / "out", Path(done.stdout.strip().splitlines()[-1]), db)


@dataclass(frozen=True)
class DefaultRun:
    """A completed ``toolkit run NOTEBOOK --params params/NOTEBOOK/sma_crossover.yaml`` (the shipped defaults)."""

    run_dir: Path
    ledger: Path  # its $TOOLKIT_DB_URL's file (absent if the run wrote no ledger)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory, toolkit_process: Callable) -> Callable[[str], DefaultRun]:
    """The session's one papermill run of a notebook on its default params, through the real command.

    The golden test compares its results and the explorer test reads its notebook and
    report: the same run both times, instead of two identical runs (8-10 s each).
    """
    runs: dict[str, DefaultRun] = {}

    def get(notebook: str) -> DefaultRun:
        if notebook not in runs:
            tmp = tmp_path_factory.mktemp(f"default-{notebook}")
            done = toolkit_process(["run", notebook, "--params", f"params/{notebook}/sma_crossover.yaml",
                                    "--outputs", str(tmp / "out")], f"sqlite:///{tmp / 'ledger.sqlite'}")
            assert done.returncode == 0, done.stderr
            runs[notebook] = DefaultRun(Path(done.stdout.strip().splitlines()[-1]), tmp / "ledger.sqlite")
        return runs[notebook]

    return get


#: The live session's clock, last prices and params (tests/integration/test_live_run.py reads the same run).
LIVE_NOW = "2015-12-01T20:55:00Z"
LIVE_PRICES = {"SPY": 210.679993, "AGG": 108.57}
LIVE_PARAMS = "params/live/alpaca_paper.yaml"


@dataclass(frozen=True)
class LiveRunArchive:
    """A completed ``toolkit run live`` against the Alpaca stand-in, with what the tests check after it."""

    returncode: int
    stdout: str
    stderr: str
    run_dir: Path
    ledger: Path
    cache_dir: Path  # its $TOOLKIT_CACHE_DIR
    env: dict[str, str]  # the keys and URLs it ran with
    post_counts: dict[str, int]  # the stand-in's POSTs per client order id, read right after the run


@pytest.fixture(scope="session")
def live_run_archive(tmp_path_factory: pytest.TempPathFactory, toolkit_process: Callable,
                     shared_data: Path) -> LiveRunArchive:
    """The session's one papermill run of the live notebook against the stand-in (this process serves it).

    The integration test checks its archive and secrets, the browser test opens its report:
    one run (about 10 s) for both. It runs with every dummy credential set.
    """
    from support.alpaca_standin import StandIn

    tmp = tmp_path_factory.mktemp("live")
    with StandIn.start(bars=[shared_data / "daily" / "qstrader"], symbols=["SPY", "AGG"], now=LIVE_NOW) as standin:
        standin.set_prices(LIVE_PRICES)
        env = {**DUMMY_SECRETS, "APCA_API_BASE_URL": standin.base_url, "APCA_API_DATA_URL": standin.base_url,
               "TOOLKIT_CACHE_DIR": str(tmp / "bar-cache")}
        done = toolkit_process(["run", "live", "--params", LIVE_PARAMS, "--outputs", str(tmp / "outputs")],
                               f"sqlite:///{tmp / 'ledger.sqlite'}", env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        posts = dict(standin.state()["post_counts"])
    return LiveRunArchive(done.returncode, done.stdout, done.stderr, Path(done.stdout.strip().splitlines()[-1]),
                         tmp / "ledger.sqlite", tmp / "bar-cache", env, posts)


#: The small walk-forward: 2012-2015 NASDAQ, 5 (fast, slow) configurations, 7 folds of
#: 250 in-sample / 125 out-of-sample bars, PBO on 8 blocks (70 splits), a 2% risk-free rate.
WALK_FORWARD_SMALL = {
    "data.start": "2012-01-01",
    "data.end": "2015-12-31",
    "grid": {"fast": [5, 10, 20], "slow": [20, 50]},
    "in_sample": 250,
    "out_of_sample": 125,
    "chunk_size": 2,
    "pbo_splits": 8,
    "risk_free_rate": 0.02,
}


@pytest.fixture(scope="session")
def walk_forward_archive(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's one papermill run of the walk-forward notebook on :data:`WALK_FORWARD_SMALL` (a RunRecord)."""
    from toolkit.params import repo_root
    from toolkit.runner import run_notebook

    out = tmp_path_factory.mktemp("walk-forward")
    return run_notebook("walk_forward", repo_root() / "params/walk_forward/sma_crossover.yaml", WALK_FORWARD_SMALL,
                        outputs_root=out)
