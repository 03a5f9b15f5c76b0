"""Alerts through apprise: channels that take, refuse or break, the ledger's record, and no secret anywhere.

The channels are apprise custom handlers (``@notify``, tests/support/alert_inbox.py), a
real apprise ``json://`` URL to a closed local port (refused at once: no network wait),
and URLs apprise cannot parse. Every URL carries a made-up secret; the tests check it
reaches neither the ledger, nor stdout/stderr, nor any log record.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from pathlib import Path

import pytest
from support.alert_inbox import INBOX, INBOX_URL, RAISE_URL, REFUSE_URL, SECRET, UNREACHABLE_URL

from toolkit.connections.secrets import open_secret_store
from toolkit.errors import InvalidInput
from toolkit.ledger import Ledger, open_ledger
from toolkit.ops.alert_channels import secret_parts, split_urls
from toolkit.ops.alert_triggers import (
    alert_missed_session,
    alert_token_expiry,
    alerts_after_run,
    run_alerts,
)
from toolkit.ops.alerts import ALERT_URLS, NO_CHANNEL, alert_line, send_alert
from toolkit.params.alerts import AlertSettings
from toolkit.params.daily_dry_run import DailyDryRunParams

T0 = dt.datetime(2024, 3, 1, 21, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No channel from the developer's own environment, an empty inbox."""
    monkeypatch.delenv(ALERT_URLS, raising=False)
    INBOX.clear()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def ledger(db: Path) -> Ledger:
    led = open_ledger(f"sqlite:///{db}", clock=lambda: T0)
    yield led
    led.close()


def stored_text(db: Path) -> str:
    """Every value of every alerts row, as one text (read with plain sqlite3)."""
    with sqlite3.connect(db) as con:
        return " ".join(str(v) for row in con.execute("SELECT * FROM alerts") for v in row)


# ----------------------------------------------------------------------------- send_alert


def test_an_alert_reaches_the_channel_and_is_recorded_as_delivered(ledger: Ledger, db: Path) -> None:
    rec = send_alert(ledger, "guard_tripped", "guard tripped: acct session halted", "- session halted: kill switch",
                     account="acct", run_key="sma|acct|2018-06-01|close", urls=[INBOX_URL])
    assert INBOX == [{"title": "guard tripped: acct session halted", "body": "- session halted: kill switch",
                      "type": "warning", "host": "inbox.example"}]
    assert (rec.kind, rec.channels, rec.delivered, rec.error, rec.at) == ("guard_tripped", 1, True, None, T0)
    assert (rec.account, rec.run_key) == ("acct", "sma|acct|2018-06-01|close")
    assert ledger.alert_records() == [rec]
    assert alert_line(rec) == "alert guard_tripped: delivered (1 channel(s) tried): guard tripped: acct session halted"


