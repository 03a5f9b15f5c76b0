"""The control panel (issue 11, points 1-3) on a real SQLite ledger filled by real dry-run sessions.

A year of the SMA crossover (2017, NASDAQ sample) is replayed once into a template ledger;
each test copies it, builds the panel over the copy with a params file naming the
account, and drives the widgets as a person would (``.value = ...``, ``button.click()``).
What the panel shows is checked against the ledger's own answers; what it writes is
checked in the ledger, and for the kill switch by the next real session.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import itertools
import re
import shutil
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from toolkit import params as tkparams
from toolkit.engine.daily import run_daily
from toolkit.engine.replay import replay
from toolkit.errors import ParamsError
from toolkit.ledger import open_ledger
from toolkit.widgets import dom
from toolkit.widgets.links import report_href
from toolkit.widgets.panel import ControlPanel
from toolkit.widgets.views import filter_trades

ROOT = Path(__file__).resolve().parents[2]
RAW = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 10, "slow": 30},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2016-06-01", "end": "2018-12-31"},
    "account": "acct",
    "costs": {"fees_bps": 10, "slippage_bps": 0},
    "guards": {"daily_loss_limit": None},
}
T0 = dt.datetime(2024, 5, 6, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger where account ``acct`` traded every session of 2017 (ends long NASDAQ)."""
    path = tmp_path_factory.mktemp("ledger") / "template.sqlite"
    with open_ledger(f"sqlite:///{path}") as ledger:
        replay(tkparams.validate("daily_dry_run", RAW), start="2017-01-03", end="2017-12-29", ledger=ledger)
    return path


class Clock:
    """A clock the test moves: the panel's and its ledger's writes get distinct, known times."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def setup(tmp_path: Path, template: Path):
    """(db url, params dir, outputs dir, clock) of a fresh copy of the template ledger."""
    db = tmp_path / "ledger.sqlite"
    shutil.copy(template, db)
    params_dir = tmp_path / "params"
    (params_dir / "daily_dry_run").mkdir(parents=True)
    (params_dir / "daily_dry_run" / "acct.yaml").write_text(yaml.safe_dump(RAW))
    return f"sqlite:///{db}", params_dir, tmp_path / "outputs", Clock()


@pytest.fixture
def panel(setup):
    url, params_dir, outputs, clock = setup
    ledger = open_ledger(url, clock=clock)
    p = ControlPanel(ledger, account="acct", params_dir=params_dir, outputs_dir=outputs, project_root=ROOT,
                     clock=clock, owns_ledger=True)
    yield p
    p.close()


def shown(widget) -> str:
    """The text an HTML widget shows (tags dropped, entities decoded)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", widget.value)).split())


def _classes(widget) -> set[str]:
    found: set[str] = set(getattr(widget, "_dom_classes", ()))
    for child in getattr(widget, "children", ()):
        found |= _classes(child)
    return found


def test_the_panel_draws_every_section_with_its_dom_class(panel: ControlPanel) -> None:
    assert panel.errors == []
    assert {dom.PANEL, dom.READY} <= set(panel.widget._dom_classes)
    expected = {dom.ACCOUNT, dom.ACTOR, dom.MODE, dom.EXECUTION_TIME, dom.SETTINGS_MESSAGE, dom.REGIME,
                dom.ALLOCATION, dom.POSITIONS, dom.TRADES, dom.TRADES_SYMBOL, dom.TRADES_SIDE, dom.TRADES_FROM,
                dom.TRADES_TO, dom.TRADES_EXPORT, dom.EQUITY, dom.GUARDS, dom.AUDIT, dom.KILL_STATE, dom.KILL_REASON,
                dom.KILL_BUTTON, dom.KILL_MESSAGE, dom.RUN_NOW, dom.RUN_STATUS, dom.RUN_HISTORY, dom.PARAMS_FORM,
                dom.PARAMS_FORM_ERROR, dom.PARAMS_REASON, dom.PARAMS_SAVE, dom.PARAMS_MESSAGE, dom.CONFIG_HISTORY,
                dom.CONFIG_REVERT, dom.LAST_REFRESH, dom.param_input("fast"), dom.param_error("fast"),
                dom.param_input("slow"), dom.param_error("slow"), *(dom.mode_option(m) for m in
                                                                    ("offline_mock", "paper", "online_live"))}
    assert expected <= _classes(panel.widget)
    # The regime of the last session: the SMA crossover's own context fields.
    snap = panel.ledger.snapshots(account="acct").iloc[-1]
    regime = shown(panel.regime.body)
    assert "2017-12-29" in regime
    for name in snap["context"]["decision"]:
        assert name in regime
    # Every session of the year is a point of the equity curve.
    assert panel.equity.body.value.count("<polyline") == 1
    points = panel.equity.body.value.split('<polyline points="')[1].split('"')[0].split()
    assert len(points) == len(panel.ledger.snapshots(account="acct")) == 251
    # Run history: newest first, as many as the ledger has (at most the limit).
    assert shown(panel.runs.history).index("2017-12-29") < shown(panel.runs.history).index("2017-12-28")


