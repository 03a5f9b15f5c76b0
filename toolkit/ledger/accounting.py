"""Pure FIFO accounting, shared by :meth:`Ledger.record_fill` and the consistency check.

Kept free of the database so the rules (which lot a sell consumes, how cash
moves) are stated once and can be replayed from the fills alone: the
consistency check rebuilds lots, positions and cash from the ``fills`` table
with these functions and compares them with what the ledger stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from toolkit.ledger.types import quantize

ZERO = Decimal("0.000000")


def fill_cash_flow(side: str, quantity: Decimal, price: Decimal, fees: Decimal) -> Decimal:
    """Cash effect of a fill: buy ``-qty*price - fees``, sell ``+qty*price - fees``."""
    notional = quantize(quantity * price)
    return (-notional if side == "buy" else notional) - fees


def realised_on(take: Decimal, sell_price: Decimal, cost_price: Decimal) -> Decimal:
    """Gross realised PnL of closing ``take`` units of a lot bought at ``cost_price``."""
    return quantize(take * (sell_price - cost_price))


def fifo_take(open_quantities: Sequence[Decimal], quantity: Decimal) -> list[Decimal]:
    """How much a sell of ``quantity`` takes from each open lot, given in FIFO order.

    The caller guarantees ``quantity <= sum(open_quantities)``.
    """
    takes: list[Decimal] = []
    left = quantity
    for open_qty in open_quantities:
        take = min(open_qty, left)
        takes.append(take)
        left -= take
    return takes


def average_cost(lots: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """Quantity-weighted cost of ``(open_quantity, cost_price)`` lots (0 when flat)."""
    qty = ZERO
    cost = Decimal(0)
    for open_qty, price in lots:
        qty += open_qty
        cost += open_qty * price
    return quantize(cost / qty) if qty else ZERO


@dataclass
class ReplayLot:
    opened_at: datetime
    seq: int
    open_quantity: Decimal
    cost_price: Decimal


@dataclass
class ReplayBook:
    """State of one symbol rebuilt from its fills."""

    lots: list[ReplayLot] = field(default_factory=list)
    realised: Decimal = ZERO
    fees: Decimal = ZERO
    oversold: Decimal = ZERO

    @property
    def quantity(self) -> Decimal:
        return sum((lot.open_quantity for lot in self.lots), ZERO)


def replay(fills: Iterable[tuple[str, Decimal, Decimal, Decimal, datetime]]) -> ReplayBook:
    """Replay ``(side, quantity, price, fees, at)`` fills of one symbol, in recording order."""
    book = ReplayBook()
    for seq, (side, qty, price, fees, at) in enumerate(fills):
        book.fees += fees
        if side == "buy":
            book.lots.append(ReplayLot(at, seq, qty, price))
            continue
        book.lots.sort(key=lambda lot: (lot.opened_at, lot.seq))
        open_lots = [lot for lot in book.lots if lot.open_quantity > 0]
        takes = fifo_take([lot.open_quantity for lot in open_lots], qty)
        for lot, take in zip(open_lots, takes, strict=True):
            lot.open_quantity -= take
            book.realised += realised_on(take, price, lot.cost_price)
        book.oversold += qty - sum(takes, ZERO)
    book.lots = [lot for lot in book.lots if lot.open_quantity > 0]
    return book
