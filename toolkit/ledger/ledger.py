"""The :class:`Ledger`: the local record of orders, fills, positions, cash and runs.

Why it looks like this:

* Every write that belongs together happens in ONE transaction
  (:meth:`Ledger.transaction`), so a crash leaves either all of a fill
  (fill row, lots, position, cash, order status, event) or none of it.
  Transactions nest by joining: ``with ledger.transaction(): ledger.record_order(...);
  ledger.transition_order(...)`` commits both or neither.
* Every method validates its input before it writes, so a refused request
  (illegal transition, overfill, oversell, bad amount) writes nothing.
* Orders are idempotent on ``client_order_id`` and fills on ``fill_id``: a
  re-run or a resumed run can record the same thing again without doubling it.
* Methods return frozen dataclasses or DataFrames, never ORM objects.
* Time comes from an injectable clock (deterministic runs); amounts are exact
  6-place Decimals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from toolkit.ledger import db
from toolkit.ledger.accounting import ZERO, average_cost, fifo_take, fill_cash_flow, realised_on
from toolkit.ledger.errors import IllegalTransitionError, LedgerError
from toolkit.ledger.lifecycle import (
    FILL_STATUSES,
    FILLED,
    KILL_SWITCH_KEY,
    MODES,
    NEW,
    ORDER_STATUSES,
    ORDER_TYPES,
    PARTIALLY_FILLED,
    RUN_FINISHED_STATUSES,
    RUN_STARTED,
    SIDES,
    SUBMITTED,
    allowed_from,
    is_legal,
)
from toolkit.ledger.models import (
    AuditLogRow,
    CashBalanceRow,
    ConfigHistoryRow,
    ConfigOverrideRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    PerformanceSnapshotRow,
    PositionLotRow,
    PositionRow,
    RunRow,
    SystemStateRow,
)
from toolkit.ledger.records import Fill, KillSwitch, Lot, Order, OrderEvent, Position, Run, Snapshot
from toolkit.ledger.types import DecimalLike, ensure_utc, to_decimal

if TYPE_CHECKING:
    import pandas as pd

RUN_KEY_SEPARATOR = "|"
FILLABLE_STATUSES = (NEW, SUBMITTED, PARTIALLY_FILLED)


# --------------------------------------------------------------------------- checks


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise LedgerError(f"{field}: got {value!r}; allowed: {', '.join(allowed)}")
    return str(value)


def _text(field: str, value: Any, *, max_length: int = 128, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise LedgerError(f"{field}: got {value!r}; allowed: a non-empty string")
    if len(value) > max_length:
        raise LedgerError(f"{field}: got a string of {len(value)} characters; allowed: at most {max_length}")
    return value


def _positive(field: str, value: DecimalLike) -> Decimal:
    d = to_decimal(value, field)
    if d <= 0:
        raise LedgerError(f"{field}: got {value!r}; allowed: a number > 0")
    return d


def _non_negative(field: str, value: DecimalLike) -> Decimal:
    d = to_decimal(value, field)
    if d < 0:
        raise LedgerError(f"{field}: got {value!r}; allowed: a number >= 0")
    return d


def _optional_price(field: str, value: DecimalLike | None) -> Decimal | None:
    return None if value is None else _positive(field, value)


def _ratio(field: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise LedgerError(f"{field}: got {value!r}; allowed: a number or None")
    return float(value)


def make_run_key(strategy: str, account: str, session_date: date, execution_time: str) -> str:
    """``strategy|account|session_date|execution_time``: one run per decision slot.

    The same key on a re-run is what lets the engine resume instead of trading twice.
    """
    parts = {"strategy": strategy, "account": account, "execution_time": execution_time}
    for name, value in parts.items():
        _text(name, value)
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


# --------------------------------------------------------------------------- row -> record


def _order(row: OrderRow, filled: Decimal) -> Order:
    return Order(
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


def _fill(row: FillRow, order: OrderRow) -> Fill:
    return Fill(
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


def _lot(row: PositionLotRow) -> Lot:
    return Lot(
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


def _position(row: PositionRow) -> Position:
    return Position(
        account=row.account,
        mode=row.mode,
        symbol=row.symbol,
        quantity=row.quantity,
        avg_cost=row.avg_cost,
        realised_pnl=row.realised_pnl,
        updated_at=row.updated_at,
    )


def _run(row: RunRow) -> Run:
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


def _snapshot(row: PerformanceSnapshotRow) -> Snapshot:
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


def _frame(records: list[Any], record_type: type, *, time_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """DataFrame of dataclass records; keeps the columns when empty, Decimals as objects."""
    import pandas as pd

    columns = [f.name for f in fields(record_type)]
    frame = pd.DataFrame([asdict(r) for r in records], columns=columns)
    for column in time_columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


# --------------------------------------------------------------------------- the ledger


class Ledger:
    """Repository over the ledger database. Create it with :func:`open_ledger`."""

    def __init__(self, engine: Engine, *, url: str, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.url = url
        self._writer = engine.execution_options(**{db.WRITE_OPTION: True})
        self._clock = clock or (lambda: datetime.now(UTC))
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Ledger({make_url(self.url).render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Ledger:
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
            try:
                yield session
            finally:
                self._local.session = None

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        current: Session | None = getattr(self._local, "session", None)
        if current is not None:
            yield current
            return
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "session", None) is not None

    # ----------------------------------------------------------------- runs

    def start_run(
        self,
        run_key: str,
        *,
        mode: str,
        notebook_run_id: str | None = None,
        at: datetime | None = None,
    ) -> Run:
        """Open (or resume) the run of one decision slot; returns it.

        A run already ``completed`` or ``market_closed`` is returned unchanged, so
        the caller sees from ``status`` that there is nothing left to do. A
        ``started`` (crashed) or ``failed`` run is marked started again, keeping
        its original ``started_at``: its orders are already in the ledger and the
        engine resumes from them.
        """
        strategy, account, session_date, execution_time = parse_run_key(run_key)
        _choice("mode", mode, MODES)
        _text("notebook_run_id", notebook_run_id, optional=True)
        when = self._at(at)
        with self.transaction() as s:
            row = s.scalar(select(RunRow).where(RunRow.run_key == run_key))
            if row is None:
                row = RunRow(
                    run_key=run_key,
                    strategy=strategy,
                    account=account,
                    session_date=session_date,
                    execution_time=execution_time,
                    mode=mode,
                    status=RUN_STARTED,
                    started_at=when,
                    notebook_run_id=notebook_run_id,
                )
                s.add(row)
            elif row.mode != mode:
                raise LedgerError(f"run {run_key}: mode {mode!r} differs from the recorded mode {row.mode!r}")
            elif row.status in (RUN_STARTED, "failed"):
                row.status = RUN_STARTED
                row.finished_at = None
                row.notebook_run_id = notebook_run_id or row.notebook_run_id
            s.flush()
            return _run(row)

    def finish_run(
        self,
        run_key: str,
        status: str,
        *,
        summary: Any = None,
        at: datetime | None = None,
    ) -> Run:
        """Close a started run as ``completed``, ``failed`` or ``market_closed``."""
        _choice("status", status, RUN_FINISHED_STATUSES)
        when = self._at(at)
        with self.transaction() as s:
            row = s.scalar(select(RunRow).where(RunRow.run_key == run_key))
            if row is None:
                raise LedgerError(f"run_key: no run {run_key!r} in the ledger; call start_run first")
            if row.status != RUN_STARTED:
                raise LedgerError(f"run {run_key}: is {row.status}; only a started run can be finished")
            row.status = status
            row.finished_at = when
            row.summary = summary
            s.flush()
            return _run(row)

    def get_run(self, run_key: str) -> Run | None:
        """The run of ``run_key``, or ``None`` if it never started."""
        with self._reading() as s:
            row = s.scalar(select(RunRow).where(RunRow.run_key == run_key))
            return None if row is None else _run(row)

    def runs(self, *, strategy: str | None = None, account: str | None = None) -> pd.DataFrame:
        """Runs, oldest first."""
        with self._reading() as s:
            q = select(RunRow).order_by(RunRow.session_date, RunRow.id)
            if strategy is not None:
                q = q.where(RunRow.strategy == strategy)
            if account is not None:
                q = q.where(RunRow.account == account)
            records = [_run(r) for r in s.scalars(q)]
        return _frame(records, Run, time_columns=("started_at", "finished_at"))

    # ----------------------------------------------------------------- orders

    def record_order(
        self,
        *,
        client_order_id: str,
        run_key: str | None,
        mode: str,
        strategy: str,
        account: str,
        symbol: str,
        side: str,
        quantity: DecimalLike,
        order_type: str = "market",
        limit_price: DecimalLike | None = None,
        decision_price: DecimalLike | None = None,
        parent_client_order_id: str | None = None,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> Order:
        """Record a new order (status ``new``) before it goes to the broker.

        Idempotent on ``client_order_id``: recording an id that exists returns
        the stored order unchanged (check its ``status`` to know whether it was
        already sent). An existing id with a different account, mode, strategy,
        symbol or side is a bug in id generation and raises.
        """
        _text("client_order_id", client_order_id)
        _text("run_key", run_key, max_length=256, optional=True)
        _choice("mode", mode, MODES)
        _text("strategy", strategy)
        _text("account", account)
        _text("symbol", symbol, max_length=32)
        _choice("side", side, SIDES)
        qty = _positive("quantity", quantity)
        _choice("order_type", order_type, ORDER_TYPES)
        limit = _optional_price("limit_price", limit_price)
        if order_type == "limit" and limit is None:
            raise LedgerError("limit_price: got None; allowed: a price > 0 for a limit order")
        decision = _optional_price("decision_price", decision_price)
        _text("parent_client_order_id", parent_client_order_id, optional=True)
        if reason is not None and not isinstance(reason, str):
            raise LedgerError(f"reason: got {reason!r}; allowed: a string or None")
        when = self._at(at)
        identity = {"mode": mode, "strategy": strategy, "account": account, "symbol": symbol, "side": side}
        nested = self.in_transaction
        try:
            with self.transaction() as s:
                existing = s.scalar(select(OrderRow).where(OrderRow.client_order_id == client_order_id))
                if existing is not None:
                    self._check_same_order(existing, identity)
                    return _order(existing, self._filled(s, existing.id))
                parent_id = None
                if parent_client_order_id is not None:
                    parent = s.scalar(select(OrderRow).where(OrderRow.client_order_id == parent_client_order_id))
                    if parent is None:
                        raise LedgerError(
                            f"parent_client_order_id: got {parent_client_order_id!r}; allowed: an order already in the ledger"
                        )
                    parent_id = parent.id
                row = OrderRow(
                    client_order_id=client_order_id,
                    parent_order_id=parent_id,
                    run_key=run_key,
                    quantity=qty,
                    order_type=order_type,
                    limit_price=limit,
                    decision_price=decision,
                    status=NEW,
                    created_at=when,
                    updated_at=when,
                    reason=reason,
                    **identity,
                )
                s.add(row)
                s.flush()
                s.add(OrderEventRow(order_id=row.id, from_status=None, to_status=NEW, at=when, detail=reason))
                s.flush()
                return _order(row, ZERO)
        except IntegrityError:
            # Another process recorded the same id between our check and insert.
            if nested:
                raise
            stored = self.get_order(client_order_id)
            if stored is None:
                raise
            return stored

    @staticmethod
    def _check_same_order(row: OrderRow, identity: dict[str, str]) -> None:
        differs = {k: (getattr(row, k), v) for k, v in identity.items() if getattr(row, k) != v}
        if differs:
            detail = ", ".join(f"{k} stored {old!r} vs given {new!r}" for k, (old, new) in differs.items())
            raise LedgerError(f"client_order_id {row.client_order_id!r} already names a different order: {detail}")

    @staticmethod
    def _filled(s: Session, order_id: int) -> Decimal:
        return sum(s.scalars(select(FillRow.quantity).where(FillRow.order_id == order_id)), ZERO)

    def _order_row(self, s: Session, client_order_id: str) -> OrderRow:
        row = s.scalar(select(OrderRow).where(OrderRow.client_order_id == client_order_id))
        if row is None:
            raise LedgerError(f"client_order_id: no order {client_order_id!r} in the ledger")
        return row

    @staticmethod
    def _move(s: Session, row: OrderRow, to_status: str, detail: str | None, at: datetime) -> None:
        if not is_legal(row.status, to_status):
            raise IllegalTransitionError(row.client_order_id, row.status, to_status, allowed_from(row.status))
        s.add(OrderEventRow(order_id=row.id, from_status=row.status, to_status=to_status, at=at, detail=detail))
        row.status = to_status
        row.updated_at = at

    def transition_order(
        self,
        client_order_id: str,
        to_status: str,
        detail: str | None = None,
        *,
        broker_order_id: str | None = None,
        at: datetime | None = None,
    ) -> Order:
        """Move an order along its lifecycle and append the change to ``order_events``.

        Legal: new -> submitted / rejected / cancelled; submitted -> cancelled /
        rejected; partially_filled -> cancelled. ``partially_filled`` and
        ``filled`` are reached only through :meth:`record_fill`. An illegal move
        raises :class:`IllegalTransitionError` and writes nothing.
        """
        _choice("to_status", to_status, ORDER_STATUSES)
        if to_status in FILL_STATUSES:
            raise LedgerError(
                f"to_status: got {to_status!r}; fill statuses are set by record_fill from the recorded fills"
            )
        _text("broker_order_id", broker_order_id, optional=True)
        when = self._at(at)
        with self.transaction() as s:
            row = self._order_row(s, client_order_id)
            if not is_legal(row.status, to_status):
                raise IllegalTransitionError(client_order_id, row.status, to_status, allowed_from(row.status))
            if broker_order_id is not None:
                if row.broker_order_id not in (None, broker_order_id):
                    raise LedgerError(
                        f"broker_order_id: got {broker_order_id!r} for order {client_order_id}, "
                        f"which already has {row.broker_order_id!r}"
                    )
                row.broker_order_id = broker_order_id
            self._move(s, row, to_status, detail, when)
            s.flush()
            return _order(row, self._filled(s, row.id))

    def get_order(self, client_order_id: str) -> Order | None:
        """The order with this ``client_order_id``, or ``None``."""
        with self._reading() as s:
            row = s.scalar(select(OrderRow).where(OrderRow.client_order_id == client_order_id))
            return None if row is None else _order(row, self._filled(s, row.id))

    def order_events(self, client_order_id: str) -> list[OrderEvent]:
        """Status history of one order, oldest first."""
        with self._reading() as s:
            row = self._order_row(s, client_order_id)
            events = s.scalars(
                select(OrderEventRow).where(OrderEventRow.order_id == row.id).order_by(OrderEventRow.id)
            )
            return [OrderEvent(client_order_id, e.from_status, e.to_status, e.at, e.detail) for e in events]

    def orders(
        self,
        *,
        account: str | None = None,
        mode: str | None = None,
        run_key: str | None = None,
        status: str | None = None,
    ) -> pd.DataFrame:
        """Orders with their filled quantity, oldest first."""
        with self._reading() as s:
            q = select(OrderRow).order_by(OrderRow.id)
            for column, value in (
                (OrderRow.account, account),
                (OrderRow.mode, mode),
                (OrderRow.run_key, run_key),
                (OrderRow.status, status),
            ):
                if value is not None:
                    q = q.where(column == value)
            rows = list(s.scalars(q))
            filled: dict[int, Decimal] = {}
            for order_id, qty in s.execute(select(FillRow.order_id, FillRow.quantity)):
                filled[order_id] = filled.get(order_id, ZERO) + qty
            records = [_order(r, filled.get(r.id, ZERO)) for r in rows]
        return _frame(records, Order, time_columns=("created_at", "updated_at"))

    # ----------------------------------------------------------------- fills

    def record_fill(
        self,
        order_client_id: str,
        fill_id: str,
        qty: DecimalLike,
        price: DecimalLike,
        fees: DecimalLike = 0,
        at: datetime | None = None,
    ) -> Fill:
        """Record one execution and everything it changes, in one transaction.

        Inserts the fill, opens a FIFO lot (buy) or consumes the oldest lots
        (sell, realising PnL gross of fees), updates the position and the cash
        (buy ``-qty*price - fees``, sell ``+qty*price - fees``) and moves the
        order to ``partially_filled`` or ``filled`` from its cumulative fills.

        Idempotent on ``fill_id``: the same fill again returns the stored one.
        Refused, writing nothing: an unknown order, a fill on a filled /
        cancelled / rejected order, a fill beyond the order quantity, and a
        sell beyond the holding (the ledger is long-only). A fill on a ``new``
        order is accepted and first moves it to ``submitted`` (the broker had
        it; the ledger missed the acknowledgement), so a real fill is never lost.
        """
        _text("fill_id", fill_id)
        quantity = _positive("qty", qty)
        fill_price = _positive("price", price)
        fee = _non_negative("fees", fees)
        when = self._at(at)
        with self.transaction() as s:
            order = self._order_row(s, order_client_id)
            existing = s.scalar(select(FillRow).where(FillRow.fill_id == fill_id))
            if existing is not None:
                same = (existing.order_id, existing.quantity, existing.price, existing.fees) == (
                    order.id,
                    quantity,
                    fill_price,
                    fee,
                )
                if not same:
                    raise LedgerError(
                        f"fill_id {fill_id!r} is already recorded with different content "
                        f"(order id {existing.order_id}, {existing.quantity} @ {existing.price}, fees {existing.fees})"
                    )
                return _fill(existing, order)
            if order.status not in FILLABLE_STATUSES:
                raise LedgerError(
                    f"order {order_client_id}: is {order.status}; fills are accepted only for "
                    f"{', '.join(FILLABLE_STATUSES)} orders"
                )
            filled = self._filled(s, order.id) + quantity
            if filled > order.quantity:
                raise LedgerError(
                    f"qty: got {quantity} for order {order_client_id}; allowed: at most "
                    f"{order.quantity - filled + quantity} (order {order.quantity}, filled {filled - quantity})"
                )
            lots = self._open_lots(s, order.account, order.mode, order.symbol)
            held = sum((lot.open_quantity for lot in lots), ZERO)
            if order.side == "sell" and quantity > held:
                raise LedgerError(
                    f"qty: sell of {quantity} {order.symbol} on {order.account}/{order.mode} exceeds the "
                    f"holding of {held}; the ledger is long-only"
                )

            # Validation done: from here on everything is written together.
            fill = FillRow(
                order_id=order.id, fill_id=fill_id, mode=order.mode, quantity=quantity, price=fill_price, fees=fee, at=when
            )
            s.add(fill)
            s.flush()
            realised = ZERO
            if order.side == "buy":
                lot = PositionLotRow(
                    account=order.account,
                    mode=order.mode,
                    symbol=order.symbol,
                    fill_id=fill.id,
                    original_quantity=quantity,
                    open_quantity=quantity,
                    cost_price=fill_price,
                    opened_at=when,
                )
                s.add(lot)
                lots.append(lot)
            else:
                for lot, take in zip(lots, fifo_take([r.open_quantity for r in lots], quantity), strict=True):
                    if take == 0:
                        continue
                    lot.open_quantity -= take
                    realised += realised_on(take, fill_price, lot.cost_price)
                    if lot.open_quantity == 0:
                        lot.closed_at = when
            self._update_position(s, order, lots, realised, when)
            cash = self._cash_row(s, order.account, order.mode, when, create=True)
            cash.amount += fill_cash_flow(order.side, quantity, fill_price, fee)
            cash.updated_at = when
            if order.status == NEW:
                self._move(s, order, SUBMITTED, f"implied by fill {fill_id}", when)
            self._move(
                s,
                order,
                FILLED if filled == order.quantity else PARTIALLY_FILLED,
                f"fill {fill_id}: {quantity} @ {fill_price}",
                when,
            )
            s.flush()
            return _fill(fill, order)

    @staticmethod
    def _open_lots(s: Session, account: str, mode: str, symbol: str) -> list[PositionLotRow]:
        q = (
            select(PositionLotRow)
            .where(
                PositionLotRow.account == account,
                PositionLotRow.mode == mode,
                PositionLotRow.symbol == symbol,
                PositionLotRow.closed_at.is_(None),
            )
            .order_by(PositionLotRow.opened_at, PositionLotRow.id)
        )
        return list(s.scalars(q))

    @staticmethod
    def _update_position(
        s: Session, order: OrderRow, lots: list[PositionLotRow], realised: Decimal, at: datetime
    ) -> None:
        row = s.scalar(
            select(PositionRow).where(
                PositionRow.account == order.account,
                PositionRow.mode == order.mode,
                PositionRow.symbol == order.symbol,
            )
        )
        if row is None:
            row = PositionRow(
                account=order.account, mode=order.mode, symbol=order.symbol, quantity=ZERO, avg_cost=ZERO,
                realised_pnl=ZERO, updated_at=at,
            )
            s.add(row)
        open_lots = [(lot.open_quantity, lot.cost_price) for lot in lots if lot.open_quantity > 0]
        row.quantity = sum((q for q, _ in open_lots), ZERO)
        row.avg_cost = average_cost(open_lots)
        row.realised_pnl += realised
        row.updated_at = at

    def fills(
        self,
        *,
        account: str | None = None,
        mode: str | None = None,
        client_order_id: str | None = None,
    ) -> pd.DataFrame:
        """Fills with their order's account, symbol and side, in recording order."""
        records = self._fill_records(account=account, mode=mode, client_order_id=client_order_id)
        return _frame(records, Fill, time_columns=("at",))

    def _fill_records(
        self, *, account: str | None = None, mode: str | None = None, client_order_id: str | None = None
    ) -> list[Fill]:
        with self._reading() as s:
            q = select(FillRow, OrderRow).join(OrderRow, FillRow.order_id == OrderRow.id).order_by(FillRow.id)
            if account is not None:
                q = q.where(OrderRow.account == account)
            if mode is not None:
                q = q.where(FillRow.mode == mode)
            if client_order_id is not None:
                q = q.where(OrderRow.client_order_id == client_order_id)
            return [_fill(f, o) for f, o in s.execute(q)]

    def trades(self, limit: int | None = None, *, account: str | None = None, mode: str | None = None) -> pd.DataFrame:
        """Trade blotter: fills with strategy, notional and cash flow; the last ``limit`` ones.

        Oldest first, so ``trades(20)`` reads like the tail of a blotter.
        """
        import pandas as pd

        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise LedgerError(f"limit: got {limit!r}; allowed: an int >= 0 or None")
        with self._reading() as s:
            q = (
                select(FillRow, OrderRow)
                .join(OrderRow, FillRow.order_id == OrderRow.id)
                .order_by(FillRow.at.desc(), FillRow.id.desc())
            )
            if account is not None:
                q = q.where(OrderRow.account == account)
            if mode is not None:
                q = q.where(FillRow.mode == mode)
            if limit is not None:
                q = q.limit(limit)
            rows = list(s.execute(q))
        rows.reverse()
        columns = [
            "at", "mode", "account", "strategy", "run_key", "symbol", "side", "quantity", "price", "fees",
            "notional", "cash_flow", "client_order_id", "fill_id", "broker_order_id",
        ]
        data = [
            {
                "at": f.at, "mode": f.mode, "account": o.account, "strategy": o.strategy, "run_key": o.run_key,
                "symbol": o.symbol, "side": o.side, "quantity": f.quantity, "price": f.price, "fees": f.fees,
                "notional": f.quantity * f.price,
                "cash_flow": fill_cash_flow(o.side, f.quantity, f.price, f.fees),
                "client_order_id": o.client_order_id, "fill_id": f.fill_id, "broker_order_id": o.broker_order_id,
            }
            for f, o in rows
        ]
        frame = pd.DataFrame(data, columns=columns)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    def export_csv(self, path: str | Path, *, account: str | None = None, mode: str | None = None) -> Path:
        """Write every trade to ``path`` as CSV (Decimals as exact text); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.trades(account=account, mode=mode).to_csv(target, index=False)
        return target

    # ----------------------------------------------------------------- positions and cash

    def positions(self, account: str, mode: str, *, include_flat: bool = False) -> dict[str, Position]:
        """Positions of one account and mode by symbol (flat ones only if asked)."""
        _choice("mode", mode, MODES)
        with self._reading() as s:
            rows = s.scalars(
                select(PositionRow)
                .where(PositionRow.account == account, PositionRow.mode == mode)
                .order_by(PositionRow.symbol)
            )
            return {r.symbol: _position(r) for r in rows if include_flat or r.quantity != 0}

    def lots(self, account: str, mode: str, symbol: str | None = None, *, include_closed: bool = False) -> list[Lot]:
        """FIFO lots, oldest first."""
        _choice("mode", mode, MODES)
        with self._reading() as s:
            q = select(PositionLotRow).where(PositionLotRow.account == account, PositionLotRow.mode == mode)
            if symbol is not None:
                q = q.where(PositionLotRow.symbol == symbol)
            if not include_closed:
                q = q.where(PositionLotRow.closed_at.is_(None))
            q = q.order_by(PositionLotRow.symbol, PositionLotRow.opened_at, PositionLotRow.id)
            return [_lot(r) for r in s.scalars(q)]

    def _cash_row(self, s: Session, account: str, mode: str, at: datetime, *, create: bool) -> CashBalanceRow:
        row = s.scalar(select(CashBalanceRow).where(CashBalanceRow.account == account, CashBalanceRow.mode == mode))
        if row is None:
            if not create:
                raise LedgerError(f"account {account!r} ({mode}): no cash recorded; call set_initial_cash first")
            # A fill on an account never funded in the ledger is still recorded (never lose
            # a real fill); its cash starts at 0 and goes negative, which reports show.
            row = CashBalanceRow(account=account, mode=mode, initial_amount=ZERO, amount=ZERO, updated_at=at)
            s.add(row)
        return row

    def set_initial_cash(
        self, account: str, mode: str, amount: DecimalLike, *, actor: str = "toolkit", at: datetime | None = None
    ) -> Decimal:
        """Fund an account once; later cash only moves through fills.

        Refused when the account already has cash (set before, or opened by a fill).
        """
        _text("account", account)
        _choice("mode", mode, MODES)
        value = _non_negative("amount", amount)
        _text("actor", actor)
        when = self._at(at)
        with self.transaction() as s:
            existing = s.scalar(
                select(CashBalanceRow).where(CashBalanceRow.account == account, CashBalanceRow.mode == mode)
            )
            if existing is not None:
                raise LedgerError(
                    f"account {account!r} ({mode}): initial cash is already {existing.initial_amount}; "
                    "it can be set only once"
                )
            s.add(CashBalanceRow(account=account, mode=mode, initial_amount=value, amount=value, updated_at=when))
            s.add(AuditLogRow(at=when, actor=actor, action="set_initial_cash",
                              detail={"account": account, "mode": mode, "amount": value}))
            s.flush()
        return value

    def cash(self, account: str, mode: str) -> Decimal:
        """Current cash of an account (raises if the account was never funded)."""
        _choice("mode", mode, MODES)
        with self._reading() as s:
            return self._cash_row(s, account, mode, self.now(), create=False).amount

    def initial_cash(self, account: str, mode: str) -> Decimal:
        """The amount given to :meth:`set_initial_cash` (0 for an account opened by a fill)."""
        _choice("mode", mode, MODES)
        with self._reading() as s:
            return self._cash_row(s, account, mode, self.now(), create=False).initial_amount

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
        _text("account", account)
        _choice("mode", mode, MODES)
        _text("strategy", strategy)
        if not isinstance(session_date, date) or isinstance(session_date, datetime):
            raise LedgerError(f"session_date: got {session_date!r}; allowed: a datetime.date")
        values = {
            "equity": to_decimal(equity, "equity"),
            "cash": to_decimal(cash, "cash"),
            "daily_return": _ratio("daily_return", daily_return),
            "cumulative_return": _ratio("cumulative_return", cumulative_return),
            "drawdown": _ratio("drawdown", drawdown),
            "strategy_cell": _text("strategy_cell", strategy_cell, optional=True),
            "context": context,
            "recorded_at": self._at(at),
        }
        db.json_dumps(context)  # fail before writing if the context cannot be stored
        with self.transaction() as s:
            row = s.scalar(
                select(PerformanceSnapshotRow).where(
                    PerformanceSnapshotRow.account == account,
                    PerformanceSnapshotRow.mode == mode,
                    PerformanceSnapshotRow.strategy == strategy,
                    PerformanceSnapshotRow.session_date == session_date,
                )
            )
            if row is None:
                row = PerformanceSnapshotRow(account=account, mode=mode, strategy=strategy, session_date=session_date)
                s.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            s.flush()
            return _snapshot(row)

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
            records = [_snapshot(r) for r in s.scalars(q)]
        return _frame(records, Snapshot, time_columns=("recorded_at",))

    # ----------------------------------------------------------------- system state, kill switch, audit

    def get_state(self, key: str, default: Any = None) -> Any:
        """A value of ``system_state`` (engine session state, flags)."""
        with self._reading() as s:
            row = s.get(SystemStateRow, key)
            return default if row is None else row.value

    def set_state(self, key: str, value: Any, *, at: datetime | None = None) -> None:
        """Store a value in ``system_state``. The kill switch has its own audited setter."""
        _text("key", key)
        if key == KILL_SWITCH_KEY:
            raise LedgerError("key: 'kill_switch' is set only through set_kill_switch (it must be audited)")
        db.json_dumps(value)
        when = self._at(at)
        with self.transaction() as s:
            self._put_state(s, key, value, when)

    @staticmethod
    def _put_state(s: Session, key: str, value: Any, at: datetime) -> None:
        row = s.get(SystemStateRow, key)
        if row is None:
            s.add(SystemStateRow(key=key, value=value, updated_at=at))
        else:
            row.value = value
            row.updated_at = at
        s.flush()

    def kill_switch(self) -> KillSwitch:
        """State of the kill switch (off when never set)."""
        value = self.get_state(KILL_SWITCH_KEY)
        if not value:
            return KillSwitch(on=False, reason=None, at=None, actor=None)
        at = value.get("at")
        return KillSwitch(
            on=bool(value.get("on")),
            reason=value.get("reason"),
            at=datetime.fromisoformat(at) if at else None,
            actor=value.get("actor"),
        )

    def set_kill_switch(self, on: bool, reason: str, actor: str = "user", *, at: datetime | None = None) -> KillSwitch:
        """Turn the kill switch on or off; the state and its audit entry commit together.

        A reason is required both ways: whoever reads the log later must know why
        trading stopped or resumed.
        """
        if not isinstance(on, bool):
            raise LedgerError(f"on: got {on!r}; allowed: True or False")
        _text("reason", reason, max_length=10_000)
        _text("actor", actor)
        when = self._at(at)
        value = {"on": on, "reason": reason.strip(), "at": when.isoformat(), "actor": actor}
        with self.transaction() as s:
            previous = s.get(SystemStateRow, KILL_SWITCH_KEY)
            was_on = bool(previous.value.get("on")) if previous is not None and previous.value else False
            self._put_state(s, KILL_SWITCH_KEY, value, when)
            s.add(AuditLogRow(at=when, actor=actor, action="kill_switch_on" if on else "kill_switch_off",
                              detail={"on": on, "was_on": was_on, "reason": reason.strip()}))
            s.flush()
        return KillSwitch(on=on, reason=reason.strip(), at=when, actor=actor)

    def audit(self, action: str, detail: Any = None, actor: str = "toolkit", *, at: datetime | None = None) -> None:
        """Append an entry to the audit log (e.g. a recorded live-trading confirmation)."""
        _text("action", action)
        _text("actor", actor)
        db.json_dumps(detail)
        when = self._at(at)
        with self.transaction() as s:
            s.add(AuditLogRow(at=when, actor=actor, action=action, detail=detail))
            s.flush()

    def audit_log(self, limit: int | None = None, *, action: str | None = None) -> pd.DataFrame:
        """Audit entries, oldest first (the last ``limit`` ones)."""
        import pandas as pd

        with self._reading() as s:
            q = select(AuditLogRow).order_by(AuditLogRow.id.desc())
            if action is not None:
                q = q.where(AuditLogRow.action == action)
            if limit is not None:
                q = q.limit(limit)
            rows = [(r.at, r.actor, r.action, r.detail) for r in s.scalars(q)]
        rows.reverse()
        frame = pd.DataFrame(rows, columns=["at", "actor", "action", "detail"])
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    # ----------------------------------------------------------------- config overrides

    def set_override(
        self, key: str, value: Any, reason: str, *, actor: str = "user", at: datetime | None = None
    ) -> None:
        """Override a configuration value; the old value goes to ``config_history``."""
        _text("key", key, max_length=256)
        _text("reason", reason, max_length=10_000)
        db.json_dumps(value)
        self._write_override(key, value, reason, actor, self._at(at), clear=False)

    def clear_override(self, key: str, reason: str, *, actor: str = "user", at: datetime | None = None) -> None:
        """Remove the active override of ``key`` (recorded in history with ``new = None``)."""
        _text("key", key, max_length=256)
        _text("reason", reason, max_length=10_000)
        self._write_override(key, None, reason, actor, self._at(at), clear=True)

    def _write_override(self, key: str, value: Any, reason: str, actor: str, at: datetime, *, clear: bool) -> None:
        with self.transaction() as s:
            active = list(
                s.scalars(select(ConfigOverrideRow).where(ConfigOverrideRow.key == key, ConfigOverrideRow.active))
            )
            if clear and not active:
                raise LedgerError(f"key: no active override of {key!r} to clear")
            old = active[-1].value if active else None
            for row in active:
                row.active = False
            if not clear:
                s.add(ConfigOverrideRow(key=key, value=value, reason=reason, set_at=at, active=True))
            s.add(ConfigHistoryRow(key=key, old=old, new=value, reason=reason, at=at))
            s.add(AuditLogRow(at=at, actor=actor, action="clear_override" if clear else "set_override",
                              detail={"key": key, "old": old, "new": value, "reason": reason}))
            s.flush()

    def overrides(self) -> dict[str, Any]:
        """Active configuration overrides by key."""
        with self._reading() as s:
            rows = s.scalars(select(ConfigOverrideRow).where(ConfigOverrideRow.active).order_by(ConfigOverrideRow.id))
            return {r.key: r.value for r in rows}

    def config_history(self, key: str | None = None) -> pd.DataFrame:
        """Every change of configuration overrides, oldest first."""
        import pandas as pd

        with self._reading() as s:
            q = select(ConfigHistoryRow).order_by(ConfigHistoryRow.id)
            if key is not None:
                q = q.where(ConfigHistoryRow.key == key)
            rows = [(r.at, r.key, r.old, r.new, r.reason) for r in s.scalars(q)]
        frame = pd.DataFrame(rows, columns=["at", "key", "old", "new", "reason"])
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    # ----------------------------------------------------------------- invariants

    def check_consistency(self, account: str, mode: str, prices: dict[str, Decimal]) -> list[str]:
        """Problems found by re-deriving the account's state from its fills (empty = consistent).

        See :func:`toolkit.ledger.consistency.check_consistency`.
        """
        from toolkit.ledger.consistency import check_consistency

        return check_consistency(self, account, mode, prices)


def open_ledger(url: str | None = None, *, clock: Callable[[], datetime] | None = None) -> Ledger:
    """Open the ledger, migrating its schema to the newest revision first.

    ``url`` defaults to ``$TOOLKIT_DB_URL``, else ``outputs/ledger.sqlite`` under
    the project root (the nearest folder with a ``pyproject.toml``, else the
    working directory). A database written by a newer toolkit (an unknown
    schema revision) is refused with a :class:`LedgerError` before anything
    is changed. ``clock`` returns the current tz-aware time (default: UTC now).
    """
    resolved = db.resolve_url(url)
    engine = db.create_ledger_engine(resolved)
    try:
        db.upgrade(engine)
        db.enable_wal(engine)
    except Exception:
        engine.dispose()
        raise
    return Ledger(engine, url=resolved, clock=clock)
