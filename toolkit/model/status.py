"""Order statuses and the ONE table of legal moves between them.

Both the in-memory :class:`~toolkit.model.Order` and the ledger's stored orders move
by this table; nothing else in the toolkit says which move is legal.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["TRANSITIONS", "OrderStatus", "allowed_from"]


class OrderStatus(str, Enum):
    NEW = "new"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """No further transition is possible (filled, cancelled, rejected)."""
        return not TRANSITIONS[self]

    @property
    def is_open(self) -> bool:
        """The order may still fill (submitted or partially filled)."""
        return self in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


#: The order state machine: from-status -> statuses it may move to. Nothing ever moves
#: back to ``new``; the three terminal statuses move nowhere.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset({OrderStatus.SUBMITTED, OrderStatus.REJECTED, OrderStatus.CANCELLED}),
    OrderStatus.SUBMITTED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED}
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}


def allowed_from(status: OrderStatus) -> tuple[str, ...]:
    """The statuses ``status`` may move to, as values in the enum's order (for messages)."""
    return tuple(s.value for s in OrderStatus if s in TRANSITIONS[status])
