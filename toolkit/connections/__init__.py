"""Credentials and HTTP connections to the brokers' APIs: where keys come from, timeouts, no blind retries,
errors without secrets.

Promise 7: secrets never leave the process. They come from the secret store
(:mod:`.secrets`: the environment and ``.env``, a keyring, Vault or AWS Secrets Manager),
never from params, notebooks or outputs; every object here hides its
secret fields from ``repr`` and every error names the missing VARIABLE, never a value,
and every piece of a broker's answer shown in a message is scrubbed (:mod:`.scrub`).
Promise 8: no request is retried behind the caller's back (:mod:`.alpaca_http` switches
alpaca-py's own retry off; :mod:`.schwab_calls` checks every schwab-py answer).

This package sits below ``brokers`` and ``data`` (it imports only ``errors``), so the
Alpaca and Schwab adapters and the data sources read credentials, time out and report
errors the same way. Only the credentials are imported here: :mod:`.alpaca_http` and
:mod:`.schwab_calls` load alpaca-py and schwab-py, and are imported where they are used.
"""

from toolkit.connections.alpaca import AlpacaCredentials
from toolkit.connections.schwab import (
    SchwabCredentials,
    TokenFileLock,
    TokenHealth,
    open_schwab_client,
    token_days_left,
    token_health,
)

__all__ = ["AlpacaCredentials", "SchwabCredentials", "TokenFileLock", "TokenHealth", "open_schwab_client",
           "token_days_left", "token_health"]
