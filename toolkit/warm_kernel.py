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

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Run first in every kernel this module starts (see :func:`kernel_setup`).
KERNEL_SETUP = "from toolkit.warm_kernel import kernel_setup; kernel_setup()"

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
    manager: Any  # jupyter_client KernelManager
    thread: threading.Thread
    ipc_dir: Path | None = None

    def ready(self, timeout: float = 120.0) -> Any:
        """Wait for the preload to finish and return the kernel manager for papermill."""
        self.thread.join(timeout)
        return self.manager

    def shutdown(self) -> None:
        """Stop the kernel (idempotent)."""
        try:
            if self.manager.has_kernel:
                self.manager.shutdown_kernel(now=True)
        except Exception:  # pragma: no cover - best effort
            pass
        self.thread.join(5)
        if self.ipc_dir is not None:
            import shutil

            shutil.rmtree(self.ipc_dir, ignore_errors=True)


def _preload(manager: Any, modules: tuple[str, ...]) -> None:
    kc = manager.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        if modules:
            code = "\n".join([KERNEL_SETUP, *(f"import {m}" for m in modules)])
            msg_id = kc.execute(code, silent=True, store_history=False)
            while True:
                reply = kc.get_shell_msg(timeout=120)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
    except Exception:  # the notebook's own imports will report any real problem
        pass
    finally:
        kc.stop_channels()


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
        from jupyter_client.manager import KernelManager

        # IPC (unix sockets) keeps kernel traffic off the network stack and avoids the
        # kernel's "running over TCP without encryption" warning on every run.
        ipc_dir = _ipc_dir()
        km = KernelManager(kernel_name=kernel_name(), transport="ipc", ip=str(ipc_dir / "kernel"))
        km.start_kernel(cwd=str(cwd))
    except Exception:
        return None
    thread = threading.Thread(target=_preload, args=(km, PRELOAD.get(notebook, ())), daemon=True)
    thread.start()
    return WarmKernel(km, thread, ipc_dir)
