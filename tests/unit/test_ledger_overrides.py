"""Config overrides per account: who, when, why, the history with old and new values, reverts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from toolkit.ledger import Ledger, LedgerError, open_ledger

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


def _counts(ledger: Ledger) -> tuple[int, int, int]:
    with ledger.engine.connect() as conn:
        return tuple(conn.execute(sa.text(f"select count(*) from {t}")).scalar()  # type: ignore[return-value]
                     for t in ("config_overrides", "config_history", "audit_log"))


def test_accounts_and_the_global_scope_are_apart(ledger: Ledger) -> None:
    ledger.set_override("strategy_params.fast", 12, "faster signal", actor="ann", account="dry-run")
    ledger.set_override("strategy_params.fast", 30, "slower elsewhere", account="other")
    ledger.set_override("risk.max_weight", 0.5, "global, as before")
    assert ledger.overrides("dry-run") == {"strategy_params.fast": 12}
    assert ledger.overrides("other") == {"strategy_params.fast": 30}
    assert ledger.overrides() == {"risk.max_weight": 0.5}
    assert ledger.overrides("nobody") == {}

    records = ledger.override_records("dry-run")
    assert list(records.columns) == ["key", "value", "reason", "actor", "set_at"]
    assert records.iloc[0].tolist()[:4] == ["strategy_params.fast", 12, "faster signal", "ann"]
    assert records.loc[0, "set_at"] == T0 + timedelta(seconds=1)
    assert ledger.override_records("nobody").empty and list(ledger.override_records("nobody").columns) == [
        "key", "value", "reason", "actor", "set_at"]

    # Clearing one account's override leaves the other's.
    ledger.clear_override("strategy_params.fast", "back to the file", actor="ann", account="dry-run")
    assert ledger.overrides("dry-run") == {} and ledger.overrides("other") == {"strategy_params.fast": 30}
    with pytest.raises(LedgerError, match=r"no active override of 'strategy_params\.fast' for account 'dry-run'"):
        ledger.clear_override("strategy_params.fast", "again", account="dry-run")
    with pytest.raises(LedgerError, match=r"no active override of 'strategy_params\.fast' globally"):
        ledger.clear_override("strategy_params.fast", "the global one was never set")


def test_history_has_who_when_old_and_new_per_account(ledger: Ledger) -> None:
    ledger.set_override("strategy_params.fast", 12, "faster", actor="ann", account="dry-run")
    ledger.set_override("execution_time", "5min_before_close", "before the close", account="other")
    ledger.set_override("strategy_params.fast", 15, "a bit slower", actor="bob", account="dry-run")
    history = ledger.config_history(account="dry-run")
    assert list(history.columns) == ["id", "at", "account", "key", "old", "new", "reason", "actor"]
    assert history[["id", "account", "key", "old", "new", "reason", "actor"]].values.tolist() == [
        [1, "dry-run", "strategy_params.fast", None, 12, "faster", "ann"],
        [3, "dry-run", "strategy_params.fast", 12, 15, "a bit slower", "bob"],
    ]
    assert history["at"].tolist() == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=3)]
    assert ledger.config_history()["account"].tolist() == ["dry-run", "other", "dry-run"]  # None: every scope
    assert ledger.config_history("execution_time")["id"].tolist() == [2]
    assert ledger.config_history("nope", account="dry-run").empty
    audit = ledger.audit_log()
    assert audit["action"].tolist() == ["set_override"] * 3
    assert audit.iloc[-1]["actor"] == "bob"
    assert audit.iloc[-1]["detail"] == {"key": "strategy_params.fast", "account": "dry-run", "old": 12, "new": 15,
                                        "reason": "a bit slower"}


def test_revert_puts_the_old_value_back_and_is_a_change_of_its_own(ledger: Ledger) -> None:
    ledger.set_override("strategy_params.fast", 12, "faster", account="dry-run")           # change 1
    ledger.set_override("strategy_params.fast", 15, "slower", account="dry-run")           # change 2
    ledger.set_override("strategy_params.fast", 99, "another account", account="other")    # change 3
    ledger.revert_change(2, "15 was worse", actor="ann")                                   # change 4: 15 -> 12
    assert ledger.overrides("dry-run") == {"strategy_params.fast": 12}
    assert ledger.overrides("other") == {"strategy_params.fast": 99}  # same key, other account: untouched
    ledger.revert_change(1, "back to the params file", actor="ann")                        # change 5: clears
    assert ledger.overrides("dry-run") == {}
    history = ledger.config_history(account="dry-run")
    assert history[["id", "old", "new", "reason", "actor"]].values.tolist()[-2:] == [
        [4, 15, 12, "15 was worse", "ann"], [5, 12, None, "back to the params file", "ann"]]
    audit = ledger.audit_log()
    assert audit["action"].tolist()[-2:] == ["revert_override", "revert_override"]
    assert audit.iloc[-1]["detail"]["change_id"] == 1
    # Reverting it again would clear nothing: refused, nothing written.
    before = _counts(ledger)
    with pytest.raises(LedgerError, match=r"^change_id: got 1; allowed: a change whose undoing changes something "
                                          r"\(it made the first override of 'strategy_params\.fast' for account "
                                          r"'dry-run', and none is active now\)$"):
        ledger.revert_change(1, "again")
    assert _counts(ledger) == before


@pytest.mark.parametrize(("call", "message"), [
    (lambda led: led.set_override("strategy_params.fast", 12, "", account="a"), r"^reason: got ''"),
    (lambda led: led.set_override("strategy_params.fast", 12, "   ", account="a"), r"^reason: got '   '"),
    (lambda led: led.set_override("", 12, "why", account="a"), r"^key: got ''"),
    (lambda led: led.set_override("k", 12, "why", actor="", account="a"), r"^actor: got ''"),
    (lambda led: led.set_override("k", 12, "why", account=""), r"^account: got ''"),
    (lambda led: led.set_override("k", None, "why", account="a"), r"^value of k: got None; allowed: a JSON value"),
    (lambda led: led.set_override("k", object(), "why", account="a"),
     r"^value of k: got <object object at .*>; allowed: a JSON value"),
    (lambda led: led.clear_override("k", "why", account="a"), r"^key: no active override of 'k' for account 'a'"),
    (lambda led: led.revert_change(42, "why"), r"^change_id: got 42; allowed: the id of a change in config_history"),
    (lambda led: led.revert_change("1", "why"), r"^change_id: got '1'; allowed"),
    (lambda led: led.revert_change(1, ""), r"^reason: got ''"),
])
def test_bad_input_is_one_line_and_writes_nothing(ledger: Ledger, call, message) -> None:
    before = _counts(ledger)
    with pytest.raises(LedgerError, match=message) as info:
        call(ledger)
    assert "\n" not in str(info.value)
    assert _counts(ledger) == before


def test_online_live_only_after_the_recorded_confirmation(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="online_live only after `toolkit live confirm --account live-1`"):
        ledger.set_override("mode", "online_live", "go live", account="live-1")
    with pytest.raises(LedgerError, match="never overridden globally"):
        ledger.set_override("mode", "online_live", "go live")
    assert ledger.overrides("live-1") == {} and ledger.config_history().empty
    ledger.set_override("mode", "paper", "paper first", account="live-1")  # any other mode is the params' business
    ledger.confirm_live("live-1", actor="ann")
    ledger.set_override("mode", "online_live", "go live", account="live-1")
    assert ledger.overrides("live-1") == {"mode": "online_live"}


def test_a_revert_to_online_live_needs_the_confirmation_too(ledger: Ledger) -> None:
    ledger.confirm_live("live-1", actor="ann")
    ledger.set_override("mode", "online_live", "go live", account="live-1")   # change 1
    ledger.set_override("mode", "paper", "step back", account="live-1")       # change 2
    with ledger.engine.begin() as conn:  # the confirmation withdrawn (by hand)
        conn.execute(sa.text("delete from system_state where key = 'live_confirmed:live-1'"))
    with pytest.raises(LedgerError, match="online_live only after"):
        ledger.revert_change(2, "live again")
    assert ledger.overrides("live-1") == {"mode": "paper"}


def test_change_history_and_audit_commit_together(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while writing the audit row leaves neither the override nor its history row."""
    from toolkit.ledger import control

    def broken_audit(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(control, "AuditLogRow", broken_audit)
    with pytest.raises(RuntimeError, match="disk full"):
        ledger.set_override("strategy_params.fast", 12, "faster", account="dry-run")
    assert _counts(ledger) == (0, 0, 0)
    assert ledger.overrides("dry-run") == {}


def test_a_key_overlapping_an_active_override_is_refused(ledger_url: str) -> None:
    # strategy_params and strategy_params.fast both active: the value in force would depend
    # on the order they are applied in (the session, the panel and the CLI could disagree).
    from toolkit.ledger import LedgerError, open_ledger

    with open_ledger(ledger_url) as ledger:
        ledger.set_override("strategy_params.fast", 30, "faster", account="a")
        with pytest.raises(LedgerError, match="'strategy_params.fast' is one"):
            ledger.set_override("strategy_params", {"fast": 40, "slow": 90}, "both", account="a")
        ledger.set_override("strategy_params", {"fast": 40}, "another account", account="b")
        with pytest.raises(LedgerError, match="'strategy_params' is one"):
            ledger.set_override("strategy_params.slow", 90, "slower", account="b")
        ledger.set_override("strategy_params.fast", 35, "same key replaces", account="a")
        assert ledger.overrides(account="a") == {"strategy_params.fast": 35}
        assert len(ledger.config_history(account="a")) == 2
