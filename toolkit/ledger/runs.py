"""Runs and performance snapshots: what each scheduled decision left behind.

A run is keyed by ``strategy|account|session_date|execution_time``; the key is
what makes a re-run or a resumed run find its own earlier work instead of
trading again. Snapshots are one row per account, mode, strategy and session,
replaced when the session is recorded again.
"""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Insert, bindparam, func, insert, select, update

from toolkit.ledger import db
from toolkit.ledger.base import LedgerBase
from toolkit.ledger.checks import choice, ratio, text
from toolkit.ledger.convert import record_frame, run_record, snapshot_record
from toolkit.ledger.errors import LedgerError
from toolkit.ledger.lifecycle import MODES
from toolkit.ledger.models import OrderRow, PerformanceSnapshotRow, RunRow
from toolkit.ledger.records import Run, Snapshot
from toolkit.ledger.types import DecimalLike, to_amount
from toolkit.model import RunStatus

if TYPE_CHECKING:
    import pandas as pd

RUN_KEY_SEPARATOR = "|"

# Prebuilt Core statements of the hot paths (one compiled form each, cached by SQLAlchemy).
_RUNS = RunRow.__table__
_SNAPS = PerformanceSnapshotRow.__table__
_RUN_BY_KEY = select(_RUNS).where(_RUNS.c.run_key == bindparam("run_key"))
_RUN_INSERT = insert(_RUNS)
_RUN_UPDATE = update(_RUNS).where(_RUNS.c.id == bindparam("row_id"))
_SNAP_ID = select(_SNAPS.c.id).where(
    _SNAPS.c.account == bindparam("k_account"),
    _SNAPS.c.mode == bindparam("k_mode"),
    _SNAPS.c.strategy == bindparam("k_strategy"),
    _SNAPS.c.session_date == bindparam("k_session_date"),
)
_SNAP_INSERT = insert(_SNAPS)
_SNAP_UPDATE = update(_SNAPS).where(_SNAPS.c.id == bindparam("row_id"))
_RUN_COLUMNS = tuple(c.key for c in _RUNS.columns)


def _insert(conn: Connection, statement: Insert, values: dict[str, Any]) -> int:
    """Execute a one-row insert; return the new row's primary key."""
    key = conn.execute(statement, values).inserted_primary_key
    if key is None:  # only a many-row insert has no single key
        raise LedgerError("insert: got no primary key; allowed: a one-row insert")
    return key[0]


def make_run_key(strategy: str, account: str, session_date: date, execution_time: str) -> str:
    """``strategy|account|session_date|execution_time``: one run per decision slot.

    The same key on a re-run is what lets the engine resume instead of trading twice.
    """
    parts = {"strategy": strategy, "account": account, "execution_time": execution_time}
    for name, value in parts.items():
        text(name, value)
        if RUN_KEY_SEPARATOR in value:
            raise LedgerError(f"{name}: got {value!r}; allowed: text without '{RUN_KEY_SEPARATOR}'")
    if not isinstance(session_date, date) or isinstance(session_date, datetime):
        raise LedgerError(f"session_date: got {session_date!r}; allowed: a datetime.date")
    return RUN_KEY_SEPARATOR.join([strategy, account, session_date.isoformat(), execution_time])


def parse_run_key(run_key: str) -> tuple[str, str, date, str]:
    """Split a run key into ``(strategy, account, session_date, execution_time)``."""
    parts = run_key.split(RUN_KEY_SEPARATOR) if isinstance(run_key, str) else []
    try:
        strategy, account, session, execution_time = parts
        session_date = date.fromisoformat(session)
    except ValueError:
        raise LedgerError(
            f"run_key: got {run_key!r}; allowed: 'strategy|account|YYYY-MM-DD|execution_time' "
            "(see toolkit.ledger.make_run_key)"
        ) from None
    if not (strategy and account and execution_time):
        raise LedgerError(f"run_key: got {run_key!r}; allowed: four non-empty parts separated by '|'")
    return strategy, account, session_date, execution_time


