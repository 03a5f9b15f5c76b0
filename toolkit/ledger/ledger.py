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

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from toolkit.ledger import db
from toolkit.ledger.accounting import ZERO, average_cost, fill_cash_flow, realised_on
from toolkit.ledger.alerts import AlertsMixin
from toolkit.ledger.broker_state import BrokerStateMixin
from toolkit.ledger.changes import ChangesMixin
from toolkit.ledger.checks import choice, non_negative, optional_price, positive, text
from toolkit.ledger.convert import fill_record, frame, lot_record, order_record, position_record, record_frame
from toolkit.ledger.errors import IllegalTransitionError, LedgerError
from toolkit.ledger.lifecycle import (
    FILL_STATUSES,
    FILLED,
    MODES,
    NEW,
    ORDER_STATUSES,
    ORDER_TYPES,
    PARTIALLY_FILLED,
    SIDES,
    SUBMITTED,
    allowed_from,
    is_legal,
)
from toolkit.ledger.locks import RunLocksMixin
from toolkit.ledger.models import (
    AuditLogRow,
    CashBalanceRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    PositionLotRow,
    PositionRow,
)
from toolkit.ledger.records import FillRecord, LotRecord, OrderEventRecord, OrderRecord, PositionRecord
from toolkit.ledger.runs import RunsMixin, make_run_key, parse_run_key
from toolkit.ledger.types import DecimalLike, fit_amount
from toolkit.model import OrderAccepted, OrderEvent, OrderFilled, OrderRejected, OrderSide, fifo_take, quantize

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Ledger", "make_run_key", "open_ledger", "parse_run_key"]

FILLABLE_STATUSES = (NEW, SUBMITTED, PARTIALLY_FILLED)

_CASH = CashBalanceRow.__table__
_CASH_GET = select(_CASH.c.amount, _CASH.c.initial_amount).where(
    _CASH.c.account == bindparam("account"), _CASH.c.mode == bindparam("mode")
)
_POS = PositionRow.__table__
_POS_GET = (
    select(_POS)
    .where(_POS.c.account == bindparam("account"), _POS.c.mode == bindparam("mode"))
    .order_by(_POS.c.symbol)
)


