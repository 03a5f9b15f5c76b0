"""Running one scheduled session: the dry-run or live notebook for a given session, archived like any run.

A firing and a catch-up both run ``toolkit run <notebook> --params FILE --set
as_of=<session>``: the session is named, so the run key is the one the schedule meant
(a dry run of a past session replays it exactly, its clock at that session's instant;
a live run checks the broker's clock and refuses a session that is not now).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ops.schedule import ScheduledRun
    from toolkit.ops.schedule_target import ScheduleTarget

__all__ = ["SessionOutcome", "run_scheduled_session"]


@dataclass(frozen=True)
class SessionOutcome:
    """What a scheduled session ended as: the archived run's status, the session's, the exit status."""

    session: dt.date
    status: str
    session_status: str | None
    exit_status: int
    run_dir: Path | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def line(self) -> str:
        what = self.session_status or self.status
        where = f" ({self.run_dir})" if self.run_dir else ""
        error = f": {self.error}" if self.error else ""
        return f"session {self.session}: {what}{where}{error}"


def exit_status(status: str, session_status: str | None) -> int:
    """``toolkit run``'s exit status: 0 completed, 1 failed, 3 the session was halted or blocked, 4 another
    run held the session's lock (it did not start)."""
    if status == "locked":
        return 4
    if status != "completed":
        return 1
    return 3 if session_status in ("halted", "blocked") else 0


def run_scheduled_session(target: ScheduleTarget, run: ScheduledRun, *,
                          outputs_root: Path | None = None) -> SessionOutcome:
    """Run ``target``'s notebook for ``run.session`` through the runner (papermill, archive, manifest)."""
    from toolkit.runner import run_notebook

    rec = run_notebook(target.notebook, target.params_file, {"as_of": run.session.isoformat()},
                       outputs_root=outputs_root)
    session = rec.manifest.get("session") or {}
    session_status = session.get("status") if isinstance(session, dict) else None
    return SessionOutcome(run.session, rec.status, session_status, exit_status(rec.status, session_status),
                          rec.run_dir, rec.error)