def test_dry_run_modes_other_than_offline_mock_are_disabled_with_the_models_reason(panel: ControlPanel) -> None:
    buttons = panel.settings.mode_buttons
    assert not buttons["offline_mock"].disabled
    assert buttons["paper"].disabled and buttons["online_live"].disabled
    assert "paper: mode: got 'paper'; allowed: offline_mock only" in shown(panel.settings.why)
    assert panel.settings.execution_time.options == ("open", "15min_after_open", "15min_before_close",
                                                     "5min_before_close", "close")


def test_execution_time_changes_only_with_a_reason_and_as_an_override(panel: ControlPanel) -> None:
    s = panel.settings
    s.execution_time.value = "15min_before_close"
    s.save.click()
    assert "reason: required" in shown(s.message)
    assert panel.ledger.overrides(account="acct") == {}
    s.reason.value = "rebalance before the closing auction"
    panel.actor.value = "alice"
    s.save.click()
    assert panel.ledger.overrides(account="acct") == {"execution_time": "15min_before_close"}
    history = panel.ledger.config_history(account="acct")
    assert history[["key", "old", "new", "actor", "reason"]].to_dict("records") == [
        {"key": "execution_time", "old": None, "new": "15min_before_close", "actor": "alice",
         "reason": "rebalance before the closing auction"}]
    assert "(override)" in shown(s.in_force) and "15min_before_close" in shown(s.in_force)
    assert "15min_before_close" in shown(panel.config_history.table)


def test_kill_switch_needs_a_reason_then_halts_the_next_session(panel: ControlPanel, setup) -> None:
    url = setup[0]
    audit_before = len(panel.ledger.audit_log())
    panel.kill_switch.button.click()
    assert "reason: required" in shown(panel.kill_switch.message)
    assert len(panel.ledger.audit_log()) == audit_before
    assert not panel.ledger.kill_switch().on

    panel.actor.value = "bob"
    panel.kill_switch.reason.value = "broker outage"
    panel.kill_switch.button.click()
    state = panel.ledger.kill_switch()
    assert state.on and state.actor == "bob" and state.reason == "broker outage"
    audit = panel.ledger.audit_log().iloc[audit_before:]
    # The change, then the alert's read of its channel URLs (audited by name, never the value).
    assert list(audit["action"]) == ["kill_switch_on", "secret_read"]
    change, read = audit.iloc[0], audit.iloc[1]
    assert (change["actor"], change["detail"]["reason"]) == ("bob", "broker outage")
    assert read["detail"]["name"] == "TOOLKIT_ALERT_URLS" and "value" not in read["detail"]
    assert "ON since" in shown(panel.kill_switch.state) and "broker outage" in shown(panel.kill_switch.state)
    assert "kill_switch_on" in shown(panel.guards.body) and "broker outage" in shown(panel.audit.body)

    # 2018-02-09: the first session after the template's year whose decision trades (the SMAs cross).
    result = run_daily(tkparams.validate("daily_dry_run", {**RAW, "db_url": url, "as_of": "2018-02-09"}))
    assert result.status == "halted"
    assert result.orders == []
    panel.refresh()
    assert "guard_halt" in shown(panel.guards.body)
    assert "halted" in shown(panel.runs.history)

    panel.kill_switch.reason.value = "broker back"
    panel.kill_switch.button.click()
    assert not panel.ledger.kill_switch().on
    assert "OFF since" in shown(panel.kill_switch.state)


def test_a_kill_switch_change_from_the_panel_is_alerted_and_recorded(panel: ControlPanel, monkeypatch) -> None:
    from support.alert_inbox import INBOX, INBOX_URL

    INBOX.clear()
    monkeypatch.setenv("TOOLKIT_ALERT_URLS", INBOX_URL)
    panel.actor.value = "bob"
    panel.kill_switch.reason.value = "broker outage"
    panel.kill_switch.button.click()
    assert [m["title"] for m in INBOX] == ["kill switch ON (by bob): broker outage"]
    [row] = panel.ledger.alert_records()
    assert (row.kind, row.channels, row.delivered) == ("kill_switch_changed", 1, True)
    assert ("kill switch turned on by bob; alert kill_switch_changed: delivered (1 channel(s) tried)"
            in shown(panel.kill_switch.message))


