"""A cheap answer to "did the ledger change?": one query over the tables a reader shows.

The control panel polls the ledger several times a second to show a run finishing or a
kill switch set from the CLI within a second. Re-reading every table on each poll would
cost a second on a ledger of years of sessions; :meth:`ChangesMixin.change_stamp` costs
one round trip of index lookups, and a reader redraws only what belongs to the parts
whose stamp moved.

Each part is a tuple that changes whenever a write the ledger's methods do lands in that
table: ids grow on inserts; an update in place moves a time column (``finished_at`` of a
run, ``recorded_at`` of a re-recorded snapshot, ``updated_at`` of an order or position).
A run that is resumed clears its ``finished_at``, which the count of finished runs sees.
Every control change (kill switch, override, live confirmation) also writes the audit
log, so ``audit`` moves with each of them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from toolkit.ledger.base import LedgerBase
from toolkit.ledger.models import (
    AuditLogRow,
    ConfigHistoryRow,
    FillRow,
    OrderRow,
    PerformanceSnapshotRow,
    PositionRow,
    RunRow,
    SystemStateRow,
)

__all__ = ["STAMP_PARTS", "ChangesMixin"]


def _max(column: Any) -> Any:
    return select(func.max(column)).scalar_subquery()


def _count(column: Any) -> Any:
    return select(func.count(column)).scalar_subquery()


#: part name -> the aggregates that make its stamp (one scalar subquery each).
_PARTS: dict[str, tuple[Any, ...]] = {
    "runs": (_max(RunRow.id), _count(RunRow.finished_at), _max(RunRow.finished_at)),
    "snapshots": (_max(PerformanceSnapshotRow.id), _max(PerformanceSnapshotRow.recorded_at)),
    "orders": (_max(OrderRow.id), _max(OrderRow.updated_at)),
    "fills": (_max(FillRow.id),),
    "positions": (_max(PositionRow.updated_at), _count(PositionRow.id)),
    "audit": (_max(AuditLogRow.id),),
    "config": (_max(ConfigHistoryRow.id),),
    "state": (_max(SystemStateRow.updated_at), _count(SystemStateRow.key)),
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
