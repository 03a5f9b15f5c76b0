"""``toolkit dashboard`` as a user starts it: what it refuses, and the token it then requires.

The panel itself (ledger data, kill switch, parameter editor) is tested in
test_control_panel.py; here any page that draws the panel's root will do. Every served
dashboard is stopped with Ctrl-C by the fixture, which fails if a kernel outlives it.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import WebDriverWait
from support.browser import ROOT, SECRET_ENV, TOOLKIT, free_port, wait_for

from toolkit.widgets import dom

TOKEN = "browser-test-token-7f3a9c"


@pytest.fixture
def served_report() -> Iterator[str]:
    """An archived report under the served root's outputs/ (removed after): its path under the root."""
    folder = ROOT / "outputs" / f"browser-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html><body>report</body></html>")
    try:
        yield f"outputs/{folder.name}/report.html"
    finally:
        shutil.rmtree(folder)


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """An existing empty ledger (the dashboard refuses a SQLite file that is not there)."""
    from toolkit.ledger import open_ledger

    path = tmp_path / "ledger.sqlite"
    open_ledger(f"sqlite:///{path}").close()
    return f"sqlite:///{path}"


def _raw_get(ip: str, port: int, raw_path: str, token: str) -> int:
    """Status of ``GET raw_path`` sent as written (``..`` not normalised, as ``curl --path-as-is``)."""
    conn = http.client.HTTPConnection(ip, port, timeout=30)
    try:
        conn.request("GET", raw_path, headers={"Authorization": f"token {token}"})
        return conn.getresponse().status
    finally:
        conn.close()


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _listening(ip: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((ip, port)) == 0


def test_another_address_without_token_is_refused_and_nothing_is_served(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    done = subprocess.run([*TOOLKIT, "dashboard", "--ip", "0.0.0.0", "--port", str(port),
                           "--db-url", str(tmp_path / "ledger.sqlite")],
                          check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: --ip: got '0.0.0.0'; allowed: a loopback address (127.0.0.1, 127.x.x.x")
    assert not _listening("127.0.0.1", port)
    assert not (tmp_path / "ledger.sqlite").exists()  # nothing was opened either


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([*TOOLKIT, "dashboard", "--port", str(port), "--db-url", str(tmp_path / "l.sqlite")],
                              check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"error: --port: got {port}; allowed: a free port; {port} on 127.0.0.1 is in use " \
                          "(another dashboard? --port picks another)\n"


def test_a_ledger_url_it_cannot_read_is_one_line_and_nothing_is_served(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    done = subprocess.run([*TOOLKIT, "dashboard", "--port", str(port), "--db-url", "nonsense://x"],
                          check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: --db-url: got 'nonsense://x'; allowed: ")
    assert not _listening("127.0.0.1", port)


def test_with_a_token_every_page_and_file_requires_it(ledger_url: str, served_report: str, start_dashboard, browser,
                                                      screenshot) -> None:
    # a token once configured is required on every address, loopback too: the test exposes nothing.
    server = start_dashboard(ledger_url, ip="127.0.0.1", token=TOKEN)
    first = server.log().splitlines()[0]
    assert first.startswith(f"toolkit dashboard: the control panel is at http://127.0.0.1:{server.port}/")
    assert "$TOOLKIT_DASHBOARD_TOKEN" in first

    status, location = server.get("/")
    assert status == 302 and "/login" in location
    assert server.get("/", token="wrong-token")[0] == 302
    # an archived report the panel links to: behind the token like the page
    assert server.get(f"voila/files/{served_report}")[0] in (302, 403)
    assert server.get(f"voila/files/{served_report}", token="wrong-token")[0] in (302, 403)
    assert server.get(f"voila/files/{served_report}", token=TOKEN)[0] == 200

    browser.get(server.url)  # no token: voila's login page, never the panel
    wait_for(browser, "input[type=password]")
    assert not browser.find_elements("css selector", f".{dom.PANEL}")

    browser.get(f"{server.url}?token={TOKEN}")
    wait_for(browser, f".{dom.PANEL}.{dom.READY}", timeout=60)
    screenshot(browser, "dashboard-with-token", full_page=False)

    # Ctrl-C: voila stops and shuts down every kernel it started (the page's, a preheated one)
    kernels = server.kernel_pids()
    assert kernels, "no kernel behind the page"
    browser.get("about:blank")  # a page left open would log its lost connection as SEVERE
    assert server.stop() == []
    assert not [pid for pid in kernels if _alive(pid)]
    assert server.process.returncode == 0
    assert TOKEN not in server.log()  # the token is never logged


def test_only_files_under_outputs_are_served(ledger_url: str, served_report: str, start_dashboard) -> None:
    # voila matches its allow list against the path as asked: outputs/../x.json matched
    # outputs/.*\.json and served any .json/.csv/.html/.png of the project root.
    server = start_dashboard(ledger_url, token=TOKEN)
    outside = "tests/fixtures/golden/backtest_sma_crossover/metrics.json"  # allowlisted type, not under outputs/
    assert (ROOT / outside).is_file()
    assert _raw_get(server.ip, server.port, f"/voila/files/{served_report}", TOKEN) == 200
    for raw in (f"/voila/files/outputs/../{outside}", f"/voila/files/outputs/%2e%2e/{outside}",
                f"/voila/files/outputs/%2E%2E/{outside}", f"/voila/files/outputs/x/..%2f..%2f{outside}"):
        assert _raw_get(server.ip, server.port, raw, TOKEN) in (403, 404), raw


def test_leaving_the_page_shuts_its_kernel_down(ledger_url: str, start_dashboard, browser) -> None:
    # voila's page posts voila/api/shutdown/<kernel> on beforeunload with the _xsrf value
    # of its cookies; without the cookie toolkit.ops.voila_app sets, voila refuses the
    # post and the page's kernel (and the panel's refresh loop) runs until the server stops.
    server = start_dashboard(ledger_url)
    browser.get(server.url)
    wait_for(browser, f".{dom.PANEL}.{dom.READY}", timeout=60)
    page_kernel = re.search(r"Using pre-heated kernel: (\S+)", server.log())
    assert page_kernel, server.log()
    browser.get("about:blank")
    WebDriverWait(browser, 30).until(lambda _: f"Kernel shutdown: {page_kernel[1]}" in server.log(),
                                     "the page's kernel outlived its page")
    assert "_xsrf' argument missing" not in server.log()
    assert server.process.poll() is None  # the server itself keeps serving