def test_refresh_shows_a_kill_switch_set_by_another_ledger_object(panel: ControlPanel, setup) -> None:
    assert "OFF" in shown(panel.kill_switch.state)
    with open_ledger(setup[0]) as other:  # e.g. `toolkit killswitch on` in another process
        other.set_kill_switch(True, "set from the CLI", "carol")
    changed = panel.refresh()
    assert {"state", "audit"} <= changed
    assert "ON since" in shown(panel.kill_switch.state) and "carol" in shown(panel.kill_switch.state)
    assert "set from the CLI" in shown(panel.audit.body)
    assert panel.refresh() == frozenset()  # nothing new: nothing re-read


def test_refresh_shows_a_halted_run_re_run_to_completion(panel: ControlPanel, setup) -> None:
    """A dry run stamps its rows with the simulated session time: the re-run of a halted slot
    rewrites the same times, and the stamp must still move (runs by status, newest rows' content)."""
    url = setup[0]
    session = {**RAW, "db_url": url, "as_of": "2018-02-09"}  # a session whose decision trades
    panel.ledger.set_kill_switch(True, "broker outage", "bob")
    assert run_daily(tkparams.validate("daily_dry_run", session)).status == "halted"
    panel.refresh()
    assert "halted" in shown(panel.runs.history)
    halted = panel.ledger.change_stamp()
    halted_run = panel.ledger.runs(account="acct").iloc[-1]

    panel.ledger.set_kill_switch(False, "broker back", "bob")
    panel.refresh()
    result = run_daily(tkparams.validate("daily_dry_run", session))
    assert result.status == "completed" and result.orders
    rerun = panel.ledger.runs(account="acct").iloc[-1]
    assert (rerun["run_key"], rerun["finished_at"]) == (halted_run["run_key"], halted_run["finished_at"])
    stamp = panel.ledger.change_stamp()
    assert stamp["runs"] != halted["runs"] and stamp["snapshots"] != halted["snapshots"]
    changed = panel.refresh()
    assert {"runs", "snapshots", "orders", "fills"} <= changed
    newest = shown(panel.runs.history).split("2018-02-09")[1].split()
    assert newest[:5] == ["close", "offline_mock", "completed", "1", "1"], newest


def test_refresh_redraws_only_the_sections_of_the_parts_that_changed(panel: ControlPanel, setup) -> None:
    calls: list[str] = []

    def spy(section):
        original = section.update

        def update(view) -> None:
            calls.append(type(section).__name__)
            original(view)

        return update

    for section in panel.sections:
        section.update = spy(section)  # type: ignore[method-assign]
    with open_ledger(setup[0]) as other:
        other.set_kill_switch(True, "test", "carol")
    panel.refresh()
    assert "KillSwitchControl" in calls and "AuditDisplay" in calls
    assert not {"EquityDisplay", "TradeHistory", "RegimeDisplay", "AllocationDisplay"} & set(calls)


def test_allocation_is_quantity_times_the_sessions_mark_over_equity(panel: ControlPanel) -> None:
    snap = panel.ledger.snapshots(account="acct").iloc[-1]
    position = panel.ledger.positions("acct", "offline_mock")["NASDAQ"]
    mark = Decimal(snap["context"]["marks"]["NASDAQ"])
    expected = float(position.quantity * mark / snap["equity"])
    rows = {r["symbol"]: r for r in panel.allocation.rows}
    assert rows["NASDAQ"]["actual"] == pytest.approx(expected, abs=1e-12)
    assert rows["NASDAQ"]["target"] == snap["context"]["target_weights"]["NASDAQ"] == 1.0
    assert rows["cash"]["actual"] == pytest.approx(float(snap["cash"] / snap["equity"]), abs=1e-12)
    assert rows["NASDAQ"]["actual"] + rows["cash"]["actual"] == pytest.approx(1.0, abs=1e-9)
    allocation = shown(panel.allocation.body)
    assert f"{expected * 100:.1f}%" in allocation
    assert " 16 " in allocation  # the quantity, written as an integer
    positions = shown(panel.positions.body)
    assert "16.000000" not in positions
    assert f"{float(position.quantity * mark):,.2f}" in positions  # market value with separators


