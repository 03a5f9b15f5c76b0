"""``toolkit dashboard``: the control panel served as a web app by voila.

voila runs ``notebooks/control_panel.ipynb`` from the project root, one fresh kernel per
page (all state is in the ledger). It runs in this process (voila's own application
class), for three reasons:

* the token and the password reach voila as configuration objects, never on a command
  line (``ps`` shows command lines to every user of the machine), and they are taken out
  of the environment before any kernel starts, so neither the panel nor a "run now"
  subprocess inherits them;
* Ctrl-C (SIGINT) and SIGTERM reach voila itself, which shuts its kernels down;
* there is no second process to lose track of.

Kernels are preheated (a pool of one kernel that has already run the notebook): the
first widget shows about 2.5 s after the page is asked for instead of 8 s.

Anything but a loopback address (127.0.0.0/8, ::1, localhost) is refused unless a token
(``$TOOLKIT_DASHBOARD_TOKEN``) or a password (``$TOOLKIT_DASHBOARD_PASSWORD``) is set;
when one is set, every page needs it, whatever the address.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from toolkit.errors import ParamsError, one_line

__all__ = [
    "DEFAULT_PORT", "ENV_PASSWORD", "ENV_TOKEN", "FILES_DIR", "FILE_ALLOWLIST", "FILE_DENYLIST", "NOTEBOOK",
    "Dashboard", "dashboard_from_env", "is_loopback", "serve",
]

DEFAULT_PORT = 8866
#: The notebook served, relative to the project root.
NOTEBOOK = "notebooks/control_panel.ipynb"
#: The folder under the root whose files voila may serve (the archived runs).
FILES_DIR = "outputs"
#: Files under the root voila may serve (at ``/voila/files/<path>``): the archived runs'
#: reports and tables the panel links to; never the ledger, params or code. voila matches
#: the path as asked, not normalised (``outputs/../secret.json`` would match ``outputs/.*``),
#: so no part of the path may start with a dot (``..``, hidden files) or be empty;
#: toolkit.ops.voila_app also resolves the path and refuses anything outside ``outputs/``.
FILE_ALLOWLIST = (rf"{FILES_DIR}(?:/[^/.][^/]*)+\.(?:html|csv|json|png)",)
#: Paths refused even when allowlisted: any part starting with a dot, and voila's own
#: default (notebooks and Python files).
FILE_DENYLIST = (r"(?:.*/)?\.[^/]*(?:/.*)?", r".*\.(ipynb|py)")
#: Seconds after a page takes the preheated kernel before voila starts the next one (its
#: default is 1 s): the new kernel's start and imports would otherwise compete with the
#: browser drawing that page on a small machine (measured here on 2 busy cores: 3.4 s
#: instead of 4.6 s to a drawn panel). A second page opened within those seconds waits.
REFILL_DELAY_S = 5.0
#: JupyterLab extensions installed for JupyterLab and the research notebooks that the
#: panel's page does not load: it draws its charts as inline SVG in ipywidgets.HTML.
#: (Measured here: 2.5 s instead of 4.3 s from navigation to the drawn panel.)
UNUSED_LABEXTENSIONS = ("jupyterlab-plotly", "anywidget", "@voila-dashboards/jupyterlab-preview")
ENV_TOKEN = "TOOLKIT_DASHBOARD_TOKEN"
ENV_PASSWORD = "TOOLKIT_DASHBOARD_PASSWORD"
#: Set for the kernels: the folder voila serves files from (the panel's report links).
ENV_ROOT = "TOOLKIT_DASHBOARD_ROOT"
ENV_DB_URL = "TOOLKIT_DB_URL"
#: What ``--db-url`` may be, said when it is refused.
DB_URL_ALLOWED = ("an existing SQLite ledger file (a path or sqlite:///path) or a SQLAlchemy URL whose driver is "
                  "installed, such as postgresql+psycopg://user@host/db")


def is_loopback(ip: str) -> bool:
    """Whether only this machine can reach ``ip`` (127.0.0.0/8, ::1, localhost): served without a token."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


