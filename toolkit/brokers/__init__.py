"""Brokers: the :class:`Broker` interface, the :class:`SimulatedVenue` hooks and the implementations.

Only the interface is imported here; concrete brokers (``toolkit.brokers.simulated``,
later alpaca and schwab) are imported by whoever uses them, so naming the package
never imports an SDK the run does not use. Brokers speak :mod:`toolkit.model` only.
"""

from toolkit.brokers.base import Broker, OrderAck, SimulatedVenue

__all__ = ["Broker", "OrderAck", "SimulatedVenue"]
