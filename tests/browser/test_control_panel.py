"""The control panel served by ``toolkit dashboard``, in headless Chromium, over a real ledger.

The ledger holds a year of real dry-run sessions: ``toolkit replay`` of the SMA crossover
(20/100) on the bundled NASDAQ sample, 2017-04-13..2018-04-12, into account ``dry-run``
(the account of params/daily_dry_run/sma_crossover.yaml). Each test serves its own copy,
so what one test writes (the kill switch, an override) is not seen by another.

Checked: the panel draws that ledger's positions, equity, trades and run history; the kill
switch flipped in the panel with a reason is audited and halts the next dry run (which
then shows in the run history without a reload); the kill switch set from the CLI shows
without a reload; a bad parameter value shows its inline error and cannot be saved; a good
one with a reason is saved to the ledger's config history and shown in the panel's; at
768 px the panel's root does not overflow horizontally. Screenshots go to the artifacts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.browser import ROOT, SECRET_ENV, TOOLKIT
from support.panel_page import PanelPage

from toolkit.ledger import open_ledger
from toolkit.widgets import dom

ACCOUNT = "dry-run"
MODE = "offline_mock"
PARAMS = "params/daily_dry_run/sma_crossover.yaml"
#: A year of sessions ending the day before a crossover: the next session (2018-04-13)
#: would sell NASDAQ, so the kill switch has an order to stop, not only a quiet day.
FIRST, LAST = "2017-04-13", "2018-04-12"
NEXT_SESSION = "2018-04-13"


def _toolkit(args: list[str], db_url: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV} | {"TOOLKIT_DB_URL": db_url}
    return subprocess.run([*TOOLKIT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def replayed_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite ledger with a year of the dry-run account's sessions, written by ``toolkit replay``."""
    from support.browser import browser_missing

    if reason := browser_missing():
        pytest.skip(reason)
    path = tmp_path_factory.mktemp("replayed") / "ledger.sqlite"
    done = _toolkit(["replay", "--params", PARAMS, "--start", FIRST, "--end", LAST, "--account", ACCOUNT,
                     "--no-parity"], f"sqlite:///{path}")
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def ledger_url(replayed_ledger: Path, tmp_path: Path) -> str:
    """This test's own copy of the replayed ledger."""
    copy = tmp_path / "ledger.sqlite"
    shutil.copyfile(replayed_ledger, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def panel(start_dashboard, browser, ledger_url: str) -> PanelPage:
    """The panel served over this test's ledger, open on account ``dry-run``."""
    server = start_dashboard(ledger_url)
    page = PanelPage(browser, server.url).open()
    page.select_account(ACCOUNT)
    page.wait_text(dom.POSITIONS, "NASDAQ")  # drawn for the dry-run account
    return page


@pytest.mark.parametrize("browser", [1280, 768], indirect=True)
def test_panel_draws_the_ledger(panel: PanelPage, ledger_url: str, screenshot, browser) -> None:
    width = browser.execute_script("return window.innerWidth")
    with open_ledger(ledger_url) as ledger:
        positions = ledger.positions(ACCOUNT, MODE)
        fills = ledger.fills(account=ACCOUNT, mode=MODE)
        runs = ledger.runs(account=ACCOUNT)
    assert set(positions) == {"NASDAQ"}  # the replay ends invested

    held = panel.rows(dom.POSITIONS)
    nasdaq = [r for r in held if r and r[0] == "NASDAQ"]
    assert nasdaq and str(int(positions["NASDAQ"].quantity)) in nasdaq[0], held

    panel.wait_css(f".{dom.EQUITY} svg")
    assert LAST in panel.text(dom.EQUITY)  # the curve ends on the last session

    trades = panel.rows(dom.TRADES)
    assert len(trades) == len(fills) > 0, trades

    history = panel.rows(dom.RUN_HISTORY)
    sessions = {str(d) for d in runs["session_date"]}
    assert history and history[0][0] == LAST, history[:3]  # newest first
    assert {r[0] for r in history} <= sessions
    assert all("completed" in r for r in history)

    widths = panel.horizontal_overflow()
    assert widths["viewport"] == width
    assert widths["root_scroll"] <= widths["root_client"], widths  # nothing inside sticks out of the root
    assert widths["root_right"] <= widths["viewport"] and widths["document_scroll"] <= widths["viewport"], widths
    screenshot(browser, f"control-panel-{width}")


def test_kill_switch_from_the_panel_is_audited_and_halts_the_next_run(panel: PanelPage, ledger_url: str,
                                                                      tmp_path: Path, screenshot) -> None:
    reason = "browser test: halt before the data vendor fix"
    assert not panel.enabled(dom.KILL_BUTTON) or panel.text(dom.KILL_STATE).startswith("OFF")
    panel.type_into(dom.KILL_REASON, reason)
    panel.click(dom.KILL_BUTTON)
    panel.wait_text(dom.KILL_STATE, "ON", reason)
    panel.wait_text(dom.AUDIT, reason)
    with open_ledger(ledger_url) as ledger:
        state = ledger.kill_switch()
    assert state.on and state.reason == reason

    done = _toolkit(["run", "daily_dry_run", "--params", PARAMS, "--set", f"as_of={NEXT_SESSION}",
                     "--outputs", str(tmp_path / "out")], ledger_url)
    assert done.returncode == 3, done.stderr  # the session halted (see `toolkit run --help`)
    assert "session halted" in done.stderr and reason in done.stderr, done.stderr  # names the switch's reason
    with open_ledger(ledger_url) as ledger:
        newest = ledger.runs(account=ACCOUNT).iloc[-1]
    assert str(newest["session_date"]) == NEXT_SESSION and newest["status"] == "halted"

    # the halted run reaches the open page by itself (live refresh), newest first
    panel.wait(lambda: (rows := panel.rows(dom.RUN_HISTORY)) and rows[0][0] == NEXT_SESSION and "halted" in rows[0],
               f"the halted run never showed in the run history: {panel.rows(dom.RUN_HISTORY)[:2]}")
    screenshot(panel.driver, "control-panel-kill-switch-on")


def test_kill_switch_set_from_the_cli_shows_without_reload(panel: PanelPage, ledger_url: str) -> None:
    panel.driver.execute_script("window.tkSamePage = true")  # gone if the page reloads
    assert panel.text(dom.KILL_STATE).startswith("OFF")
    reason = "set from the CLI while the panel is open"
    done = _toolkit(["killswitch", "on", "--reason", reason, "--db", ledger_url], ledger_url)
    assert done.returncode == 0, done.stderr
    panel.wait_text(dom.KILL_STATE, "ON", reason, timeout=10)
    done = _toolkit(["killswitch", "off", "--reason", "CLI test over", "--db", ledger_url], ledger_url)
    assert done.returncode == 0, done.stderr
    panel.wait_text(dom.KILL_STATE, "OFF", "CLI test over", timeout=10)
    assert panel.driver.execute_script("return window.tkSamePage === true")


def test_parameter_editor_refuses_a_bad_value_and_saves_a_good_one(panel: PanelPage, ledger_url: str,
                                                                   screenshot) -> None:
    fast, fast_error = dom.param_input("fast"), dom.param_error("fast")
    panel.wait_css(f".{fast} input")

    panel.type_into(fast, "0")  # below the field's bound (fast >= 1)
    error = panel.wait(lambda: panel.text(fast_error), "no inline error under fast for 0")
    assert "1" in error
    panel.type_into(dom.PARAMS_REASON, "a reason does not make a bad value good")
    assert not panel.enabled(dom.PARAMS_SAVE)

    panel.type_into(fast, "150")  # a valid field, but not below slow (100): the model's cross-field rule
    panel.wait(lambda: not panel.text(fast_error), "the field error stays for a value within its bounds")
    panel.wait(lambda: panel.text(dom.PARAMS_FORM_ERROR), "no form error for fast 150 >= slow 100")
    assert not panel.enabled(dom.PARAMS_SAVE)
    screenshot(panel.driver, "control-panel-params-error")
    with open_ledger(ledger_url) as ledger:
        assert ledger.config_history(account=ACCOUNT).empty  # nothing was written

    reason = "browser test: a faster signal"
    panel.type_into(fast, "30")
    panel.wait(lambda: not panel.text(dom.PARAMS_FORM_ERROR), "the form error stays for fast 30 < slow 100")
    panel.type_into(dom.PARAMS_REASON, reason)
    panel.click(dom.PARAMS_SAVE)
    panel.wait(lambda: panel.text(dom.PARAMS_MESSAGE), "no message after Save")
    panel.wait_text(dom.CONFIG_HISTORY, "strategy_params.fast", reason)

    with open_ledger(ledger_url) as ledger:
        history = ledger.config_history(account=ACCOUNT)
        overrides = ledger.overrides(account=ACCOUNT)
    assert len(history) == 1
    change = history.iloc[0]
    assert (change["key"], change["new"], change["reason"]) == ("strategy_params.fast", 30, reason)
    assert change["old"] in (None, 20)  # no override before (the params file's 20)
    assert overrides == {"strategy_params.fast": 30}
    screenshot(panel.driver, "control-panel-params-saved")
