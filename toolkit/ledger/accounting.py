"""Pure FIFO accounting, shared by :meth:`Ledger.record_fill` and the consistency check.

Kept free of the database so the rules (which lot a sell consumes, how cash
moves) are stated once and can be replayed from the fills alone: the
consistency check rebuilds lots, positions and cash from the ``fills`` table
with these functions and compares them with what the ledger stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from toolkit.ledger.types import fit_amount
from toolkit.model import Lot, OrderSide, sell_fifo

ZERO = Decimal("0.000000")


def fill_cash_flow(side: str, quantity: Decimal, price: Decimal, fees: Decimal) -> Decimal:
    """Cash effect of a fill, the model's rule (:attr:`~toolkit.model.Fill.cash_flow`:
    ``-sign x notional - fees``) with the notional at the ledger's 6 places."""
    return -OrderSide(side).sign * fit_amount(quantity * price) - fees


def realised_on(take: Decimal, sell_price: Decimal, cost_price: Decimal) -> Decimal:
    """Gross realised PnL of closing ``take`` units of a lot bought at ``cost_price``."""
    return fit_amount(take * (sell_price - cost_price))


def average_cost(lots: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """Quantity-weighted cost of ``(open_quantity, cost_price)`` lots (0 when flat)."""
    qty = ZERO
    cost = Decimal(0)
    for open_qty, price in lots:
        qty += open_qty
        cost += open_qty * price
    return fit_amount(cost / qty) if qty else ZERO


@dataclass
class ReplayBook:
    """State of one symbol rebuilt from its fills: the model's FIFO lots, at the ledger's 6 places."""

    lots: list[Lot] = field(default_factory=list)
    realised: Decimal = ZERO
    fees: Decimal = ZERO
    oversold: Decimal = ZERO

    @property
    def quantity(self) -> Decimal:
        return sum((lot.quantity for lot in self.lots), ZERO)


def replay(fills: Iterable[tuple[str, Decimal, Decimal, Decimal, datetime]]) -> ReplayBook:
    """Replay ``(side, quantity, price, fees, at)`` fills of one symbol, in recording order.

    Sells consume lots oldest first by ``at`` (ties in recording order: the sort is
    stable), with the model's :func:`~toolkit.model.sell_fifo`; each realised amount
    is rounded to 6 places as :meth:`~toolkit.ledger.Ledger.record_fill` stores it.
    """
    book = ReplayBook()
    for side, qty, price, fees, at in fills:
        book.fees += fees
        if OrderSide(side) is OrderSide.BUY:
            book.lots.append(Lot(qty, price, at))
            continue
        book.lots.sort(key=lambda lot: lot.opened_at)
        book.realised, uncovered = sell_fifo(book.lots, qty, price, book.realised, rounding=fit_amount)
        book.oversold += uncovered
    return book