@dataclass(frozen=True)
class Dashboard:
    """What ``toolkit dashboard`` serves and how; :func:`serve` runs it.

    ``token`` and ``password`` are secrets: ``repr`` says only whether they are set.
    """

    root: Path
    ip: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    db_url: str | None = None  # None: the kernels' $TOOLKIT_DB_URL, else outputs/ledger.sqlite
    preheat: bool = True
    token: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return (f"Dashboard(root={str(self.root)!r}, ip={self.ip!r}, port={self.port}, db_url={self.shown_db_url()!r}, "
                f"preheat={self.preheat}, token={'set' if self.token else None}, "
                f"password={'set' if self.password else None})")

    @property
    def protected(self) -> bool:
        """Whether a token or a password is required."""
        return bool(self.token or self.password)

    @property
    def url(self) -> str:
        """The address a person opens (never with the token in it)."""
        host = socket.gethostname() if self.ip in ("", "0.0.0.0", "::") else self.ip
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def shown_db_url(self) -> str:
        """The ledger the panel reads, password hidden."""
        from toolkit.ledger.db import resolve_url, shown_url

        return shown_url(resolve_url(self.db_url))

    def first_line(self) -> str:
        """The line printed before voila starts: where to open the panel and how to stop it."""
        if self.token:
            access = f"; add ?token=<the value of ${ENV_TOKEN}> to it once"
        elif self.password:
            access = f"; it asks for the password in ${ENV_PASSWORD}"
        else:
            access = ""
        ledger = f"ledger {self.shown_db_url()}"
        if self._default_ledger_missing():
            ledger += " (not created yet: the panel shows an empty ledger)"
        return f"toolkit dashboard: the control panel is at {self.url}{access} ({ledger}; Ctrl-C stops it)"

    def check(self) -> None:
        """Refuse, before anything starts, what cannot or must not be served.

        A non-loopback address without a token or password, a missing notebook, a port
        that is taken or an address this machine does not have, a ledger the panel could
        not open: one line each.
        """
        if not is_loopback(self.ip) and not self.protected:
            raise ParamsError(
                "--ip", self.ip,
                f"a loopback address (127.0.0.1, 127.x.x.x, ::1, localhost); another address needs a token "
                f"(${ENV_TOKEN}) or a password (${ENV_PASSWORD}), which every page then asks for")
        if not 0 < self.port < 65536:
            raise ParamsError("--port", self.port, "a port number from 1 to 65535")
        if not (self.root / NOTEBOOK).is_file():
            raise ParamsError("notebook", str(self.root / NOTEBOOK), "the control panel notebook of the project")
        _check_port_free(self.ip, self.port)
        self._check_ledger()

    def _check_ledger(self) -> None:
        """Refuse a ledger URL the panel could not open, before the page shows voila's cell error.

        A URL SQLAlchemy cannot read, a database whose driver is not installed, or a SQLite
        file that is not there (a mistyped path would otherwise become a new, empty ledger).
        Only the default ledger (no ``--db-url``, no ``$TOOLKIT_DB_URL``) may be missing:
        :meth:`first_line` says so.
        """
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        from toolkit.ledger.db import DRIVER_PACKAGES, resolve_url, shown_url

        if self.db_url:
            field, given = "--db-url", self.db_url
        elif os.environ.get(ENV_DB_URL, "").strip():
            field, given = f"${ENV_DB_URL}", os.environ[ENV_DB_URL].strip()
        else:
            return
        url = resolve_url(given)
        try:
            parsed = make_url(url)
            parsed.get_dialect().import_dbapi()
        except ImportError as exc:
            module = (exc.name or "").split(".")[0] or "its driver"
            raise ParamsError(field, shown_url(url), f"{DB_URL_ALLOWED} ({module} is missing: pip install "
                                                     f"{DRIVER_PACKAGES.get(module, module)})") from None
        except (ArgumentError, ValueError):
            raise ParamsError(field, shown_url(url), DB_URL_ALLOWED) from None
        path = _sqlite_path(parsed)
        in_memory = parsed.get_backend_name() == "sqlite" and (parsed.database or ":memory:") == ":memory:"
        if in_memory:  # each kernel would read its own empty ledger
            raise ParamsError(field, shown_url(url), DB_URL_ALLOWED)
        if path is not None and not path.is_file():  # a typo would become a new, empty ledger
            raise ParamsError(field, shown_url(url), f"{DB_URL_ALLOWED} (there is no file {path})")

    def _default_ledger_missing(self) -> bool:
        """Whether the panel reads the default ledger (``outputs/ledger.sqlite``) and it does not exist yet."""
        if self.db_url or os.environ.get(ENV_DB_URL, "").strip():
            return False
        from sqlalchemy.engine import make_url

        from toolkit.ledger.db import resolve_url

        path = _sqlite_path(make_url(resolve_url(None)))
        return path is not None and not path.exists()

    def kernel_env(self) -> dict[str, str]:
        """Environment variables the kernels need on top of this process's."""
        from toolkit.ledger.db import resolve_url

        env = {ENV_ROOT: str(self.root)}
        if self.db_url:
            env[ENV_DB_URL] = resolve_url(self.db_url)
        return env

    def voila_config(self) -> Any:
        """The traitlets configuration of voila's application (a ``traitlets.config.Config``)."""
        from traitlets.config import Config

        cfg = Config()
        cfg.Voila.ip = self.ip
        cfg.Voila.port = self.port
        cfg.Voila.port_retries = 0  # the port asked for or nothing: never a surprise neighbour
        cfg.Voila.open_browser = False
        cfg.Voila.root_dir = str(self.root)
        cfg.Voila.token = self.token or None  # None: no token (voila then sets an empty one)
        if self.password:
            from jupyter_server.auth import passwd

            cfg.PasswordIdentityProvider.hashed_password = passwd(self.password)
        cfg.VoilaConfiguration.preheat_kernel = self.preheat
        cfg.VoilaConfiguration.default_pool_size = 1
        cfg.VoilaKernelManager.fill_delay = REFILL_DELAY_S
        cfg.VoilaConfiguration.file_allowlist = list(FILE_ALLOWLIST)
        cfg.VoilaConfiguration.file_denylist = list(FILE_DENYLIST)
        # The panel draws with ipywidgets only: the page need not fetch and parse the
        # research notebooks' front-end extensions (plotly's alone is 4.8 MB of JavaScript).
        cfg.VoilaConfiguration.extension_denylist = list(UNUSED_LABEXTENSIONS)
        # A closed page shuts its kernel down (toolkit.ops.voila_app); one that never says
        # so (a crashed tab, a script) leaves it behind: a kernel nobody is connected to
        # that has sent nothing for 10 minutes is shut down (the preheated pool never is).
        cfg.MappingKernelManager.cull_idle_timeout = 600
        cfg.MappingKernelManager.cull_interval = 60
        return cfg


