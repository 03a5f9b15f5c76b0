"""Reading named variables from an environment mapping, with one message for what is missing.

The default mapping is the secret store (:func:`toolkit.connections.secrets.open_secret_store`):
``TOOLKIT_SECRETS`` decides whether a name comes from the environment and ``.env``, the
keyring, Vault or AWS Secrets Manager, and every adapter reads through it unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from toolkit.connections.secrets import SecretStore, open_secret_store
from toolkit.errors import BrokerAuthError

__all__ = ["environment", "require"]


def environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """``environ``, or the secret store ``TOOLKIT_SECRETS`` names (tests pass their own mapping)."""
    return open_secret_store() if environ is None else environ


def require(service: str, environ: Mapping[str, str], names: tuple[str, ...], how: str) -> list[str]:
    """The values of ``names`` (each looked up once), or a :class:`BrokerAuthError` naming every missing
    one and where to put it (never a value)."""
    values = {n: (environ.get(n) or "").strip() for n in names}
    missing = [n for n, v in values.items() if not v]
    if missing:
        where = environ.where if isinstance(environ, SecretStore) else "the environment"
        raise BrokerAuthError(service, f"credentials missing: set {', '.join(missing)} in {where} ({how}); "
                                       "they are never read from params files or notebooks")
    return [values[n] for n in names]
