"""``toolkit schedule run-due``: sessions missed since the last run (machine off, crash), run or recorded.

Due sessions are the schedule's sessions after the latest session of the slot in
the ledger (its ``runs`` table: strategy, account, execution time) up to now, that have
no run and were not recorded as missed before; and that latest session itself when its
run did not finish (``started`` by a process that crashed: no live holder of its lock;
``failed``; ``halted``): running the slot again resumes it (the engine's
``start_run``), so it is due like any other, and otherwise it would stay unfinished
with nothing said. With no run of the slot at all, nothing is missed unless ``since``
says from when (a new schedule does not replay years).

What happens to them is the params' ``catch_up``:

* ``none``: each is recorded as missed;
* ``last``: the newest is run, the older ones recorded as missed;
* ``all`` (dry run only): every one is run, oldest first (the account's state carries
  from one to the next); the first that fails stops the catch-up, and the rest wait
  for the next ``run-due`` (not recorded as missed).

A dry run of a past session is a replay of it (its clock at that session's instant).
A live session is never traded after its day: a missed live session is recorded as
missed whatever ``catch_up`` says, except that ``last`` runs *today's* session late
while the market is still open (the engine itself refuses it after the close).

"Recorded as missed" is an ``audit_log`` row ``session_missed`` with ``{run_key,
session, execution_time, at, reason, notebook, params_file}`` per session; all of one
``run-due`` are then handed to ``on_missed`` at once (which sends ONE ``missed_session``
alert listing them: a machine off for months is one message, not hundreds; a failing
callback is reported and never stops the catch-up).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.ops.schedule import ScheduledRun, parse_instant, runs_between
from toolkit.ops.scheduled_session import SessionOutcome, run_scheduled_session

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import Ledger, Run
    from toolkit.ops.schedule_target import ScheduleTarget

__all__ = ["MISSED_ACTION", "CatchUpReport", "MissedSession", "alert_on_missed", "run_due"]

MISSED_ACTION = "session_missed"


@dataclass(frozen=True)
class MissedSession:
    """A scheduled session that did not run and will not: what an alert says."""

    key: str
    run_key: str
    notebook: str
    account: str
    session: dt.date
    at: pd.Timestamp
    reason: str

    def line(self) -> str:
        ny = self.at.tz_convert("America/New_York")
        return f"missed {self.run_key} ({ny:%Y-%m-%d %H:%M} New York): {self.reason}"


@dataclass
class CatchUpReport:
    """What ``run-due`` found and did."""

    target: ScheduleTarget
    last_run: Run | None
    due: list[ScheduledRun] = field(default_factory=list)
    ran: list[SessionOutcome] = field(default_factory=list)
    missed: list[MissedSession] = field(default_factory=list)
    waiting: list[ScheduledRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return next((o.exit_status for o in self.ran if not o.ok), 0)

    def lines(self) -> list[str]:
        t = self.target
        last = (f"last run {self.last_run.session_date} ({self.last_run.status})" if self.last_run is not None
                else "no run yet")
        out = [f"{t.key} ({t.notebook}, catch_up: {t.catch_up}): {last}; {len(self.due)} session(s) due"]
        out += self.notes
        out += [f"ran {o.line()}" for o in self.ran]
        out += [m.line() for m in self.missed]
        out += [f"not run yet {r.session}: an earlier catch-up session failed; the next run-due tries again"
                for r in self.waiting]
        return out


def run_due(
    target: ScheduleTarget,
    *,
    now: Any = None,
    since: Any = None,
    launch: Callable[[ScheduleTarget, ScheduledRun], SessionOutcome] = run_scheduled_session,
    on_missed: Callable[[list[MissedSession]], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> CatchUpReport:
    """Find ``target``'s missed sessions up to ``now`` and run or record them (see the module doc).

    ``now``: default the wall clock (naive = New York); ``since``: with no run of the
    slot yet, look from this date; ``launch`` runs one session (default: the notebook).
    """
    from toolkit.ledger import open_ledger

    # Both read before the ledger is opened: bad input writes nothing (not even a new ledger file).
    at = pd.Timestamp.now(tz="UTC") if now is None else parse_instant(now, "--now")
    since_at = None if since is None else parse_instant(since, "--since")
    with open_ledger(target.db_url) as ledger:
        report = CatchUpReport(target, ledger.last_run(strategy=target.strategy, account=target.account,
                                                       execution_time=target.execution_time))
        start = _start(report.last_run, since_at, target.execution_time)
        if start is None:
            report.notes.append("no run of this slot in the ledger and no --since: nothing to catch up")
            return report
        recorded = _recorded_missed(ledger)
        report.due = [r for r in runs_between(target.execution_time, start, at)
                      if target.run_key(r.session) not in recorded and _unfinished(ledger, target, r, at, report)]
        to_run, skipped = _decide(target, report.due, at)
        for run, reason in skipped:
            report.missed.append(_record(ledger, target, run, reason, at))
        for run in list(to_run):
            holder = _live_holder(ledger, target.run_key(run.session), at)
            if holder is not None:  # a firing runs it right now: not ours to start, nor missed
                to_run.remove(run)
                report.notes.append(f"session {run.session} is running now (lock held by {holder}); left to it")
    if report.missed:  # after the ledger is closed: an alert must never hold it
        _tell(on_missed, report.missed, report, say)
    for i, run in enumerate(to_run):
        outcome = launch(target, run)
        report.ran.append(outcome)
        if not outcome.ok:
            report.waiting = to_run[i + 1:]
            break
    return report


def alert_on_missed(target: ScheduleTarget, log: Callable[[str], None] | None = None,
                    ) -> Callable[[list[MissedSession]], None]:
    """An ``on_missed`` that sends one ``missed_session`` alert listing the sessions (channels from the secret
    store, kinds from the params' ``alerts:`` block) and records it in the ledger's ``alerts`` table (what
    ``toolkit schedule run-due`` passes). ``log`` gets the alert's outcome line (:func:`alert_line`, never a
    channel URL), as a run's log gets its alerts': the schedule log then says whether anyone was told."""
    from toolkit.ledger import open_ledger
    from toolkit.ops.alert_triggers import alert_missed_sessions
    from toolkit.ops.alerts import alert_line

    def send(missed: list[MissedSession]) -> None:
        with open_ledger(target.db_url) as ledger:
            record = alert_missed_sessions(ledger, strategy=target.strategy, account=target.account,
                                           execution_time=target.execution_time,
                                           missed=[(m.session, m.at.to_pydatetime(), m.reason) for m in missed],
                                           settings=target.alerts)
        if record is not None and log is not None:
            log(alert_line(record))

    return send


def _live_holder(ledger: Ledger, run_key: str, now: pd.Timestamp) -> str | None:
    """Who holds ``run_key``'s lock, if that holder is alive (a dead one is taken over by the run)."""
    import socket

    from toolkit.engine.run_lock import holder_gone

    holder = ledger.run_lock(run_key)
    if holder is None or holder_gone(holder, now=now.to_pydatetime(), host=socket.gethostname()) is not None:
        return None
    return holder.describe()


