"""The secret store: where credentials come from (contract; backends land with issue 12).

Every credential the toolkit reads (broker keys, a Schwab token, alert URLs) is looked
up by name through a :class:`SecretStore`. It is a read-only ``Mapping[str, str]``, so
the broker adapters, which already take an ``environ`` mapping, read through it unchanged.
Backends: the process environment and a ``.env`` file (the default), the system keyring,
HashiCorp Vault and AWS Secrets Manager. Each lookup is reported to an audit callback
with the name and backend, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

__all__ = ["AuditSink", "SecretStore", "open_secret_store"]

#: ``audit(name, backend, found)``: called once per lookup; never given the value.
AuditSink = Callable[[str, str, bool], None]


class SecretStore(Mapping[str, str]):
    """Credentials by name from one backend (this base: a plain mapping such as ``os.environ``)."""

    backend = "env"

    def __init__(self, values: Mapping[str, str], audit: AuditSink | None = None) -> None:
        self._values = values
        self._audit = audit

    def __getitem__(self, name: str) -> str:
        value = self._values.get(name)
        if self._audit is not None:
            self._audit(name, self.backend, value is not None)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def open_secret_store(environ: Mapping[str, str] | None = None, audit: AuditSink | None = None) -> SecretStore:
    """The store that ``TOOLKIT_SECRETS`` names (default: the environment)."""
    return SecretStore(os.environ if environ is None else environ, audit)
