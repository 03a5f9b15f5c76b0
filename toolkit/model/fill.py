"""One execution against an order, as the broker reports it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from toolkit.model.trading import OrderSide, TradingMode

__all__ = ["Fill"]


@dataclass(frozen=True)
class Fill:
    """One execution against an order. ``price`` includes slippage; ``fee`` is separate.

    Amounts are exact (a simulated broker computes at 50 digits); the ledger rounds
    them to its 6 places when it records the fill.
    """

    fill_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    timestamp: pd.Timestamp
    mode: TradingMode = TradingMode.OFFLINE_MOCK

    @property
    def notional(self) -> Decimal:
        """quantity x price (before fees)."""
        return self.quantity * self.price

    @property
    def cash_flow(self) -> Decimal:
        """Signed cash effect: negative for a buy, positive for a sell, net of the fee."""
        return -self.side.sign * self.notional - self.fee

    def to_dict(self) -> dict[str, Any]:
        return {
            "fill_id": self.fill_id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": str(self.quantity),
            "price": str(self.price),
            "fee": str(self.fee),
            "timestamp": None if self.timestamp is None else self.timestamp.isoformat(),
            "mode": self.mode.value,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fill:
        return cls(
            fill_id=d["fill_id"],
            client_order_id=d["client_order_id"],
            symbol=d["symbol"],
            side=OrderSide(d["side"]),
            quantity=Decimal(d["quantity"]),
            price=Decimal(d["price"]),
            fee=Decimal(d["fee"]),
            timestamp=pd.Timestamp(d["timestamp"]),
            mode=TradingMode(d["mode"]),
        )
