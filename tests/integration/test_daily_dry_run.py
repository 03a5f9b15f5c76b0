"""End to end: `toolkit run daily_dry_run` through papermill, then the ledger CLI.

The papermill run is ``dry_run_archive`` (a real ``toolkit run`` process, shared with
the smoke tests); the ledger commands and the replay run in process (``toolkit_cli``).
"""

from __future__ import annotations

import json
from pathlib import Path


def test_papermill_run_writes_the_outputs(dry_run_archive) -> None:
    run_dir = dry_run_archive.run_dir
    for name in ("orders.csv", "fills.csv", "snapshot.json", "report.html", "manifest.json", "notebook.ipynb"):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["data_fingerprint"]
    snap = json.loads((run_dir / "snapshot.json").read_text())
    assert snap["status"] == "completed" and snap["snapshot"]["mode"] == "offline_mock"


def test_live_status_trades_export_and_killswitch(dry_run_archive, toolkit_cli, tmp_path: Path) -> None:
    db = dry_run_archive.db
    status = toolkit_cli(["live", "status"], db)
    assert status.returncode == 0 and "kill switch: off" in status.stdout and "position NASDAQ" in status.stdout
    trades = toolkit_cli(["live", "trades", "--limit", "5"], db)
    assert "NASDAQ" in trades.stdout and "buy" in trades.stdout
    out = tmp_path / "trades.csv"
    assert toolkit_cli(["live", "export", "--output", str(out)], db).returncode == 0
    assert out.read_text().count("\n") == 2
    assert toolkit_cli(["killswitch", "on", "--reason", " "], db).returncode == 2
    on = toolkit_cli(["killswitch", "on", "--reason", "integration test"], db)
    assert on.returncode == 0 and "ON" in on.stdout
    assert "kill switch: ON" in toolkit_cli(["live", "status"], db).stdout
    ks = toolkit_cli(["killswitch", "status"], db)
    assert ks.returncode == 0 and ks.stdout.startswith("kill switch: ON since ") and ks.stdout.count("\n") == 1
    assert ks.stdout.rstrip().endswith("by cli: integration test")
    assert toolkit_cli(["killswitch", "off", "--reason", "done"], db).returncode == 0
    assert toolkit_cli(["killswitch", "status"], db).stdout.startswith("kill switch: off (last change ")
    missing = toolkit_cli(["killswitch", "off"], db)  # no --reason: one line naming it, nothing changed
    assert missing.returncode == 2 and missing.stderr.startswith("error: --reason: ") and missing.stderr.count("\n") == 1
    assert "done" in toolkit_cli(["killswitch", "status"], db).stdout


def test_replay_cli(toolkit_cli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'replay.sqlite'}"
    done = toolkit_cli(["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
                        "--end", "2018-03-30", "--set", "strategy_params={fast: 10, slow: 30}"], db)
    assert done.returncode == 0, done.stderr
    assert "replay:" in done.stdout and "completed" in done.stdout
    again = toolkit_cli(["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
                         "--end", "2018-03-30", "--set", "strategy_params={fast: 10, slow: 30}"], db)
    assert "already_done" in again.stdout


def test_rejected_mode_is_a_clear_error(toolkit_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOOLKIT_COLD_KERNEL", "1")  # the backtest CLI test covers the warm kernel's shutdown
    done = toolkit_cli(["run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                        "--set", "mode=online_live", "--outputs", str(tmp_path)], f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert done.returncode == 2 and "mode" in done.stderr and "offline_mock only" in done.stderr
