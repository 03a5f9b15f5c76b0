"""The core of :class:`toolkit.ledger.Ledger`: engine, clock and transactions.

Kept apart from the repository methods so each part of the ledger reads on
its own; the mixins in ``runs.py``, ``control.py`` and ``ledger.py`` build on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from toolkit.ledger import db
from toolkit.ledger.types import ensure_utc


class LedgerBase:
    """Engine, clock and transaction handling shared by the ledger's parts."""

    def __init__(self, engine: Engine, *, url: str, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.url = url
        self._writer = engine.execution_options(**{db.WRITE_OPTION: True})
        self._clock = clock or (lambda: datetime.now(UTC))
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.shown_url!r})"

    @property
    def shown_url(self) -> str:
        """The ledger's URL with its password hidden: the one to print (outputs and logs are kept)."""
        return db.shown_url(self.url)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections (the file stays)."""
        self.engine.dispose()

    def now(self) -> datetime:
        """Current time from the injected clock, in UTC."""
        return ensure_utc(self._clock(), "clock()")

    def _at(self, at: datetime | None, field: str = "at") -> datetime:
        return self.now() if at is None else ensure_utc(at, field)

    # ----------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One atomic write: commits on success, rolls back on any exception.

        Nested calls join the outer transaction, so ledger methods compose into
        a bigger atomic unit. On SQLite the transaction starts with
        ``BEGIN IMMEDIATE`` (writers queue instead of dead-locking).
        """
        current: Session | None = getattr(self._local, "session", None)
        if current is not None:
            yield current
            return
        with Session(self._writer, expire_on_commit=False, autoflush=True) as session, session.begin():
            self._local.session = session
            self._local.coalesced, self._local.pending = set(), {}
            try:
                yield session
                self._write_pending()  # only on success: the writes join the commit
            finally:
                self._local.session = None
                self._local.coalesced, self._local.pending = set(), {}

    def _write_coalesced(self, token: Hashable, write: Callable[[Session], None]) -> None:
        """Run ``write`` in the transaction now, or, if ``token`` was written in it already, just before it commits.

        Within one transaction only the first and the last write of a thing reach the
        database (a replay batch saves the simulated venue after every order, and each
        save used to rewrite its whole state): nobody outside the transaction can see
        the writes in between, the first keeps a new row where it was always inserted,
        and a read of the thing in the transaction writes its pending value first
        (:meth:`_write_pending`). ``write`` must hold its own copy of the value.
        """
        current: Session | None = getattr(self._local, "session", None)
        if current is None:
            with self.transaction() as s:
                write(s)
            return
        if token in self._local.coalesced:
            self._local.pending[token] = write
            return
        self._local.coalesced.add(token)
        write(current)

    def _write_pending(self, token: Hashable | None = None) -> None:
        """Run the current transaction's pending coalesced writes (all, or only ``token``'s) now."""
        current: Session | None = getattr(self._local, "session", None)
        pending: dict[Hashable, Callable[[Session], None]] = getattr(self._local, "pending", {})
        if current is None or not pending:
            return
        for key in list(pending) if token is None else [token]:
            write = pending.pop(key, None)
            if write is not None:
                write(current)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        current: Session | None = getattr(self._local, "session", None)
        if current is not None:
            yield current
            return
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    # Hot single-row reads and writes (runs, snapshots, cash, positions, system state) go
    # through SQLAlchemy Core on the transaction's own connection: the same SQL, types and
    # transaction as the ORM, without the unit of work's per-statement overhead (an ORM
    # select costs ~5x a Core one). The ORM session is flushed first (a no-op when clean),
    # and an ORM object of a row written through Core is brought up to date
    # (:meth:`_sync_identity`), so ORM and Core users of one transaction agree.

    @contextmanager
    def _read_connection(self) -> Iterator[Connection]:
        current: Session | None = getattr(self._local, "session", None)
        if current is not None:
            current.flush()
            yield current.connection()
            return
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write_connection(self) -> Iterator[tuple[Session, Connection]]:
        with self.transaction() as s:
            s.flush()
            yield s, s.connection()

    @staticmethod
    def _sync_identity(s: Session, cls: type, pk: Any, values: dict[str, Any]) -> None:
        """Set ``values`` on the session's loaded ``cls`` object of primary key ``pk``, if any."""
        if not s.identity_map:
            return
        obj = s.identity_map.get(s.identity_key(cls, pk))
        if obj is not None:
            for name, value in values.items():
                set_committed_value(obj, name, value)

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "session", None) is not None
