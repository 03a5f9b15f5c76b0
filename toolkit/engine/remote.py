"""Opening a real broker by name: the one place the engine names the Alpaca and Schwab adapters.

Credentials come from the environment (promise 7), read by the adapters through
:mod:`toolkit.connections`; the adapters are imported here, on first use, so a dry run
never loads alpaca-py or schwab-py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from toolkit.errors import ParamsError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import RemoteBroker

__all__ = ["BROKERS", "open_remote_broker"]

BROKERS = ("alpaca", "schwab")


def open_remote_broker(name: str, *, mode: str, environ: Mapping[str, str] | None = None) -> RemoteBroker:
    """The adapter ``name`` for ``mode`` (paper / online_live), credentials from ``environ``."""
    if name == "alpaca":
        from toolkit.brokers.alpaca import AlpacaBroker

        return AlpacaBroker.from_env(paper=mode == "paper", environ=environ)
    if name == "schwab":
        if mode != "online_live":
            raise ParamsError("mode", mode, "online_live with Schwab (it has no paper account)")
        from toolkit.brokers.schwab import SchwabBroker

        return SchwabBroker.from_env(environ)
    raise ParamsError("broker", name, "one of " + ", ".join(BROKERS))
