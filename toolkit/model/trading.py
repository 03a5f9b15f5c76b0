"""Where an order goes, which way it trades and how it is priced: the small enums.

They are ``str`` enums so that a stored or configured string (``"buy"``,
``"offline_mock"``) compares and hashes equal to its member; format them with
``.value`` (``f"{side}"`` prints the member name).
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

__all__ = ["OrderSide", "OrderType", "TimeInForce", "TradingMode", "TradingModeName"]


class TradingMode(str, Enum):
    """Where orders go; stored on every order, fill and snapshot (DESIGN.md, Trading modes)."""

    OFFLINE_MOCK = "offline_mock"
    PAPER = "paper"
    ONLINE_LIVE = "online_live"


#: The three modes as a type for params models (a test keeps it equal to the enum).
TradingModeName = Literal["offline_mock", "paper", "online_live"]


class OrderSide(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the direction of the position change."""
        return 1 if self is OrderSide.BUY else -1


class OrderType(str, Enum):
    """How an order is priced. The simulated broker treats every type but ``limit`` as a market order."""

    MARKET = "market"
    LIMIT = "limit"
    MARKET_ON_OPEN = "market_on_open"
    MARKET_ON_CLOSE = "market_on_close"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"
    #: An entry (market, or limit with ``limit_price``) with a take-profit limit and a stop-loss exit.
    BRACKET = "bracket"


class TimeInForce(str, Enum):
    """How long an order stays working at the broker (the session loop uses ``day``)."""

    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"