def test_failing_channels_never_raise_and_are_recorded_without_their_secrets(
        ledger: Ledger, db: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = send_alert(ledger, "run_failed", "run failed: daily_dry_run", "KeyError: 'x'",
                     urls=[REFUSE_URL, RAISE_URL, UNREACHABLE_URL, "not a url", f"mailto://{SECRET}"])
    assert (rec.channels, rec.delivered) == (5, False)
    reasons = rec.error.split("; ")
    assert [r.split(":")[0] for r in reasons] == ["channel 1 (tkrefuse)", "channel 2 (tkraise)", "channel 3 (json)",
                                                  "channel 4 (?)", "channel 5 (mailto)"]
    assert reasons[0] == "channel 1 (tkrefuse): not delivered (failure): Failed to send Test refusal notification."
    assert "exception" in reasons[1].lower()
    assert reasons[2].startswith("channel 3 (json): not delivered (failure): A Connection error occurred")
    assert "not a URL apprise can send to" in reasons[3] and "not a URL apprise can send to" in reasons[4]
    out, err = capsys.readouterr()
    for text in (stored_text(db), out, err, caplog.text, alert_line(rec)):
        assert SECRET not in text and "127.0.0.1" not in text and "carol" not in text
    assert not [r for r in caplog.records if r.name.startswith("apprise")]  # kept from the root logger


def test_one_channel_taking_it_is_delivered_and_the_failing_one_is_named(ledger: Ledger) -> None:
    rec = send_alert(ledger, "token_expiry", "token", "body", urls=[REFUSE_URL, INBOX_URL])
    assert (rec.channels, rec.delivered) == (2, True)
    assert rec.error.startswith("channel 1 (tkrefuse): not delivered")
    assert [m["title"] for m in INBOX] == ["token"]
    assert alert_line(rec).startswith("alert token_expiry: delivered (2 channel(s) tried; channel 1 (tkrefuse)")


def test_no_channel_configured_is_recorded_as_not_delivered(ledger: Ledger) -> None:
    rec = send_alert(ledger, "missed_session", "missed", "body", store={})
    assert (rec.channels, rec.delivered, rec.error) == (0, False, NO_CHANNEL)
    assert alert_line(rec) == "alert missed_session: NOT delivered (no channel configured): missed"


def test_channels_come_from_the_secret_store_and_the_lookup_is_audited_without_the_value(ledger: Ledger) -> None:
    seen: list[tuple] = []
    store = open_secret_store({ALERT_URLS: f" {INBOX_URL},\n{REFUSE_URL} "}, audit=lambda *a: seen.append(a))
    rec = send_alert(ledger, "test", "from the store", "body", store=store)
    assert (rec.channels, rec.delivered) == (2, True) and len(INBOX) == 1
    assert seen == [(ALERT_URLS, "env", True)]


def test_the_environment_is_the_default_store(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALERT_URLS, INBOX_URL)
    assert send_alert(ledger, "test", "from the environment", "body").delivered
    assert [m["title"] for m in INBOX] == ["from the environment"]


def test_an_unknown_kind_is_refused_before_anything_is_sent(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match=r"^kind: got 'pager'; allowed: run_failed, guard_tripped"):
        send_alert(ledger, "pager", "t", "b", urls=[INBOX_URL])
    assert INBOX == [] and ledger.alerts().empty


def test_a_long_title_is_cut_to_one_line_that_fits_and_the_clock_sets_the_time(ledger: Ledger) -> None:
    later = T0 + dt.timedelta(hours=1)
    rec = send_alert(ledger, "test", "line one\nline two " + "x" * 300, "b", store={}, clock=lambda: later)
    assert len(rec.title) == 256 and rec.title.startswith("line one line two x") and rec.title.endswith("...")
    assert rec.at == later


def test_urls_split_on_commas_and_white_space_and_every_part_is_a_secret() -> None:
    assert split_urls(" a://x, b://y\nc://z;d://w ") == ["a://x", "b://y", "c://z", "d://w"]
    assert split_urls(None) == split_urls("") == []
    parts = secret_parts(["slack://TokenA/TokenB/TokenC?footer=no", "mailto://me:p%21ss@mail.example"])
    assert {"TokenA", "TokenB", "TokenC", "footer", "p%21ss", "p!ss", "mail.example"} <= set(parts)
    assert "slack" not in parts and "no" not in parts  # the scheme and short words stay readable


# ----------------------------------------------------------------------------- what a run raises


def params(**alerts: object) -> DailyDryRunParams:
    return DailyDryRunParams.model_validate({"strategy": "sma_crossover", "account": "acct", "alerts": alerts})


MANIFEST = {"run_id": "20240301T210000Z-abcdef12", "started_utc": "2024-03-01T21:00:00+00:00"}


def test_a_failed_run_raises_run_failed_with_its_error() -> None:
    [a] = run_alerts("daily_dry_run", params(), {**MANIFEST, "status": "failed", "error": "KeyError: 'NASDAQ'"})
    assert (a.kind, a.title, a.account) == ("run_failed", "run failed: daily_dry_run sma_crossover acct", "acct")
    assert a.body.startswith("KeyError: 'NASDAQ'") and "20240301T210000Z-abcdef12" in a.body
    [b] = run_alerts("backtest", object(), {**MANIFEST, "status": "interrupted", "error": "interrupted by SIGTERM"})
    assert (b.kind, b.title, b.account) == ("run_failed", "run interrupted: backtest", None)


def test_a_session_stopped_by_reconciliation_raises_reconciliation_mismatch() -> None:
    session = {"status": "failed", "mode": "paper", "reconciliation_ok": False,
               "stopped": "ledger and broker disagree: position SPY: ledger 10, broker 12. No order was sent"}
    [a] = run_alerts("live", params(), {**MANIFEST, "status": "failed", "error": "SessionError: ...",
                                        "session": session})
    assert (a.kind, a.title) == ("reconciliation_mismatch", "reconciliation mismatch: acct (paper) stopped before "
                                                            "any order")
    assert a.body.startswith("ledger and broker disagree: position SPY: ledger 10, broker 12")


def test_a_halted_or_blocked_session_raises_guard_tripped_with_the_reasons() -> None:
    session = {"run_key": "sma_crossover|acct|2018-06-01|close", "status": "halted",
               "blocked": ["kill switch is on: params guards.kill_switch"]}
    [a] = run_alerts("daily_dry_run", params(), {**MANIFEST, "status": "completed", "session": session})
    assert (a.kind, a.title, a.run_key) == ("guard_tripped", "guard tripped: acct session halted",
                                            "sma_crossover|acct|2018-06-01|close")
    assert a.body.startswith("- session halted: kill switch is on: params guards.kill_switch")


def test_the_early_warning_thresholds_raise_guard_tripped_before_any_guard() -> None:
    manifest = {**MANIFEST, "status": "completed", "session": {"status": "completed", "blocked": []}}
    snapshot = {"snapshot": {"drawdown": -0.125, "daily_return": -0.031}}
    assert run_alerts("daily_dry_run", params(), manifest, snapshot) == []  # no threshold: nothing
    [a] = run_alerts("daily_dry_run", params(drawdown=0.10, daily_loss=0.03), manifest, snapshot)
    assert a.title == "guard tripped: acct beyond its alert threshold"
    assert a.body.splitlines()[:2] == ["- drawdown 12.50% from the peak reaches the alert threshold 10.00%",
                                       "- daily loss 3.10% reaches the alert threshold 3.00%"]
    assert run_alerts("daily_dry_run", params(drawdown=0.20, daily_loss=0.05), manifest, snapshot) == []


def test_a_normal_session_raises_nothing_and_kinds_switched_off_are_not_raised() -> None:
    ok = {**MANIFEST, "status": "completed", "session": {"status": "completed", "blocked": []}}
    assert run_alerts("daily_dry_run", params(), ok) == []
    failed = {**MANIFEST, "status": "failed", "error": "x"}
    assert run_alerts("daily_dry_run", params(kinds=["guard_tripped"]), failed) == []


def test_the_alerts_block_is_checked_like_every_params_block() -> None:
    from toolkit.errors import ParamsError
    from toolkit.params import validate

    base = {"strategy": "sma_crossover"}
    with pytest.raises(ParamsError, match=r"^alerts\.kinds\.0: got 'pager'"):
        validate("daily_dry_run", {**base, "alerts": {"kinds": ["pager"]}})
    with pytest.raises(ParamsError, match=r"^alerts\.drawdown: got 1\.5"):
        validate("daily_dry_run", {**base, "alerts": {"drawdown": 1.5}})
    with pytest.raises(ParamsError, match=r"^alerts\.email: unknown key"):
        validate("daily_dry_run", {**base, "alerts": {"email": "me@example.com"}})
    live = validate("live", {**base, "alerts": {"token_expiry_days": 3}})
    assert live.alerts.token_expiry_days == 3 and live.model_dump()["alerts"]["token_expiry_days"] == 3
    # Without the block (or with its defaults) the dump, and so the params hash naming runs, is as before.
    assert "alerts" not in validate("daily_dry_run", base).model_dump(mode="json")
    assert "alerts" not in validate("daily_dry_run", {**base, "alerts": {"token_expiry_days": 2}}).model_dump()


def test_after_a_run_the_alert_is_sent_and_recorded_in_the_runs_ledger(tmp_path: Path, db: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "snapshot.json").write_text('{"snapshot": {"drawdown": -0.3, "daily_return": 0.0}}')
    p = params(drawdown=0.25).model_copy(update={"db_url": f"sqlite:///{db}"})
    lines: list[str] = []
    manifest = {**MANIFEST, "status": "completed", "session": {"status": "completed", "blocked": []}}
    [rec] = alerts_after_run("daily_dry_run", p, manifest, run_dir, log=lines.append, store={ALERT_URLS: INBOX_URL})
    assert rec.kind == "guard_tripped" and rec.delivered
    assert [m["title"] for m in INBOX] == ["guard tripped: acct beyond its alert threshold"]
    assert lines == [alert_line(rec)]  # a channel was tried: its outcome is logged
    with open_ledger(f"sqlite:///{db}") as led:
        assert led.alert_records() == [rec]
    # No channel configured: recorded, not logged (a run's log stays as it was without alerts).
    [quiet] = alerts_after_run("daily_dry_run", p, manifest, run_dir, log=lines.append, store={})
    assert (quiet.delivered, quiet.error) == (False, NO_CHANNEL) and len(lines) == 1


def test_after_a_run_an_unusable_ledger_is_one_log_line_not_an_error(tmp_path: Path) -> None:
    # A PostgreSQL server that is not there (a closed local port: refused at once), its URL with a password.
    p = params().model_copy(update={"db_url": f"postgresql+psycopg://me:{SECRET}@127.0.0.1:1/ledger"})
    lines: list[str] = []
    out = alerts_after_run("daily_dry_run", p, {**MANIFEST, "status": "failed", "error": "x"}, tmp_path,
                           log=lines.append, store={ALERT_URLS: INBOX_URL})
    assert out == [] and INBOX == []
    assert len(lines) == 1 and lines[0].startswith("alert run_failed: not sent, the ledger could not be opened (")
    assert SECRET not in lines[0]


# ----------------------------------------------------------------------------- other triggers


def test_a_missed_session_is_sent_with_its_run_key_unless_switched_off(ledger: Ledger) -> None:
    rec = alert_missed_session(ledger, strategy="sma_crossover", account="acct", session_date=dt.date(2024, 2, 29),
                               execution_time="5min_before_close", reason="the machine was off; catch_up: none skipped "
                               "it", scheduled_at=dt.datetime(2024, 2, 29, 20, 55, tzinfo=dt.UTC), urls=[INBOX_URL])
    assert rec is not None and rec.run_key == "sma_crossover|acct|2024-02-29|5min_before_close"
    assert INBOX[0]["title"] == "missed session: sma_crossover on acct, 2024-02-29 5min_before_close"
    assert INBOX[0]["body"] == ("The session sma_crossover|acct|2024-02-29|5min_before_close did not run at its "
                                "scheduled time (due 2024-02-29T20:55:00+00:00): the machine was off; catch_up: none "
                                "skipped it")
    off = AlertSettings(kinds=("run_failed",))
    assert alert_missed_session(ledger, strategy="s", account="a", session_date=dt.date(2024, 2, 29),
                                execution_time="close", reason="r", settings=off, urls=[INBOX_URL]) is None
    assert len(ledger.alerts()) == 1


def test_a_token_is_alerted_only_under_the_threshold(ledger: Ledger) -> None:
    assert alert_token_expiry(ledger, 2.5, threshold=2.0, urls=[INBOX_URL]) is None
    rec = alert_token_expiry(ledger, 1.25, threshold=2.0, account="schwab-live", urls=[INBOX_URL])
    assert rec is not None and rec.title == "Schwab refresh token expires in 1.2 days"
    expired = alert_token_expiry(ledger, -0.5, threshold=2.0, urls=[INBOX_URL])
    assert expired is not None and expired.title == "Schwab refresh token expired 0.5 days ago"
    assert "log in again with schwab-py" in INBOX[0]["body"]


# ----------------------------------------------------------------------------- the commands


def test_alerts_test_and_list(toolkit_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    missing = toolkit_cli(["alerts", "list"], db)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    none = toolkit_cli(["alerts", "test"], db)
    assert none.returncode == 1
    assert none.stdout.startswith("alert test: NOT delivered (no channel configured): toolkit test alert from ")
    assert f"set {ALERT_URLS}" in none.stdout
    monkeypatch.setenv(ALERT_URLS, f"{INBOX_URL} {REFUSE_URL}")
    both = toolkit_cli(["alerts", "test"], db)
    assert both.returncode == 0 and both.stdout.startswith("alert test: delivered (2 channel(s) tried; channel 2 ")
    assert INBOX[0]["body"] == "If you read this, alerts from the toolkit reach you on this channel."
    refused = toolkit_cli(["alerts", "test", "--url", REFUSE_URL], db)
    assert refused.returncode == 1 and "NOT delivered (channel 1 (tkrefuse): not delivered" in refused.stdout
    listed = toolkit_cli(["alerts", "list"], db)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["at", "kind", "account", "delivered", "channels", "title", "error"]
    assert [line.split()[2:4] for line in lines[1:]] == [["test", "NO"], ["test", "yes"], ["test", "NO"]]
    assert len(toolkit_cli(["alerts", "list", "--limit", "1"], db).stdout.splitlines()) == 2
    bad = toolkit_cli(["alerts", "list", "--limit", "-1"], db)
    assert bad.returncode == 2 and bad.stderr.startswith("error: limit: got -1")
    for done in (none, both, refused, listed):
        assert SECRET not in done.stdout + done.stderr


def test_alerts_test_reads_the_urls_through_the_audited_store(toolkit_cli, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The production path: ``toolkit alerts test`` with the URLs in the environment leaves a
    ``secret_read`` row naming them (never their value) in the ledger the alert is recorded in."""
    db = tmp_path / "ledger.sqlite"
    monkeypatch.setenv(ALERT_URLS, INBOX_URL)
    done = toolkit_cli(["alerts", "test"], f"sqlite:///{db}")
    assert done.returncode == 0, done.stdout + done.stderr
    with open_ledger(f"sqlite:///{db}") as ledger:
        reads = ledger.audit_log(action="secret_read")
    assert list(reads["detail"]) == [{"name": ALERT_URLS, "backend": "env", "found": True}]
    with sqlite3.connect(db) as con:
        assert SECRET not in " ".join(str(v) for row in con.execute("SELECT * FROM audit_log") for v in row)


@pytest.mark.parametrize(("settings", "why"), [
    ({"TOOLKIT_SECRETS": "bogus"}, "the secret store could not be read: TOOLKIT_SECRETS: got 'bogus'; allowed: "),
    ({"TOOLKIT_SECRETS": "vault", "VAULT_ADDR": ""}, "the secret store could not be read: VAULT_ADDR: "),
])
def test_a_secret_store_that_cannot_be_opened_is_named_in_one_line(
        toolkit_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], why: str) -> None:
    monkeypatch.delenv("TOOLKIT_ENV_FILE", raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    done = toolkit_cli(["alerts", "test"], f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    assert done.returncode == 1
    assert done.stdout.startswith(f"alert test: NOT delivered ({why}") and done.stdout.count("\n") == 1, done.stdout


def test_the_kill_switch_command_alerts_on_and_off(toolkit_cli, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv(ALERT_URLS, INBOX_URL)
    on = toolkit_cli(["killswitch", "on", "--reason", "broker outage"], db)
    assert on.returncode == 0
    assert on.stdout.splitlines()[1] == ("alert kill_switch_changed: delivered (1 channel(s) tried): kill switch ON "
                                         "(by cli): broker outage")
    assert toolkit_cli(["killswitch", "off", "--reason", "broker back"], db).returncode == 0
    assert [m["title"] for m in INBOX] == ["kill switch ON (by cli): broker outage",
                                           "kill switch off (by cli): broker back"]
    assert "Every session of every account halts before any order" in INBOX[0]["body"]
    with open_ledger(db) as led:
        assert list(led.alerts()["kind"]) == ["kill_switch_changed"] * 2


def test_after_a_schwab_live_run_a_token_near_expiry_is_alerted(tmp_path: Path, db: Path) -> None:
    import json
    import time

    from toolkit.params.live import LiveParams

    p = LiveParams.model_validate({"strategy": "sma_crossover", "account": "schwab-live", "mode": "online_live",
                                   "confirm_live": "schwab-live", "broker": {"name": "schwab"},
                                   "db_url": f"sqlite:///{db}", "alerts": {"token_expiry_days": 3}})
    manifest = {**MANIFEST, "status": "completed", "session": {"status": "completed", "blocked": [],
                                                               "run_key": "sma_crossover|schwab-live|2024-03-01|5min"}}
    token = json.dumps({"creation_timestamp": time.time() - 4.5 * 86400, "token": {"refresh_token": SECRET}})
    path = tmp_path / "token.json"
    path.write_text(token)
    lines: list[str] = []
    # The token file SCHWAB_TOKEN_PATH names, then the token kept in the store as SCHWAB_TOKEN.
    for store in ({"SCHWAB_TOKEN_PATH": str(path)}, {"SCHWAB_TOKEN": token}):
        [rec] = alerts_after_run("live", p, manifest, tmp_path, log=lines.append,
                                 store={**store, ALERT_URLS: INBOX_URL})
        assert (rec.kind, rec.account, rec.run_key) == ("token_expiry", "schwab-live", manifest["session"]["run_key"])
    assert [m["title"] for m in INBOX] == ["Schwab refresh token expires in 2.5 days"] * 2
    assert "alert threshold 3 days" in INBOX[0]["body"]
    # Enough days left, or another broker: nothing.
    assert alerts_after_run("live", p.model_copy(update={"alerts": AlertSettings(token_expiry_days=2)}), manifest,
                            tmp_path, log=lines.append, store={"SCHWAB_TOKEN_PATH": str(path)}) == []
    assert alerts_after_run("daily_dry_run", params(), manifest, tmp_path, log=lines.append,
                            store={"SCHWAB_TOKEN_PATH": str(path)}) == []
    assert SECRET not in stored_text(db) + " ".join(lines)
