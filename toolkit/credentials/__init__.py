"""Credentials of the services the toolkit talks to, read where they live and nowhere else.

Promise 7: secrets never leave the process. They come from the environment (later a
secret store), never from params, notebooks or outputs; every object here hides its
secret fields from ``repr`` and every error names the missing VARIABLE, never a value.
This package sits below ``brokers`` and ``data`` (it imports only ``errors``), so the
Alpaca and Schwab adapters and the data sources read credentials the same way.
"""

from toolkit.credentials.alpaca import AlpacaCredentials
from toolkit.credentials.schwab import (
    SchwabCredentials,
    TokenFileLock,
    TokenHealth,
    open_schwab_client,
    token_days_left,
    token_health,
)

__all__ = ["AlpacaCredentials", "SchwabCredentials", "TokenFileLock", "TokenHealth", "open_schwab_client",
           "token_days_left", "token_health"]
