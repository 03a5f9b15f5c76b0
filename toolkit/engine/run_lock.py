"""One run at a time per key: the lock a dry-run or live session holds while it runs.

Two runs of one decision slot (strategy, account, session, execution time) must never
overlap: a cron firing and a catch-up, a person's ``toolkit run`` and the schedule, two
machines sharing one PostgreSQL ledger. The session's run key is the lock's key; the
lock is a row of the ledger (:mod:`toolkit.ledger.locks`), so it holds across
processes and machines and survives a crash as a row that names its holder.

What happens to the second run (:func:`hold_run_lock`):

* the holder is alive: the run waits up to ``wait_seconds`` (``lock_wait_seconds`` in
  the params; 0 = not at all), then stops with :class:`RunLocked`, one line naming the
  holder's host, pid and since when; nothing was written;
* the holder is dead: on this host its process is gone, or (any host) it has not
  beaten its heartbeat for ``stale_after``: the lock is taken over, which the audit log
  records and the session's messages say.

While the session runs a daemon thread beats the heartbeat every
``heartbeat_every`` (wall-clock time, not the session's simulated clock: liveness is
about now). The lock row is deleted at the end, so a finished run leaves nothing behind.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from toolkit.engine.result import SessionError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import Ledger, RunLock

__all__ = ["HEARTBEAT_EVERY", "STALE_AFTER", "LockHold", "RunLocked", "hold_run_lock", "holder_gone", "pid_alive"]

#: How often a holder says it is alive.
HEARTBEAT_EVERY = timedelta(seconds=30)
#: A holder silent this long is dead, whatever its host: generous, because a SQLite
#: writer can hold the heartbeat up for its busy timeout (30 s) and a takeover of a
#: live holder is the one thing this lock exists to prevent.
STALE_AFTER = timedelta(minutes=10)
#: How often a waiting run looks at the lock again.
POLL_EVERY = 1.0


class RunLocked(SessionError):
    """Another live run holds this run's lock; this one did not start (nothing was written)."""

    def __init__(self, run_key: str, holder: RunLock | None, wait_seconds: float) -> None:
        self.run_key = run_key
        self.holder = holder
        who = holder.describe() if holder is not None else "another run"
        beat = f" (last heartbeat {holder.heartbeat_at:%H:%M:%S}Z)" if holder is not None else ""
        after = f" after waiting {wait_seconds:.0f} s" if wait_seconds > 0 else " (lock_wait_seconds: 0)"
        super().__init__(f"run {run_key} is already running: lock held by {who}{beat}; this run did not "
                         f"start{after}")


@dataclass
class LockHold:
    """The lock this process holds, and what the session should say about how it got it."""

    lock: RunLock
    notes: list[str] = field(default_factory=list)
    #: Set when a heartbeat found the lock taken over by another run (this one looked dead).
    lost: bool = False


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this machine (signal 0 probes without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def holder_gone(holder: RunLock, *, now: datetime, host: str, stale_after: timedelta = STALE_AFTER,
                alive: Callable[[int], bool] = pid_alive) -> str | None:
    """Why ``holder`` is dead (its process gone on this host, or silent too long), else None."""
    if holder.host == host and not alive(holder.pid):
        return f"its process {holder.pid} is gone"
    silent = now - holder.heartbeat_at
    if silent > stale_after:
        minutes, limit = silent.total_seconds() / 60, stale_after.total_seconds() / 60
        return f"no heartbeat for {minutes:.0f} min (more than {limit:.0f})"
    return None


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def hold_run_lock(
    ledger: Ledger,
    run_key: str,
    *,
    wait_seconds: float = 0.0,
    stale_after: timedelta = STALE_AFTER,
    heartbeat_every: timedelta = HEARTBEAT_EVERY,
    clock: Callable[[], datetime] = _wall_clock,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = _say,
    host: str | None = None,
    pid: int | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> Iterator[LockHold]:
    """Hold ``run_key``'s lock for the ``with`` block (see the module doc); raises :class:`RunLocked`.

    ``clock``, ``sleep``, ``host``, ``pid`` and ``alive`` are for tests (a waiting run
    without real waiting, a holder on another machine).
    """
    host = host or socket.gethostname()
    pid = os.getpid() if pid is None else pid
    hold = _acquire(ledger, run_key, wait_seconds=wait_seconds, stale_after=stale_after, clock=clock, sleep=sleep,
                    say=say, host=host, pid=pid, alive=alive)
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(ledger, hold, stop, heartbeat_every, clock, say), daemon=True,
                            name=f"run-lock-heartbeat {run_key}")
    beat.start()
    try:
        yield hold
    finally:
        stop.set()
        beat.join()
        if not ledger.release_run_lock(hold.lock) and not hold.lost:
            say(f"warning: the lock of run {run_key} was no longer this run's when it ended (taken over)")


def _acquire(ledger: Ledger, run_key: str, *, wait_seconds: float, stale_after: timedelta,
             clock: Callable[[], datetime], sleep: Callable[[float], None], say: Callable[[str], None], host: str,
             pid: int, alive: Callable[[int], bool]) -> LockHold:
    started = clock()
    announced = False
    detail = {"run_key": run_key}
    while True:
        now = clock()
        got, holder = ledger.acquire_run_lock(run_key, host=host, pid=pid, at=now, detail=detail)
        if got:
            assert holder is not None
            return LockHold(holder)
        if holder is None:  # released between our insert and our read: try again at once
            continue
        reason = holder_gone(holder, now=now, host=host, stale_after=stale_after, alive=alive)
        if reason is not None:
            taken = ledger.take_over_run_lock(holder, host=host, pid=pid, at=now, reason=reason, detail=detail)
            if taken is not None:
                note = (f"took over the lock of run {run_key} from {holder.describe()}: {reason} (audit log "
                        "run_lock_taken_over)")
                say(note)
                return LockHold(taken, [note])
            continue  # another run took it over first, or the holder beat: look again
        waited = (now - started).total_seconds()
        if waited >= wait_seconds:
            raise RunLocked(run_key, holder, wait_seconds)
        if not announced:
            say(f"waiting up to {wait_seconds:.0f} s for run {run_key}: lock held by {holder.describe()}")
            announced = True
        sleep(min(POLL_EVERY, wait_seconds - waited))


def _beat(ledger: Ledger, hold: LockHold, stop: threading.Event, every: timedelta,
          clock: Callable[[], datetime], say: Callable[[str], None]) -> None:
    while not stop.wait(every.total_seconds()):
        try:
            if not ledger.heartbeat_run_lock(hold.lock, at=clock()):
                hold.lost = True
                say(f"warning: the lock of run {hold.lock.key} was taken over by another run while this one ran")
                return
        except Exception as exc:  # a missed beat must not kill the session; the next one may pass
            say(f"warning: heartbeat of the lock of run {hold.lock.key} failed: {exc.__class__.__name__}: {exc}")
