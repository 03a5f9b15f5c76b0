"""``outputs/index.html`` in headless Chromium, opened from file:// as a person opens it: sort, filter, offline.

The page is the real one (:func:`toolkit.ops.run_index.write_index`) over six hand-made
run folders (a manifest and the small JSON files the index reads, as in
tests/unit/test_run_index_page.py; no notebook runs): four backtests of different
strategies, one of them failed with no figures, a walk-forward and a dry-run session of
account ``team-a``. The tests click column headers and read the rows' order (twice
reverses it; a run with no figure stays last both ways), type into the filter box and
choose a notebook and a status, and read which rows are still displayed, the count line
and which figure columns are still shown. The console must hold no SEVERE entry and the
page must ask nothing of the network.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.browser import BrowserLog, wait_for

from toolkit.ops.run_index import write_index

#: run id -> (notebook, strategy, started, status, account, metrics, snapshot)
RUNS: dict[str, tuple[str, str, str, str, str | None, dict | None, dict | None]] = {
    "20260105T210000Z-sma00001": ("backtest", "sma_crossover", "2026-01-05T21:00:00+00:00", "completed", None,
                                  {"cagr": 0.1349, "sharpe": 1.126, "max_drawdown": -0.0971,
                                   "final_equity": 146045.83}, None),
    "20260106T210000Z-ema00002": ("backtest", "ema_breakout", "2026-01-06T21:00:00+00:00", "completed", None,
                                  {"cagr": -0.02, "sharpe": -0.31, "max_drawdown": -0.25, "final_equity": 91000.0},
                                  None),
    "20260107T210000Z-wfo00003": ("walk_forward", "sma_crossover", "2026-01-07T21:00:00+00:00", "completed", None,
                                  {"cagr": 0.05, "sharpe": 0.61, "max_drawdown": -0.2, "final_equity": 120000.0,
                                   "deflated_sharpe": {"dsr": 0.42}, "pbo": {"pbo": 0.25}}, None),
    "20260108T210000Z-dry00004": ("daily_dry_run", "sma_crossover", "2026-01-08T21:00:00+00:00", "completed",
                                  "team-a", None,
                                  {"session_date": "2018-06-01", "orders": 1, "status": "completed",
                                   "snapshot": {"equity": "99901.79", "daily_return": -0.00098206291}}),
    "20260109T210000Z-mrv00005": ("backtest", "mean_reversion", "2026-01-09T21:00:00+00:00", "failed", None,
                                  None, None),
    "20260110T210000Z-atr00006": ("backtest", "atr_momentum", "2026-01-10T21:00:00+00:00", "completed", None,
                                  {"cagr": 0.21, "sharpe": 2.04, "max_drawdown": -0.12, "final_equity": 180500.0},
                                  None),
}
NEWEST_FIRST = sorted(RUNS, reverse=True)
BACKTESTS = [r for r in NEWEST_FIRST if RUNS[r][0] == "backtest"]

#: Every body row's run id (the "Run" column) and whether it is displayed, in page order.
_ROWS_JS = """const heads = Array.from(document.querySelectorAll('#runs thead th')).map(h => h.textContent.trim());
const run = heads.indexOf('Run');
return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => [r.cells[run].textContent.trim(),
  r.offsetParent !== null]);"""
#: The header labels that are displayed.
_SHOWN_HEADS_JS = """return Array.from(document.querySelectorAll('#runs thead th'))
  .filter(h => h.offsetParent !== null).map(h => h.textContent.trim());"""


def _archive(outputs: Path) -> None:
    for run_id, (notebook, strategy, started, status, account, metrics, snapshot) in RUNS.items():
        run_dir = outputs / notebook / run_id
        run_dir.mkdir(parents=True)
        params = {"strategy": strategy, **({"account": account} if account else {})}
        manifest = {"run_id": run_id, "notebook": f"notebooks/{notebook}.ipynb", "status": status,
                    "started_utc": started, "params": params,
                    "error": "ValueError: window must be positive" if status == "failed" else None}
        if snapshot is not None:
            manifest["session"] = {"status": "completed", "mode": "offline_mock"}
            (run_dir / "snapshot.json").write_text(json.dumps(snapshot))
        (run_dir / "manifest.json").write_text(json.dumps(manifest))
        if metrics is not None:
            (run_dir / "metrics.json").write_text(json.dumps(metrics))
        if status == "completed":
            (run_dir / "report.html").write_text("<html><body>report</body></html>")


@pytest.fixture
def index_page(tmp_path: Path) -> Path:
    """The run index over :data:`RUNS`, written by the toolkit's own code."""
    outputs = tmp_path / "outputs"
    _archive(outputs)
    return write_index(outputs)