def test_trade_filters_and_csv_export(panel: ControlPanel) -> None:
    trades = panel.ledger.trades(account="acct", mode="offline_mock")
    t = panel.trades
    assert len(t.filtered()) == len(trades) == 9
    t.side.value = "sell"
    t.start.value = dt.date(2017, 6, 1)
    t.end.value = dt.date(2017, 12, 31)
    expected = trades[(trades["side"] == "sell") & (trades["at"].dt.date >= dt.date(2017, 6, 1))]
    assert len(expected) >= 1
    assert list(t.filtered()["fill_id"]) == list(expected["fill_id"])
    rows = list(csv.DictReader(io.StringIO(t.csv())))
    assert [r["fill_id"] for r in rows] == list(expected["fill_id"])
    assert [Decimal(r["quantity"]) for r in rows] == list(expected["quantity"])
    assert all(r["side"] == "sell" for r in rows)
    assert f"Export CSV ({len(expected)} rows)" in t.export.value
    assert 'href="data:text/csv;charset=utf-8;base64,' in t.export.value
    t.end.value = expected["at"].iloc[0].date()
    t.start.value = t.end.value
    assert len(t.filtered()) == 1 and "Export CSV (1 row)" in t.export.value
    t.symbol.value = "NASDAQ"
    t.side.value = "buy"
    t.end.value = dt.date(2017, 1, 31)
    t.start.value = None
    assert list(t.filtered()["fill_id"]) == list(
        filter_trades(trades, symbol="NASDAQ", side="buy", end=dt.date(2017, 1, 31))["fill_id"])
    t.end.value = dt.date(2016, 1, 1)
    assert len(t.filtered()) == 0
    assert "no trade matches" in shown(t.table)


def test_editor_shows_bounds_and_field_errors_as_one_types(panel: ControlPanel) -> None:
    editor = panel.params.editor
    fast = editor.fields["fast"]
    assert "fast SMA length in bars" in shown(fast.help) and "a whole number from 1 to 1000" in shown(fast.help)
    assert fast.input.value == "10" and editor.fields["slow"].input.value == "30"
    assert editor.save.disabled  # nothing changed yet
    fast.input.value = "0"
    assert "got 0; allowed: a whole number from 1 to 1000" in shown(fast.error)
    assert shown(editor.fields["slow"].error) == ""
    editor.reason.value = "try"
    assert editor.save.disabled
    editor.save.click()  # a disabled button in a browser cannot be clicked; here the handler refuses too
    assert "fix the errors" in shown(editor.message)
    assert panel.ledger.overrides(account="acct") == {}
    fast.input.value = "12"
    assert shown(fast.error) == "" and not editor.save.disabled


def test_editor_refuses_text_that_is_not_the_fields_type_where_it_was_typed(panel: ControlPanel) -> None:
    """A number box would turn 2.5 into 25 and blank abc while the kernel kept the old value."""
    editor = panel.params.editor
    fast = editor.fields["fast"]
    editor.reason.value = "a reason"
    for typed in ("2.5", "abc", ""):
        fast.input.value = typed
        assert shown(fast.error) == f"fast: got {typed!r}; allowed: a whole number from 1 to 1000"
        assert fast.input.value == typed  # what the person typed stays, not a rewritten number
        assert editor.save.disabled and editor.changes() == {}
    editor.save.click()
    assert panel.ledger.overrides(account="acct") == {}
    fast.input.value = " 12 "
    assert shown(fast.error) == "" and not editor.save.disabled and editor.changes() == {"fast": 12}


def test_panel_and_explorer_describe_a_field_alike() -> None:
    """One module says what a field allows and parses its text, for both forms."""
    from toolkit.strategies import registry
    from toolkit.widgets.param_editor import FieldEditor
    from toolkit.widgets.param_fields import describe
    from toolkit.widgets.strategy_form import StrategyForm

    strategy = registry.get("ema_breakout")
    model = strategy.Params
    form = StrategyForm(strategy, {})
    for name in ("stop_loss", "trailing_atr_k", "take_profit", "fast", "volume_mult"):
        spec = describe(model, name)
        editor = FieldEditor(model, name, model.model_fields[name].get_default())
        assert spec.allowed in shown(editor.help)
        assert spec.allowed in shown(form.fields[name].row.children[0].children[-1])
    stop = describe(model, "stop_loss")
    assert stop.kind == "float" and stop.optional and stop.allowed == "a number > 0 and < 1 (off: none)"
    assert [stop.parse(t) for t in ("", "none", "NULL", "0.25")] == [None, None, None, 0.25]
    with pytest.raises(ParamsError, match=r"^strategy_params.stop_loss: got 'x'; allowed: a number > 0 and < 1"):
        stop.parse("x", prefix="strategy_params.")
    editor = FieldEditor(model, "stop_loss", None)
    assert editor.input.value == "" and editor.get() is None
    editor.input.value = "0.1"
    assert editor.get() == 0.1


def test_editor_shows_a_cross_field_error_under_the_form(panel: ControlPanel) -> None:
    editor = panel.params.editor
    editor.fields["fast"].input.value = "40"
    assert "fast (40) must be smaller than slow (30)" in shown(editor.form_error)
    assert shown(editor.fields["fast"].error) == ""
    editor.reason.value = "a reason"
    assert editor.save.disabled
    editor.fields["slow"].input.value = "60"
    assert shown(editor.form_error) == "" and not editor.save.disabled


