"""Alerts from real runs through papermill: a dry run a guard halts, a live run reconciliation stops.

``toolkit run daily_dry_run`` with the guards' kill switch on (what a person sets to stop
an account): the run completes with its usual status (exit 3, the session halted) and the
runner sends ``guard_tripped``. ``toolkit run live`` against the Alpaca stand-in holding a
position the ledger does not know: the session stops before any order, the run fails (as
it always did) and the runner sends ``reconciliation_mismatch``. The channels are apprise
custom handlers in this process (tests/support/alert_inbox.py) and a real ``json://`` URL
to a closed local port; the command runs in process so the handlers receive what it sends.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.alert_inbox import INBOX, INBOX_URL, REFUSE_URL, SECRET, UNREACHABLE_URL
from support.alpaca_standin import StandIn

from toolkit.ledger import open_ledger
from toolkit.ops.alerts import ALERT_URLS

HALTED = ["run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml", "--set", "as_of=2018-06-01",
          "--set", "guards.kill_switch=true"]


def archived_text(run_dir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file())


@pytest.fixture(autouse=True)
def empty_inbox() -> None:
    INBOX.clear()


def test_a_halted_session_sends_guard_tripped_and_a_dead_channel_changes_nothing(
        toolkit_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv(ALERT_URLS, f"{INBOX_URL},{UNREACHABLE_URL}")
    done = toolkit_cli([*HALTED, "--outputs", str(tmp_path / "out")], db)
    assert done.returncode == 3, done.stderr  # the session halted: the usual status, alerts or not
    run_dir = Path(done.stdout.strip().splitlines()[-1])

    [alert] = INBOX
    assert alert["title"] == "guard tripped: dry-run session halted"
    assert alert["body"].startswith("- session halted: ") and "kill switch" in alert["body"]
    assert run_dir.name in alert["body"]
    with open_ledger(db) as ledger:
        [row] = ledger.alert_records()
        run = ledger.runs().iloc[-1]
    assert (row.kind, row.channels, row.delivered) == ("guard_tripped", 2, True)
    assert (row.account, row.run_key) == ("dry-run", run["run_key"]) and run["status"] == "halted"
    assert row.error.startswith("channel 2 (json): not delivered (failure)")
    assert "alert guard_tripped: delivered (2 channel(s) tried; channel 2 (json)" in done.stderr
    for text in (done.stdout, done.stderr, archived_text(run_dir), row.error, row.body):
        assert SECRET not in text


def test_with_only_failing_channels_the_run_is_as_usual_and_the_alert_is_recorded_not_delivered(
        toolkit_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv(ALERT_URLS, f"{REFUSE_URL} {UNREACHABLE_URL}")
    done = toolkit_cli([*HALTED, "--outputs", str(tmp_path / "out")], db)
    assert done.returncode == 3, done.stderr
    with open_ledger(db) as ledger:
        [row] = ledger.alert_records()
    assert (row.kind, row.channels, row.delivered) == ("guard_tripped", 2, False)
    assert row.error.startswith("channel 1 (tkrefuse): not delivered (failure)")
    assert "; channel 2 (json): not delivered (failure)" in row.error
    assert INBOX == []
    assert SECRET not in done.stdout + done.stderr + archived_text(Path(done.stdout.strip().splitlines()[-1]))


def test_a_live_session_stopped_by_reconciliation_sends_reconciliation_mismatch(
        toolkit_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path, alpaca_env: dict[str, str],
        cache_dir: Path) -> None:
    from alpaca.trading.client import TradingClient
    from alpaca.trading.requests import MarketOrderRequest

    with StandIn.start(bars=[shared_data / "daily" / "qstrader"], symbols=["SPY", "AGG"],
                       now="2015-12-01T20:55:00Z") as standin:
        standin.set_prices({"SPY": 210.679993, "AGG": 108.57})
        # Someone bought at the broker by hand: the ledger does not know the position.
        TradingClient("k", "s", url_override=standin.base_url).submit_order(MarketOrderRequest(
            symbol="AGG", qty=5, side="buy", time_in_force="day", client_order_id="manual-agg"))
        for name in ("APCA_API_BASE_URL", "APCA_API_DATA_URL"):
            monkeypatch.setenv(name, standin.base_url)
        monkeypatch.setenv(ALERT_URLS, INBOX_URL)
        db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        done = toolkit_cli(["run", "live", "--params", "params/live/alpaca_paper.yaml", "--outputs",
                            str(tmp_path / "out")], db)
        assert standin.state()["post_counts"] == {"manual-agg": 1}  # only the manual order: nothing was sent
    assert done.returncode == 1, done.stderr  # a stopped session fails the run, as before
    [alert] = INBOX
    assert alert["title"] == "reconciliation mismatch: alpaca-paper (paper) stopped before any order"
    assert alert["body"].startswith("ledger and broker disagree: ") and "AGG" in alert["body"]
    assert alert["type"] == "failure"
    with open_ledger(db) as ledger:
        [row] = ledger.alert_records()
    assert (row.kind, row.account, row.delivered) == ("reconciliation_mismatch", "alpaca-paper", True)
    secrets = [SECRET, *alpaca_env.values()]
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    for text in (done.stdout, done.stderr, archived_text(run_dir), row.body, row.title):
        assert not any(s in text for s in secrets)


def test_a_run_the_lock_refuses_exits_4_archived_as_locked_without_a_run_failed_alert(
        toolkit_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A person's ``toolkit run`` meets the scheduled run of the same session: not a failure, no alert."""
    import json
    import os
    import socket
    from datetime import UTC, datetime

    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    key = "sma_crossover|dry-run|2018-06-01|close"
    monkeypatch.setenv(ALERT_URLS, INBOX_URL)
    with open_ledger(db) as ledger:  # the scheduled run holds the session's lock (alive: this process)
        got, _ = ledger.acquire_run_lock(key, host=socket.gethostname(), pid=os.getpid(), at=datetime.now(UTC))
        assert got
    done = toolkit_cli(["run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml", "--set",
                        "as_of=2018-06-01", "--outputs", str(tmp_path / "out")], db)
    assert done.returncode == 4, done.stderr
    [line] = [ln for ln in done.stderr.splitlines() if " locked: " in ln]
    assert f"RunLocked: run {key} is already running: lock held by host {socket.gethostname()} pid {os.getpid()}" \
        in line
    assert done.stdout.splitlines()[-2] == ("daily_dry_run sma_crossover locked: another run of this session holds "
                                            "its lock; this one did not start")
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "locked"
    assert INBOX == []
    with open_ledger(db) as ledger:
        assert ledger.alert_records() == [] and ledger.get_run(key) is None
