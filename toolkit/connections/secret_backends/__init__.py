"""The secret store's backends, one module each, chosen by name (``TOOLKIT_SECRETS``).

Like papermill's engines, a backend is a small module behind a registry: the name maps
to the module that opens it, imported only when chosen, so a dry run never loads hvac,
boto3 or keyring. Every backend reads its own settings from ``settings`` (the
environment and ``.env``), never from params, and asks ``fallback`` for what it lacks.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.connections.secrets import AuditSink, SecretStore

__all__ = ["MODULES", "open_backend"]

#: Backend name -> the module whose ``open_store(settings, *, fallback, audit)`` opens it.
MODULES = {
    "keyring": "toolkit.connections.secret_backends.keyring_store",
    "vault": "toolkit.connections.secret_backends.vault_store",
    "aws": "toolkit.connections.secret_backends.aws_store",
}


def open_backend(name: str, *, settings: Mapping[str, str], fallback: SecretStore | None,
                 audit: AuditSink | None) -> SecretStore:
    """The store of backend ``name`` (one of :data:`MODULES`)."""
    module = importlib.import_module(MODULES[name])
    store: SecretStore = module.open_store(settings, fallback=fallback, audit=audit)
    return store
