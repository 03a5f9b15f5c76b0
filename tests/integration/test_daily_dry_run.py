"""End to end: `toolkit run daily_dry_run` through papermill, then the ledger CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = [sys.executable, "-m", "toolkit.cli"]


def _cli(args: list[str], db: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOOLKIT_DB_URL": db}
    return subprocess.run(TOOLKIT + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("dry")
    db = f"sqlite:///{tmp / 'ledger.sqlite'}"
    done = _cli(["run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                 "--set", "as_of=2018-06-01", "--outputs", str(tmp / "out")], db)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1]), db


def test_papermill_run_writes_the_outputs(run) -> None:
    run_dir, _ = run
    for name in ("orders.csv", "fills.csv", "snapshot.json", "report.html", "manifest.json", "notebook.ipynb"):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["data_fingerprint"]
    snap = json.loads((run_dir / "snapshot.json").read_text())
    assert snap["status"] == "completed" and snap["snapshot"]["mode"] == "offline_mock"


def test_live_status_trades_export_and_killswitch(run, tmp_path: Path) -> None:
    _, db = run
    status = _cli(["live", "status"], db)
    assert status.returncode == 0 and "kill switch: off" in status.stdout and "position NASDAQ" in status.stdout
    trades = _cli(["live", "trades", "--limit", "5"], db)
    assert "NASDAQ" in trades.stdout and "buy" in trades.stdout
    out = tmp_path / "trades.csv"
    assert _cli(["live", "export", "--output", str(out)], db).returncode == 0
    assert out.read_text().count("\n") == 2
    assert _cli(["killswitch", "on", "--reason", " "], db).returncode == 2
    on = _cli(["killswitch", "on", "--reason", "integration test"], db)
    assert on.returncode == 0 and "ON" in on.stdout
    assert "kill switch: ON" in _cli(["live", "status"], db).stdout
    assert _cli(["killswitch", "off", "--reason", "done"], db).returncode == 0


def test_replay_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'replay.sqlite'}"
    done = _cli(["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
                 "--end", "2018-03-30", "--set", "strategy_params={fast: 10, slow: 30}"], db)
    assert done.returncode == 0, done.stderr
    assert "replay:" in done.stdout and "completed" in done.stdout
    again = _cli(["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
                  "--end", "2018-03-30", "--set", "strategy_params={fast: 10, slow: 30}"], db)
    assert "already_done" in again.stdout


def test_rejected_mode_is_a_clear_error(tmp_path: Path) -> None:
    done = _cli(["run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                 "--set", "mode=online_live", "--outputs", str(tmp_path)], f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert done.returncode == 2 and "mode" in done.stderr and "offline_mock only" in done.stderr