def test_saving_writes_one_override_per_changed_field_and_the_history_can_revert(panel: ControlPanel) -> None:
    editor = panel.params.editor
    panel.actor.value = "dana"
    editor.fields["fast"].input.value = "12"
    editor.fields["slow"].input.value = "40"
    assert editor.save.disabled  # no reason yet
    editor.reason.value = "slower signal"
    editor.save.click()
    assert panel.ledger.overrides(account="acct") == {"strategy_params.fast": 12, "strategy_params.slow": 40}
    history = panel.ledger.config_history(account="acct")
    assert history[["key", "old", "new", "actor", "reason"]].to_dict("records") == [
        {"key": "strategy_params.fast", "old": None, "new": 12, "actor": "dana", "reason": "slower signal"},
        {"key": "strategy_params.slow", "old": None, "new": 40, "actor": "dana", "reason": "slower signal"},
    ]
    assert "saved for the next session" in shown(editor.message)
    assert editor.reason.value == "" and editor.save.disabled
    table = shown(panel.config_history.table)
    assert "strategy_params.fast" in table and "(params file)" in table and "dana" in table
    # The next session of the account uses the override (and says so).
    result = run_daily(tkparams.validate("daily_dry_run", {**RAW, "db_url": panel.ledger.url, "as_of": "2018-01-02"}))
    assert [(o.key, o.value) for o in result.overrides] == [("strategy_params.fast", 12), ("strategy_params.slow", 40)]

    # A second edit records old -> new.
    editor.fields["fast"].input.value = "15"
    editor.reason.value = "a little slower"
    editor.save.click()
    last = panel.ledger.config_history(account="acct").iloc[-1]
    assert (last["key"], last["old"], last["new"]) == ("strategy_params.fast", 12, 15)
    assert "12" in shown(panel.config_history.table) and "15" in shown(panel.config_history.table)

    # Revert the change to 15 (needs a reason): fast goes back to 12.
    h = panel.config_history
    h.choice.value = int(last["id"])
    h.revert()
    assert "reason: required" in shown(h.message)
    assert panel.ledger.overrides(account="acct")["strategy_params.fast"] == 15
    h.reason.value = "15 was too slow"
    h.button.click()
    assert panel.ledger.overrides(account="acct")["strategy_params.fast"] == 12
    assert editor.fields["fast"].input.value == "12"
    assert panel.ledger.config_history(account="acct").iloc[-1]["reason"] == "15 was too slow"

    # Setting a field back to the params file's value clears its override.
    editor.fields["slow"].input.value = "30"
    editor.reason.value = "back to the file"
    editor.save.click()
    assert panel.ledger.overrides(account="acct") == {"strategy_params.fast": 12}


def test_a_save_the_next_session_would_refuse_is_not_written(setup) -> None:
    """Saving checks the account's overrides as its next session applies them, in the write's
    transaction: with a stored override the session refuses, a new one is rolled back too."""
    url, params_dir, outputs, clock = setup
    ledger = open_ledger(url, clock=clock)
    panel = ControlPanel(ledger, account="acct", params_dir=params_dir, outputs_dir=outputs, project_root=ROOT,
                         clock=clock, owns_ledger=True)
    try:
        with ledger.transaction():  # an override already stored that the session refuses (written by hand)
            ledger.set_override("guards.daily_loss_limit", -1, "bad", actor="x", account="acct")
        panel.refresh()
        editor = panel.params.editor
        editor.fields["fast"].input.value = "12"
        editor.reason.value = "would be fine on its own"
        editor.save.click()
        assert "guards.daily_loss_limit" in shown(editor.message) and "nothing was written" in shown(editor.message)
        assert "strategy_params.fast" not in ledger.overrides(account="acct")
    finally:
        panel.close()


def test_a_ledger_only_account_is_view_only(setup) -> None:
    url, params_dir, outputs, clock = setup
    (params_dir / "daily_dry_run" / "acct.yaml").unlink()
    ledger = open_ledger(url, clock=clock)
    panel = ControlPanel(ledger, params_dir=params_dir, outputs_dir=outputs, project_root=ROOT, clock=clock,
                         owns_ledger=True)
    try:
        assert panel.errors == []
        assert panel.view is not None and panel.view.account.name == "acct" and not panel.view.account.editable
        assert all(b.disabled for b in panel.settings.mode_buttons.values())
        assert panel.runs.button.disabled
        assert panel.params.editor.fields == {} and "view-only" in shown(panel.params.editor.note)
        assert "NASDAQ" in shown(panel.positions.body)  # still shows what the ledger holds
        assert shown(panel.settings.in_force) == ("in force for the next session: mode unknown (no params file), "
                                                  "execution time unknown (no params file)")
    finally:
        panel.close()


