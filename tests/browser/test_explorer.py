"""The backtest explorer in a real browser: ``notebooks/backtest.ipynb`` served by voila, headless Chromium.

voila runs the notebook as a person would (no papermill, ``output_dir`` None), so its
last cell draws the explorer. The test waits for the explorer and its plotly chart,
types a value the strategy refuses and reads the inline error, then a good one, presses
Run and waits for the chart's title, the status line and the metrics table to change.
A screenshot of the page is kept as a test artifact.

``TOOLKIT_UPDATE_SCREENSHOTS=1`` also writes the README's picture of the explorer,
``docs/screenshots/backtest_explorer.png`` (the explorer alone, palette PNG).
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import (
    LOCAL_HOSTS,
    ROOT,
    SECRET_ENV,
    BrowserLog,
    DashboardServer,
    browser_missing,
    free_port,
    new_browser,
    wait_for,
)

from toolkit.widgets import dom

#: How long voila may take to answer HTTP, and the notebook to run up to the explorer
#: (a fresh kernel, vectorbt's first import, a 19-year backtest and its report).
START_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 240.0
DOCS_SCREENSHOT = ROOT / "docs" / "screenshots" / "backtest_explorer.png"


def start_voila(notebook: str, log_path: Path) -> DashboardServer:
    """``python -m voila NOTEBOOK`` on a free loopback port from the project root; returned once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in (*SECRET_ENV, "TOOLKIT_DB_URL")}
    args = [sys.executable, "-m", "voila", notebook, "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    server = DashboardServer(proc, "127.0.0.1", port, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"voila exited with {proc.returncode}:\n{server.log()}")
        try:
            server.get("voila/static/-")  # any HTTP answer: it is up (this starts no kernel)
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                server.stop(signal.SIGTERM)
                raise AssertionError(f"voila did not answer in {START_TIMEOUT_S:.0f} s:\n{server.log()}") from exc
            time.sleep(0.1)


#: The one console error voila shows on this notebook, whatever the explorer does: the
#: jupyterlab-plotly mime renderer draws each of the report's static charts, then tries to
#: keep a PNG of it in the output with ``model.setData``, which voila's output models lack.
#: The chart is drawn by then; nothing else may be SEVERE.
KNOWN_VOILA_PLOTLY = ("jupyterlab-plotly", "setData is not a function")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium, 1280 px wide (the harness's, with voila's known plotly entry allowed)."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    driver = new_browser(1280, Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)))
    try:
        yield driver
        log = BrowserLog().collect(driver, LOCAL_HOSTS)
    finally:
        driver.quit()
    severe = [m for m in log.severe if not all(part in m for part in KNOWN_VOILA_PLOTLY)]
    assert not severe, "SEVERE entries in the browser console:\n" + "\n".join(severe)
    assert not [u for u in log.external if "cdn.jsdelivr.net" not in u], log.summary()


@pytest.fixture
def served_backtest(tmp_path: Path) -> Iterator[DashboardServer]:
    server = start_voila("notebooks/backtest.ipynb", tmp_path / "voila.log")
    try:
        yield server
    finally:
        # Plain voila (not `toolkit dashboard`, whose Ctrl-C is its own test's business) stops
        # for sure on SIGTERM, which it handles through its loop; its SIGINT relies on a
        # KeyboardInterrupt that a library under load once swallowed.
        left = server.stop(signal.SIGTERM)
        assert not left, f"kernels still running after SIGTERM: {left}"
    assert server.process.returncode in (0, -signal.SIGTERM), server.log()


def text_of(driver: Any, css: str) -> str:
    return str(driver.find_element("css selector", css).text)


def wait_until(driver: Any, condition: Callable[[Any], Any], timeout: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def type_into(driver: Any, css: str, value: str) -> None:
    """Replace the text of the input inside ``css`` and commit it with Enter (as a person does)."""
    from selenium.webdriver.common.keys import Keys

    field = wait_for(driver, css)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(value, Keys.ENTER)


def test_backtest_explorer_renders_reruns_and_redraws(served_backtest: DashboardServer, browser: Any,
                                                      screenshot: Callable[..., Path]) -> None:
    browser.get(served_backtest.url)
    explorer = wait_for(browser, f".{dom.EXPLORER}", timeout=RENDER_TIMEOUT_S)
    chart_title = f".{dom.EXPLORER_EQUITY} .gtitle"
    wait_for(browser, chart_title)
    assert text_of(browser, chart_title) == "Equity and drawdown: sma_crossover (fast=20, slow=100)"
    assert text_of(browser, f".{dom.EXPLORER_STATUS}").startswith("Showing the notebook's backtest: sma_crossover")
    metrics_before = text_of(browser, f".{dom.EXPLORER_METRICS}")
    assert "Final equity" in metrics_before and "Total return" in metrics_before

    fast = f".{dom.explorer_input('fast')} input"
    type_into(browser, fast, "0")
    error = wait_until(browser, lambda d: text_of(d, f".{dom.explorer_error('fast')}"))
    assert error == "strategy_params.fast: got 0; allowed: a whole number from 1 to 1000"
    browser.find_element("css selector", f".{dom.EXPLORER_RUN}").click()
    wait_until(browser, lambda d: text_of(d, f".{dom.EXPLORER_STATUS}").startswith("Not run"))
    assert text_of(browser, chart_title).endswith("(fast=20, slow=100)")

    type_into(browser, fast, "10")
    wait_until(browser, lambda d: text_of(d, f".{dom.explorer_error('fast')}") == "")
    browser.find_element("css selector", f".{dom.EXPLORER_RUN}").click()
    wait_until(browser, lambda d: text_of(d, chart_title) == "Equity and drawdown: sma_crossover (fast=10, slow=100)",
               timeout=120)
    wait_until(browser, lambda d: text_of(d, f".{dom.EXPLORER_STATUS}").startswith("Ran in"))
    assert text_of(browser, f".{dom.EXPLORER_METRICS}") != metrics_before
    years = [t.text for t in browser.find_elements("css selector", f".{dom.EXPLORER_EQUITY} .xaxislayer-above text")]
    assert years and all(re.fullmatch(r"20\d\d", y) for y in years if y), years  # a time axis, not 1e18
    screenshot(browser, "backtest_explorer")
    if os.environ.get("TOOLKIT_UPDATE_SCREENSHOTS") == "1":
        write_docs_screenshot(browser, explorer)


def write_docs_screenshot(driver: Any, element: Any) -> None:
    """The explorer alone for the README: a viewport tall enough to hold it, a palette PNG to stay small."""
    from PIL import Image

    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 2400, "deviceScaleFactor": 1, "mobile": False})
    image = Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB").quantize(colors=96)
    DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    image.save(DOCS_SCREENSHOT, optimize=True)


