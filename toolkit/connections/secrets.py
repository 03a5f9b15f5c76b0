"""The secret store: where credentials come from.

Every credential the toolkit reads (broker keys, a Schwab token, alert URLs) is looked
up by name through a :class:`SecretStore`. It is a read-only ``Mapping[str, str]``, so
the broker adapters, which already take an ``environ`` mapping, read through it unchanged.

``TOOLKIT_SECRETS`` chooses the backend (:data:`BACKENDS`):

- ``env`` (the default): the process environment, then a ``.env`` file; a variable set in
  the environment wins over the same name in the file (:mod:`.secret_backends.dotenv_file`).
- ``keyring``: the system keyring (:mod:`.secret_backends.keyring_store`).
- ``vault``: a HashiCorp Vault KV v2 secret (:mod:`.secret_backends.vault_store`).
- ``aws``: AWS Secrets Manager, one secret per name (:mod:`.secret_backends.aws_store`).

A keyring, Vault or AWS store answers first; a name it does not hold is looked up in the
environment and ``.env`` (where settings such as ``APCA_API_BASE_URL`` or
``SCHWAB_TOKEN_PATH`` live). A backend's own settings (``VAULT_ADDR``, ``AWS_REGION``...)
come from the environment or ``.env``, never from params or notebooks.

Each lookup is reported to an audit callback with the name, the backend that answered
and whether it was found, never the value; a live session and ``toolkit broker`` send
these to the ledger's audit log (action ``secret_read``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping

from toolkit.errors import ParamsError, ToolkitError

__all__ = ["BACKENDS", "ENV_CHOICE", "AuditSink", "SecretStore", "SecretStoreError", "open_secret_store"]

#: ``audit(name, backend, found)``: called once per lookup; never given the value.
AuditSink = Callable[[str, str, bool], None]

#: The variable that chooses the backend, and the backends it may name.
ENV_CHOICE = "TOOLKIT_SECRETS"
BACKENDS = ("env", "keyring", "vault", "aws")


class SecretStoreError(ToolkitError):
    """A backend could not be asked or written (unreachable, refused, no keyring): one line
    naming the backend and its setting, never a secret value."""


class SecretStore(Mapping[str, str]):
    """Credentials by name from one backend (this base: a plain mapping such as ``os.environ``).

    Subclasses answer :meth:`_lookup` (one name, ``None`` when absent) and
    :meth:`_names`; ``fallback`` is asked for the names this backend does not hold.
    ``writable`` backends also :meth:`store` a value (a refreshed Schwab token).
    """

    backend = "env"
    writable = False

    def __init__(self, values: Mapping[str, str], audit: AuditSink | None = None, *,
                 fallback: SecretStore | None = None) -> None:
        self._values = values
        self._audit = audit
        self._fallback = fallback

    # ------------------------------------------------------------------ what a backend answers
    def _lookup(self, name: str) -> str | None:
        return self._values.get(name)

    def _names(self) -> Iterable[str]:
        return self._values

    def _found(self, name: str) -> tuple[str | None, str]:
        """The value of ``name`` and the backend that holds it (this one, or the fallback's)."""
        value = self._lookup(name)
        if value is None and self._fallback is not None:
            value, source = self._fallback._found(name)
            if value is not None:
                return value, source
        return value, self.backend

    @property
    def where(self) -> str:
        """Where a missing name should be put, for messages (never a value)."""
        return "the environment"

    # ------------------------------------------------------------------ the Mapping
    def __getitem__(self, name: str) -> str:
        value, source = self._found(name)
        if self._audit is not None:
            self._audit(name, source, value is not None)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        seen = dict.fromkeys(self._names())
        if self._fallback is not None:
            seen.update(dict.fromkeys(self._fallback))
        return iter(seen)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:  # never the values
        return f"<{type(self).__name__} backend={self.backend!r}: {self.where}>"

    # ------------------------------------------------------------------ writing (keyring, vault, aws)
    def store(self, name: str, value: str) -> None:
        """Keep ``value`` under ``name`` (a refreshed token); only writable backends can."""
        raise SecretStoreError(f"{ENV_CHOICE}={self.backend}: this backend cannot store {name}; "
                               "choose keyring, vault or aws to keep a value written back by the toolkit")


def choose_backend(environ: Mapping[str, str]) -> str:
    """The backend ``TOOLKIT_SECRETS`` names (``env`` when unset), or one clear line."""
    choice = (environ.get(ENV_CHOICE) or "").strip() or "env"
    if choice not in BACKENDS:
        raise ParamsError(ENV_CHOICE, choice, "one of " + ", ".join(BACKENDS) + " (unset: env)")
    return choice


def open_secret_store(environ: Mapping[str, str] | None = None, audit: AuditSink | None = None) -> SecretStore:
    """The store that ``TOOLKIT_SECRETS`` names (default: the environment and ``.env``).

    ``environ``: the mapping to read the choice, the backend's settings and the fallback
    values from (tests pass their own; ``None`` is the process environment, and only
    then is a ``.env`` found by searching from the current directory up).
    """
    from toolkit.connections.secret_backends import open_backend
    from toolkit.connections.secret_backends.dotenv_file import environment_store

    process = environ is None
    env = os.environ if environ is None else environ
    choice = choose_backend(env)
    base = environment_store(env, search_dotenv=process)
    if choice == "env":
        return environment_store(env, search_dotenv=process, audit=audit)
    return open_backend(choice, settings=base, fallback=base, audit=audit)