def test_an_unknown_account_is_refused_in_one_line(setup) -> None:
    url, params_dir, outputs, clock = setup
    ledger = open_ledger(url, clock=clock)
    try:
        with pytest.raises(ParamsError, match=r"^account: got 'nope'; allowed: one of acct$"):
            ControlPanel(ledger, account="nope", params_dir=params_dir, outputs_dir=outputs, project_root=ROOT)
    finally:
        ledger.close()


def test_run_now_runs_the_notebook_in_the_background_and_links_its_report(panel: ControlPanel, setup) -> None:
    outputs = setup[2]
    runs_before = len(panel.ledger.runs(account="acct"))
    started = time.perf_counter()
    panel.runs.button.click()
    assert time.perf_counter() - started < 5  # it returns at once: the run is a child process
    assert panel.runs.button.disabled and "running daily_dry_run for acct" in shown(panel.runs.status)
    requested = panel.ledger.audit_log(action="run_requested")
    assert len(requested) == 1 and requested.iloc[0]["actor"] == panel.who()
    assert requested.iloc[0]["detail"] == {"account": "acct", "notebook": "daily_dry_run", "mode": "offline_mock",
                                           "params_file": str(setup[1] / "daily_dry_run" / "acct.yaml"),
                                           "confirmation": None}
    deadline = time.monotonic() + 300
    while panel.runs.run is not None and panel.runs.run.running and time.monotonic() < deadline:
        time.sleep(0.5)
        panel.refresh()
    outcome = panel.runs.run.poll() if panel.runs.run else None
    assert outcome is not None, "the background run did not end within 300 s"
    assert outcome.returncode == 0, outcome.stderr_tail
    assert outcome.report is not None and outcome.report.is_file()
    assert outcome.report.parent.parent == outputs / "daily_dry_run"
    assert "run finished" in shown(panel.runs.status) and "open the report" in shown(panel.runs.status)
    assert f'href="{report_href(outcome.report)}"' in panel.runs.status.value
    assert not panel.runs.button.disabled
    panel.refresh()
    runs = panel.ledger.runs(account="acct")
    # as_of null: the data's last session, 2018-12-31, traded on from the account's 2017 sessions
    assert len(runs) == runs_before + 1 and runs.iloc[-1]["session_date"] == dt.date(2018, 12, 31)
    assert "2018-12-31" in shown(panel.runs.history)
    assert f'href="{report_href(outcome.report)}"' in panel.runs.history.value


def test_run_now_for_real_money_needs_the_account_name_typed_and_audits_it(panel: ControlPanel) -> None:
    runs = panel.runs
    assert runs.confirm.layout.display == "none" and runs.button.description == "Run now"
    assert panel.kill_switch.reason.layout.display is None  # hiding the box hides no other field
    panel.ledger.confirm_live("acct", actor="dana")  # the recorded real-money confirmation an override needs
    panel.ledger.set_override("mode", "online_live", "going live", actor="dana", account="acct")
    panel.refresh()
    assert runs.live() and runs.confirm.layout.display is None and runs.button.description == "Run now (real money)"
    for typed in ("", "ACCT", "acct2"):
        runs.confirm.value = typed
        runs.button.click()
        assert shown(runs.status) == (f"confirmation: got {typed!r}; allowed: the account name 'acct', typed to run "
                                      "it with real money (mode online_live); nothing was started")
        assert runs.run is None and panel.ledger.audit_log(action="run_requested").empty
    panel.actor.value = "erin"
    runs.confirm.value = " acct "
    runs.button.click()
    assert runs.run is not None
    try:
        entry = panel.ledger.audit_log(action="run_requested").iloc[-1]
        assert entry["actor"] == "erin"
        assert (entry["detail"]["mode"], entry["detail"]["confirmation"]) == ("online_live", "acct")
        assert runs.confirm.value == ""  # a second real-money run needs the name typed again
    finally:
        runs.stop()
        runs.run.process.wait(timeout=60)


def test_run_now_with_no_who_starts_nothing(panel: ControlPanel) -> None:
    panel.actor.value = ""
    panel.runs.button.click()
    assert shown(panel.runs.status).startswith("who: got ''") and panel.runs.run is None
    assert panel.ledger.audit_log(action="run_requested").empty


