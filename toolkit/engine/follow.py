"""Following a real broker's orders to the end (issue: partial fills assumed complete).

A real order is not done when it is accepted: it may fill in parts, over minutes, and
the reports of its fills may arrive twice or out of order. :func:`follow_orders` asks
the broker about every open order of the session until each is filled, cancelled or
rejected, recording what the broker did each time (the ledger applies events
idempotently, so a fill reported twice is recorded once). At the deadline (the
params' ``order_timeout_seconds``, never past the session's close) the remainder of
each open order is cancelled by policy and the cancellation recorded; an order whose
cancel the broker has not confirmed yet is left to the next session's reconciliation,
which catches it up before anything else.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.engine.execution import record_outcome

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import Broker
    from toolkit.ledger import Ledger
    from toolkit.time import Clock

__all__ = ["FollowPolicy", "follow_orders"]

#: Polls after a cancel request before the order is left to the next reconciliation.
CANCEL_POLLS = 5


@dataclass(frozen=True)
class FollowPolicy:
    """How often to ask, until when, and how to wait (injected: tests do not really sleep)."""

    poll_seconds: float
    deadline: pd.Timestamp
    sleep: Callable[[float], None] = time.sleep


def follow_orders(*, ledger: Ledger, broker: Broker, client_order_ids: list[str], clock: Clock,
                  policy: FollowPolicy, account: str, mode: str, now: dt.datetime) -> list[str]:
    """Record every open order's progress until all are terminal or the deadline; cancel the rest.

    Returns messages for the report (what was cancelled, what is still pending).
    """
    messages: list[str] = []
    pending = _poll(ledger, broker, client_order_ids, account=account, mode=mode, now=now)
    while pending and clock.now() < policy.deadline:
        policy.sleep(policy.poll_seconds)
        pending = _poll(ledger, broker, pending, account=account, mode=mode, now=now)
    if not pending:
        return messages
    for coid in pending:
        broker.cancel(coid)
        messages.append(f"order {coid}: still open at {policy.deadline.isoformat()}; the remainder was cancelled "
                        "(order_timeout_seconds or the session's close)")
    for _ in range(CANCEL_POLLS):
        pending = _poll(ledger, broker, pending, account=account, mode=mode, now=now)
        if not pending:
            break
        policy.sleep(policy.poll_seconds)
    for coid in pending:
        messages.append(f"order {coid}: the broker has not confirmed the cancel yet; the next session's "
                        "reconciliation records how it ended before anything else")
    return messages


def _poll(ledger: Ledger, broker: Broker, coids: list[str], *, account: str, mode: str,
          now: dt.datetime) -> list[str]:
    still = []
    for coid in coids:
        order = broker.get_order(coid)
        if order is None:
            continue  # never reached the broker (a slippage abort): nothing to follow
        record_outcome(ledger, broker, coid, now, account=account, mode=mode, order=order)
        if not order.is_terminal:
            still.append(coid)
    return still
