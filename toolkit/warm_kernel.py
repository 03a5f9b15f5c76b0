"""Start a notebook's kernel while the runner is still validating its params.

Every papermill run pays for a fresh kernel: the process start, then the imports
of the notebook's first cell (vectorbt alone is about 5 s here). The runner's own
work before execution (reading and validating params, which loads the data to
check symbols and dates) takes seconds too, and on a multi-core machine the two
can overlap. :func:`start` launches the kernel and imports the notebook's heavy
modules in a background thread; the runner hands the kernel to papermill once the
params are valid, or shuts it down unused when they are not. No notebook code
runs before validation: only ``import`` statements of modules the notebook would
import anyway, so results do not change.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Run first in every kernel this module starts (see :func:`kernel_setup`).
KERNEL_SETUP = "from toolkit.warm_kernel import kernel_setup; kernel_setup()"
#: Run last, whether the imports succeeded or not (see :func:`imports_done`).
KERNEL_IMPORTS_DONE = "from toolkit.warm_kernel import imports_done; imports_done()"

#: Installed in the development environment as test-only references (pyproject's test
#: extra), never used by a notebook, yet imported by vectorbt whenever present.
TEST_ONLY_PACKAGES = ("quantstats",)


def skip_slow_optional_imports() -> None:
    """Keep a 2-3 s optional import out of every run (the runner's process and its kernels).

    jsonschema (pulled in by nbformat, hence by papermill, nbconvert and plotly)
    probes the optional ``rfc3987_syntax`` package to validate "iri" string formats,
    and that package compiles a grammar when imported: 2.5-3 s on a 2-core machine,
    paid by the runner and again by every fresh papermill kernel. No schema the
    toolkit touches uses "iri" formats (nbformat's does not), so the package is
    marked absent before anything imports jsonschema. This happens only where the
    toolkit starts processes (``toolkit run``, its kernels), never on ``import
    toolkit``. Set ``TOOLKIT_KEEP_RFC3987=1`` to keep it.
    """
    if not os.environ.get("TOOLKIT_KEEP_RFC3987") and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


def kernel_setup() -> None:
    """What a kernel started by :func:`start` runs before the notebook's imports.

    :func:`skip_slow_optional_imports`, and the test-only references marked absent:
    ``import vectorbt`` imports quantstats when it is installed (for its optional
    ``returns.qs`` adapter), and quantstats pulls in yfinance, peewee, psycopg and
    matplotlib: about 0.6 s of every papermill run in the development environment,
    where the tests install it, and nothing in a user's installation, where it is
    absent. No notebook uses it. Only in the kernel: the runner's own process may be
    a test session that imports quantstats as a reference.
    Set ``TOOLKIT_KEEP_QUANTSTATS=1`` to keep it.
    """
    skip_slow_optional_imports()
    if not os.environ.get("TOOLKIT_KEEP_QUANTSTATS"):
        for name in TEST_ONLY_PACKAGES:
            if name not in sys.modules:
                sys.modules[name] = None  # type: ignore[assignment]
    imports_start()


def imports_start() -> None:
    """No cyclic garbage collection while a process imports its heavy modules (see :func:`imports_done`).

    Importing pandas, scipy.stats, vectorbt and plotly allocates about half a million
    objects that live as long as the process; the collector, triggered by the
    allocations, scans them over and over: 0.5-0.6 s of the ~2.2 s those imports take
    in a kernel (2-core machine). Collection timing changes no result.
    """
    gc.disable()


def imports_done(*, collect: bool = False) -> None:
    """The collector back on (after :func:`imports_start`), never to scan what is alive now again.

    ``gc.freeze`` moves every object alive now (modules, classes, functions: what the
    imports made) out of the collector's generations, so the collections a run's own
    allocations trigger stay cheap. ``collect``: collect the garbage made meanwhile
    first (where the process has time to wait, e.g. the runner waiting for its kernel),
    so none of it is kept. Does nothing while the collector is on.
    """
    if gc.isenabled():
        return
    if collect:
        gc.collect()
    gc.freeze()
    gc.enable()


@contextmanager
def runner_heap() -> Iterator[None]:
    """What ``toolkit run`` runs in: the collector off for its imports, the heap as before after.

    :func:`imports_start` now; the runner calls :func:`imports_done` once it has imported
    what it needs (while it waits for the kernel), or this does it at the end. Afterwards
    the objects frozen meanwhile are unfrozen again (unless something had frozen objects
    before), so code that calls ``toolkit.cli.main`` in process keeps an ordinary heap;
    :func:`exit_without_final_collection` then spares the command-line process its
    collection at exit.
    """
    was_enabled, frozen_before = gc.isenabled(), gc.get_freeze_count()
    imports_start()
    exit_without_final_collection()
    try:
        yield
    finally:
        # No collection here: a run refused early (bad params) never reached the runner's
        # imports_done, and a full pass per call cost in-process callers (1,000 fuzz cases in
        # one pytest process) seconds each; the heap is unfrozen right after anyway.
        imports_done()
        if not frozen_before:
            gc.unfreeze()
        if not was_enabled:
            gc.disable()


def exit_without_final_collection() -> None:
    """At exit, skip the collector's passes over every object of the process (once per process).

    Tearing down a runner that imported pandas, papermill, nbconvert and plotly and
    holds an executed notebook spends 0.3-0.4 s in garbage collection after the
    last line ran; frozen objects are left to the operating system, which frees the
    memory anyway. Registered with ``atexit``: it runs after the run is archived and
    after handlers registered later, before those registered earlier.
    """
    if not _EXIT_FREEZE:
        _EXIT_FREEZE.append(True)
        atexit.register(gc.freeze)


_EXIT_FREEZE: list[bool] = []


#: What each notebook imports first (modules only; nothing with side effects on results).
PRELOAD: dict[str, tuple[str, ...]] = {
    "backtest": ("toolkit.backtest.job", "toolkit.report.backtest", "toolkit.report.plots", "vectorbt",
                 "plotly.graph_objects"),
    "walk_forward": ("toolkit.optimize.walk_forward", "toolkit.report.walk_forward", "toolkit.report.plots",
                     "vectorbt", "plotly.graph_objects"),
    "daily_dry_run": ("toolkit.engine.daily", "toolkit.report.session_tables", "toolkit.report.plots",
                      "plotly.graph_objects"),
    "live": ("toolkit.engine.live", "toolkit.report.live_tables", "toolkit.report.plots", "plotly.graph_objects",
             "toolkit.brokers.alpaca", "toolkit.data.sources.alpaca", "toolkit.report.account_parity", "vectorbt"),
}


@dataclass
class WarmKernel:
    manager: Any  # a toolkit.kernel_handoff.HandingKernelManager
    thread: threading.Thread
    ipc_dir: Path | None = None
    clients: list[Any] = field(default_factory=list)  # the preload's client, once connected
    _stopping: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ready(self, timeout: float = 120.0) -> Any:
        """Wait for the preload to finish and return the kernel manager for papermill."""
        self.thread.join(timeout)
        return self.manager

    def shutdown(self) -> None:
        """Stop the kernel (idempotent, and safe beside :meth:`shutdown_in_background`)."""
        with self._stopping:
            try:
                if self.manager.has_kernel:
                    self.manager.shutdown_kernel(now=True)
            except Exception:  # pragma: no cover - best effort
                pass
            self.thread.join(5)
            while self.clients:
                with suppress(Exception):
                    self.clients.pop().stop_channels()
        if self.ipc_dir is not None:
            import shutil

            shutil.rmtree(self.ipc_dir, ignore_errors=True)

    def shutdown_in_background(self) -> threading.Thread:
        """:meth:`shutdown` in a thread: killing the kernel waits ~0.1 s for the process to
        go, which the HTML export need not wait for. Join the thread before the run ends."""
        thread = threading.Thread(target=self.shutdown, name="kernel-shutdown", daemon=True)
        thread.start()
        return thread


def preload_code(modules: tuple[str, ...]) -> str:
    """The cell the preload runs silently: set-up, the imports, then :func:`imports_done` in any case."""
    imports = "\n".join(f"    import {m}" for m in modules) or "    pass"
    return f"{KERNEL_SETUP}\ntry:\n{imports}\nfinally:\n    {KERNEL_IMPORTS_DONE}"


def _preload(manager: Any, modules: tuple[str, ...], clients: list[Any]) -> None:
    """Import ``modules`` in the kernel, then leave the connected client for papermill.

    No ``wait_for_ready`` handshake first: requests sent on the shell channel wait in
    the socket until the kernel is up, and the reply proves it is. The handshake
    costs a fresh client 0.2 s (it waits that long for an IOPub message the kernel
    published before the subscription took), and papermill's own client paid it a
    second time; :class:`toolkit.kernel_handoff.HandingKernelManager` gives papermill
    this client instead.
    """
    kc = manager.client()
    kc.start_channels()
    try:
        msg_id = kc.execute(preload_code(modules), silent=True, store_history=False)
        while kc.get_shell_msg(timeout=120)["parent_header"].get("msg_id") != msg_id:
            pass
        # The IOPub subscription works once this request's "idle" came through (the kernel
        # publishes it with the reply); later messages on it are papermill's.
        while True:
            msg = kc.get_iopub_msg(timeout=2)
            if (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
                    and msg["parent_header"].get("msg_id") == msg_id):
                break
    except Exception:  # papermill connects (and handshakes) its own client and reports any real problem
        with suppress(Exception):
            kc.stop_channels()
        return
    clients.append(kc)
    manager.hand_over(kc)  # a toolkit.kernel_handoff.HandingKernelManager


#: The kernel `make setup` registers for the project's virtual environment.
KERNEL_NAME = "toolkit"


def kernel_name() -> str:
    """The toolkit kernel when registered, else the running Python's own ``python3``."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL_NAME if KERNEL_NAME in KernelSpecManager().find_kernel_specs() else "python3"


def _ipc_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="toolkit-kernel-"))


def start(notebook: str, cwd: Path) -> WarmKernel | None:
    """Start the kernel in ``cwd`` and preload ``notebook``'s modules.

    Returns None (papermill then starts the kernel itself) when
    ``TOOLKIT_COLD_KERNEL=1`` is set or the kernel cannot be started here.
    """
    if os.environ.get("TOOLKIT_COLD_KERNEL"):
        return None
    try:
        from toolkit.kernel_handoff import HandingKernelManager

        # IPC (unix sockets) keeps kernel traffic off the network stack and avoids the
        # kernel's "running over TCP without encryption" warning on every run.
        ipc_dir = _ipc_dir()
        km = HandingKernelManager(kernel_name=kernel_name(), transport="ipc", ip=str(ipc_dir / "kernel"))
        km.start_kernel(cwd=str(cwd))
    except Exception:
        return None
    clients: list[Any] = []
    thread = threading.Thread(target=_preload, args=(km, PRELOAD.get(notebook, ()), clients), daemon=True)
    thread.start()
    return WarmKernel(km, thread, ipc_dir, clients)