def test_build_time_on_five_years_of_daily_sessions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Prints how long the Python side of the panel takes on 5 years of sessions (no timed assert)."""
    raw = {**RAW, "data": {**RAW["data"], "start": "2013-01-02"}, "account": "five-years"}
    url = f"sqlite:///{tmp_path / 'five.sqlite'}"
    with open_ledger(url) as ledger:
        replay(tkparams.validate("daily_dry_run", raw), start="2014-01-01", end="2018-12-31", ledger=ledger)
    params_dir = tmp_path / "params"
    (params_dir / "daily_dry_run").mkdir(parents=True)
    (params_dir / "daily_dry_run" / "five.yaml").write_text(yaml.safe_dump(raw))
    times = []
    for _ in range(3):
        ledger = open_ledger(url)
        t = time.perf_counter()
        panel = ControlPanel(ledger, account="five-years", params_dir=params_dir, outputs_dir=tmp_path / "out",
                             project_root=ROOT, owns_ledger=True)
        times.append(time.perf_counter() - t)
        assert panel.errors == []
        assert len(panel.equity.body.value.split('<polyline points="')[1].split('"')[0].split()) == 1258
        t = time.perf_counter()
        panel.refresh()
        idle = time.perf_counter() - t
        panel.close()
    with capsys.disabled():
        print(f"\ncontrol panel build on 1258 daily sessions: first {times[0]:.2f} s, then "
              f"{', '.join(f'{x:.2f}' for x in times[1:])} s; an idle refresh {idle * 1000:.1f} ms")


def test_the_refresh_loop_shows_a_change_made_elsewhere_without_a_call(setup) -> None:
    """In a kernel the panel polls on the running event loop (what makes the served page live)."""
    import asyncio

    url, params_dir, outputs, _ = setup

    async def scenario() -> tuple[bool, str, bool]:
        panel = ControlPanel(open_ledger(url), account="acct", params_dir=params_dir, outputs_dir=outputs,
                             project_root=ROOT, refresh_seconds=0.05, owns_ledger=True)
        try:
            started = panel.loop.running
            with open_ledger(url) as other:
                other.set_kill_switch(True, "from elsewhere", "erin")
            for _ in range(200):  # at most 10 s; the loop polls every 0.05 s
                await asyncio.sleep(0.05)
                if "ON since" in shown(panel.kill_switch.state):
                    break
            return started, shown(panel.kill_switch.state), "live, checked every 0.05 s" in shown(panel.last_refresh)
        finally:
            panel.close()
            stopped = not panel.loop.running
            assert stopped

    started, state, live = asyncio.run(scenario())
    assert started and live
    assert "ON since" in state and "erin" in state and "from elsewhere" in state


def test_outside_an_event_loop_the_panel_refreshes_on_demand(panel: ControlPanel) -> None:
    assert not panel.loop.running
    assert "refreshed on demand" in shown(panel.last_refresh)


def test_who_defaults_to_toolkit_user_then_the_login(monkeypatch: pytest.MonkeyPatch, setup) -> None:
    import getpass

    from toolkit.widgets.panel import default_actor

    monkeypatch.setenv("TOOLKIT_USER", "  frank ")
    assert default_actor() == "frank"
    monkeypatch.delenv("TOOLKIT_USER")
    assert default_actor() == getpass.getuser()
    monkeypatch.setenv("TOOLKIT_USER", "grace")
    url, params_dir, outputs, _ = setup
    p = ControlPanel(open_ledger(url), account="acct", params_dir=params_dir, outputs_dir=outputs,
                     project_root=ROOT, owns_ledger=True)
    try:
        assert p.actor.value == "grace"
        p.actor.value = "  "
        p.kill_switch.reason.value = "no name"
        p.kill_switch.button.click()
        said = shown(p.kill_switch.message)  # the field the person sees, not the ledger's column "actor"
        assert said.startswith("who: got '") and said.endswith("allowed: a non-empty name (who acts; it goes into "
                                                               "the history)") and "actor" not in said
        assert not p.ledger.kill_switch().on
    finally:
        p.close()


def test_building_the_panel_again_stops_the_previous_ones_refresh(setup) -> None:
    import asyncio

    from toolkit.widgets import control_panel

    url, params_dir, outputs, _ = setup

    async def twice() -> tuple[bool, bool]:
        first = control_panel(url, "acct", params_dir=params_dir, outputs_dir=outputs)
        second = control_panel(url, "acct", params_dir=params_dir, outputs_dir=outputs)
        try:
            return first.loop.running, second.loop.running
        finally:
            second.close()

    assert asyncio.run(twice()) == (False, True)


def test_an_account_seen_first_in_a_refresh_is_offered_and_shown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    params_dir = tmp_path / "params"
    params_dir.mkdir()
    p = ControlPanel(open_ledger(url), params_dir=params_dir, outputs_dir=tmp_path / "out", project_root=ROOT,
                     owns_ledger=True)
    try:
        assert p.view is None and "No account yet" in shown(p.header_note)
        assert dom.READY in p.widget._dom_classes
        with open_ledger(url) as other:
            replay(tkparams.validate("daily_dry_run", {**RAW, "account": "late"}), start="2017-12-01",
                   end="2017-12-29", ledger=other)
        p.refresh()
        assert p.view is not None and p.view.account.name == "late"
        assert [v for _, v in p.account_choice.options] == ["late"]
        assert "2017-12-29" in shown(p.regime.body) and p.errors == []
    finally:
        p.close()


def test_a_regime_strategy_shows_its_cell_trend_vol_and_bands(tmp_path: Path) -> None:
    """Hierarchical Adaptive v3.5b (a strategy with regime cells) on the sample's synthetic QQQ proxies."""
    raw = yaml.safe_load((ROOT / "params/daily_dry_run/hierarchical_adaptive_v3_5b.yaml").read_text())
    raw["account"] = "v35b"
    url = f"sqlite:///{tmp_path / 'v35b.sqlite'}"
    with open_ledger(url) as ledger:
        replay(tkparams.validate("daily_dry_run", raw), start="2018-01-02", end="2018-06-29", ledger=ledger)
        snaps = ledger.snapshots(account="v35b")
    params_dir = tmp_path / "params"
    (params_dir / "daily_dry_run").mkdir(parents=True)
    (params_dir / "daily_dry_run" / "v35b.yaml").write_text(yaml.safe_dump(raw))
    p = ControlPanel(open_ledger(url), account="v35b", params_dir=params_dir, outputs_dir=tmp_path / "out",
                     project_root=ROOT, owns_ledger=True)
    try:
        assert p.errors == []
        regime = shown(p.regime.body)
        decision = snaps.iloc[-1]["context"]["decision"]
        for name in ("cell", "trend_state", "vol_state", "t_norm", "z_score"):
            assert name in decision and name in regime
        assert regime.index("cell") < regime.index("trend_state") < regime.index("z_score") < regime.index("sma_fast")
        assert f" {decision['trend_state']} " in f" {regime} "
        cells = list(snaps["strategy_cell"])
        stretches = 1 + sum(a != b for a, b in itertools.pairwise(cells))
        assert p.equity.body.value.count("<title>cell ") == stretches
        assert "records no regime cell" not in shown(p.equity.body)
        # Every field of the strategy's params model has an input; execution_time follows the account's.
        from toolkit.strategies import registry

        model = registry.get("hierarchical_adaptive_v3_5b").Params
        assert list(p.params.editor.fields) == list(model.model_fields)
        assert p.params.editor.fields["execution_time"].input.disabled
        assert p.params.editor.fields["use_inverse_hedge"].kind == "bool"
        editor = p.params.editor
        editor.fields["sma_slow"].input.value = "30"  # below sma_fast (40): the model's field rule, under sma_slow
        assert "sma_slow must be greater than sma_fast (40)" in shown(editor.fields["sma_slow"].error)
    finally:
        p.close()


