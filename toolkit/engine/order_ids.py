"""The ledger as a broker's :class:`~toolkit.brokers.base.OrderIdBook` (promise 8, Schwab).

A broker without client order ids writes its own order id here the moment it knows
it; each write is its own committed transaction, so a crash one instruction later
still finds the id and never sends the order again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import Ledger

__all__ = ["LedgerOrderIdBook"]


class LedgerOrderIdBook:
    """Our ``client_order_id`` -> the broker's order id, kept in the ledger's orders table."""

    def __init__(self, ledger: Ledger, *, account: str, mode: str) -> None:
        self.ledger = ledger
        self.account = account
        self.mode = mode

    def broker_order_id(self, client_order_id: str) -> str | None:
        return self.ledger.broker_order_id_of(client_order_id)

    def remember(self, client_order_id: str, broker_order_id: str) -> None:
        if self.ledger.in_transaction:  # the id must be durable now, not with an enclosing commit
            raise RuntimeError("remember() inside a ledger transaction: the broker id would not be durable yet")
        self.ledger.remember_broker_order_id(client_order_id, broker_order_id)

    def claimed(self) -> set[str]:
        return self.ledger.claimed_broker_order_ids(self.account, self.mode)