def settle(driver: Any, read: Callable[[], Any], expected: Any, *, timeout: float = 10) -> None:
    """Wait until ``read()`` gives ``expected`` (polling, no fixed sleep); then assert it, showing what was seen."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda _: read() == expected)
    assert read() == expected


def open_index(driver: Any, page: Path) -> None:
    driver.get(page.resolve().as_uri())
    wait_for(driver, "#runs tbody tr")
    settle(driver, lambda: driver.find_element("id", "count").text, f"{len(RUNS)} of {len(RUNS)} runs")


def order(driver: Any) -> list[str]:
    return [run for run, _ in driver.execute_script(_ROWS_JS)]


def shown(driver: Any) -> list[str]:
    return [run for run, displayed in driver.execute_script(_ROWS_JS) if displayed]


def click_header(driver: Any, label: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//table[@id='runs']/thead//th[normalize-space(.)='{label}']/button").click()


def aria_sort(driver: Any, label: str) -> str | None:
    from selenium.webdriver.common.by import By

    th = driver.find_element(By.XPATH, f"//table[@id='runs']/thead//th[normalize-space(.)='{label}']")
    return th.get_attribute("aria-sort")


def assert_offline_and_clean(driver: Any) -> None:
    """No SEVERE console entry; the page asked for nothing but itself (file://), no host at all."""
    log = BrowserLog().collect(driver, frozenset())  # every host counts as outside: the page needs none
    assert log.severe == [] and log.known == [], log.severe + log.known
    assert log.external == [], f"the run index requested URLs off the machine: {log.external}"


def test_clicking_a_header_sorts_the_runs_and_a_second_click_reverses_them(browser: Any, index_page: Path,
                                                                        screenshot: Callable[..., Path]) -> None:
    open_index(browser, index_page)
    assert order(browser) == NEWEST_FIRST  # as written: newest first
    assert aria_sort(browser, "Date") == "descending"

    by_sharpe = sorted((r for r in RUNS if RUNS[r][5] is not None), key=lambda r: (RUNS[r][5] or {})["sharpe"])
    no_sharpe = [r for r in NEWEST_FIRST if RUNS[r][5] is None]  # the dry run and the failed backtest
    assert len(by_sharpe) == 4 and len(no_sharpe) == 2
    click_header(browser, "Sharpe")
    settle(browser, lambda: order(browser)[:4], by_sharpe)  # numerically: -0.31 < 0.61 < 1.126 < 2.04
    assert set(order(browser)[4:]) == set(no_sharpe)  # runs with no Sharpe last
    assert (aria_sort(browser, "Sharpe"), aria_sort(browser, "Date")) == ("ascending", None)
    click_header(browser, "Sharpe")
    settle(browser, lambda: order(browser)[:4], by_sharpe[::-1])
    assert set(order(browser)[4:]) == set(no_sharpe)  # still last: an empty cell is not the smallest value
    assert aria_sort(browser, "Sharpe") == "descending"

    by_strategy = sorted(RUNS, key=lambda r: RUNS[r][1])
    click_header(browser, "Strategy")  # text, alphabetically
    settle(browser, lambda: [RUNS[r][1] for r in order(browser)], [RUNS[r][1] for r in by_strategy])
    click_header(browser, "Date")  # the date column, oldest first now
    settle(browser, lambda: order(browser), NEWEST_FIRST[::-1])
    click_header(browser, "Date")
    settle(browser, lambda: order(browser), NEWEST_FIRST)
    assert shown(browser) == NEWEST_FIRST  # sorting hides nothing
    screenshot(browser, "run-index-sorted")
    assert_offline_and_clean(browser)


def test_the_filter_box_and_the_notebook_and_status_choices_leave_only_matching_runs(
        browser: Any, index_page: Path, screenshot: Callable[..., Path]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_index(browser, index_page)
    box = browser.find_element(By.ID, "q")
    count = browser.find_element(By.ID, "count")
    none = browser.find_element(By.ID, "none")
    assert not none.is_displayed()

    box.send_keys("EMA_b")  # any case, any part of the row
    settle(browser, lambda: shown(browser), ["20260106T210000Z-ema00002"])
    assert count.text == f"1 of {len(RUNS)} runs"
    box.clear()
    box.send_keys("team-A")  # the dry run's account
    settle(browser, lambda: shown(browser), ["20260108T210000Z-dry00004"])
    box.clear()
    box.send_keys("sma_crossover")
    settle(browser, lambda: shown(browser), [r for r in NEWEST_FIRST if RUNS[r][1] == "sma_crossover"])
    box.send_keys(" nothing like this")
    settle(browser, lambda: shown(browser), [])
    assert none.is_displayed() and none.text == "No run matches." and count.text == f"0 of {len(RUNS)} runs"
    box.clear()
    box.send_keys(" ")  # blank: every run again (clear() alone fires no input event)
    settle(browser, lambda: shown(browser), NEWEST_FIRST)
    assert not none.is_displayed()

    notebook = Select(browser.find_element(By.ID, "nb"))
    assert [o.get_attribute("value") for o in notebook.options] == ["", "backtest", "daily_dry_run", "walk_forward"]
    notebook.select_by_value("backtest")
    settle(browser, lambda: shown(browser), BACKTESTS)
    assert count.text == f"{len(BACKTESTS)} of {len(RUNS)} runs"
    # Figure columns no displayed backtest fills are hidden; the backtest's own stay.
    heads = browser.execute_script(_SHOWN_HEADS_JS)
    assert {"CAGR", "Sharpe", "Max DD", "Final equity"} <= set(heads)
    assert not {"DSR", "PBO", "Orders", "P&L"} & set(heads), heads
    screenshot(browser, "run-index-backtests")

    status = Select(browser.find_element(By.ID, "st"))
    status.select_by_value("failed")  # and the status choice narrows it further
    settle(browser, lambda: shown(browser), ["20260109T210000Z-mrv00005"])
    status.select_by_value("completed")
    box.send_keys("ATR")  # all three together
    settle(browser, lambda: shown(browser), ["20260110T210000Z-atr00006"])
    notebook.select_by_value("daily_dry_run")
    settle(browser, lambda: shown(browser), [])
    box.clear()
    box.send_keys(" ")
    settle(browser, lambda: shown(browser), ["20260108T210000Z-dry00004"])
    heads = browser.execute_script(_SHOWN_HEADS_JS)
    assert {"Orders", "P&L", "Final equity"} <= set(heads) and "Sharpe" not in heads  # a session's figures
    notebook.select_by_value("")
    status.select_by_value("")
    settle(browser, lambda: shown(browser), NEWEST_FIRST)
    assert count.text == f"{len(RUNS)} of {len(RUNS)} runs"
    assert_offline_and_clean(browser)
