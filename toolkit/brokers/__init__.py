"""Brokers: the :class:`Broker` interface, a name registry and the implementations.

Only the interface and registry are imported here; concrete brokers load on demand
(:func:`create_broker`) so naming one never imports an SDK the run does not use.
"""

from toolkit.brokers.base import Broker, OrderAck, available_brokers, create_broker, register_broker

__all__ = ["Broker", "OrderAck", "available_brokers", "create_broker", "register_broker"]
