"""Invariant check of one account: re-derive everything from the fills and compare.

Why a separate check: :meth:`Ledger.record_fill` updates lots, positions and
cash incrementally. If a bug, a hand edit or an interrupted migration ever
breaks that bookkeeping, replaying the fills (the primary record) exposes it.
The engine can run this after every session; tests run it after random trade
sequences.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from toolkit.ledger.accounting import ZERO, average_cost, fill_cash_flow, replay
from toolkit.ledger.lifecycle import CANCELLED, FILLED, NEW, PARTIALLY_FILLED, REJECTED, SUBMITTED
from toolkit.ledger.models import CashBalanceRow, FillRow, OrderRow, PositionLotRow, PositionRow
from toolkit.ledger.types import QUANTUM
from toolkit.model import OrderSide

if TYPE_CHECKING:
    from toolkit.ledger.ledger import Ledger

_STATUSES_BY_FILL = {
    "none": (NEW, SUBMITTED, CANCELLED, REJECTED),
    "part": (PARTIALLY_FILLED, CANCELLED),
    "full": (FILLED,),
}


def check_consistency(ledger: Ledger, account: str, mode: str, prices: dict[str, Decimal]) -> list[str]:
    """Return every broken invariant of ``account``/``mode`` as a sentence (empty = consistent).

    Checks: every fill belongs to an order of the same mode; fills never exceed
    their order and agree with its status; no lot is negative or above its
    original size; each position's quantity equals the sum of its open lots
    and of its fills; lots, average cost and realised PnL equal a FIFO replay
    of the fills; cash equals initial cash plus the fills' cash flows; and,
    valued at ``prices``, ``cash + positions value = initial cash + realised +
    unrealised - fees`` (within the 6-place rounding of each fill).
    """
    problems: list[str] = []
    with ledger._reading() as s:
        orphans = s.scalars(
            select(FillRow.fill_id).outerjoin(OrderRow, FillRow.order_id == OrderRow.id).where(OrderRow.id.is_(None))
        ).all()
        problems += [f"fill {f} belongs to no order" for f in orphans]

        orders = {
            o.id: o for o in s.scalars(select(OrderRow).where(OrderRow.account == account, OrderRow.mode == mode))
        }
        fills = [
            f for f in s.scalars(select(FillRow).where(FillRow.order_id.in_(list(orders))).order_by(FillRow.id))
        ] if orders else []
        lots = list(
            s.scalars(
                select(PositionLotRow)
                .where(PositionLotRow.account == account, PositionLotRow.mode == mode)
                .order_by(PositionLotRow.opened_at, PositionLotRow.id)
            )
        )
        positions = {
            p.symbol: p
            for p in s.scalars(select(PositionRow).where(PositionRow.account == account, PositionRow.mode == mode))
        }
        cash = s.scalar(select(CashBalanceRow).where(CashBalanceRow.account == account, CashBalanceRow.mode == mode))

    # Orders against their fills.
    filled: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for f in fills:
        order = orders[f.order_id]
        filled[order.id] += f.quantity
        if f.mode != order.mode:
            problems.append(
                f"fill {f.fill_id} has mode {f.mode} but its order {order.client_order_id} has {order.mode}"
            )
    for order in orders.values():
        done = filled[order.id]
        if done > order.quantity:
            problems.append(f"order {order.client_order_id} is overfilled: {done} of {order.quantity}")
        kind = "none" if done == 0 else "full" if done == order.quantity else "part"
        if order.status not in _STATUSES_BY_FILL[kind]:
            problems.append(
                f"order {order.client_order_id} is {order.status} with {done} of {order.quantity} filled"
            )

    # Lots on their own.
    for lot in lots:
        if lot.open_quantity < 0:
            problems.append(f"lot {lot.id} of {lot.symbol} is negative: {lot.open_quantity}")
        if lot.open_quantity > lot.original_quantity:
            problems.append(
                f"lot {lot.id} of {lot.symbol} holds {lot.open_quantity} > original {lot.original_quantity}"
            )
        if (lot.open_quantity == 0) != (lot.closed_at is not None):
            problems.append(f"lot {lot.id} of {lot.symbol} has open {lot.open_quantity} but closed_at {lot.closed_at}")

    # Per symbol: stored state against a replay of the fills.
    by_symbol: dict[str, list[FillRow]] = defaultdict(list)
    for f in fills:
        by_symbol[orders[f.order_id].symbol].append(f)
    open_lots: dict[str, list[PositionLotRow]] = defaultdict(list)
    for lot in lots:
        if lot.closed_at is None:
            open_lots[lot.symbol].append(lot)

    realised_total = ZERO
    unrealised_total = Decimal(0)
    value_total = Decimal(0)
    fees_total = ZERO
    all_priced = True
    for symbol in sorted(set(by_symbol) | set(positions) | set(open_lots)):
        symbol_fills = by_symbol.get(symbol, [])
        book = replay((orders[f.order_id].side, f.quantity, f.price, f.fees, f.at) for f in symbol_fills)
        net = sum(
            (OrderSide(orders[f.order_id].side).sign * f.quantity for f in symbol_fills), ZERO
        )
        lot_qty = sum((lot.open_quantity for lot in open_lots.get(symbol, [])), ZERO)
        position = positions.get(symbol)
        pos_qty = position.quantity if position is not None else ZERO
        if position is None and symbol_fills:
            problems.append(f"{symbol}: fills exist but there is no position row")
        if pos_qty != lot_qty:
            problems.append(f"{symbol}: position quantity {pos_qty} != sum of open lots {lot_qty}")
        if pos_qty != net:
            problems.append(f"{symbol}: position quantity {pos_qty} != net filled quantity {net}")
        if book.oversold:
            problems.append(f"{symbol}: fills sell {book.oversold} more than was held")
        stored = [(lot.open_quantity, lot.cost_price) for lot in open_lots.get(symbol, [])]
        replayed = [(lot.quantity, lot.price) for lot in book.lots]
        if stored != replayed:
            problems.append(f"{symbol}: open lots {stored} differ from the FIFO replay of the fills {replayed}")
        if position is not None:
            if position.realised_pnl != book.realised:
                problems.append(
                    f"{symbol}: realised PnL {position.realised_pnl} != FIFO replay of the fills {book.realised}"
                )
            if position.avg_cost != average_cost(stored):
                problems.append(
                    f"{symbol}: avg_cost {position.avg_cost} != average cost of open lots {average_cost(stored)}"
                )
            realised_total += position.realised_pnl
        fees_total += book.fees
        if lot_qty:
            if symbol not in prices:
                problems.append(f"{symbol}: no price given to value the open position of {lot_qty}")
                all_priced = False
                continue
            price = Decimal(prices[symbol])
            value_total += lot_qty * price
            unrealised_total += sum(
                (lot.open_quantity * (price - lot.cost_price) for lot in open_lots.get(symbol, [])), Decimal(0)
            )

    # Cash.
    if cash is None:
        if fills:
            problems.append(f"account {account} ({mode}) has fills but no cash balance")
        return problems
    flows = sum((fill_cash_flow(orders[f.order_id].side, f.quantity, f.price, f.fees) for f in fills), ZERO)
    if cash.amount != cash.initial_amount + flows:
        problems.append(
            f"cash {cash.amount} != initial {cash.initial_amount} + fill cash flows {flows} "
            f"= {cash.initial_amount + flows}"
        )
    if not all_priced:
        return problems
    equity = cash.amount + value_total
    expected = cash.initial_amount + realised_total + unrealised_total - fees_total
    tolerance = QUANTUM * max(len(fills), 1)  # each fill rounds its cash flow and realised PnL to 6 places
    if abs(equity - expected) > tolerance:
        problems.append(
            f"cash + positions value {equity} != initial + realised + unrealised - fees {expected}"
        )
    return problems
