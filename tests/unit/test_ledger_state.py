"""Runs, snapshots, kill switch, audit log, configuration overrides and system state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from toolkit.ledger import Ledger, LedgerError, make_run_key, open_ledger, parse_run_key

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class TickingClock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


@pytest.fixture
def ledger(ledger_url: str) -> Ledger:
    led = open_ledger(ledger_url, clock=TickingClock())
    yield led
    led.close()


# ----------------------------------------------------------------- runs

KEY = "sma|acct-1|2024-01-02|5min_before_close"


def test_run_key_round_trip() -> None:
    key = make_run_key("sma", "acct-1", date(2024, 1, 2), "5min_before_close")
    assert key == KEY
    assert parse_run_key(key) == ("sma", "acct-1", date(2024, 1, 2), "5min_before_close")
    with pytest.raises(LedgerError, match="run_key: got 'sma|acct'"):
        parse_run_key("sma|acct")
    with pytest.raises(LedgerError, match="strategy: got 'a|b'"):
        make_run_key("a|b", "acct", date(2024, 1, 2), "close")


def test_run_lifecycle_and_resume(ledger: Ledger) -> None:
    assert ledger.get_run(KEY) is None
    run = ledger.start_run(KEY, mode="offline_mock", notebook_run_id="nb-1")
    assert (run.status, run.strategy, run.session_date, run.finished_at) == ("started", "sma", date(2024, 1, 2), None)
    # Crash, then the scheduler runs it again: same run, resumed.
    again = ledger.start_run(KEY, mode="offline_mock", notebook_run_id="nb-2")
    assert again.status == "started" and again.started_at == run.started_at and again.notebook_run_id == "nb-2"
    done = ledger.finish_run(KEY, "completed", summary={"orders": 2, "equity": D("100.5")})
    assert done.status == "completed" and done.finished_at > done.started_at
    assert ledger.get_run(KEY).summary == {"orders": 2, "equity": "100.5"}
    # A completed run is handed back untouched: the caller sees there is nothing to do.
    assert ledger.start_run(KEY, mode="offline_mock") == ledger.get_run(KEY)
    with pytest.raises(LedgerError, match="only a started run can be finished"):
        ledger.finish_run(KEY, "failed")
    assert len(ledger.runs()) == 1


def test_failed_run_can_be_retried(ledger: Ledger) -> None:
    ledger.start_run(KEY, mode="paper")
    ledger.finish_run(KEY, "failed", summary={"error": "broker timeout"})
    retry = ledger.start_run(KEY, mode="paper")
    assert retry.status == "started" and retry.finished_at is None
    with pytest.raises(LedgerError, match="mode 'online_live' differs"):
        ledger.start_run(KEY, mode="online_live")


def test_a_run_records_a_summary_when_it_starts(ledger: Ledger) -> None:
    """A paper or live session writes its parameters first, so a session that crashes still carries them."""
    params = {"params": {"strategy": "sma", "costs": {"slippage_bps": 5}}}
    assert ledger.start_run(KEY, mode="paper", summary=params).summary == params
    assert ledger.get_run(KEY).summary == params  # what a crash leaves
    # Resumed: the summary it has stays (a resume never rewrites what the session started with).
    assert ledger.start_run(KEY, mode="paper", summary={"params": {"strategy": "other"}}).summary == params
    ledger.finish_run(KEY, "failed", summary=None)
    assert ledger.start_run(KEY, mode="paper", summary=params).summary == params  # none left: takes this one
    done = ledger.finish_run(KEY, "completed", summary={"orders": 1, **params})
    assert ledger.get_run(KEY).summary == done.summary == {"orders": 1, **params}
    with pytest.raises(TypeError, match="cannot store object"):  # as finish_run refuses it
        ledger.start_run("sma|acct-1|2024-01-03|close", mode="paper", summary={"x": object()})
    assert ledger.get_run("sma|acct-1|2024-01-03|close") is None  # refused before writing


def test_market_closed_run(ledger: Ledger) -> None:
    key = "sma|acct-1|2024-01-01|close"
    ledger.start_run(key, mode="offline_mock")
    assert ledger.finish_run(key, "market_closed").status == "market_closed"
    with pytest.raises(LedgerError, match="status: got 'done'"):
        ledger.finish_run(KEY, "done")


# ----------------------------------------------------------------- snapshots


def test_snapshot_upsert_per_session(ledger: Ledger) -> None:
    common = dict(account="a", mode="paper", strategy="sma")
    ledger.record_snapshot(**common, session_date=date(2024, 1, 2), equity=D("1000"), cash=D("400"),
                           daily_return=0.0, context={"w": {"SPY": 0.6}})
    ledger.record_snapshot(**common, session_date=date(2024, 1, 3), equity=D("1010"), cash=D("400"),
                           daily_return=0.01, cumulative_return=0.01, drawdown=0.0)
    replaced = ledger.record_snapshot(**common, session_date=date(2024, 1, 2), equity=D("999.5"), cash=D("399.5"),
                                      daily_return=-0.0005, strategy_cell="cell-3")
    assert replaced.equity == D("999.5") and replaced.context is None
    frame = ledger.snapshots(account="a", mode="paper", strategy="sma")
    assert frame["session_date"].tolist() == [date(2024, 1, 2), date(2024, 1, 3)]
    assert frame["equity"].tolist() == [D("999.5"), D("1010")]
    assert frame.loc[0, "daily_return"] == -0.0005 and frame.loc[0, "strategy_cell"] == "cell-3"
    # Another mode is another series.
    ledger.record_snapshot(account="a", mode="offline_mock", strategy="sma", session_date=date(2024, 1, 2),
                           equity=1, cash=1)
    assert len(ledger.snapshots()) == 3 and len(ledger.snapshots(mode="paper")) == 2


def test_snapshot_float_ratios_round_trip_exactly(ledger: Ledger) -> None:
    value = 0.1 + 0.2
    snap = ledger.record_snapshot(account="a", mode="paper", strategy="s", session_date=date(2024, 1, 2),
                                  equity=1, cash=1, daily_return=value)
    assert ledger.snapshots().loc[0, "daily_return"] == value == snap.daily_return


def test_snapshot_refuses_unstorable_context(ledger: Ledger) -> None:
    with pytest.raises(TypeError, match="cannot store object"):
        ledger.record_snapshot(account="a", mode="paper", strategy="s", session_date=date(2024, 1, 2),
                               equity=1, cash=1, context={"x": object()})
    assert ledger.snapshots().empty


# ----------------------------------------------------------------- kill switch and audit


def test_kill_switch_and_audit(ledger: Ledger) -> None:
    state = ledger.kill_switch()
    assert not state and state.on is False and state.reason is None
    on = ledger.set_kill_switch(True, "drawdown limit hit", actor="risk")
    assert on.on and on.actor == "risk"
    stored = ledger.kill_switch()
    assert stored == on and stored.at.tzinfo is not None
    ledger.set_kill_switch(False, "reviewed, resuming", actor="alice")
    assert not ledger.kill_switch()
    log = ledger.audit_log()
    assert log["action"].tolist() == ["kill_switch_on", "kill_switch_off"]
    assert log["actor"].tolist() == ["risk", "alice"]
    assert log.loc[1, "detail"] == {"on": False, "was_on": True, "reason": "reviewed, resuming"}


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_kill_switch_needs_a_reason(ledger: Ledger, reason: object) -> None:
    with pytest.raises(LedgerError, match="reason"):
        ledger.set_kill_switch(True, reason)  # type: ignore[arg-type]
    assert not ledger.kill_switch() and ledger.audit_log().empty


def test_kill_switch_is_not_settable_as_plain_state(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="set_kill_switch"):
        ledger.set_state("kill_switch", {"on": False})
    with pytest.raises(LedgerError, match="on: got 1"):
        ledger.set_kill_switch(1, "x")  # type: ignore[arg-type]


def test_kill_switch_state_and_audit_commit_together(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError):
        with ledger.transaction():
            ledger.set_kill_switch(True, "test")
            raise RuntimeError("crash before commit")
    assert not ledger.kill_switch() and ledger.audit_log().empty


def test_audit_entries(ledger: Ledger) -> None:
    ledger.audit("live_confirmation", {"account": "acct-1", "typed": "I UNDERSTAND"}, actor="alice")
    ledger.audit("note")
    log = ledger.audit_log(1)
    assert log["action"].tolist() == ["note"]
    assert ledger.audit_log(action="live_confirmation").loc[0, "detail"]["typed"] == "I UNDERSTAND"
    with pytest.raises(LedgerError, match="action"):
        ledger.audit("")


def test_system_state(ledger: Ledger) -> None:
    assert ledger.get_state("session", default={}) == {}
    ledger.set_state("session", {"last": "2024-01-02"})
    ledger.set_state("session", {"last": "2024-01-03"})
    assert ledger.get_state("session") == {"last": "2024-01-03"}


# ----------------------------------------------------------------- configuration overrides


def test_overrides_with_history(ledger: Ledger) -> None:
    ledger.set_override("risk.max_weight", 0.5, "tighter for earnings week")
    ledger.set_override("risk.max_weight", 0.3, "tighter still", actor="bob")
    ledger.set_override("engine.execution_time", "close", "test close auction")
    assert ledger.overrides() == {"risk.max_weight": 0.3, "engine.execution_time": "close"}
    ledger.clear_override("risk.max_weight", "earnings over")
    assert ledger.overrides() == {"engine.execution_time": "close"}
    history = ledger.config_history("risk.max_weight")
    assert list(zip(history["old"], history["new"], strict=True)) == [(None, 0.5), (0.5, 0.3), (0.3, None)]
    assert history["reason"].tolist()[-1] == "earnings over"
    assert ledger.audit_log()["action"].tolist() == ["set_override"] * 3 + ["clear_override"]
    with pytest.raises(LedgerError, match="no active override"):
        ledger.clear_override("risk.max_weight", "again")
    with pytest.raises(LedgerError, match="reason"):
        ledger.set_override("x", 1, "")