class Ledger(RunsMixin, BrokerStateMixin, ChangesMixin, AlertsMixin, RunLocksMixin):
    """Repository over the ledger database. Create it with :func:`open_ledger`.

    Methods are grouped by topic: orders and fills, positions and cash (here),
    runs and snapshots (:class:`~toolkit.ledger.runs.RunsMixin`), kill switch,
    audit and overrides (:class:`~toolkit.ledger.control.ControlMixin`), broker order ids,
    live confirmations and adopted cash (:class:`~toolkit.ledger.broker_state.BrokerStateMixin`),
    the cheap "what changed" stamp readers poll (:class:`~toolkit.ledger.changes.ChangesMixin`),
    alerts as sent or not (:class:`~toolkit.ledger.alerts.AlertsMixin`),
    per-key run locks (:class:`~toolkit.ledger.locks.RunLocksMixin`);
    engine, clock and :meth:`transaction` come from
    :class:`~toolkit.ledger.base.LedgerBase`.
    """

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
    ) -> OrderRecord:
        """Record a new order (status ``new``) before it goes to the broker.

        Idempotent on ``client_order_id``: recording an id that exists returns
        the stored order unchanged (check its ``status`` to know whether it was
        already sent). An existing id with a different account, mode, strategy,
        symbol or side is a bug in id generation and raises.
        """
        text("client_order_id", client_order_id)
        text("run_key", run_key, max_length=256, optional=True)
        choice("mode", mode, MODES)
        text("strategy", strategy)
        text("account", account)
        text("symbol", symbol, max_length=32)
        choice("side", side, SIDES)
        qty = positive("quantity", quantity)
        choice("order_type", order_type, ORDER_TYPES)
        limit = optional_price("limit_price", limit_price)
        if order_type == "limit" and limit is None:
            raise LedgerError("limit_price: got None; allowed: a price > 0 for a limit order")
        decision = optional_price("decision_price", decision_price)
        text("parent_client_order_id", parent_client_order_id, optional=True)
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
                    return order_record(existing, self._filled(s, existing.id))
                parent_id = None
                if parent_client_order_id is not None:
                    parent = s.scalar(select(OrderRow).where(OrderRow.client_order_id == parent_client_order_id))
                    if parent is None:
                        raise LedgerError(
                            f"parent_client_order_id: got {parent_client_order_id!r}; "
                            "allowed: an order already in the ledger"
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
                return order_record(row, ZERO)
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
    ) -> OrderRecord:
        """Move an order along its lifecycle and append the change to ``order_events``.

        Legal: new -> submitted / rejected / cancelled; submitted -> cancelled /
        rejected; partially_filled -> cancelled. ``partially_filled`` and
        ``filled`` are reached only through :meth:`record_fill`. An illegal move
        raises :class:`IllegalTransitionError` and writes nothing.
        """
        choice("to_status", to_status, ORDER_STATUSES)
        if to_status in FILL_STATUSES:
            raise LedgerError(
                f"to_status: got {to_status!r}; fill statuses are set by record_fill from the recorded fills"
            )
        text("broker_order_id", broker_order_id, optional=True)
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
            return order_record(row, self._filled(s, row.id))

    def apply(self, event: OrderEvent, *, at: datetime | None = None) -> None:
        """Record what a broker reported about an order: one of the model's events.

        Idempotent, so the engine may hand over a broker's whole event list again
        after every call (or after a crash): an acceptance of an order that is no
        longer ``new``, a rejection or cancellation already recorded, and a fill
        whose ``fill_id`` is known change nothing. Everything else moves the stored
        order by the model's state machine (an illegal move raises
        :class:`IllegalTransitionError` and writes nothing). A fill goes through
        :meth:`record_fill`, its amounts rounded to the ledger's 6 places (a
        simulated broker computes at 50 digits). ``at`` is when the ledger records
        it (default: the ledger's clock).
        """
        if isinstance(event, OrderFilled):
            f = event.fill
            self.record_fill(f.client_order_id, f.fill_id, quantize(f.quantity), quantize(f.price), quantize(f.fee),
                             at=at)
            return
        stored = self.get_order(event.client_order_id)
        if stored is None:
            raise LedgerError(f"client_order_id: no order {event.client_order_id!r} in the ledger")
        if isinstance(event, OrderAccepted):
            if stored.status == NEW:
                self.transition_order(event.client_order_id, SUBMITTED, broker_order_id=event.broker_order_id, at=at)
        elif stored.status != event.status.value:
            broker_order_id = event.broker_order_id if isinstance(event, OrderRejected) else None
            self.transition_order(event.client_order_id, event.status.value, event.reason,
                                  broker_order_id=broker_order_id, at=at)

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        """The order with this ``client_order_id``, or ``None``."""
        with self._reading() as s:
            row = s.scalar(select(OrderRow).where(OrderRow.client_order_id == client_order_id))
            return None if row is None else order_record(row, self._filled(s, row.id))

    def order_events(self, client_order_id: str) -> list[OrderEventRecord]:
        """Status history of one order, oldest first."""
        with self._reading() as s:
            row = self._order_row(s, client_order_id)
            events = s.scalars(
                select(OrderEventRow).where(OrderEventRow.order_id == row.id).order_by(OrderEventRow.id)
            )
            return [OrderEventRecord(client_order_id, e.from_status, e.to_status, e.at, e.detail) for e in events]

    def orders(
        self,
        *,
        account: str | None = None,
        mode: str | None = None,
        run_key: str | None = None,
        status: str | None = None,
    ) -> pd.DataFrame:
        """Orders with their filled quantity, oldest first."""
        records = self.order_records(account=account, mode=mode, run_key=run_key, status=status)
        return record_frame(records, OrderRecord, time_columns=("created_at", "updated_at"))

    def order_records(
        self,
        *,
        account: str | None = None,
        mode: str | None = None,
        run_key: str | None = None,
        status: str | None = None,
    ) -> list[OrderRecord]:
        """:meth:`orders` as records (a run's orders in recording order: sells were recorded first)."""
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
            if not rows:
                return []
            fills = select(FillRow.order_id, FillRow.quantity)
            if len(rows) <= 500:  # a run's orders: read only their fills
                fills = fills.where(FillRow.order_id.in_([r.id for r in rows]))
            filled: dict[int, Decimal] = {}
            for order_id, qty in s.execute(fills):
                filled[order_id] = filled.get(order_id, ZERO) + qty
            return [order_record(r, filled.get(r.id, ZERO)) for r in rows]

    # ----------------------------------------------------------------- fills

    def record_fill(
        self,
        order_client_id: str,
        fill_id: str,
        qty: DecimalLike,
        price: DecimalLike,
        fees: DecimalLike = 0,
        at: datetime | None = None,
    ) -> FillRecord:
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
        text("fill_id", fill_id)
        quantity = positive("qty", qty)
        fill_price = positive("price", price)
        fee = non_negative("fees", fees)
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
                return fill_record(existing, order)
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
            side = OrderSide(order.side)
            if side is OrderSide.SELL and quantity > held:
                raise LedgerError(
                    f"qty: sell of {quantity} {order.symbol} on {order.account}/{order.mode} exceeds the "
                    f"holding of {held}; the ledger is long-only"
                )

            # Validation done: from here on everything is written together.
            fill = FillRow(
                order_id=order.id, fill_id=fill_id, mode=order.mode,
                quantity=quantity, price=fill_price, fees=fee, at=when,
            )
            s.add(fill)
            s.flush()
            realised = ZERO
            if side is OrderSide.BUY:
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
            return fill_record(fill, order)

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
        records = self.fill_records(account=account, mode=mode, client_order_id=client_order_id)
        return record_frame(records, FillRecord, time_columns=("at",))

    def fill_records(
        self, *, account: str | None = None, mode: str | None = None, client_order_id: str | None = None
    ) -> list[FillRecord]:
        """:meth:`fills` as records, in recording order."""
        with self._reading() as s:
            q = select(FillRow, OrderRow).join(OrderRow, FillRow.order_id == OrderRow.id).order_by(FillRow.id)
            if account is not None:
                q = q.where(OrderRow.account == account)
            if mode is not None:
                q = q.where(FillRow.mode == mode)
            if client_order_id is not None:
                q = q.where(OrderRow.client_order_id == client_order_id)
            return [fill_record(f, o) for f, o in s.execute(q)]

    def trades(self, limit: int | None = None, *, account: str | None = None, mode: str | None = None) -> pd.DataFrame:
        """Trade blotter: fills with strategy, notional and cash flow; the last ``limit`` ones.

        Oldest first, so ``trades(20)`` reads like the tail of a blotter.
        """
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
                "notional": fit_amount(f.quantity * f.price),
                "cash_flow": fill_cash_flow(o.side, f.quantity, f.price, f.fees),
                "client_order_id": o.client_order_id, "fill_id": f.fill_id, "broker_order_id": o.broker_order_id,
            }
            for f, o in rows
        ]
        return frame(data, columns, time_columns=("at",))

    def export_csv(self, path: str | Path, *, account: str | None = None, mode: str | None = None) -> Path:
        """Write every trade to ``path`` as CSV (Decimals as exact text); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.trades(account=account, mode=mode).to_csv(target, index=False)
        return target

    # ----------------------------------------------------------------- positions and cash

    def positions(self, account: str, mode: str, *, include_flat: bool = False) -> dict[str, PositionRecord]:
        """Positions of one account and mode by symbol (flat ones only if asked)."""
        choice("mode", mode, MODES)
        with self._read_connection() as conn:
            rows = conn.execute(_POS_GET, {"account": account, "mode": mode})
            return {r.symbol: position_record(r) for r in rows if include_flat or r.quantity != 0}

    def lots(
        self, account: str, mode: str, symbol: str | None = None, *, include_closed: bool = False
    ) -> list[LotRecord]:
        """FIFO lots, oldest first."""
        choice("mode", mode, MODES)
        with self._reading() as s:
            q = select(PositionLotRow).where(PositionLotRow.account == account, PositionLotRow.mode == mode)
            if symbol is not None:
                q = q.where(PositionLotRow.symbol == symbol)
            if not include_closed:
                q = q.where(PositionLotRow.closed_at.is_(None))
            q = q.order_by(PositionLotRow.symbol, PositionLotRow.opened_at, PositionLotRow.id)
            return [lot_record(r) for r in s.scalars(q)]

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
        text("account", account)
        choice("mode", mode, MODES)
        value = non_negative("amount", amount)
        text("actor", actor)
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

    def _cash_values(self, account: str, mode: str) -> tuple[Decimal, Decimal]:
        """(amount, initial amount) of a funded account; raises like ``_cash_row(create=False)``."""
        choice("mode", mode, MODES)
        with self._read_connection() as conn:
            row = conn.execute(_CASH_GET, {"account": account, "mode": mode}).first()
        if row is None:
            raise LedgerError(f"account {account!r} ({mode}): no cash recorded; call set_initial_cash first")
        return row.amount, row.initial_amount

    def cash(self, account: str, mode: str) -> Decimal:
        """Current cash of an account (raises if the account was never funded)."""
        return self._cash_values(account, mode)[0]

    def initial_cash(self, account: str, mode: str) -> Decimal:
        """The amount given to :meth:`set_initial_cash` (0 for an account opened by a fill)."""
        return self._cash_values(account, mode)[1]

    # ----------------------------------------------------------------- invariants

    def check_consistency(self, account: str, mode: str, prices: dict[str, Decimal]) -> list[str]:
        """Problems found by re-deriving the account's state from its fills (empty = consistent).

        See :func:`toolkit.ledger.consistency.check_consistency`.
        """
        from toolkit.ledger.consistency import check_consistency

        return check_consistency(self, account, mode, prices)


def open_ledger(
    url: str | None = None, *, clock: Callable[[], datetime] | None = None, must_exist: bool = False
) -> Ledger:
    """Open the ledger, migrating its schema to the newest revision first.

    ``url`` defaults to ``$TOOLKIT_DB_URL``, else ``outputs/ledger.sqlite`` under
    the project root (the nearest folder with a ``pyproject.toml``, else the
    working directory). A database written by a newer toolkit (an unknown
    schema revision) is refused with a :class:`LedgerError` before anything
    is changed. ``clock`` returns the current tz-aware time (default: UTC now).
    ``must_exist``: refuse a SQLite file that is not there instead of creating an
    empty ledger (read-only commands such as ``toolkit live status``).
    """
    resolved = db.resolve_url(url)
    if must_exist:
        db.require_existing(resolved)
    engine = db.create_ledger_engine(resolved)
    try:
        db.upgrade(engine)
        db.enable_wal(engine)
    except Exception:
        engine.dispose()
        raise
    return Ledger(engine, url=resolved, clock=clock)
