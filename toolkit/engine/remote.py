"""Opening a real broker by name: the one place the engine names the Alpaca and Schwab adapters.

Credentials come from the secret store (promise 7: the environment and ``.env`` by
default, or the keyring, Vault or AWS Secrets Manager that ``TOOLKIT_SECRETS`` names),
read by the adapters through :mod:`toolkit.connections`. With a ledger at hand every
lookup is recorded in its audit log (action ``secret_read``: the name, the backend,
found or not; never the value). The adapters are imported here, on first use, so a dry
run never loads alpaca-py or schwab-py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from toolkit.connections.secrets import AuditSink, open_secret_store
from toolkit.errors import ParamsError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import RemoteBroker
    from toolkit.ledger import Ledger

__all__ = ["BROKERS", "SECRET_READ", "ledger_secret_audit", "open_remote_broker"]

#: The audit-log action of one secret lookup.
SECRET_READ = "secret_read"

BROKERS = ("alpaca", "schwab")


def ledger_secret_audit(ledger: Ledger) -> AuditSink:
    """An audit sink writing each lookup to ``ledger``'s audit log: name, backend, found; never the value."""

    def record(name: str, backend: str, found: bool) -> None:
        ledger.audit(SECRET_READ, {"name": name, "backend": backend, "found": found})

    return record


def open_remote_broker(name: str, *, mode: str, environ: Mapping[str, str] | None = None,
                       ledger: Ledger | None = None) -> RemoteBroker:
    """The adapter ``name`` for ``mode`` (paper / online_live), credentials from ``environ``, by default
    the secret store (its lookups audited in ``ledger`` when one is given)."""
    if environ is None:
        environ = open_secret_store(audit=ledger_secret_audit(ledger) if ledger is not None else None)
    if name == "alpaca":
        from toolkit.brokers.alpaca import AlpacaBroker

        return AlpacaBroker.from_env(paper=mode == "paper", environ=environ)
    if name == "schwab":
        if mode != "online_live":
            raise ParamsError("mode", mode, "online_live with Schwab (it has no paper account)")
        from toolkit.brokers.schwab import SchwabBroker

        return SchwabBroker.from_env(environ)
    raise ParamsError("broker", name, "one of " + ", ".join(BROKERS))
