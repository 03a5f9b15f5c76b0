"""A cheap answer to "did the ledger change?": one query over the tables a reader shows.

The control panel polls the ledger several times a second to show a run finishing or a
kill switch set from the CLI within a second. Re-reading every table on each poll would
cost a second on a ledger of years of sessions; :meth:`ChangesMixin.change_stamp` costs
one round trip of index lookups, and a reader redraws only what belongs to the parts
whose stamp moved.

Each part is a tuple that changes whenever a write the ledger's methods do lands in that
table. Inserts grow ids. Updates in place cannot be told by a time column alone: a dry run
stamps ``finished_at``, ``recorded_at`` and ``updated_at`` with its simulated session time,
so re-running a halted slot (kill switch off again) rewrites the very same times. So the
parts also hold what such a rewrite changes: the count of runs in each status (a run moves
from one status to another: halted -> started -> completed), and the content of the newest
rows of the tables written in place (:data:`RECENT` rows of runs, snapshots and orders,
every position and state row, which are few): their status, amounts and the length of
their JSON. A rewrite of an older row that changes none of those (an old snapshot
re-recorded with new figures of the same text length, far back in the history) is the one
write the stamp does not see; nothing the ledger's methods do produces it.
Every control change (kill switch, override, live confirmation) also writes the audit
log, so ``audit`` moves with each of them. The stamp only reads: a revision row bumped by
every write would change the stored ledger (and its golden dumps).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func, literal, select

from toolkit.ledger.base import LedgerBase
from toolkit.ledger.models import (
    AuditLogRow,
    ConfigHistoryRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    PerformanceSnapshotRow,
    PositionRow,
    RunRow,
    SystemStateRow,
)
from toolkit.model import RunStatus

__all__ = ["STAMP_PARTS", "ChangesMixin"]


def _max(column: Any) -> Any:
    return select(func.max(column)).scalar_subquery()


def _count(column: Any) -> Any:
    return select(func.count(column)).scalar_subquery()


#: How many of the newest rows of a table written in place the stamp reads the content of.
RECENT = 32


def _text(column: Any) -> Any:
    return func.coalesce(cast(column, String), literal(""))


def _content(columns: tuple[Any, ...], *, order: Any = None, limit: int | None = None) -> Any:
    """The text of ``columns`` of the (newest ``limit``) rows, joined: moves when any of them is rewritten."""
    row = _text(columns[0])
    for column in columns[1:]:
        row = row + literal("|") + _text(column)
    rows = select(row.label("row"))
    if order is not None:
        rows = rows.order_by(order.desc()).limit(limit)
    inner = rows.subquery()
    return select(func.aggregate_strings(inner.c.row, ";")).scalar_subquery()


def _json_length(column: Any) -> Any:
    return func.coalesce(func.length(cast(column, String)), 0)


def _by_status(status: RunStatus) -> Any:
    return select(func.count()).where(RunRow.status == status.value).scalar_subquery()


#: part name -> the aggregates that make its stamp (one scalar subquery each).
_PARTS: dict[str, tuple[Any, ...]] = {
    "runs": (_max(RunRow.id), _count(RunRow.finished_at), _max(RunRow.finished_at),
             *(_by_status(s) for s in RunStatus),
             _content((RunRow.id, RunRow.status, RunRow.finished_at, _json_length(RunRow.summary)),
                      order=RunRow.id, limit=RECENT)),
    "snapshots": (_max(PerformanceSnapshotRow.id), _max(PerformanceSnapshotRow.recorded_at),
                  _content((PerformanceSnapshotRow.id, PerformanceSnapshotRow.equity, PerformanceSnapshotRow.cash,
                            PerformanceSnapshotRow.strategy_cell, _json_length(PerformanceSnapshotRow.context)),
                           order=PerformanceSnapshotRow.id, limit=RECENT)),
    "orders": (_max(OrderRow.id), _max(OrderRow.updated_at), _max(OrderEventRow.id),
               _content((OrderRow.id, OrderRow.status, OrderRow.broker_order_id), order=OrderRow.id, limit=RECENT)),
    "fills": (_max(FillRow.id),),
    "positions": (_max(PositionRow.updated_at), _count(PositionRow.id),
                  _content((PositionRow.id, PositionRow.quantity, PositionRow.avg_cost, PositionRow.realised_pnl))),
    "audit": (_max(AuditLogRow.id),),
    "config": (_max(ConfigHistoryRow.id),),
    "state": (_max(SystemStateRow.updated_at), _count(SystemStateRow.key),
              _content((SystemStateRow.key, _json_length(SystemStateRow.value)))),
}
_STAMP = select(*(column for columns in _PARTS.values() for column in columns))

#: The parts of :meth:`ChangesMixin.change_stamp`, in order.
STAMP_PARTS = tuple(_PARTS)


class ChangesMixin(LedgerBase):
    """:meth:`change_stamp` of :class:`toolkit.ledger.Ledger`."""

    def change_stamp(self) -> dict[str, tuple[Any, ...]]:
        """Per part of the ledger (:data:`STAMP_PARTS`), a tuple that changes when that part is written.

        Compare two stamps part by part to know what to re-read. The values are the raw
        aggregates of one query (ids, counts, times as stored); only equality is meaningful.
        """
        with self._read_connection() as conn:
            row = tuple(conn.execute(_STAMP).one())
        stamp: dict[str, tuple[Any, ...]] = {}
        i = 0
        for name, columns in _PARTS.items():
            stamp[name] = row[i : i + len(columns)]
            i += len(columns)
        return stamp
