"""The deterministic client order id: the idempotency key of promise 4 (nothing lost, nothing doubled).

The same (strategy, account, session, execution time, symbol, side) always gives the
same id, so a re-run or a resumed run re-submits under the same id and the broker
(simulated or real) answers with the existing order instead of placing a second one.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pandas as pd

from toolkit.errors import InvalidInput
from toolkit.model.execution_time import ExecutionTime
from toolkit.model.trading import OrderSide

__all__ = ["CLIENT_ORDER_ID_MAX_LEN", "client_order_id"]

_SLUG = re.compile(r"[^A-Za-z0-9]+")
#: Upper bound of :func:`client_order_id` (Alpaca accepts 128; shorter ids read better).
CLIENT_ORDER_ID_MAX_LEN = 48


def _slug(text: str, width: int) -> str:
    return _SLUG.sub("", text)[:width] or "x"


def _session_iso(session_date: Any) -> str:
    try:
        ts = pd.Timestamp(session_date)
    except (TypeError, ValueError):
        raise InvalidInput("session_date", session_date, "a date such as '2018-11-23'") from None
    if ts is pd.NaT:
        raise InvalidInput("session_date", session_date, "a date such as '2018-11-23'")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize().date().isoformat()


def client_order_id(
    strategy: str,
    account: str,
    session_date: Any,
    execution_time: ExecutionTime | str,
    symbol: str,
    side: OrderSide | str,
) -> str:
    """The deterministic idempotency key of one order.

    ``<strategy>-<YYYYMMDD>-<exec>-<symbol>-<B|S>-<12 hex of sha256>``, at most 48
    characters, only ``[A-Za-z0-9-]`` (safe for Alpaca, Schwab and file names).
    The readable prefix is for humans; uniqueness comes from the hash of the full,
    untruncated tuple. The account appears only inside the hash, so account numbers
    never show up in order ids, logs or broker dashboards.

    Because the key has no quantity in it, a run that decides again for the same
    session, execution time, symbol and side re-uses the id, and the broker returns
    the order already placed: a re-run can never double an order. A deliberate second
    order in the same slot needs a different strategy or account label.
    """
    for name, value in (("strategy", strategy), ("account", account), ("symbol", symbol)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(name, value, "a non-empty string")
    when = ExecutionTime.parse(execution_time)
    try:
        side_v = OrderSide(side)
    except ValueError:
        raise InvalidInput("side", side, "'buy' or 'sell'") from None
    session = _session_iso(session_date)
    canonical = "\x1f".join(["v1", strategy, account, session, when.value, symbol, side_v.value])
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    readable = "-".join(
        [
            _slug(strategy, 10),
            session.replace("-", ""),
            when.code,
            _slug(symbol, 8),
            "B" if side_v is OrderSide.BUY else "S",
        ]
    )
    out = f"{readable}-{digest}"
    assert len(out) <= CLIENT_ORDER_ID_MAX_LEN, out  # 10+8+3+8+1+12+5 separators = 47
    return out