def _unfinished(ledger: Ledger, target: ScheduleTarget, run: ScheduledRun, now: pd.Timestamp,
                report: CatchUpReport) -> bool:
    """Whether ``run``'s session still needs running: no run yet, or one that did not finish.

    A ``started`` run whose lock a live process holds is running now: not due (said so).
    """
    from toolkit.model import RunStatus

    found = ledger.get_run(target.run_key(run.session))
    if found is None:
        return True
    if not RunStatus(found.status).retryable:
        return False
    if found.status == RunStatus.STARTED.value:
        holder = _live_holder(ledger, found.run_key, now)
        if holder is not None:
            report.notes.append(f"session {run.session} is running now (lock held by {holder}); left to it")
            return False
    return True


def _start(last: Run | None, since: pd.Timestamp | None, execution_time: str) -> pd.Timestamp | None:
    """Look for due sessions after this instant: the last run's session (itself included when it did not
    finish), else the start of ``since``'s day in New York."""
    from toolkit.model import RunStatus
    from toolkit.time import execution_instant

    if last is not None:
        at = execution_instant(last.session_date, execution_time)
        return at - pd.Timedelta(seconds=1) if RunStatus(last.status).retryable else at
    if since is None:
        return None
    return since.tz_convert("America/New_York").normalize().tz_convert("UTC") - pd.Timedelta(seconds=1)


def _recorded_missed(ledger: Ledger) -> set[str]:
    log = ledger.audit_log(action=MISSED_ACTION)
    return {str(d.get("run_key")) for d in log["detail"] if isinstance(d, dict)}


def _decide(target: ScheduleTarget, due: list[ScheduledRun],
            now: pd.Timestamp) -> tuple[list[ScheduledRun], list[tuple[ScheduledRun, str]]]:
    """Which due sessions run now, and why each other one does not."""
    from toolkit.time import execution_instant

    policy = target.catch_up
    if not due:
        return [], []
    newest, older = due[-1], due[:-1]
    if target.live:
        skipped = [(r, "a live session is never traded after its day (real orders for a past session); "
                       "recorded instead") for r in older]
        close = execution_instant(newest.session, "close")
        if now >= close:
            return [], [*skipped, (newest, f"a live session is never traded after the close ({close:%H:%M} UTC); "
                                           "recorded instead")]
        if policy == "none":
            return [], [*skipped, (newest, "catch_up: none (a live session missed at its time is not run late)")]
        return [newest], skipped
    if policy == "none":
        return [], [(r, "catch_up: none (missed sessions are recorded, not run)") for r in due]
    if policy == "last":
        return [newest], [(r, f"catch_up: last (only the newest missed session, {newest.session}, is run)")
                          for r in older]
    return list(due), []


def _record(ledger: Ledger, target: ScheduleTarget, run: ScheduledRun, reason: str, now: pd.Timestamp) -> MissedSession:
    miss = MissedSession(target.key, target.run_key(run.session), target.notebook, target.account, run.session,
                         run.at, reason)
    ledger.audit(MISSED_ACTION, {"run_key": miss.run_key, "session": run.session.isoformat(),
                                 "execution_time": target.execution_time, "at": run.at.isoformat(), "reason": reason,
                                 "notebook": target.notebook, "params_file": str(target.params_file)},
                 actor="toolkit schedule", at=now.to_pydatetime())
    return miss


def _tell(on_missed: Callable[[list[MissedSession]], None] | None, missed: list[MissedSession],
          report: CatchUpReport, say: Callable[[str], None] | None) -> None:
    if on_missed is None:
        return
    try:
        on_missed(missed)
    except Exception as exc:  # an alert channel must never stop the catch-up
        note = f"on_missed failed for {len(missed)} missed session(s): {exc.__class__.__name__}: {exc}"
        report.notes.append(note)
        if say is not None:
            say(note)
