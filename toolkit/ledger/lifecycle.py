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

from toolkit.model import TRANSITIONS, OrderSide, OrderStatus, OrderType, RunStatus, TradingMode
from toolkit.model import allowed_from as _model_allowed_from

MODES: Final = tuple(m.value for m in TradingMode)
SIDES: Final = tuple(s.value for s in OrderSide)
#: Order types the ledger records: those whose terms it stores (a price for a limit). The
#: session sends only these; stop, trailing and bracket orders go to a broker directly.
ORDER_TYPES: Final = tuple(t.value for t in (OrderType.MARKET, OrderType.LIMIT, OrderType.MARKET_ON_OPEN,
                                              OrderType.MARKET_ON_CLOSE))

NEW: Final = OrderStatus.NEW.value
SUBMITTED: Final = OrderStatus.SUBMITTED.value
PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED.value
FILLED: Final = OrderStatus.FILLED.value
CANCELLED: Final = OrderStatus.CANCELLED.value
REJECTED: Final = OrderStatus.REJECTED.value

ORDER_STATUSES: Final = tuple(s.value for s in OrderStatus)
FILL_STATUSES: Final = (PARTIALLY_FILLED, FILLED)

#: Run statuses are the model's :class:`~toolkit.model.RunStatus` (the values the ledger stores).
RUN_STATUSES: Final = tuple(s.value for s in RunStatus)

KILL_SWITCH_KEY: Final = "kill_switch"


def live_confirmation_key(account: str) -> str:
    """``system_state`` key of an account's live-trading confirmation."""
    return f"live_confirmed:{account}"


def allowed_from(status: str) -> tuple[str, ...]:
    """Statuses an order in ``status`` may move to (empty for terminal ones)."""
    return _model_allowed_from(OrderStatus(status))


def is_legal(from_status: str, to_status: str) -> bool:
    """True when the model's state machine allows ``from_status -> to_status``."""
    return OrderStatus(to_status) in TRANSITIONS[OrderStatus(from_status)]


#: What an alert is about (``alerts.kind``): the events issue 12 asks to be told of, plus
#: ``test`` for `toolkit alerts test` (a person checking that the channels reach them).
ALERT_KINDS: Final = ("run_failed", "guard_tripped", "kill_switch_changed", "reconciliation_mismatch",
                      "token_expiry", "missed_session", "test")
