"""What the ledger keeps about a real broker: its order ids, live confirmations, adopted cash.

* A broker without client order ids (Schwab) is matched by its own order id, which
  must be durable the moment it is known (promise 8): :meth:`remember_broker_order_id`
  commits it on its own, before the engine does anything else.
* Real money needs an explicit, recorded confirmation per account (``toolkit live
  confirm``): :meth:`confirm_live` writes it to the audit log and the system state.
* When a session is told to adopt the broker's state (``reconcile: adopt_broker``),
  the ledger's cash is moved to the broker's by :meth:`adopt_cash`: the difference
  is booked as a change of funding (initial cash), so the re-derived accounting
  (cash = initial + fills) still holds, and it is audited.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from toolkit.ledger.checks import choice, non_negative, text
from toolkit.ledger.control import ControlMixin
from toolkit.ledger.errors import LedgerError
from toolkit.ledger.lifecycle import MODES, live_confirmation_key
from toolkit.ledger.models import AuditLogRow, CashBalanceRow, OrderRow, SystemStateRow

__all__ = ["BrokerStateMixin", "live_confirmation_key"]


class BrokerStateMixin(ControlMixin):
    """Broker order ids, live confirmations and cash adoption of :class:`toolkit.ledger.Ledger`."""

    def remember_broker_order_id(self, client_order_id: str, broker_order_id: str, *,
                                 at: datetime | None = None) -> None:
        """Store the broker's id of our order, committed before returning (idempotent).

        A different id already stored for the order is refused: two broker orders for
        one of ours is exactly the duplicate this record exists to prevent.
        """
        text("client_order_id", client_order_id)
        text("broker_order_id", broker_order_id)
        when = self._at(at)
        with self.transaction() as s:
            row = s.scalar(select(OrderRow).where(OrderRow.client_order_id == client_order_id))
            if row is None:
                raise LedgerError(f"client_order_id: no order {client_order_id!r} in the ledger")
            if row.broker_order_id not in (None, broker_order_id):
                raise LedgerError(f"order {client_order_id}: broker order id is already {row.broker_order_id}, "
                                  f"got {broker_order_id}; two broker orders for one order: check the broker")
            if row.broker_order_id is None:
                row.broker_order_id = broker_order_id
                row.updated_at = when
            s.flush()

    def broker_order_id_of(self, client_order_id: str) -> str | None:
        """The broker's id of our order, or None when none was recorded."""
        with self._reading() as s:
            return s.scalar(select(OrderRow.broker_order_id).where(OrderRow.client_order_id == client_order_id))

    def claimed_broker_order_ids(self, account: str, mode: str) -> set[str]:
        """Every broker order id already bound to an order of ``account`` in ``mode``."""
        with self._reading() as s:
            q = select(OrderRow.broker_order_id).where(OrderRow.account == account, OrderRow.mode == mode,
                                                      OrderRow.broker_order_id.is_not(None))
            return {str(v) for v in s.scalars(q)}

    # ----------------------------------------------------------------- live confirmation

    def confirm_live(self, account: str, *, actor: str, at: datetime | None = None) -> dict[str, Any]:
        """Record that ``actor`` confirmed real-money trading on ``account`` (audit log + state)."""
        text("account", account)
        text("actor", actor)
        when = self._at(at)
        value = {"account": account, "user": actor, "at": when.isoformat()}
        with self.transaction() as s:
            self._put_state(s, live_confirmation_key(account), value, when)
            s.add(AuditLogRow(at=when, actor=actor, action="live_confirmed", detail=value))
            s.flush()
        return value

    def live_confirmation(self, account: str) -> dict[str, Any] | None:
        """The recorded confirmation of ``account`` (user and time), or None."""
        with self._reading() as s:
            row = s.get(SystemStateRow, live_confirmation_key(account))
            return None if row is None else dict(row.value)

    # ----------------------------------------------------------------- adoption

    def adopt_cash(self, account: str, mode: str, amount: Decimal, *, reason: str, actor: str = "toolkit",
                   at: datetime | None = None) -> Decimal:
        """Set the account's cash to the broker's ``amount``; returns the difference booked (audited)."""
        text("account", account)
        choice("mode", mode, MODES)
        value = non_negative("amount", amount)
        text("reason", reason)
        when = self._at(at)
        with self.transaction() as s:
            row = s.scalar(select(CashBalanceRow).where(CashBalanceRow.account == account,
                                                        CashBalanceRow.mode == mode))
            if row is None:
                row = CashBalanceRow(account=account, mode=mode, initial_amount=value, amount=value, updated_at=when)
                s.add(row)
                diff = value
            else:
                diff = value - row.amount
                row.initial_amount += diff
                row.amount = value
                row.updated_at = when
            s.add(AuditLogRow(at=when, actor=actor, action="adopt_broker_cash",
                              detail={"account": account, "mode": mode, "amount": value, "difference": diff,
                                      "reason": reason}))
            s.flush()
        return diff