@pytest.fixture
def served_walk_forward(tmp_path: Path) -> Iterator[DashboardServer]:
    server = start_voila("notebooks/walk_forward.ipynb", tmp_path / "voila.log")
    try:
        yield server
    finally:
        left = server.stop(signal.SIGTERM)  # as served_backtest
        assert not left, f"kernels still running after SIGTERM: {left}"
    assert server.process.returncode in (0, -signal.SIGTERM), server.log()


def test_walk_forward_explorer_draws_the_clicked_cell(served_walk_forward: DashboardServer, browser: Any,
                                                      screenshot: Callable[..., Path]) -> None:
    """A click on a cell of the fold's heatmap (params/walk_forward/sma_crossover.yaml: fast 5..50 by 5 on the
    y axis, slow 50..250 by 25 on the x axis) draws that combination's curves."""
    from selenium.webdriver.common.action_chains import ActionChains

    browser.get(served_walk_forward.url)
    wait_for(browser, f".{dom.WF_EXPLORER}", timeout=RENDER_TIMEOUT_S)
    heatmap = wait_for(browser, f".{dom.WF_FIGURE} .draglayer .xy .nsewdrag")
    assert text_of(browser, f".{dom.WF_STATUS}").startswith("Click a cell of the heatmap")
    width, height = heatmap.size["width"], heatmap.size["height"]
    column, row = 2, 1  # slow = 100, fast = 10 (categories run left to right, bottom to top)
    ActionChains(browser).move_to_element_with_offset(
        heatmap, int((column + 0.5) / 9 * width - width / 2), int(height / 2 - (row + 0.5) / 10 * height)
    ).click().perform()
    status = wait_until(browser, lambda d: text_of(d, f".{dom.WF_STATUS}") if text_of(
        d, f".{dom.WF_STATUS}").startswith("Fold") else None, timeout=120)
    assert "fast=10, slow=100" in status
    titles = f".{dom.WF_FIGURE} .annotation-text"
    wait_until(browser, lambda d: any(t.text == "fast=10, slow=100: growth of 1"
                                      for t in d.find_elements("css selector", titles)))
    points = browser.execute_script(
        f"return document.querySelector('.{dom.WF_FIGURE}.js-plotly-plot').data.map(t => (t.x || []).length)")
    assert points[3] > 0 and points[4] > 0 and points[5] > 0, points  # in sample, out of sample, the choice
    metrics = text_of(browser, f".{dom.WF_METRICS}")
    assert "out of sample" in metrics and "fold's choice, in sample" in metrics and "Sharpe ratio" in metrics
    screenshot(browser, "walk_forward_explorer")
