"""Headless Chromium and a served ``toolkit dashboard`` for the browser tests and the bench.

* :func:`new_browser`: Debian's ``/usr/bin/chromium`` through selenium 4 and
  ``/usr/bin/chromedriver``, headless, a fresh profile folder, an exact viewport width;
* :class:`BrowserLog`: the console's SEVERE entries (the known one of an offline machine
  apart) and the requests a page sent to other hosts;
* :func:`start_dashboard_process`: ``toolkit dashboard`` as a user starts it, returned
  once it answers HTTP; :meth:`DashboardServer.stop` is Ctrl-C and reports kernels left;
* :func:`full_page_png`, :func:`artifacts_dir`, :func:`free_port`, :func:`wait_for`.

``tests/browser/conftest.py`` turns these into fixtures; ``bench/panel.py`` and
``bench/screenshots.py`` use them directly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Chromium flags for a headless run on a server: no sandbox (containers), no GPU, nothing
#: fetched in the background, no first-run pages, /tmp instead of a small /dev/shm.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage")
WINDOW_HEIGHT = 900
#: SEVERE console entries an offline machine always shows: voila's lab template loads the
#: fontawesome font from this CDN. Nothing else may be SEVERE.
KNOWN_OFFLINE = ("cdn.jsdelivr.net",)
#: Hosts a test serves itself; a request to any other is external.
LOCAL_HOSTS = frozenset({"127.0.0.1", "127.0.0.2", "localhost", "::1"})
#: How long a dashboard may take to answer its first request.
START_TIMEOUT_S = 60.0
#: The console script ``make setup`` installs (``python -m toolkit.cli`` where there is none).
_SCRIPT = Path(sys.executable).with_name("toolkit")
TOOLKIT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "toolkit.cli"]
SECRET_ENV = ("TOOLKIT_DASHBOARD_TOKEN", "TOOLKIT_DASHBOARD_PASSWORD")


def browser_missing() -> str | None:
    """Why no browser test can run here, or None when Chromium and its driver are installed."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return None
    return (f"no browser: {' and '.join(missing)} missing (make test installs Debian's chromium and chromium-driver "
            "when it runs as root or with sudo -n)")


