"""``toolkit schedule fire``: what a cron line or timer runs a few minutes before a session.

The entry fires ``--lead`` minutes (what ``install --lead-minutes`` wrote into it)
before every UTC minute the session can fall on (both daylight-saving lines, the
early-close lines); this decides whether THIS firing is a session's:

* no session's instant ``lead`` minutes ahead (up to :data:`LATE_GRACE` less, a late
  cron, or :data:`EARLY_GRACE` more, a fast clock): a holiday, the other DST line, the
  normal-close line on an early-close day. One log line, exit 0, nothing else. The
  window is that narrow on purpose: lines are an hour or more apart, so each session
  has exactly one firing, whatever the lead;
* the session is already done in the ledger, or another live run holds its lock: one
  log line, exit 0;
* otherwise it waits for the exact instant (clock and sleep injected in tests) and runs
  the notebook for that session (:mod:`toolkit.ops.scheduled_session`); the exit
  status is ``toolkit run``'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.ops.schedule import DEFAULT_LEAD_MINUTES, ScheduledRun, check_lead, runs_between
from toolkit.ops.scheduled_session import SessionOutcome, run_scheduled_session

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ops.schedule_target import ScheduleTarget

__all__ = ["EARLY_GRACE", "LATE_GRACE", "fire", "firing_window", "session_for_firing"]

#: A firing this late still runs its session (a busy machine, a slow start-up); lines are hours apart.
LATE_GRACE = pd.Timedelta(minutes=10)
#: A firing this much earlier than its lead says (a clock running fast) still finds its session.
EARLY_GRACE = pd.Timedelta(minutes=2)
#: Longest single sleep while waiting, so a changed clock (NTP) is noticed.
MAX_SLEEP = 30.0
#: Run statuses after which a session is not run again.
DONE = ("completed", "blocked", "market_closed")


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def firing_window(now: pd.Timestamp, lead_minutes: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(lo, hi)``: a firing at ``now`` is for the session whose instant is in ``lo < instant <= hi``."""
    ahead = now + pd.Timedelta(minutes=check_lead(lead_minutes, "--lead"))
    return ahead - LATE_GRACE, ahead + EARLY_GRACE


def session_for_firing(execution_time: str, now: pd.Timestamp,
                       lead_minutes: int = DEFAULT_LEAD_MINUTES) -> ScheduledRun | None:
    """The session a firing at ``now`` of an entry ``lead_minutes`` early is for, or None (see the module doc)."""
    runs = runs_between(execution_time, *firing_window(now, lead_minutes))
    return runs[0] if runs else None


def fire(target: ScheduleTarget, *, lead_minutes: int = DEFAULT_LEAD_MINUTES,
         clock: Callable[[], pd.Timestamp] = _utc_now,
         sleep: Callable[[float], None] = time.sleep,
         launch: Callable[[ScheduleTarget, ScheduledRun], SessionOutcome] = run_scheduled_session,
         say: Callable[[str], None] = print) -> int:
    """One firing of ``target``'s entry; returns the exit status (0 when there was nothing to do)."""
    from toolkit.engine.run_lock import holder_gone
    from toolkit.ledger import open_ledger

    check_lead(lead_minutes, "--lead")
    now = clock()

    def log(message: str) -> None:
        say(f"{clock():%Y-%m-%dT%H:%M:%SZ} {target.key}: {message}")

    run = session_for_firing(target.execution_time, now, lead_minutes)
    if run is None:
        log(f"no session at this firing ({now.tz_convert('America/New_York'):%a %H:%M} New York, looking "
            f"{lead_minutes} min ahead: a holiday, or "
            "another line of the schedule: daylight saving, early close); nothing to do")
        return 0
    run_key = target.run_key(run.session)
    with open_ledger(target.db_url) as ledger:
        done, holder = ledger.get_run(run_key), ledger.run_lock(run_key)
    if done is not None and done.status in DONE:
        log(f"session {run.session} is already {done.status} in the ledger; nothing to do")
        return 0
    if holder is not None and holder_gone(holder, now=now.to_pydatetime(), host=_host()) is None:
        log(f"session {run.session} is running elsewhere (lock held by {holder.describe()}); this firing leaves it")
        return 0
    while (left := (run.at - clock()).total_seconds()) > 0:
        sleep(min(left, MAX_SLEEP))
    log(f"starting session {run.session} ({run.new_york:%H:%M} New York"
        f"{', early close' if run.early_close else ''})")
    outcome = launch(target, run)
    log(outcome.line())
    return outcome.exit_status


def _host() -> str:
    import socket

    return socket.gethostname()
