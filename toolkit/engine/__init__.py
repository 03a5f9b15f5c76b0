"""The trading loop's shared parts: clock, calendar, orders, translator, risk guards.

Dry run, replay and live all go decision -> :func:`translate` -> :class:`RiskEngine`
-> :class:`~toolkit.brokers.base.Broker`, with the same code at each step; only the
clock and the broker differ. Importing this package is cheap: ``exchange_calendars``
loads on the first calendar query.
"""

from toolkit.engine.calendar import (
    EXECUTION_TIMES,
    execution_instant,
    expected_bar_date,
    is_session,
    last_bar_is_fresh,
    next_session,
    previous_session,
    session_date,
    sessions_in_range,
)
from toolkit.engine.clock import Clock, FixedClock, SystemClock
from toolkit.engine.guards import (
    BlockedIntent,
    GuardBreach,
    GuardReport,
    GuardSettings,
    MarketState,
    PortfolioState,
    RiskEngine,
    slippage_ok,
)
from toolkit.engine.orders import (
    TRANSITIONS,
    Fill,
    IllegalTransition,
    InvalidInput,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    TradingMode,
    client_order_id,
)
from toolkit.engine.translator import CostModel, InstrumentSpec, OrderIntent, OrderIntents, SkippedIntent, translate

__all__ = [
    "EXECUTION_TIMES",
    "TRANSITIONS",
    "BlockedIntent",
    "Clock",
    "CostModel",
    "Fill",
    "FixedClock",
    "GuardBreach",
    "GuardReport",
    "GuardSettings",
    "IllegalTransition",
    "InstrumentSpec",
    "InvalidInput",
    "MarketState",
    "Order",
    "OrderIntent",
    "OrderIntents",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PortfolioState",
    "RiskEngine",
    "SkippedIntent",
    "SystemClock",
    "TradingMode",
    "client_order_id",
    "execution_instant",
    "expected_bar_date",
    "is_session",
    "last_bar_is_fresh",
    "next_session",
    "previous_session",
    "session_date",
    "sessions_in_range",
    "slippage_ok",
    "translate",
]
