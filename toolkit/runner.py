"""Execute a notebook with papermill and archive the run.

Every run lands in ``outputs/<notebook>/<run_id>/`` with the executed notebook,
``report.html`` (nbconvert, code hidden, plotly charts embedded so it opens
offline), the machine-readable results the notebook wrote, and ``manifest.json``:
resolved params and their hash, git commit and dirty flag, data fingerprint,
package versions, Python version, start/end in UTC, duration, status and error.
A failed run is archived too (status ``failed``, the error and the partly executed
notebook) so nothing that happened is lost.

A dry-run or live session refused by the run lock (another live run of the same key
holds it, :class:`toolkit.engine.run_lock.RunLocked`) is archived as ``locked``, not
``failed``: nothing ran and nothing is wrong (a person's run met the scheduled one), so
it raises no ``run_failed`` alert and ``toolkit run`` exits 4.

A run stopped by Ctrl-C (SIGINT) or SIGTERM is archived as ``interrupted`` (the
manifest is written first, then the kernel is stopped); :class:`RunInterrupted`
carries the signal to the caller (``toolkit run`` exits 130 or 143 with one line).
The manifest records the runner's ``pid`` and ``host``, so a run whose process died
without a word (kill -9, power loss) is listed as ``died`` rather than ``running``
for ever (:func:`list_runs`).

Once the manifest is final, the run's alerts go out (:mod:`toolkit.ops.alert_triggers`:
a failed or interrupted run, a session a guard halted, a reconciliation mismatch); a
channel that fails is recorded in the ledger and never changes the run's status.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.ops.run_files import json_part, read_json_object
from toolkit.params import load as load_params
from toolkit.params import params_hash, repo_root
from toolkit.warm_kernel import imports_done

#: Packages whose versions go into every manifest.
TRACKED_PACKAGES = (
    "toolkit", "numpy", "pandas", "vectorbt", "vectorbt-rust", "plotly", "papermill", "nbconvert",
    "pydantic", "sqlalchemy", "arch", "ipykernel",
)


#: The status of a run the run lock refused (see the module doc), and the exception's name in the kernel.
LOCKED, LOCKED_ERROR = "locked", "RunLocked"


@dataclass
class RunRecord:
    run_id: str
    run_dir: Path
    status: str
    error: str | None
    manifest: dict


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the runner; the run (if it had started) is archived as interrupted.

    A ``KeyboardInterrupt`` (for SIGTERM too): no ``except Exception`` on the way
    swallows it, and code that stops cleanly on Ctrl-C stops cleanly on SIGTERM.
    ``exit_status`` is the shell's convention, 128 + the signal number.
    """

    def __init__(self, signum: int, run_dir: Path | None = None) -> None:
        self.signum = signum
        self.run_dir = run_dir
        super().__init__(signal.Signals(signum).name)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`RunInterrupted` while a run executes (main thread only).

    Without it Ctrl-C ends the runner with a traceback from inside zmq and SIGTERM
    ends it silently, both leaving the manifest saying ``running``. The previous
    handlers come back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupted(signum: int, _frame: Any) -> None:
        raise RunInterrupted(signum)

    previous = {sig: signal.signal(sig, raise_interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def process_alive(pid: int) -> bool:
    """True when a process ``pid`` exists on this machine (signal 0 probes without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def make_run_id(notebook: str, started: pd.Timestamp, phash: str, root: Path) -> str:
    """``20261122T020304Z-<params hash[:8]>`` plus ``-2``, ``-3`` ... if taken."""
    base = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{phash[:8]}"
    run_id, n = base, 1
    while (root / notebook / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def git_state(cwd: Path) -> dict[str, Any]:
    """Commit and dirty flag of the working tree (None outside a git checkout)."""
    try:
        commit = _git(cwd, "rev-parse", "HEAD")
        dirty = bool(_git(cwd, "status", "--porcelain", "--untracked-files=no"))
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def _kernel_name() -> str:
    from toolkit.warm_kernel import kernel_name

    return kernel_name()


#: Cells tagged so are for a person at the notebook (the explorers); the report leaves them out.
INTERACTIVE_ONLY_TAG = "interactive-only"
#: Cells whose output is a log (a headless run's progress lines): kept in the archived
#: notebook, left out of the report, where "35/35 [00:03, 9.8it/s]" means nothing to a reader.
LOG_ONLY_TAG = "log-only"


def export_html(notebook: Path | Any, html_path: Path) -> None:
    """Render the executed notebook (a path or a notebook node) to HTML without code cells.

    Cells tagged :data:`INTERACTIVE_ONLY_TAG` (an explorer and the line introducing it)
    are left out: under papermill they draw nothing, and the report stays the static one.
    Cells tagged :data:`LOG_ONLY_TAG` keep their output in the notebook, not in the report.
    """
    import nbformat

    from toolkit.report.offline_html import strip_remote_scripts

    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, (str, Path)) else notebook
    body, _ = _html_exporter().from_notebook_node(nb)
    html_path.write_text(strip_remote_scripts(body), encoding="utf-8")


_EXPORTER: list[Any] = []  # the one HTMLExporter of this process (see _html_exporter)


def _html_exporter() -> Any:
    """The report's HTMLExporter, made once per process: code hidden, tagged cells left out.

    Kept, so that :func:`warm_html_export` pays its set-up before the run needs it.
    """
    if not _EXPORTER:
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors import TagRemovePreprocessor

        exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
        exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={INTERACTIVE_ONLY_TAG},
                                                             remove_all_outputs_tags={LOG_ONLY_TAG}), enabled=True)
        _EXPORTER.append(exporter)
    return _EXPORTER[0]


def warm_html_export() -> None:
    """Pay the HTML export's one-off costs now, while the kernel is still importing.

    The first export of a process spends about 0.9 s (2-core machine) before it
    renders anything: importing nbconvert, compiling its Jinja templates, its Markdown
    and CSS-selector regexes. Exporting a one-cell notebook here does all of that on
    the runner's otherwise idle core while the warm kernel imports the notebook's
    modules; the report's own export then takes only its rendering. Same exporter,
    same settings: the report is byte for byte what a cold export writes.
    """
    import nbformat

    cell = nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": "<div>warm</div>", "text/plain": "warm"})])
    cell.metadata["tags"] = [LOG_ONLY_TAG]
    md = nbformat.v4.new_markdown_cell("# warm\n\n*text* and `code`")
    _html_exporter().from_notebook_node(nbformat.v4.new_notebook(cells=[md, cell, nbformat.v4.new_code_cell()]))


def run_notebook(
    notebook: str,
    params_file: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    *,
    outputs_root: Path | None = None,
    notebooks_dir: Path | None = None,
    clock: Callable[[], pd.Timestamp] = utc_now,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    warm: Any = None,
) -> RunRecord:
    """Validate params, execute ``notebooks/<notebook>.ipynb`` and archive the run.

    Params are validated before anything runs: a ParamsError propagates and no run
    directory is created. Any failure after that is archived with status failed.
    ``warm``: a kernel already started by :func:`toolkit.warm_kernel.start` (the CLI
    starts one before importing this module); one is started here otherwise.
    """
    from toolkit.connections.secret_backends.dotenv_file import export_process_settings
    from toolkit.warm_kernel import skip_slow_optional_imports

    skip_slow_optional_imports()
    export_process_settings()  # the kernel opens the ledger from $TOOLKIT_DB_URL, kept in .env under cron
    root = repo_root()
    nb_dir = notebooks_dir or root / "notebooks"
    with interrupts_raise():
        if warm is None:
            warm = _warm_kernel(notebook, nb_dir)
        try:
            return _run(notebook, params_file, overrides, root, nb_dir, outputs_root, clock, log, warm)
        finally:
            if warm is not None:
                warm.shutdown()


def _run(notebook, params_file, overrides, root: Path, nb_dir: Path, outputs_root, clock, log, warm) -> RunRecord:
    params = load_params(notebook, params_file, overrides)
    resolved = params.model_dump(mode="json")
    phash = params_hash(resolved)
    outputs = outputs_root or root / "outputs"
    started = clock()
    run_id = make_run_id(notebook, started, phash, outputs)
    run_dir = outputs / notebook / run_id
    run_dir.mkdir(parents=True)
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "notebook": f"notebooks/{notebook}.ipynb",
        "params_file": str(params_file) if params_file else None,
        "params": resolved,
        "params_hash": phash,
        "git": git_state(root),
        "python": platform.python_version(),
        "packages": package_versions(),
        "started_utc": started.isoformat(),
        "status": "running",
        "error": None,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    _write_manifest(run_dir, manifest)
    t0 = time.perf_counter()
    try:
        record = _execute(notebook, nb_dir, run_dir, resolved, manifest, t0, clock, log, warm, params)
    except KeyboardInterrupt as exc:  # RunInterrupted, or Ctrl-C where no handler could be installed
        stop = exc if isinstance(exc, RunInterrupted) else RunInterrupted(signal.SIGINT)
        # The manifest first (a second Ctrl-C during the kernel's shutdown must not leave
        # it 'running'); run_notebook stops the kernel on the way out.
        manifest.update({"ended_utc": clock().isoformat(), "duration_s": round(time.perf_counter() - t0, 3),
                         "status": "interrupted", "error": f"interrupted by {stop.signal_name}"})
        _write_manifest(run_dir, manifest)
        _refresh_index(outputs, log)
        stop.run_dir = run_dir
        with suppress(KeyboardInterrupt):  # a second Ctrl-C while alerting: the run is archived, stop now
            _raise_alerts(notebook, params, manifest, run_dir, log)
        raise stop from None
    _refresh_index(outputs, log)
    _raise_alerts(notebook, params, manifest, run_dir, log)
    return record


def _refresh_index(outputs: Path, log: Callable[[str], None]) -> None:
    """outputs/index.html with this run in it; a failure is a warning (the run itself is archived)."""
    try:
        from toolkit.ops.run_index import refresh_index

        refresh_index(outputs, log)
    except Exception as exc:  # even an import failure must not fail a run that has finished
        log(f"warning: the run index was not updated ({type(exc).__name__}: {exc})")


def _raise_alerts(notebook: str, params: Any, manifest: dict[str, Any], run_dir: Path,
                  log: Callable[[str], None]) -> None:
    """The archived run's alerts (failed, guard tripped, ...: :mod:`toolkit.ops.alert_triggers`).

    After the manifest is final, so an alert never changes what the run recorded; a
    problem with alerting is one log line, never the run's status.
    """
    try:
        from toolkit.ops.alert_triggers import alerts_after_run

        alerts_after_run(notebook, params, manifest, run_dir, log=log)
    except Exception as exc:
        log(f"alerts: not sent ({type(exc).__name__})")


def notebook_parameters(params_model: Any, resolved: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """What papermill injects: the resolved params, the run folder and, for a notebook with a
    ledger, ``ledger="default"`` (the params' db_url, $TOOLKIT_DB_URL or outputs/ledger.sqlite;
    opened by hand the notebook uses a throwaway ledger instead). Never a URL from the
    environment: the executed notebook is archived, and credentials stay out of it."""
    parameters: dict[str, Any] = {"params": resolved, "output_dir": str(run_dir)}
    if "db_url" in type(params_model).model_fields:
        parameters["ledger"] = "default"
    return parameters


def _execute(notebook, nb_dir: Path, run_dir: Path, resolved: dict, manifest: dict[str, Any], t0: float, clock, log,
             warm, params_model: Any = None) -> RunRecord:
    """Papermill, the HTML export and the final manifest of a run whose folder exists."""
    status, error = "completed", None
    executed = run_dir / "notebook.ipynb"
    executed_nb = None
    try:
        import papermill as pm

        log(f"running notebooks/{notebook}.ipynb -> {run_dir}")
        if warm is not None:  # the kernel is still importing: use the wait
            with suppress(Exception):  # a real export problem is reported by the export itself
                warm_html_export()
        imports_done(collect=True)  # the runner's imports are done too (gc off since `toolkit run` began)
        engine_kwargs = {"km": warm.ready()} if warm is not None else {}
        executed_nb = pm.execute_notebook(
            str(nb_dir / f"{notebook}.ipynb"),
            str(executed),
            parameters=notebook_parameters(params_model, resolved, run_dir),
            kernel_name=_kernel_name(),
            cwd=str(nb_dir),
            progress_bar=False,
            # Saving the notebook after every cell rewrites megabytes of embedded plotly.js
            # a dozen times; papermill still writes it at the end, failed runs included.
            request_save_on_cell_execute=False,
            log_output=False,
            **engine_kwargs,
        )
    except Exception as exc:  # archived below, then re-raised as a non-zero exit by the CLI
        status = LOCKED if getattr(exc, "ename", None) == LOCKED_ERROR else "failed"
        error = _describe(exc)
    # The kernel goes while the report renders (killing it waits ~0.1 s for the process).
    stopping = warm.shutdown_in_background() if warm is not None else None
    if executed.exists():
        try:
            # The node papermill returns saves re-reading (and re-validating) megabytes of JSON.
            export_html(executed_nb if executed_nb is not None else executed, run_dir / "report.html")
        except Exception as exc:  # an HTML failure must not hide the run's own status
            if status == "completed":
                status, error = "failed", f"HTML export failed: {_describe(exc)}"
    if stopping is not None:
        stopping.join()
    info = run_dir / "run_info.json"
    if info.exists():
        manifest.update(json.loads(info.read_text()))
        info.unlink()
    _record_session_ledger(manifest, params_model, nb_dir)
    ended = clock()
    manifest.update(
        {
            "ended_utc": ended.isoformat(),
            "duration_s": round(time.perf_counter() - t0, 3),
            "status": status,
            "error": error,
        }
    )
    _write_manifest(run_dir, manifest)
    return RunRecord(manifest["run_id"], run_dir, status, error, manifest)


def _record_session_ledger(manifest: dict[str, Any], params_model: Any, nb_dir: Path) -> None:
    """``session.ledger``: the ledger the session recorded in, password masked, so that ``runs prune``
    later reads that ledger and not whatever ``$TOOLKIT_DB_URL`` names then.

    The kernel inherited this process's environment and ran with ``nb_dir`` as working
    directory, so it resolved ``ledger="default"`` to the same URL as this does.
    """
    session = manifest.get("session")
    if not isinstance(session, dict) or "db_url" not in getattr(type(params_model), "model_fields", {}):
        return
    from toolkit.ledger.db import resolve_url, shown_url

    session["ledger"] = shown_url(resolve_url(getattr(params_model, "db_url", None), start=nb_dir))


def _warm_kernel(notebook: str, nb_dir: Path):
    """A kernel started now, overlapping params validation (see toolkit.warm_kernel).

    ``TOOLKIT_COLD_KERNEL=1`` turns it off (papermill then starts the kernel itself).
    """
    from toolkit import warm_kernel

    return warm_kernel.start(notebook, nb_dir)


def _describe(exc: BaseException) -> str:
    name = getattr(exc, "ename", None)
    value = getattr(exc, "evalue", None)
    if name:
        return f"{name}: {value}"
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _write_manifest(run_dir: Path, manifest: dict) -> None:
    tmp = run_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    os.replace(tmp, run_dir / "manifest.json")


def manifest_status(manifest: dict[str, Any]) -> str | None:
    """The manifest's status, except ``died`` for a run still marked running whose process is gone.

    Only a process on this host can be probed (``pid`` and ``host`` are in every
    manifest since issue 9); a run from another machine, or from before that, keeps
    ``running``.
    """
    status = manifest.get("status")
    pid, host = manifest.get("pid"), manifest.get("host")
    if status == "running" and isinstance(pid, int) and host == socket.gethostname() and not process_alive(pid):
        return "died"
    return status


#: Columns of :func:`list_runs`, one row per archived run (a figure a notebook lacks is empty).
RUN_COLUMNS = [
    "run_id", "notebook", "strategy", "status", "started_utc", "duration_s",
    "total_return", "cagr", "sharpe", "max_drawdown", "final_equity",  # backtest, walk-forward (out of sample)
    "dsr", "psr", "pbo",  # walk-forward: deflated and probabilistic Sharpe, probability of backtest overfitting
    "session_date", "session_status", "orders", "session_equity", "session_pnl",  # dry run, live session
    "report", "run_dir", "error",
]


def session_money(snapshot: dict) -> tuple[float | None, float | None]:
    """A session's equity after it and its profit or loss over the day, from snapshot.json's ``snapshot``.

    The ledger stores the day's return as ``equity / previous equity - 1``, so the day's
    P&L is ``equity - equity / (1 + return)``; both None when the session took no snapshot.
    """
    try:
        equity = float(snapshot["equity"])
    except (KeyError, TypeError, ValueError):
        return None, None
    ret = snapshot.get("daily_return")
    if not isinstance(ret, int | float) or ret <= -1:
        return equity, None
    return equity, round(equity - equity / (1 + ret), 2)


def run_summary(run_dir: Path, manifest: dict | None = None) -> dict[str, Any]:
    """One row of :func:`list_runs`: what a run's manifest, metrics and session snapshot say.

    ``toolkit run`` prints its one-line outcome from this row and ``toolkit runs`` lists
    these rows, so both always agree on a run's figures.
    """
    m = manifest if manifest is not None else read_json_object(run_dir / "manifest.json")
    metrics = read_json_object(run_dir / "metrics.json")
    snapshot = read_json_object(run_dir / "snapshot.json")
    deflated, session, params = json_part(metrics, "deflated_sharpe"), json_part(m, "session"), json_part(m, "params")
    equity, pnl = session_money(json_part(snapshot, "snapshot"))
    report = run_dir / "report.html"
    return {
        "run_id": m.get("run_id", run_dir.name),
        "notebook": Path(m.get("notebook") or run_dir.parent.name).stem,
        "strategy": params.get("strategy"),
        "account": params.get("account"),
        "status": manifest_status(m),
        "started_utc": m.get("started_utc"),
        "duration_s": m.get("duration_s"),
        "total_return": metrics.get("total_return"),
        "cagr": metrics.get("cagr"),
        "sharpe": metrics.get("sharpe"),
        "max_drawdown": metrics.get("max_drawdown"),
        "final_equity": metrics.get("final_equity"),
        "dsr": deflated.get("dsr"),
        "psr": deflated.get("psr"),
        "pbo": json_part(metrics, "pbo").get("pbo"),
        "session_date": snapshot.get("session_date"),
        "session_status": session.get("status", snapshot.get("status")),
        "orders": snapshot.get("orders"),
        "session_equity": equity,
        "session_pnl": pnl,
        "report": str(report) if report.is_file() else None,
        "run_dir": str(run_dir),
        "error": m.get("error"),
    }


def list_runs(outputs_root: Path | None = None) -> pd.DataFrame:
    """Archived runs, newest first: strategy, status, key figures, report path (:data:`RUN_COLUMNS`)."""
    outputs = outputs_root or repo_root() / "outputs"
    rows = []
    for mf in outputs.glob("*/*/manifest.json"):
        m = read_json_object(mf)
        if m:
            rows.append(run_summary(mf.parent, m))
    df = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return df.sort_values("started_utc", ascending=False, kind="stable").reset_index(drop=True)
