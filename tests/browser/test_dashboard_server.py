"""``toolkit dashboard`` as a user starts it: what it refuses, and the token it then requires.

The panel itself (ledger data, kill switch, parameter editor) is tested in
test_control_panel.py; here any page that draws the panel's root will do. Every served
dashboard is stopped with Ctrl-C by the fixture, which fails if a kernel outlives it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

from selenium.webdriver.support.ui import WebDriverWait
from support.browser import ROOT, SECRET_ENV, TOOLKIT, free_port, wait_for

from toolkit.widgets import dom

TOKEN = "browser-test-token-7f3a9c"


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
    assert done.stderr.startswith("error: --ip: got '0.0.0.0'; allowed: 127.0.0.1, localhost or ::1")
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


def test_with_a_token_another_address_requires_it(tmp_path: Path, start_dashboard, browser, screenshot) -> None:
    # 127.0.0.2 is not one of the loopback names the dashboard serves without a token, yet
    # it stays on this machine: the test exposes nothing.
    server = start_dashboard(f"sqlite:///{tmp_path / 'ledger.sqlite'}", ip="127.0.0.2", token=TOKEN)
    first = server.log().splitlines()[0]
    assert first.startswith(f"toolkit dashboard: the control panel is at http://127.0.0.2:{server.port}/")
    assert "$TOOLKIT_DASHBOARD_TOKEN" in first

    status, location = server.get("/")
    assert status == 302 and "/login" in location
    assert server.get("/", token="wrong-token")[0] == 302
    assert server.get("voila/files/outputs/README.md")[0] in (302, 403)  # files need it too

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


def test_leaving_the_page_shuts_its_kernel_down(tmp_path: Path, start_dashboard, browser) -> None:
    # voila's page posts voila/api/shutdown/<kernel> on beforeunload with the _xsrf value
    # of its cookies; without the cookie toolkit.ops.voila_app sets, voila refuses the
    # post and the page's kernel (and the panel's refresh loop) runs until the server stops.
    server = start_dashboard(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    browser.get(server.url)
    wait_for(browser, f".{dom.PANEL}.{dom.READY}", timeout=60)
    page_kernel = re.search(r"Using pre-heated kernel: (\S+)", server.log())
    assert page_kernel, server.log()
    browser.get("about:blank")
    WebDriverWait(browser, 30).until(lambda _: f"Kernel shutdown: {page_kernel[1]}" in server.log(),
                                     "the page's kernel outlived its page")
    assert "_xsrf' argument missing" not in server.log()
    assert server.process.poll() is None  # the server itself keeps serving
