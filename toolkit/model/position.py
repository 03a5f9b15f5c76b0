"""Holdings: FIFO lots, the one rule for which lot a sale consumes, and a position as a trader reads it.

The simulated broker keeps its book in :class:`Lot` objects and sells with
:func:`sell_fifo`; the ledger consumes its stored lots with :func:`fifo_take` and
checks itself by replaying its fills through :func:`sell_fifo` (rounding each
realised amount to its 6 places). One rule, three users.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

__all__ = ["Lot", "Position", "fifo_take", "sell_fifo"]


@dataclass
class Lot:
    """One FIFO lot: what was bought, at what (slippage-adjusted) price, when, by which order."""

    quantity: Decimal
    price: Decimal
    opened_at: datetime
    client_order_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"quantity": str(self.quantity), "price": str(self.price),
                "opened_at": self.opened_at.isoformat(), "client_order_id": self.client_order_id}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Lot:
        return cls(Decimal(d["quantity"]), Decimal(d["price"]), pd.Timestamp(d["opened_at"]), d["client_order_id"])


def fifo_take(open_quantities: Sequence[Decimal], quantity: Decimal) -> list[Decimal]:
    """How much a sale of ``quantity`` takes from each open lot, given oldest first.

    The takes sum to ``quantity`` when the lots hold enough; what they cannot cover
    is left untaken (the caller decides whether that is an error).
    """
    takes: list[Decimal] = []
    left = quantity
    for open_qty in open_quantities:
        take = min(open_qty, left)
        takes.append(take)
        left -= take
    return takes


def sell_fifo(
    lots: list[Lot],
    quantity: Decimal,
    price: Decimal,
    realised: Decimal,
    *,
    rounding: Callable[[Decimal], Decimal] | None = None,
) -> tuple[Decimal, Decimal]:
    """Sell ``quantity`` at ``price`` out of ``lots`` (oldest first), in place.

    Each consumed part realises ``take x (price - lot price)`` (passed through
    ``rounding`` when given), added to ``realised`` lot by lot; emptied lots are
    removed. Returns ``(realised, quantity the lots could not cover)``.
    """
    takes = fifo_take([lot.quantity for lot in lots], quantity)
    for lot, take in zip(lots, takes):
        if take == 0:
            continue
        lot.quantity -= take
        gain = take * (price - lot.price)
        realised += rounding(gain) if rounding is not None else gain
    lots[:] = [lot for lot in lots if lot.quantity != 0]
    return realised, quantity - sum(takes, Decimal(0))


@dataclass(frozen=True)
class Position:
    """A position as a trader reads it: quantity, cost, value at a mark, PnL."""

    symbol: str
    quantity: Decimal
    cost_basis: Decimal
    mark: Decimal | None
    market_value: Decimal | None
    unrealised_pnl: Decimal | None
    realised_pnl: Decimal
