"""The dry run's simulated venue, kept in the ledger between runs.

The venue's whole state is stored in the ledger's ``system_state`` in the SAME
transaction as the fills it produced, so after a crash the venue never knows a fill
the ledger does not (or the reverse): either both have it, or neither, and the order
is simply submitted again under the same id.

A save per order of a replay must not cost more as the history grows (it used to
convert every past order and fill each time, making a replay of N sessions
quadratic). So the orders and fills that never change again
(:meth:`~toolkit.brokers.base.SimulatedVenue.settled_counts`) are converted once per
venue and reused, and the ledger writes the state of a key saved many times in one
transaction (a replay batch) only at its first save and at the commit: the stored
row is the same, value and time, as if every save had been written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from toolkit.engine.costs import session_cost_model

if TYPE_CHECKING:  # pragma: no cover
    import datetime as dt

    from toolkit.brokers.base import SimulatedVenue
    from toolkit.brokers.simulated import SimulatedBroker
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["broker_state_key", "load_simulated_broker", "save_venue", "venue_state"]


def broker_state_key(account: str, mode: str) -> str:
    """``system_state`` key holding the simulated broker of one account and mode."""
    return f"broker:simulated:{account}:{mode}"


def load_simulated_broker(ledger: Ledger, params: DailyDryRunParams) -> SimulatedBroker:
    """The account's simulated broker as the ledger last stored it, or a fresh one.

    Fresh: funded with ``initial_cash`` and charging the params' fees and slippage
    (the same :class:`~toolkit.model.CostModel` the translator sizes with, so no buy
    is rejected). The one place the engine names a concrete broker, imported here
    so that the session path itself knows only the interface.
    """
    from toolkit.brokers.simulated import SimulatedBroker

    stored = ledger.get_state(broker_state_key(params.account, params.mode))
    if stored:
        return SimulatedBroker.from_dict(stored)
    costs = session_cost_model(params.costs)
    return SimulatedBroker(
        initial_cash=Decimal(str(params.initial_cash)),
        fee_bps=costs.fee_bps,
        slippage_bps=costs.slippage_bps,
        fixed_fee=costs.fixed_fee,
        max_participation=params.broker.max_participation,
        instruments={s: spec.spec() for s, spec in params.instruments.items()} or None,
        mode=params.mode,
    )


def save_venue(ledger: Ledger, venue: SimulatedVenue, *, account: str, mode: str, at: dt.datetime) -> None:
    """Store the venue's state (call inside the transaction that records its fills)."""
    ledger.set_state(broker_state_key(account, mode), venue_state(venue), at=at, coalesce=True)


@dataclass
class _Settled:
    """JSON-safe dicts of a venue's leading settled orders and fills (shared, never changed)."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)


_SETTLED: WeakKeyDictionary[SimulatedVenue, _Settled] = WeakKeyDictionary()


def venue_state(venue: SimulatedVenue) -> dict[str, Any]:
    """``venue.to_dict()``, converting each settled order and fill only once per venue.

    The result shares those dicts with later results: treat it as read-only.
    """
    settled = _SETTLED.setdefault(venue, _Settled())
    n_orders, n_fills = venue.settled_counts()
    for done, n, kind in ((settled.orders, n_orders, "orders"), (settled.fills, n_fills, "fills")):
        if len(done) < n:
            done.extend(venue.history_dicts(kind, len(done), n))
    state = venue.to_dict(orders_from=n_orders, fills_from=n_fills)
    state["orders"] = settled.orders[:n_orders] + state["orders"]
    state["fills"] = settled.fills[:n_fills] + state["fills"]
    return state
