"""'Run now': the account's notebook run by ``toolkit run`` in a background process.

The kernel that shows the panel must never wait for a run (a papermill run takes tens of
seconds), so the run is a child process whose output goes to files, and the panel's
refresh loop asks :meth:`BackgroundRun.poll` whether it has ended. ``toolkit run`` prints
the run's archive folder as its last line; its ``report.html`` is what the panel links.
The run writes the same ledger the panel reads (``$TOOLKIT_DB_URL``), so its session
shows up through the ordinary refresh.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["BackgroundRun", "RunOutcome", "child_environment", "run_command"]


def run_command(notebook: str, params_file: Path, outputs_dir: Path | None = None) -> list[str]:
    """``<python> -m toolkit.cli run NOTEBOOK --params FILE [--outputs DIR]``."""
    cmd = [sys.executable, "-m", "toolkit.cli", "run", notebook, "--params", str(params_file)]
    if outputs_dir is not None:
        cmd += ["--outputs", str(outputs_dir)]
    return cmd


@dataclass(frozen=True)
class RunOutcome:
    """How a finished run ended: exit status, its archive folder and report (when written)."""

    returncode: int
    run_dir: Path | None
    report: Path | None
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class BackgroundRun:
    """One ``toolkit run`` child process; :meth:`poll` never blocks."""

    def __init__(
        self,
        command: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.command = command
        self.started_at = clock()
        self._clock = clock
        self._folder = Path(tempfile.mkdtemp(prefix="toolkit-run-now-"))
        self._out, self._err = self._folder / "stdout.txt", self._folder / "stderr.txt"
        # A session of its own: the run (and its kernel) outlive a panel page that closes.
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self.process = subprocess.Popen(command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, start_new_session=True)
        self.outcome: RunOutcome | None = None

    @property
    def running(self) -> bool:
        return self.outcome is None

    def poll(self) -> RunOutcome | None:
        """The outcome once the process has ended (read once, then kept), else None."""
        if self.outcome is not None:
            return self.outcome
        code = self.process.poll()
        if code is None:
            return None
        out = self._read(self._out)
        err = self._read(self._err)
        self._folder.rmdir()
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        run_dir = Path(lines[-1]) if lines and Path(lines[-1]).is_dir() else None
        report = run_dir / "report.html" if run_dir is not None and (run_dir / "report.html").is_file() else None
        tail = " ".join(line.strip() for line in err.strip().splitlines()[-2:])
        self.outcome = RunOutcome(code, run_dir, report, tail)
        return self.outcome

    @staticmethod
    def _read(path: Path) -> str:
        text = path.read_bytes().decode("utf-8", errors="replace")
        path.unlink()
        return text

    def stop(self) -> None:
        """End the run (SIGTERM: the runner archives it as interrupted)."""
        if self.process.poll() is None:
            self.process.terminate()


def child_environment(db_url: str, actor: str) -> dict[str, str]:
    """The run's environment: the panel's ledger and who asked for the run."""
    env = dict(os.environ)
    env["TOOLKIT_DB_URL"] = db_url
    env["TOOLKIT_USER"] = actor
    return env