class RunsMixin(LedgerBase):
    """Runs and snapshots of :class:`toolkit.ledger.Ledger`."""

    def start_run(
        self,
        run_key: str,
        *,
        mode: str,
        notebook_run_id: str | None = None,
        summary: Any = None,
        at: datetime | None = None,
    ) -> Run:
        """Open (or resume) the run of one decision slot; returns it.

        A run already ``completed`` or ``market_closed`` is returned unchanged, so
        the caller sees from ``status`` that there is nothing left to do. A
        ``started`` (crashed), ``failed`` or ``halted`` run is marked started again, keeping
        its original ``started_at``: its orders are already in the ledger and the
        engine resumes from them.

        ``summary``: what the run records before it does anything (a paper or live
        session's parameters, so that ``toolkit parity`` can replay it even if it never
        finishes); :meth:`finish_run` replaces it. A resumed run keeps the summary it
        has and takes this one only when it has none.
        """
        strategy, account, session_date, execution_time = parse_run_key(run_key)
        choice("mode", mode, MODES)
        text("notebook_run_id", notebook_run_id, optional=True)
        db.json_dumps(summary)  # fail before writing if the summary cannot be stored
        when = self._at(at)
        with self._write_connection() as (s, conn):
            found = conn.execute(_RUN_BY_KEY, {"run_key": run_key}).first()
            if found is None:
                values = {
                    "run_key": run_key,
                    "strategy": strategy,
                    "account": account,
                    "session_date": session_date,
                    "execution_time": execution_time,
                    "mode": mode,
                    "status": RunStatus.STARTED.value,
                    "started_at": when,
                    "finished_at": None,
                    "notebook_run_id": notebook_run_id,
                    "summary": summary,
                }
                pk = _insert(conn, _RUN_INSERT, {k: v for k, v in values.items() if v is not None})
                return run_record(SimpleNamespace(id=pk, **values))
            row = SimpleNamespace(**found._asdict())
            if row.mode != mode:
                raise LedgerError(f"run {run_key}: mode {mode!r} differs from the recorded mode {row.mode!r}")
            if RunStatus(row.status).retryable:
                changes = {"status": RunStatus.STARTED.value, "finished_at": None,
                           "notebook_run_id": notebook_run_id or row.notebook_run_id}
                if row.summary is None and summary is not None:
                    changes["summary"] = summary
                conn.execute(_RUN_UPDATE, {"row_id": row.id, **changes})
                self._sync_identity(s, RunRow, row.id, changes)
                row.__dict__.update(changes)
            return run_record(row)

    def finish_run(
        self,
        run_key: str,
        status: RunStatus | str,
        *,
        summary: Any = None,
        at: datetime | None = None,
    ) -> Run:
        """Close a started run as ``completed``, ``failed``, ``market_closed``, ``halted`` or ``blocked``."""
        choice("status", status, tuple(s.value for s in RunStatus if s.finished))
        db.json_dumps(summary)  # fail before writing if the summary cannot be stored
        when = self._at(at)
        with self._write_connection() as (s, conn):
            found = conn.execute(_RUN_BY_KEY, {"run_key": run_key}).first()
            if found is None:
                raise LedgerError(f"run_key: no run {run_key!r} in the ledger; call start_run first")
            if found.status != RunStatus.STARTED:
                raise LedgerError(f"run {run_key}: is {found.status}; only a started run can be finished")
            changes = {"status": RunStatus(status).value, "finished_at": when, "summary": summary}
            conn.execute(_RUN_UPDATE, {"row_id": found.id, **changes})
            self._sync_identity(s, RunRow, found.id, changes)
            row = SimpleNamespace(**found._asdict())
            row.__dict__.update(changes)
            return run_record(row)

    def get_run(self, run_key: str) -> Run | None:
        """The run of ``run_key``, or ``None`` if it never started."""
        with self._read_connection() as conn:
            row = conn.execute(_RUN_BY_KEY, {"run_key": run_key}).first()
            return None if row is None else run_record(row)

    def runs(
        self, *, strategy: str | None = None, account: str | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Runs, oldest first; ``limit``: only the last ones (a run history of years of sessions)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise LedgerError(f"limit: got {limit!r}; allowed: an int >= 0 or None")
        with self._reading() as s:
            q = select(RunRow).order_by(RunRow.session_date.desc(), RunRow.id.desc())
            if strategy is not None:
                q = q.where(RunRow.strategy == strategy)
            if account is not None:
                q = q.where(RunRow.account == account)
            if limit is not None:
                q = q.limit(limit)
            records = [run_record(r) for r in s.scalars(q)]
        records.reverse()
        return record_frame(records, Run, time_columns=("started_at", "finished_at"), json_columns=("summary",))

    def last_run(self, *, strategy: str, account: str, execution_time: str) -> Run | None:
        """The run of the latest session of one schedule slot (strategy, account, execution time), or None.

        Where ``toolkit schedule run-due`` starts looking for missed sessions.
        """
        q = (select(_RUNS).where(_RUNS.c.strategy == strategy, _RUNS.c.account == account,
                                 _RUNS.c.execution_time == execution_time)
             .order_by(_RUNS.c.session_date.desc(), _RUNS.c.id.desc()).limit(1))
        with self._read_connection() as conn:
            row = conn.execute(q).first()
        return None if row is None else run_record(row)

    def run_accounts(self) -> dict[str, tuple[str, str]]:
        """Each account with runs -> (strategy, mode) of its newest run, in one query.

        What a reader listing accounts needs, without reading every run of years of sessions.
        """
        newest = select(func.max(RunRow.id)).group_by(RunRow.account)
        q = select(RunRow.account, RunRow.strategy, RunRow.mode).where(RunRow.id.in_(newest)).order_by(RunRow.account)
        with self._read_connection() as conn:
            return {account: (strategy, mode) for account, strategy, mode in conn.execute(q)}

    def run_references(self) -> list[tuple[str, str | None, str | None, int]]:
        """Every run key the ledger knows: ``(run_key, mode, notebook_run_id, orders)``, in two queries.

        What ``toolkit runs prune`` needs to keep the archive of any run an order or a
        live session refers to. ``mode`` and ``notebook_run_id`` are None for a run key
        that only orders carry (no ``runs`` row).
        """
        counts = (select(OrderRow.run_key, func.count()).where(OrderRow.run_key.is_not(None))
                  .group_by(OrderRow.run_key))
        runs = select(RunRow.run_key, RunRow.mode, RunRow.notebook_run_id)
        with self._read_connection() as conn:
            orders: dict[str, int] = {str(key): int(n) for key, n in conn.execute(counts)}
            out = [(key, mode, nb, orders.pop(key, 0)) for key, mode, nb in conn.execute(runs)]
        return out + [(key, None, None, n) for key, n in sorted(orders.items())]

    # ----------------------------------------------------------------- snapshots

    def record_snapshot(
        self,
        *,
        account: str,
        mode: str,
        strategy: str,
        session_date: date,
        equity: DecimalLike,
        cash: DecimalLike,
        daily_return: float | None = None,
        cumulative_return: float | None = None,
        drawdown: float | None = None,
        strategy_cell: str | None = None,
        context: Any = None,
        at: datetime | None = None,
    ) -> Snapshot:
        """Store the end-of-session performance; a second call for the same session replaces it."""
        text("account", account)
        choice("mode", mode, MODES)
        text("strategy", strategy)
        if not isinstance(session_date, date) or isinstance(session_date, datetime):
            raise LedgerError(f"session_date: got {session_date!r}; allowed: a datetime.date")
        values = {
            "equity": to_amount(equity, "equity"),
            "cash": to_amount(cash, "cash"),
            "daily_return": ratio("daily_return", daily_return),
            "cumulative_return": ratio("cumulative_return", cumulative_return),
            "drawdown": ratio("drawdown", drawdown),
            "strategy_cell": text("strategy_cell", strategy_cell, optional=True),
            "context": context,
            "recorded_at": self._at(at),
        }
        db.json_dumps(context)  # fail before writing if the context cannot be stored
        key = {"account": account, "mode": mode, "strategy": strategy, "session_date": session_date}
        with self._write_connection() as (s, conn):
            pk = conn.execute(_SNAP_ID, {f"k_{k}": v for k, v in key.items()}).scalar()
            if pk is None:
                pk = _insert(conn, _SNAP_INSERT, {**key, **values})
            else:
                conn.execute(_SNAP_UPDATE, {"row_id": pk, **values})
                self._sync_identity(s, PerformanceSnapshotRow, pk, values)
            return snapshot_record(SimpleNamespace(id=pk, **key, **values))

    def snapshots(
        self, *, account: str | None = None, mode: str | None = None, strategy: str | None = None
    ) -> pd.DataFrame:
        """Performance snapshots, by session date."""
        with self._reading() as s:
            q = select(PerformanceSnapshotRow).order_by(PerformanceSnapshotRow.session_date, PerformanceSnapshotRow.id)
            for column, value in (
                (PerformanceSnapshotRow.account, account),
                (PerformanceSnapshotRow.mode, mode),
                (PerformanceSnapshotRow.strategy, strategy),
            ):
                if value is not None:
                    q = q.where(column == value)
            records = [snapshot_record(r) for r in s.scalars(q)]
        return record_frame(records, Snapshot, time_columns=("recorded_at",), json_columns=("context",))
