"""The trading vocabulary, defined once: orders and their state machine, fills, lots, money.

Every other part of the toolkit (ledger, engine, brokers, backtest) speaks these
words; this package imports nothing of the toolkit but :mod:`toolkit.errors`, so a
broker adapter or a test can use it without pulling in the engine, the ledger or the
calendar. Errors are :class:`~toolkit.errors.InvalidInput` (bad values) and
:class:`~toolkit.errors.IllegalTransition` (a move the order state machine forbids).
"""

from toolkit.model.costs import CostModel
from toolkit.model.events import OrderAccepted, OrderCancelled, OrderEvent, OrderFilled, OrderRejected
from toolkit.model.execution_time import EXECUTION_TIMES, ExecutionTime, ExecutionTimeName
from toolkit.model.fill import Fill
from toolkit.model.ids import CLIENT_ORDER_ID_MAX_LEN, client_order_id
from toolkit.model.instrument import EQUITY, Instrument
from toolkit.model.money import DECIMAL_PREC, QUANTUM, SCALE, money, qty_str, quantize, to_decimal
from toolkit.model.order import Order
from toolkit.model.position import Lot, Position, fifo_take, sell_fifo
from toolkit.model.run_status import RunStatus
from toolkit.model.sizing import SizedOrder, Sizing, SkippedOrder, booked_cash_flow, size_orders
from toolkit.model.status import TRANSITIONS, OrderStatus, allowed_from
from toolkit.model.timestamps import NEW_YORK, new_york_date, to_utc
from toolkit.model.trading import OrderSide, OrderType, TimeInForce, TradingMode, TradingModeName

__all__ = [
    "CLIENT_ORDER_ID_MAX_LEN",
    "DECIMAL_PREC",
    "EQUITY",
    "EXECUTION_TIMES",
    "NEW_YORK",
    "QUANTUM",
    "SCALE",
    "TRANSITIONS",
    "CostModel",
    "ExecutionTime",
    "ExecutionTimeName",
    "Fill",
    "Instrument",
    "Lot",
    "Order",
    "OrderAccepted",
    "OrderCancelled",
    "OrderEvent",
    "OrderFilled",
    "OrderRejected",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "RunStatus",
    "SizedOrder",
    "Sizing",
    "SkippedOrder",
    "TimeInForce",
    "TradingMode",
    "TradingModeName",
    "allowed_from",
    "booked_cash_flow",
    "client_order_id",
    "fifo_take",
    "money",
    "new_york_date",
    "qty_str",
    "quantize",
    "sell_fifo",
    "size_orders",
    "to_decimal",
    "to_utc",
]
