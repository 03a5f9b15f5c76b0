"""The ledger a scheduled run uses, and the ledger ``runs prune`` reads for it.

cron and systemd start ``toolkit`` with a bare environment, so ``schedule install`` tells
users to keep ``TOOLKIT_DB_URL`` in the project's ``.env``: one real ``toolkit run
daily_dry_run`` as a process whose environment holds only PATH, HOME and
``TOOLKIT_ENV_FILE`` must record its session (one order) in that ledger, and its manifest
must name it. ``runs prune`` then reads that ledger, not whatever ``$TOOLKIT_DB_URL`` names
at prune time; an archive whose ledger it cannot tell is kept.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from toolkit.ledger import open_ledger
from toolkit.ledger.db import shown_url

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("toolkit")
TOOLKIT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "toolkit.cli"]
RUN_KEY = "sma_crossover|dry-run|2018-06-01|close"
LATER = "2100-01-01T00:00:00Z"  # with --keep-days 0 every archive is old


@dataclass(frozen=True)
class BareRun:
    tmp: Path
    outputs: Path
    run_dir: Path
    ledger: str  # the URL the .env file names


@pytest.fixture(scope="module")
def bare_run(tmp_path_factory: pytest.TempPathFactory) -> BareRun:
    tmp = tmp_path_factory.mktemp("bare")
    ledger = f"sqlite:///{tmp / 'team.sqlite'}"
    env_file = tmp / "project.env"
    env_file.write_text(f"TOOLKIT_DB_URL={ledger}\n")
    bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp)), "TOOLKIT_ENV_FILE": str(env_file)}
    done = subprocess.run([*TOOLKIT, "run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                           "--set", "as_of=2018-06-01", "--outputs", str(tmp / "out")],
                          check=False, cwd=ROOT, env=bare, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return BareRun(tmp, tmp / "out", Path(done.stdout.strip().splitlines()[-1]), ledger)


def test_a_bare_environment_records_the_session_in_the_dotenv_ledger(bare_run: BareRun) -> None:
    with open_ledger(bare_run.ledger, must_exist=True) as ledger:
        orders = ledger.orders()
    assert list(orders["run_key"]) == [RUN_KEY]
    manifest = json.loads((bare_run.run_dir / "manifest.json").read_text())
    assert manifest["params"]["db_url"] is None
    assert manifest["session"]["run_key"] == RUN_KEY
    assert manifest["session"]["ledger"] == bare_run.ledger


def _prune(toolkit_cli, outputs: Path, db: str) -> tuple[str, str]:
    done = toolkit_cli(["runs", "prune", "--keep-days", "0", "--now", LATER, "--outputs", str(outputs)], db)
    assert done.returncode == 0, done.stderr
    kept = [line for line in done.stdout.splitlines() if line.startswith("  ")]
    assert done.stdout.startswith("removed 0 runs") and len(kept) == 1, done.stdout
    return kept[0].split(None, 1)[1], done.stdout


def test_prune_reads_the_ledger_the_session_recorded_in(bare_run: BareRun, toolkit_cli) -> None:
    other = f"sqlite:///{bare_run.tmp / 'other.sqlite'}"
    open_ledger(other).close()  # an empty ledger: what $TOOLKIT_DB_URL names at prune time
    reason, out = _prune(toolkit_cli, bare_run.outputs, other)
    assert reason == f"1 ledger order of run {RUN_KEY} refers to it"
    assert f"ledger {bare_run.ledger}: read" in out and other not in out
    assert bare_run.run_dir.is_dir()


def test_an_archive_without_its_ledger_is_kept_when_the_ledger_read_has_no_run_of_it(
        bare_run: BareRun, toolkit_cli) -> None:
    """An archive written before the manifest named its ledger, pruned against another ledger."""
    outputs = bare_run.tmp / "older"
    copy = outputs / "daily_dry_run" / bare_run.run_dir.name
    shutil.copytree(bare_run.run_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["session"]["ledger"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    other = f"sqlite:///{bare_run.tmp / 'other.sqlite'}"
    open_ledger(other).close()
    reason, _ = _prune(toolkit_cli, outputs, other)
    assert reason.startswith(f"the ledger {other} has no run {RUN_KEY}: ")
    assert reason.endswith("cannot tell whether orders refer to it") and copy.is_dir()


@pytest.mark.postgresql
def test_a_recorded_ledger_with_a_password_is_read_with_the_environments_password(
        bare_run: BareRun, toolkit_cli, postgres_url: str) -> None:
    """The manifest holds the URL with its password masked; prune opens that ledger only when
    ``$TOOLKIT_DB_URL`` names the same login, host and database, and keeps the run otherwise."""
    outputs = bare_run.tmp / "team"
    copy = outputs / "daily_dry_run" / bare_run.run_dir.name
    shutil.copytree(bare_run.run_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["session"]["ledger"] = shown_url(postgres_url)
    assert "***" in manifest["session"]["ledger"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with open_ledger(postgres_url) as ledger:
        ledger.start_run(RUN_KEY, mode="offline_mock")
        ledger.record_order(client_order_id="c1", run_key=RUN_KEY, mode="offline_mock", strategy="sma_crossover",
                            account="dry-run", symbol="NASDAQ", side="buy", quantity=Decimal(3),
                            decision_price=Decimal("7000"))
    password = make_url(postgres_url).password
    assert password

    reason, out = _prune(toolkit_cli, outputs, postgres_url)
    assert reason == f"1 ledger order of run {RUN_KEY} refers to it"
    assert f"ledger {shown_url(postgres_url)}: read" in out and password not in out

    other = f"sqlite:///{bare_run.tmp / 'other.sqlite'}"
    reason, out = _prune(toolkit_cli, outputs, other)
    assert reason == (f"its session's ledger {shown_url(postgres_url)} cannot be read (its password is in neither "
                      "the params' db_url nor $TOOLKIT_DB_URL): cannot tell whether orders refer to it")
    assert password not in out and copy.is_dir()
