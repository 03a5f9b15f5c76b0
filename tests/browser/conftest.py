"""Fixtures of the browser tests: the real ``toolkit dashboard`` (voila) in Debian's headless Chromium.

* ``browser``: a fresh Chromium (selenium 4, ``/usr/bin/chromedriver``, a new
  ``--user-data-dir``), 1280 px wide unless a test says otherwise
  (``@pytest.mark.parametrize("browser", [768], indirect=True)``). After the test the
  console must hold no SEVERE entry but the known one of an offline machine (voila's
  template asks cdn.jsdelivr.net for the fontawesome font); each test's count of requests
  to other hosts is listed in the run's summary ("browser console and network").
* ``start_dashboard(db_url, ip=..., token=...)``: ``toolkit dashboard`` as a process on a
  free loopback port, returned once it answers; stopped with Ctrl-C after the test, which
  fails if a kernel outlives it.
* ``screenshot(driver, name)``: a PNG in ``$TOOLKIT_TEST_ARTIFACTS`` (default
  ``test-artifacts/`` at the project root, git-ignored).

Every test here skips, with the reason, only when no browser is installed; ``make test``
installs Debian's chromium and chromium-driver first when it can (.ci/install-browser).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import (
    LOCAL_HOSTS,
    BrowserLog,
    DashboardServer,
    artifacts_dir,
    browser_missing,
    full_page_png,
    new_browser,
    start_dashboard_process,
)

_REPORT: list[str] = []  # one line per browser, printed in the run's summary


def _require_browser() -> None:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def browser(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium (selenium 4 WebDriver); ``request.param`` is its width (default 1280)."""
    _require_browser()
    width = int(getattr(request, "param", 1280))
    driver = new_browser(width, Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)))
    try:
        yield driver
        log = BrowserLog().collect(driver, LOCAL_HOSTS)
    finally:
        driver.quit()
    _REPORT.append(f"{request.node.nodeid}: {log.summary()}")
    assert not log.severe, "SEVERE entries in the browser console:\n" + "\n".join(log.severe)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORT:
        terminalreporter.section("browser console and network")
        for line in _REPORT:
            terminalreporter.write_line(line)


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(driver, name, full_page=True)``: a PNG in the artifacts folder; returns its path."""

    def take(driver: Any, name: str, *, full_page: bool = True) -> Path:
        path = artifacts_dir() / f"{name}.png"
        if full_page:
            path.write_bytes(full_page_png(driver))
        else:
            driver.save_screenshot(str(path))
        return path

    return take


@pytest.fixture
def start_dashboard(tmp_path: Path) -> Iterator[Callable[..., DashboardServer]]:
    """``start_dashboard(db_url, ip=..., token=...)``: a served dashboard, stopped (kernels too) after the test."""
    _require_browser()
    started: list[DashboardServer] = []

    def start(db_url: str, **kwargs: Any) -> DashboardServer:
        server = start_dashboard_process(db_url, tmp_path / f"dashboard-{len(started)}.log", **kwargs)
        started.append(server)
        return server

    yield start
    leftovers = {s.url: s.stop() for s in started}
    assert not any(leftovers.values()), f"kernels still running after Ctrl-C: {leftovers}"