def test_without_an_account_the_panel_opens_on_the_ledgers_newest_run(setup) -> None:
    url, params_dir, outputs, clock = setup
    (params_dir / "daily_dry_run" / "aaa-first.yaml").write_text(yaml.safe_dump({**RAW, "account": "aaa-idle"}))
    p = ControlPanel(open_ledger(url, clock=clock), params_dir=params_dir, outputs_dir=outputs, project_root=ROOT,
                     clock=clock, owns_ledger=True)
    try:
        assert p.account_choice.value == "acct"  # the account that ran, not the first file's
    finally:
        p.close()


def test_the_status_line_is_rewritten_only_when_something_changed(panel: ControlPanel) -> None:
    # A line rewritten every second keeps the kernel busy, and voila's idle cull would never
    # free the kernel of a tab that crashed without closing its page.
    before = panel.last_refresh.value
    assert panel.refresh() == frozenset() and panel.last_refresh.value == before
    with open_ledger(panel.ledger.url) as other:
        other.set_kill_switch(True, "changed elsewhere", "erin")
    assert panel.refresh() and panel.last_refresh.value != before


def test_a_revert_the_next_session_would_refuse_is_not_written(panel: ControlPanel) -> None:
    """fast=40 with slow=50 is valid; reverting slow (back to the file's 30) would leave fast > slow."""
    panel.ledger.set_override("strategy_params.fast", 40, "wider", actor="ann", account="acct")
    panel.ledger.set_override("strategy_params.slow", 50, "wider", actor="ann", account="acct")
    panel.refresh()
    slow_change = int(panel.ledger.config_history(account="acct")["id"].iloc[-1])
    before = len(panel.ledger.config_history(account="acct"))
    panel.config_history.choice.value = slow_change
    panel.config_history.reason.value = "undo"
    panel.config_history.button.click()
    assert "nothing was written" in shown(panel.config_history.message)
    assert panel.ledger.overrides("acct") == {"strategy_params.fast": 40, "strategy_params.slow": 50}
    assert len(panel.ledger.config_history(account="acct")) == before
