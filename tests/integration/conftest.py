"""The session's one ``toolkit run daily_dry_run``, shared by the tests that read it.

It runs as a real process, so it is also the smoke test of ``toolkit run`` (see
test_cli_smoke.py); the tests that read its archive or query its ledger share it
instead of paying for another papermill run each.
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