def artifacts_dir() -> Path:
    """Where screenshots go: ``$TOOLKIT_TEST_ARTIFACTS``, else ``test-artifacts/`` at the project root."""
    path = Path(os.environ.get("TOOLKIT_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port(ip: str = "127.0.0.1") -> int:
    """A port nothing listens on at ``ip`` right now."""
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def new_browser(width: int, user_data_dir: Path, *, height: int = WINDOW_HEIGHT) -> Any:
    """A headless Chromium whose viewport is ``width`` x ``height`` CSS px, with its own profile folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={user_data_dir}")
    opts.add_argument(f"--window-size={width},{height}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    # The viewport is exactly the width asked for, whatever the window's frame takes.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


@dataclass
class BrowserLog:
    """What pages left in the console and on the network (read once per driver: the logs drain)."""

    severe: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)  # URLs of requests to other hosts

    def collect(self, driver: Any, local_hosts: frozenset[str] = LOCAL_HOSTS) -> BrowserLog:
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                msg = str(entry.get("message", ""))
                (self.known if any(k in msg for k in KNOWN_OFFLINE) else self.severe).append(msg)
        for entry in driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") != "Network.requestWillBeSent":
                continue
            url = msg["params"]["request"]["url"]
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in local_hosts:
                self.external.append(url)
        return self

    def summary(self) -> str:
        hosts = sorted({urlsplit(u).hostname or "?" for u in self.external})
        return (f"{len(self.external)} external request(s){' to ' + ', '.join(hosts) if hosts else ''}, "
                f"{len(self.known)} known offline SEVERE (font CDN), {len(self.severe)} other SEVERE")


#: The page's own scrollers: voila's lab template scrolls inside ``#rendered_cells``, so
#: the document is never taller than the viewport. (Tables that scroll inside the panel
#: are smaller than the viewport and stay as they are.)
_PAGE_SCROLLERS_JS = """const page = Array.from(document.querySelectorAll('*')).filter(e =>
    /auto|scroll/.test(getComputedStyle(e).overflowY) && e.clientHeight >= 0.8 * window.innerHeight);"""
_CONTENT_HEIGHT_JS = _PAGE_SCROLLERS_JS + """
return Math.max(document.documentElement.scrollHeight, ...page.map(e => e.scrollHeight));"""
_SCROLLS_JS = _PAGE_SCROLLERS_JS + "return page.some(e => e.scrollHeight > e.clientHeight + 1);"


def full_page_png(driver: Any, *, timeout: float = 10) -> bytes:
    """A PNG of the whole page, scrolled-away parts too, at the viewport's width.

    The viewport is made as tall as the content for the shot and then put back. A live
    page (the panel's refresh loop) can grow after it was measured, so the height is
    measured again until nothing scrolls. The shot is an artifact, never the test's
    verdict: if the page keeps growing past ``timeout``, the tallest shot so far is taken
    rather than failing a test whose assertions all held (CI failed once on exactly that).
    """
    import time

    width = int(driver.execute_script("return window.innerWidth"))
    height = int(driver.execute_script("return window.innerHeight"))

    def metrics(h: int) -> None:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": h, "deviceScaleFactor": 1, "mobile": False})

    deadline = time.monotonic() + timeout
    try:
        while True:
            metrics(max(int(driver.execute_script(_CONTENT_HEIGHT_JS)), height))
            if not driver.execute_script(_SCROLLS_JS) or time.monotonic() > deadline:
                return bytes(driver.get_screenshot_as_png())
            time.sleep(0.2)
    finally:
        metrics(height)


def wait_for(driver: Any, css: str, *, timeout: float = 30) -> Any:
    """The first element matching ``css`` once it is visible (WebDriverWait; never a fixed sleep)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


@dataclass
class DashboardServer:
    """A running ``toolkit dashboard`` process."""

    process: subprocess.Popen[str]
    ip: str
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, *, token: str | None = None) -> tuple[int, str]:
        """HTTP status and ``Location`` of ``GET path`` (redirects not followed)."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        req = urllib.request.Request(self.url + path.lstrip("/"))
        if token:
            req.add_header("Authorization", f"token {token}")
        try:
            with urllib.request.build_opener(NoRedirect).open(req, timeout=30) as resp:
                return int(resp.status), ""
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Location", "")

    def kernel_pids(self) -> list[int]:
        import psutil

        return [p.pid for p in psutil.Process(self.process.pid).children(recursive=True)]

    def stop(self, signum: int = signal.SIGINT) -> list[int]:
        """Ctrl-C (SIGINT, or ``signum``) and wait; returns the pids of kernels still alive after it (then killed)."""
        import psutil

        kernels = []
        if self.process.poll() is None:
            kernels = [psutil.Process(pid) for pid in self.kernel_pids()]
            self.process.send_signal(signum)
            try:
                # Generous: voila shuts every kernel down before it exits, and on a loaded CI
                # machine (nbval beside the suite on two cores) that took over 30 s once.
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _, alive = psutil.wait_procs(kernels, timeout=10)
        for p in alive:  # never leave a kernel behind, even when a test is about to fail
            p.kill()
        return [p.pid for p in alive]


def start_dashboard_process(db_url: str, log_path: Path, *, ip: str = "127.0.0.1", port: int | None = None,
                            token: str | None = None, preheat: bool = True,
                            env: dict[str, str] | None = None) -> DashboardServer:
    """``toolkit dashboard --ip IP --port PORT --db-url DB`` as a process; returns once it answers HTTP.

    The token goes in ``$TOOLKIT_DASHBOARD_TOKEN`` as a user would set it; any token or
    password of the caller's environment is left out.
    """
    port = port or free_port(ip)
    environ = {k: v for k, v in os.environ.items() if k not in (*SECRET_ENV, "TOOLKIT_DB_URL")} | (env or {})
    if token:
        environ["TOOLKIT_DASHBOARD_TOKEN"] = token
    args = [*TOOLKIT, "dashboard", "--ip", ip, "--port", str(port), "--db-url", db_url]
    if not preheat:
        args.append("--no-preheat")
    with log_path.open("w") as log:
        proc = subprocess.Popen(args, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT, text=True)
    server = DashboardServer(proc, ip, port, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"toolkit dashboard exited with {proc.returncode}:\n{server.log()}")
        try:
            server.get("voila/static/voila.js")  # any HTTP answer means it is up; a static file starts no kernel
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                server.stop()
                raise AssertionError(f"toolkit dashboard did not answer in {START_TIMEOUT_S:.0f} s:\n{server.log()}") \
                    from exc
            time.sleep(0.1)
