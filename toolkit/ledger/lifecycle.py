"""The ledger's words for the model's vocabulary, and its own policy on top of the state machine.

The statuses, modes, sides and order types are :mod:`toolkit.model`'s enums stored
as their string values; which status may follow which is the model's ONE table
(:data:`toolkit.model.TRANSITIONS`). The ledger adds one rule of its own: fill
statuses (``partially_filled``, ``filled``) are reached only through
:meth:`toolkit.ledger.Ledger.record_fill`, which derives them from the cumulative
filled quantity, so an order can never claim a fill that the ``fills`` table does
not hold.
"""

from __future__ import annotations

from typing import Final

from toolkit.model import TRANSITIONS, OrderSide, OrderStatus, OrderType, TradingMode
from toolkit.model import allowed_from as _model_allowed_from

MODES: Final = tuple(m.value for m in TradingMode)
SIDES: Final = tuple(s.value for s in OrderSide)
ORDER_TYPES: Final = tuple(t.value for t in OrderType)

NEW: Final = OrderStatus.NEW.value
SUBMITTED: Final = OrderStatus.SUBMITTED.value
PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED.value
FILLED: Final = OrderStatus.FILLED.value
CANCELLED: Final = OrderStatus.CANCELLED.value
REJECTED: Final = OrderStatus.REJECTED.value

ORDER_STATUSES: Final = tuple(s.value for s in OrderStatus)
FILL_STATUSES: Final = (PARTIALLY_FILLED, FILLED)

RUN_STARTED: Final = "started"
RUN_COMPLETED: Final = "completed"
RUN_FAILED: Final = "failed"
RUN_MARKET_CLOSED: Final = "market_closed"
#: A halting guard (kill switch, daily loss, drawdown, stale bar) stopped every order of the session.
RUN_HALTED: Final = "halted"
#: An order guard refused some of the session's orders; the others were sent.
RUN_BLOCKED: Final = "blocked"
RUN_STATUSES: Final = (RUN_STARTED, RUN_COMPLETED, RUN_FAILED, RUN_MARKET_CLOSED, RUN_HALTED, RUN_BLOCKED)
RUN_FINISHED_STATUSES: Final = (RUN_COMPLETED, RUN_FAILED, RUN_MARKET_CLOSED, RUN_HALTED, RUN_BLOCKED)
#: Statuses :meth:`~toolkit.ledger.Ledger.start_run` opens again: a crashed, failed or halted
#: run is tried again (a halt is a condition of the moment: the kill switch may be off now).
RUN_RETRYABLE_STATUSES: Final = (RUN_STARTED, RUN_FAILED, RUN_HALTED)

KILL_SWITCH_KEY: Final = "kill_switch"


def allowed_from(status: str) -> tuple[str, ...]:
    """Statuses an order in ``status`` may move to (empty for terminal ones)."""
    return _model_allowed_from(OrderStatus(status))


def is_legal(from_status: str, to_status: str) -> bool:
    """True when the model's state machine allows ``from_status -> to_status``."""
    return OrderStatus(to_status) in TRANSITIONS[OrderStatus(from_status)]
