"""The session's one ``toolkit run daily_dry_run``, shared by the tests that read it.

The fixtures are registered in tests/conftest.py, so the integration tests and the
browser tests (tests/browser/test_reports.py opens these reports) share one run each.

It runs as a real process, so it is also the smoke test of ``toolkit run`` (see
test_cli_smoke.py); the tests that read its archive or query its ledger share it
instead of paying for another papermill run each. ``default_run`` does the same for
the backtest and walk-forward notebooks on their default params (golden results and
explorer cells read one run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
