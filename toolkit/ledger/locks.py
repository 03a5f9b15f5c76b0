"""Per-key run locks: one row of ``run_locks`` per run in progress.

Why a row in the ledger rather than a file: a team's ledger is one PostgreSQL
database shared by several machines, and a lock file on one machine does not stop a
run on another. Why these four small operations, each its own transaction:

* :meth:`RunLocksMixin.acquire_run_lock` is a plain ``INSERT``: the primary key on
  ``key`` makes the database itself refuse a second holder, on SQLite and PostgreSQL
  alike (no ``INSERT OR IGNORE``, no advisory locks: nothing one backend lacks).
* :meth:`RunLocksMixin.take_over_run_lock` is an ``UPDATE ... WHERE`` the row still
  names the holder that was judged dead (host, pid, acquired_at, heartbeat_at): two
  runs that both see a dead holder race on that condition and exactly one wins. The
  takeover and its audit row commit together.
* :meth:`RunLocksMixin.heartbeat_run_lock` and :meth:`RunLocksMixin.release_run_lock`
  touch the row only while it is still this holder's, so a holder that was taken over
  (it looked dead) never deletes its successor's lock.

Whether a holder is dead (its process gone, its heartbeat old) is the engine's
judgement (:mod:`toolkit.engine.run_lock`); the ledger only stores and swaps rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from toolkit.ledger import db
from toolkit.ledger.base import LedgerBase
from toolkit.ledger.checks import text
from toolkit.ledger.errors import LedgerError
from toolkit.ledger.models import AuditLogRow, RunLockRow

__all__ = ["RunLock", "RunLocksMixin"]

_LOCKS = RunLockRow.__table__


@dataclass(frozen=True)
class RunLock:
    """One holder of a run's lock: which machine and process, since when, last sign of life."""

    key: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime
    detail: Any = None

    def describe(self) -> str:
        """``host H pid P since 2026-11-27 17:50:02Z`` (what a refused run prints)."""
        return f"host {self.host} pid {self.pid} since {self.acquired_at:%Y-%m-%d %H:%M:%S}Z"


def _record(row: Any) -> RunLock:
    return RunLock(row.key, row.host, row.pid, row.acquired_at, row.heartbeat_at, row.detail)


def _is(lock: RunLock) -> Any:
    """WHERE the row is still exactly ``lock`` (same key, holder, acquisition and heartbeat)."""
    c = _LOCKS.c
    return and_(c.key == lock.key, c.host == lock.host, c.pid == lock.pid, c.acquired_at == lock.acquired_at,
                c.heartbeat_at == lock.heartbeat_at)


def _owned(lock: RunLock) -> Any:
    """WHERE the row is still held by ``lock``'s holder (its heartbeat may have moved on)."""
    c = _LOCKS.c
    return and_(c.key == lock.key, c.host == lock.host, c.pid == lock.pid, c.acquired_at == lock.acquired_at)


class RunLocksMixin(LedgerBase):
    """The ``run_locks`` table of :class:`toolkit.ledger.Ledger` (see the module doc)."""

    def _refuse_nested(self, what: str) -> None:
        # A lock must be visible to other processes the moment it is taken: never inside
        # a caller's transaction (which could also roll it back with unrelated work).
        if self.in_transaction:
            raise LedgerError(f"{what}: called inside a ledger transaction; allowed: outside any transaction")

    def run_lock(self, key: str) -> RunLock | None:
        """The current holder of ``key``'s lock, or None."""
        with self._read_connection() as conn:
            row = conn.execute(select(_LOCKS).where(_LOCKS.c.key == key)).first()
        return None if row is None else _record(row)

    def run_locks(self) -> list[RunLock]:
        """Every lock held now, oldest first (what ``toolkit health`` and a person look at)."""
        with self._read_connection() as conn:
            rows = conn.execute(select(_LOCKS).order_by(_LOCKS.c.acquired_at, _LOCKS.c.key)).all()
        return [_record(r) for r in rows]

    def acquire_run_lock(self, key: str, *, host: str, pid: int, at: datetime,
                         detail: Any = None) -> tuple[bool, RunLock | None]:
        """Try to take ``key``'s lock: ``(True, ours)``, or ``(False, the holder)`` when it is held.

        The holder is None in the rare case it released between our insert and our read
        (the caller simply tries again).
        """
        self._refuse_nested("acquire_run_lock")
        text("key", key, max_length=256)
        text("host", host, max_length=255)
        db.json_dumps(detail)
        when = self._at(at)
        values = {"key": key, "host": host, "pid": int(pid), "acquired_at": when, "heartbeat_at": when,
                  "detail": detail}
        try:
            with self._write_connection() as (_s, conn):
                conn.execute(insert(_LOCKS), values)
        except IntegrityError:  # the primary key: someone holds it
            return False, self.run_lock(key)
        return True, RunLock(**values)

    def take_over_run_lock(self, holder: RunLock, *, host: str, pid: int, at: datetime, reason: str,
                           detail: Any = None, actor: str = "toolkit") -> RunLock | None:
        """Replace a dead ``holder`` by this process, with an audit row; None if the row changed meanwhile."""
        self._refuse_nested("take_over_run_lock")
        text("reason", reason, max_length=10_000)
        db.json_dumps(detail)
        when = self._at(at)
        values = {"host": host, "pid": int(pid), "acquired_at": when, "heartbeat_at": when, "detail": detail}
        with self._write_connection() as (s, conn):
            if conn.execute(update(_LOCKS).where(_is(holder)).values(**values)).rowcount != 1:
                return None
            s.add(AuditLogRow(at=when, actor=actor, action="run_lock_taken_over", detail={
                "key": holder.key, "reason": reason, "host": host, "pid": int(pid),
                "previous": {"host": holder.host, "pid": holder.pid, "acquired_at": holder.acquired_at.isoformat(),
                             "heartbeat_at": holder.heartbeat_at.isoformat()}}))
            s.flush()
        return RunLock(holder.key, **values)

    def heartbeat_run_lock(self, lock: RunLock, *, at: datetime) -> bool:
        """Say the holder is alive; False when the lock is no longer its own (it was taken over)."""
        self._refuse_nested("heartbeat_run_lock")
        when = self._at(at)
        with self._write_connection() as (_s, conn):
            return conn.execute(update(_LOCKS).where(_owned(lock)).values(heartbeat_at=when)).rowcount == 1

    def release_run_lock(self, lock: RunLock) -> bool:
        """Drop the lock if it is still ``lock``'s holder's; False when someone took it over."""
        self._refuse_nested("release_run_lock")
        with self._write_connection() as (_s, conn):
            return conn.execute(delete(_LOCKS).where(_owned(lock))).rowcount == 1
