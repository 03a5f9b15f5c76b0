"""Vocabulary of the ledger and the order state machine.

The lifecycle is a table, not scattered ``if`` statements, so the one place
that says which moves are legal is also the place tests read. Fill statuses
(``partially_filled``, ``filled``) are reached only through
:meth:`toolkit.ledger.Ledger.record_fill`, which derives them from the
cumulative filled quantity, so an order can never claim a fill that the
``fills`` table does not hold.
"""

from __future__ import annotations

from typing import Final

MODES: Final = ("offline_mock", "paper", "online_live")
SIDES: Final = ("buy", "sell")
ORDER_TYPES: Final = ("market", "limit", "market_on_open", "market_on_close")

NEW: Final = "new"
SUBMITTED: Final = "submitted"
PARTIALLY_FILLED: Final = "partially_filled"
FILLED: Final = "filled"
CANCELLED: Final = "cancelled"
REJECTED: Final = "rejected"

ORDER_STATUSES: Final = (NEW, SUBMITTED, PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED)
FILL_STATUSES: Final = (PARTIALLY_FILLED, FILLED)
TERMINAL_STATUSES: Final = (FILLED, CANCELLED, REJECTED)

#: Legal moves: from-status -> allowed to-statuses.
TRANSITIONS: Final[dict[str, tuple[str, ...]]] = {
    NEW: (SUBMITTED, REJECTED, CANCELLED),
    SUBMITTED: (PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED),
    PARTIALLY_FILLED: (PARTIALLY_FILLED, FILLED, CANCELLED),
    FILLED: (),
    CANCELLED: (),
    REJECTED: (),
}

RUN_STARTED: Final = "started"
RUN_COMPLETED: Final = "completed"
RUN_FAILED: Final = "failed"
RUN_MARKET_CLOSED: Final = "market_closed"
RUN_STATUSES: Final = (RUN_STARTED, RUN_COMPLETED, RUN_FAILED, RUN_MARKET_CLOSED)
RUN_FINISHED_STATUSES: Final = (RUN_COMPLETED, RUN_FAILED, RUN_MARKET_CLOSED)

KILL_SWITCH_KEY: Final = "kill_switch"


def allowed_from(status: str) -> tuple[str, ...]:
    """Statuses an order in ``status`` may move to (empty for terminal ones)."""
    return TRANSITIONS.get(status, ())


def is_legal(from_status: str, to_status: str) -> bool:
    """True when the lifecycle allows ``from_status -> to_status``."""
    return to_status in allowed_from(from_status)
