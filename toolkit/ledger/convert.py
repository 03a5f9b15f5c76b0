"""Conversions from ORM rows to the plain records and DataFrames the ledger hands out."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row

from toolkit.ledger.models import FillRow, OrderRow, PerformanceSnapshotRow, PositionLotRow, PositionRow, RunRow
from toolkit.ledger.records import FillRecord, LotRecord, OrderRecord, PositionRecord, Run, Snapshot

if TYPE_CHECKING:
    import pandas as pd


def order_record(row: OrderRow, filled: Decimal) -> OrderRecord:
    return OrderRecord(
        id=row.id,
        client_order_id=row.client_order_id,
        parent_order_id=row.parent_order_id,
        run_key=row.run_key,
        mode=row.mode,
        strategy=row.strategy,
        account=row.account,
        symbol=row.symbol,
        side=row.side,
        quantity=row.quantity,
        order_type=row.order_type,
        limit_price=row.limit_price,
        decision_price=row.decision_price,
        status=row.status,
        broker_order_id=row.broker_order_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        reason=row.reason,
        filled_quantity=filled,
    )


def fill_record(row: FillRow, order: OrderRow) -> FillRecord:
    return FillRecord(
        id=row.id,
        client_order_id=order.client_order_id,
        fill_id=row.fill_id,
        mode=row.mode,
        account=order.account,
        symbol=order.symbol,
        side=order.side,
        quantity=row.quantity,
        price=row.price,
        fees=row.fees,
        at=row.at,
    )


def lot_record(row: PositionLotRow) -> LotRecord:
    return LotRecord(
        id=row.id,
        account=row.account,
        mode=row.mode,
        symbol=row.symbol,
        original_quantity=row.original_quantity,
        open_quantity=row.open_quantity,
        cost_price=row.cost_price,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
    )


def position_record(row: PositionRow | Row[Any]) -> PositionRecord:
    return PositionRecord(
        account=row.account,
        mode=row.mode,
        symbol=row.symbol,
        quantity=row.quantity,
        avg_cost=row.avg_cost,
        realised_pnl=row.realised_pnl,
        updated_at=row.updated_at,
    )


def run_record(row: RunRow | Row[Any] | SimpleNamespace) -> Run:
    """A run from its ORM row, a Core row or the values just written (the hot paths)."""
    return Run(
        run_key=row.run_key,
        strategy=row.strategy,
        account=row.account,
        session_date=row.session_date,
        execution_time=row.execution_time,
        mode=row.mode,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        notebook_run_id=row.notebook_run_id,
        summary=row.summary,
    )


def snapshot_record(row: PerformanceSnapshotRow | SimpleNamespace) -> Snapshot:
    """A snapshot from its ORM row or the values just written."""
    return Snapshot(
        account=row.account,
        mode=row.mode,
        strategy=row.strategy,
        session_date=row.session_date,
        equity=row.equity,
        cash=row.cash,
        daily_return=row.daily_return,
        cumulative_return=row.cumulative_return,
        drawdown=row.drawdown,
        strategy_cell=row.strategy_cell,
        context=row.context,
        recorded_at=row.recorded_at,
    )


def frame(
    rows: list[dict[str, Any]],
    columns: list[str],
    *,
    time_columns: tuple[str, ...] = (),
    json_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """DataFrame that keeps its columns when empty, Decimals as objects and UTC timestamps.

    JSON columns stay ``object`` so ``None`` stays ``None`` (pandas would turn a
    column of numbers and ``None`` into floats and ``NaN``).
    """
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    for column in json_columns:
        frame[column] = pd.Series([r[column] for r in rows], index=frame.index, dtype=object)
    for column in time_columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def record_frame(
    records: list[Any], record_type: type, *, time_columns: tuple[str, ...] = (), json_columns: tuple[str, ...] = ()
) -> pd.DataFrame:
    """DataFrame of dataclass records, one column per field.

    Fields are read as they are (``dataclasses.asdict`` would deep-copy every JSON
    context of years of snapshots: most of the time of reading them).
    """
    columns = [f.name for f in fields(record_type)]
    rows = [{name: getattr(r, name) for name in columns} for r in records]
    return frame(rows, columns, time_columns=time_columns, json_columns=json_columns)
