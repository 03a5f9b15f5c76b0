"""Each ``toolkit`` command once as a real process: the console script, argv, exit status, output.

What the commands do is tested in process (``toolkit_cli``) next to the feature they
drive; these only prove that the installed command reaches ``main`` and that its status
and output come back out of a process. ``toolkit run`` is ``dry_run_archive`` (see
conftest.py), the session's one papermill run of the dry-run notebook.
"""

from __future__ import annotations

from pathlib import Path

from toolkit.strategies import available


def test_help_lists_every_command(toolkit_process) -> None:
    done = toolkit_process(["--help"])
    assert done.returncode == 0
    for command in ("run", "runs", "strategies", "replay", "parity", "live", "killswitch", "config"):
        assert command in done.stdout


def test_run(dry_run_archive) -> None:
    assert dry_run_archive.returncode == 0
    assert dry_run_archive.run_dir.is_absolute() and dry_run_archive.run_dir.is_dir()  # the last line printed
    # the line before: the outcome (the session's status and order count)
    assert dry_run_archive.stdout.splitlines()[-2] == "daily_dry_run sma_crossover completed: session 2018-06-01 completed, 1 order"
    assert dry_run_archive.run_dir.parent == dry_run_archive.outputs / "daily_dry_run"
    assert (dry_run_archive.run_dir / "manifest.json").is_file()


def test_runs(dry_run_archive, toolkit_process) -> None:
    done = toolkit_process(["runs", "--outputs", str(dry_run_archive.outputs)])
    assert done.returncode == 0 and dry_run_archive.run_dir.name in done.stdout
    assert "session 2018-06-01 completed, 1 order" in done.stdout


def test_runs_show(dry_run_archive, toolkit_process) -> None:
    done = toolkit_process(["runs", "show", "last", "--outputs", str(dry_run_archive.outputs)])
    assert done.returncode == 0 and done.stdout.startswith(f"run          {dry_run_archive.run_dir.name}\n")


def test_runs_open(dry_run_archive, toolkit_process) -> None:
    """Where the tests run there may or may not be a display: without one nothing opens; either way
    the exit status is 0 and stdout is the report's path. (``BROWSER=true`` stands in for a browser.)"""
    done = toolkit_process(["runs", "open", "last", "--outputs", str(dry_run_archive.outputs)],
                           env={"BROWSER": "true"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{(dry_run_archive.run_dir / 'report.html').resolve()}\n"


def test_strategies(toolkit_process) -> None:
    done = toolkit_process(["strategies"])
    assert done.returncode == 0
    assert all(f"{name}: " in done.stdout for name in available())


def test_replay(toolkit_process, tmp_path: Path) -> None:
    done = toolkit_process(["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
                            "--end", "2018-01-05", "--no-parity"], f"sqlite:///{tmp_path / 'replay.sqlite'}")
    assert done.returncode == 0, done.stderr
    assert "replay:" in done.stdout and "final equity" in done.stdout


def test_parity(dry_run_archive, toolkit_process, tmp_path: Path) -> None:
    """The dry run's one session (2018-06-01, it buys NASDAQ) against the backtest of its params file."""
    done = toolkit_process(["parity", "--account", "dry-run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                            "--output", str(tmp_path)], dry_run_archive.db)
    assert done.returncode == 0, done.stderr
    assert "trades: 1 live, 1 backtest, 0 differ beyond 10 bp" in done.stdout
    assert (tmp_path / "trades.csv").is_file() and (tmp_path / "sessions.csv").is_file()


def test_live_status(dry_run_archive, toolkit_process) -> None:
    done = toolkit_process(["live", "status"], dry_run_archive.db)
    assert done.returncode == 0 and "position NASDAQ" in done.stdout


def test_live_trades(dry_run_archive, toolkit_process) -> None:
    done = toolkit_process(["live", "trades"], dry_run_archive.db)
    assert done.returncode == 0 and "NASDAQ" in done.stdout


def test_live_export(dry_run_archive, toolkit_process, tmp_path: Path) -> None:
    out = tmp_path / "trades.csv"
    done = toolkit_process(["live", "--db", dry_run_archive.db, "export", "--output", str(out)])
    assert done.returncode == 0 and "trades.csv" in done.stdout and out.is_file()


def test_killswitch(toolkit_process, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"  # its own ledger: the shared dry run's stays as it is
    on = toolkit_process(["killswitch", "on", "--reason", "smoke test"], db)
    assert on.returncode == 0 and "kill switch ON (smoke test)" in on.stdout
    status = toolkit_process(["killswitch", "status"], db)
    assert status.returncode == 0 and status.stdout.startswith("kill switch: ON since ") and "smoke test" in status.stdout


def test_config(toolkit_process, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"  # its own ledger: the shared dry run's stays as it is
    done = toolkit_process(["config", "set", "strategy_params.fast=12", "--account", "dry-run", "--reason",
                            "smoke test", "--actor", "smoke"], db)
    assert done.returncode == 0 and done.stdout.startswith("strategy_params.fast = 12 for account dry-run")
    show = toolkit_process(["config", "show", "--account", "dry-run", "--db-url", db])
    assert show.returncode == 0 and "strategy_params.fast = 12  set by smoke at " in show.stdout
    bad = toolkit_process(["config", "revert", "99", "--reason", "smoke"], db)
    assert bad.returncode == 2 and bad.stderr.startswith("error: change_id: got 99")
