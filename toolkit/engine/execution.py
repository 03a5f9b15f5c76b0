"""Send a run's recorded orders to the broker and hand the broker's events to the ledger.

Promise 4 (nothing lost, nothing doubled) at the broker boundary: every order is
already in the ledger as ``new``; its id is deterministic, and the broker is asked
by id before anything is (re)submitted, so a crash between submit and the ledger
write never doubles an order. What the broker did is the order's event list, which
the ledger applies idempotently, in the same transaction as the simulated venue's
new state.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from toolkit.brokers.base import Broker, RemoteBroker, SimulatedVenue
from toolkit.engine.crash import crash_point
from toolkit.engine.result import SessionError
from toolkit.engine.venue import save_venue
from toolkit.model import Order, OrderCancelled

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.engine.guards import RiskEngine
    from toolkit.ledger import Ledger, OrderRecord
    from toolkit.time import Clock

__all__ = ["execute", "record_outcome"]


def execute(
    *,
    account: str,
    mode: str,
    ledger: Ledger,
    broker: Broker,
    risk: RiskEngine,
    pending: list[OrderRecord],
    prices: dict[str, Decimal],
    clock: Clock,
    now: dt.datetime,
    volumes: dict[str, float] | None = None,
) -> None:
    """Send each pending order (unless the broker has it already) and record what the broker did.

    A simulated venue is first told the market (``prices`` and ``volumes``). With a
    participation cap (``volumes`` given) an order may fill only in part; the session
    then ends at the venue, which cancels the remainders, and the ledger records
    those cancellations. An order whose quote moved past the slippage limit since the
    decision (at a real broker: its latest trade just before the submit) is cancelled
    in the ledger and never sent.
    """
    venue = broker if isinstance(broker, SimulatedVenue) else None
    if venue is not None:
        venue.set_market(dict(prices), volumes, at=clock.now())
    for o in pending:
        coid = o.client_order_id
        order = o.to_order()
        if isinstance(broker, RemoteBroker):
            broker.check_order(order)  # an order type the broker does not take: refused before anything is sent
        if broker.find_order(order) is None:  # promise 8: ask before every (re)submit
            quote = _quote_now(broker, o.symbol, prices)
            ref = o.decision_price
            if quote is not None and ref is not None and not risk.slippage_ok(ref, quote):
                reason = (f"slippage_abort: {o.side} {o.quantity} {o.symbol} quote {quote} vs decision "
                          f"price {ref} > limit {risk.settings.slippage_abort}")
                with ledger.transaction():
                    ledger.apply(OrderCancelled(coid, reason), at=now)
                    ledger.audit("guard_block", {"run_key": o.run_key, "account": account, "guard": "slippage_abort",
                                                 "reason": reason}, at=now)
                continue
            ack = broker.submit_order(order)
            crash_point("broker_submitted")
            if not ack.accepted:  # refused: the ack holds the rejection (a broker may keep no refused order)
                record_outcome(ledger, broker, coid, now, account=account, mode=mode, order=ack.order)
                crash_point("fills_recorded")
                continue
        record_outcome(ledger, broker, coid, now, account=account, mode=mode)
        crash_point("fills_recorded")
    if volumes is not None and venue is not None:
        venue.end_session()
        for o in pending:
            if broker.get_order(o.client_order_id) is not None:
                record_outcome(ledger, broker, o.client_order_id, now, account=account, mode=mode)


def _quote_now(broker: Broker, symbol: str, prices: dict[str, Decimal]) -> Decimal | None:
    """The price an order would meet now: a real broker's latest trade, else the session's price."""
    if isinstance(broker, RemoteBroker):
        quote = broker.latest_trades([symbol]).get(symbol)
        if quote is not None:
            return quote.price
    return prices.get(symbol)


def record_outcome(ledger: Ledger, broker: Broker, client_order_id: str, now: dt.datetime, *, account: str,
                   mode: str, order: Order | None = None) -> None:
    """The broker's events of one order -> the ledger, with a simulated venue's state, in one transaction.

    ``account`` and ``mode`` name the ledger slot of the venue's state; ``order`` is
    the broker's view when the caller has just asked for it (else it is asked here).
    """
    if order is None:
        order = broker.get_order(client_order_id)
    if order is None:  # pragma: no cover - a broker that forgot an order it acknowledged
        raise SessionError(f"order {client_order_id}: the broker does not know it after submit; "
                           "check the broker, then run again")
    with ledger.transaction():
        for event in order.events:
            ledger.apply(event, at=now)
        if isinstance(broker, SimulatedVenue):
            save_venue(ledger, broker, account=account, mode=mode, at=now)
