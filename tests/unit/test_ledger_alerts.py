"""The ledger's ``alerts`` table: recording an alert and its outcome, reading them back (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from toolkit.ledger import AlertRecord, Ledger, LedgerError, open_ledger
from toolkit.ledger.lifecycle import ALERT_KINDS
from toolkit.params.alerts import ALERT_KIND_NAMES

T0 = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


@pytest.fixture
def db(ledger_url: str) -> str:
    return ledger_url  # a SQLite file, then a PostgreSQL database (tests/conftest.py)


@pytest.fixture
def ledger(db: str) -> Ledger:
    ticks = iter(T0 + timedelta(minutes=i) for i in range(1000))
    led = open_ledger(db, clock=lambda: next(ticks))
    yield led
    led.close()


def test_an_alert_is_stored_with_its_outcome_and_read_back(ledger: Ledger, db: str) -> None:
    rec = ledger.record_alert("guard_tripped", "guard tripped: dry-run session halted", "- session halted: kill",
                              channels=2, delivered=True, error="channel 2 (json): not delivered (failure)",
                              account="dry-run", run_key="sma|dry-run|2018-06-01|close")
    assert isinstance(rec, AlertRecord)
    assert (rec.kind, rec.at, rec.channels, rec.delivered, rec.account) == ("guard_tripped", T0, 2, True, "dry-run")
    assert ledger.alert_records() == [rec]
    # What the database holds, read with plain SQL (not through the ledger's own types;
    # ``delivered`` is 1 on SQLite, True on PostgreSQL: equal in Python).
    engine = sa.create_engine(db)
    with engine.connect() as con:
        row = tuple(con.execute(sa.text(
            "SELECT kind, account, run_key, title, channels, delivered, error FROM alerts")).one())
    engine.dispose()
    assert row == ("guard_tripped", "dry-run", "sma|dry-run|2018-06-01|close", "guard tripped: dry-run session halted",
                   2, 1, "channel 2 (json): not delivered (failure)")


def test_alerts_are_read_oldest_first_the_last_ones_by_kind_and_account(ledger: Ledger) -> None:
    for i, kind in enumerate(["run_failed", "test", "run_failed", "kill_switch_changed", "run_failed"]):
        ledger.record_alert(kind, f"alert {i}", "body", channels=0, delivered=False, error="no channel configured",
                            account="a" if i % 2 == 0 else "b")
    df = ledger.alerts()
    assert list(df["title"]) == [f"alert {i}" for i in range(5)]
    assert list(df.columns) == ["id", "at", "kind", "account", "run_key", "title", "body", "channels", "delivered",
                                "error"]
    assert str(df["at"].dt.tz) == "UTC"
    assert list(ledger.alerts(2)["title"]) == ["alert 3", "alert 4"]
    assert list(ledger.alerts(kind="run_failed")["title"]) == ["alert 0", "alert 2", "alert 4"]
    assert list(ledger.alerts(1, kind="run_failed")["title"]) == ["alert 4"]
    assert list(ledger.alerts(account="b")["title"]) == ["alert 1", "alert 3"]
    assert ledger.alerts(kind="missed_session").empty


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "pager"}, "kind: got 'pager'; allowed: run_failed, guard_tripped"),
    ({"title": " "}, "title: got ' '; allowed: a non-empty string"),
    ({"title": "x" * 257}, "title: got a string of 257 characters; allowed: at most 256"),
    ({"channels": -1}, "channels: got -1; allowed: an int >= 0"),
    ({"channels": 0, "delivered": True}, "delivered: got True with channels 0"),
    ({"delivered": "yes"}, "delivered: got 'yes'; allowed: True or False"),
    ({"body": None}, "body: got None; allowed: a string"),
])
def test_a_bad_alert_is_refused_and_nothing_is_written(ledger: Ledger, change: dict, message: str) -> None:
    args = {"kind": "test", "title": "t", "body": "b", "channels": 1, "delivered": False} | change
    kind, title, body = args.pop("kind"), args.pop("title"), args.pop("body")
    with pytest.raises(LedgerError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        ledger.record_alert(kind, title, body, **args)
    assert ledger.alerts().empty


def test_bad_read_arguments_are_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="limit: got -1"):
        ledger.alerts(-1)
    with pytest.raises(LedgerError, match="kind: got 'pager'"):
        ledger.alerts(kind="pager")


def test_the_params_kinds_are_the_ledgers_but_test() -> None:
    # Two definitions (params must not import the ledger): kept equal here.
    assert set(ALERT_KIND_NAMES) == set(ALERT_KINDS) - {"test"}