def dashboard_from_env(root: Path, *, ip: str = "127.0.0.1", port: int = DEFAULT_PORT, db_url: str | None = None,
                       preheat: bool = True, environ: Mapping[str, str] | None = None) -> Dashboard:
    """The dashboard with the token and password read from ``$TOOLKIT_DASHBOARD_TOKEN`` / ``_PASSWORD``."""
    env = os.environ if environ is None else environ
    token = env.get(ENV_TOKEN, "").strip() or None
    password = env.get(ENV_PASSWORD, "") or None
    return Dashboard(root=root.resolve(), ip=ip, port=port, db_url=db_url, preheat=preheat, token=token,
                     password=password)


def serve(dashboard: Dashboard, *, out: TextIO | None = None) -> int:
    """Check ``dashboard``, print its first line and run voila until Ctrl-C or SIGTERM.

    voila shuts its kernels down when it stops (it catches SIGINT and handles SIGTERM
    itself). Returns 0 after a clean stop; raises :class:`ParamsError` for what
    :meth:`Dashboard.check` refuses.
    """
    dashboard.check()
    out = out or sys.stdout
    from toolkit.ops.voila_app import ProtectedVoila

    print(dashboard.first_line(), file=out, flush=True)
    with _kernel_environment(dashboard.kernel_env()), _warnings_printed():
        app = ProtectedVoila(config=dashboard.voila_config())
        app.initialize([str(dashboard.root / NOTEBOOK)])
        with _ctrl_c_stops(app):
            app.start()
    return 0


@contextmanager
def _ctrl_c_stops(app: Any) -> Iterator[None]:
    """Ctrl-C stops voila's loop from a signal handler, as its own SIGTERM handler does.

    voila relies on SIGINT's ``KeyboardInterrupt`` reaching ``ioloop.start()``; raised
    inside a library that catches ``BaseException`` it was lost, and the server, with
    its kernels, ran on (seen in CI under load). Scheduling ``ioloop.stop`` cannot be
    swallowed; voila then shuts every kernel down as after any stop. Before the loop
    exists (still starting) Ctrl-C interrupts as usual.
    """
    def stop(signum: int, frame: Any) -> None:
        loop = getattr(app, "ioloop", None)
        if loop is None:
            raise KeyboardInterrupt
        app.log.info("Ctrl-C: stopping")
        loop.add_callback_from_signal(loop.stop)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _kernel_environment(extra: Mapping[str, str]) -> Iterator[None]:
    """Set ``extra`` for the kernels and take the dashboard's secrets out of the environment.

    Kernels (and the subprocesses a panel starts) inherit this process's environment;
    the token and password are voila's business only. Both are put back afterwards so an
    in-process caller (a test) finds its environment as it was.
    """
    saved = {k: os.environ.get(k) for k in (*extra, ENV_TOKEN, ENV_PASSWORD)}
    os.environ.update(extra)
    os.environ.pop(ENV_TOKEN, None)
    os.environ.pop(ENV_PASSWORD, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _warnings_printed() -> Iterator[None]:
    """Print each Python warning as one line while the server runs.

    ``toolkit.cli.main`` holds a command's warnings until it ends; a server runs for
    days, so its warnings are printed when they happen instead.
    """
    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        if not issubclass(category, DeprecationWarning):
            print(f"warning: {one_line(str(message))}", file=sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _sqlite_path(url: Any) -> Path | None:
    """The file of a SQLite ``sqlalchemy.engine.URL``; None for another database, memory or a ``file:`` URI."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _check_port_free(ip: str, port: int) -> None:
    """Bind ``ip:port`` as tornado will (SO_REUSEADDR, every address ``ip`` resolves to) and let go."""
    try:
        infos = socket.getaddrinfo(ip or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ParamsError("--ip", ip, f"an address of this machine ({exc.strerror})") from None
    for family, kind, proto, _, addr in {(i[0], i[1], i[2], i[3], i[4]) for i in infos}:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(addr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise ParamsError("--port", port, f"a free port; {port} on {ip} is in use (another dashboard? "
                                      "--port picks another)") from None
                if exc.errno == errno.EADDRNOTAVAIL and ip == "localhost" and family == socket.AF_INET6:
                    continue  # a machine without IPv6: tornado skips ::1 the same way
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise ParamsError("--ip", ip, "an address of this machine") from None
                if exc.errno == errno.EACCES:
                    raise ParamsError("--port", port, "a port this user may open (1024 or above)") from None
                raise
