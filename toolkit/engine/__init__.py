"""The trading loop shared by dry run, replay and live: translator, risk guards, the session.

Dry run, replay and live all go decision -> :func:`translate` -> :class:`RiskEngine`
-> :class:`~toolkit.brokers.base.Broker`, with the same code at each step; only the
clock and the broker differ. The vocabulary (orders, fills, money) is
:mod:`toolkit.model`'s, the calendar and clocks are :mod:`toolkit.time`'s.
"""

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
from toolkit.engine.translator import OrderIntent, OrderIntents, SkippedIntent, translate

__all__ = [
    "BlockedIntent",
    "GuardBreach",
    "GuardReport",
    "GuardSettings",
    "MarketState",
    "OrderIntent",
    "OrderIntents",
    "PortfolioState",
    "RiskEngine",
    "SkippedIntent",
    "slippage_ok",
    "translate",
]
