"""The dry run's simulated venue, kept in the ledger between runs.

The venue's whole state is stored in the ledger's ``system_state`` in the SAME
transaction as the fills it produced, so after a crash the venue never knows a fill
the ledger does not (or the reverse): either both have it, or neither, and the order
is simply submitted again under the same id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from toolkit.engine.costs import session_cost_model

if TYPE_CHECKING:  # pragma: no cover
    import datetime as dt

    from toolkit.brokers.base import SimulatedVenue
    from toolkit.brokers.simulated import SimulatedBroker
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["broker_state_key", "load_simulated_broker", "save_venue"]


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
    ledger.set_state(broker_state_key(account, mode), venue.to_dict(), at=at)
