"""``TOOLKIT_SECRETS=vault``: one HashiCorp Vault KV v2 secret holds every name, through hvac.

Settings (environment or ``.env``): ``VAULT_ADDR`` (required), ``VAULT_TOKEN`` (required),
``VAULT_NAMESPACE`` (Vault Enterprise, optional), ``TOOLKIT_VAULT_MOUNT`` (the KV v2
mount, default ``secret``) and ``TOOLKIT_VAULT_PATH`` (the secret, default ``toolkit``):
``vault kv put secret/toolkit APCA_API_KEY_ID=... APCA_API_SECRET_KEY=...``.

The secret is read once per store (one HTTP call). A write (a refreshed Schwab token)
creates a new version with check-and-set on the version read, so a write never silently
overwrites another process's newer version; a path that does not exist yet reads as
empty and the first write creates it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from toolkit.connections.scrub import scrub_line
from toolkit.connections.secrets import ENV_CHOICE, AuditSink, SecretStore, SecretStoreError
from toolkit.errors import ParamsError

__all__ = ["VaultStore", "open_store"]

MOUNT_ENV, PATH_ENV = "TOOLKIT_VAULT_MOUNT", "TOOLKIT_VAULT_PATH"
#: Seconds a Vault call may take (hvac's default is 30; a session at 15:55 cannot wait).
TIMEOUT = 10


class VaultStore(SecretStore):
    """The keys of one KV v2 secret (``mount/path``) at ``VAULT_ADDR``."""

    backend = "vault"
    writable = True

    def __init__(self, client: Any, addr: str, mount: str, path: str, token: str, *,
                 fallback: SecretStore | None, audit: AuditSink | None) -> None:
        super().__init__({}, audit, fallback=fallback)
        self._client = client
        self.addr, self.mount, self.path = addr, mount, path
        self._token = token
        self._data: dict[str, str] | None = None
        self._version = 0  # 0: the secret does not exist yet (check-and-set creates it)

    def _failed(self, what: str, exc: Exception) -> SecretStoreError:
        """One line naming the address and the secret, the Vault message scrubbed of the token."""
        detail = scrub_line(str(exc), [self._token], 160) or type(exc).__name__
        return SecretStoreError(f"{ENV_CHOICE}=vault: {what} {self.mount}/{self.path} at VAULT_ADDR={self.addr} "
                                f"failed: {type(exc).__name__}: {detail}")

    def _read(self) -> dict[str, str]:
        if self._data is None:
            import hvac.exceptions
            import requests

            try:
                answer = self._client.secrets.kv.v2.read_secret_version(
                    path=self.path, mount_point=self.mount, raise_on_deleted_version=True)
            except hvac.exceptions.InvalidPath:
                self._data, self._version = {}, 0
                return self._data
            except (hvac.exceptions.VaultError, requests.RequestException) as exc:
                raise self._failed("reading", exc) from None
            data = answer.get("data") or {}
            self._data = {str(k): str(v) for k, v in (data.get("data") or {}).items() if v is not None}
            self._version = int((data.get("metadata") or {}).get("version") or 0)
        return self._data

    def _lookup(self, name: str) -> str | None:
        return self._read().get(name)

    def _names(self) -> Iterable[str]:
        return list(self._read())

    @property
    def where(self) -> str:
        return f"the Vault secret {self.mount}/{self.path} at {self.addr} (or the environment)"

    def store(self, name: str, value: str) -> None:
        import hvac.exceptions
        import requests

        data = {**self._read(), name: value}
        try:
            answer = self._client.secrets.kv.v2.create_or_update_secret(
                path=self.path, secret=data, cas=self._version, mount_point=self.mount)
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            raise self._failed(f"writing {name} to", exc) from None
        self._data = data
        self._version = int(((answer or {}).get("data") or {}).get("version") or self._version + 1)


def open_store(settings: Mapping[str, str], *, fallback: SecretStore | None, audit: AuditSink | None) -> VaultStore:
    import hvac

    addr = (settings.get("VAULT_ADDR") or "").strip()
    if not addr.startswith(("http://", "https://")):
        raise ParamsError("VAULT_ADDR", addr or None, f"the address of the Vault server, e.g. "
                                                      f"https://vault.example.com:8200 ({ENV_CHOICE}=vault)")
    token = (settings.get("VAULT_TOKEN") or "").strip()
    if not token:  # never shown: only its absence is
        raise ParamsError("VAULT_TOKEN", None, f"a Vault token in the environment or .env ({ENV_CHOICE}=vault)")
    mount = (settings.get(MOUNT_ENV) or "").strip().strip("/") or "secret"
    path = (settings.get(PATH_ENV) or "").strip().strip("/") or "toolkit"
    client = hvac.Client(url=addr, token=token, namespace=(settings.get("VAULT_NAMESPACE") or "").strip() or None,
                         timeout=TIMEOUT)
    return VaultStore(client, addr, mount, path, token, fallback=fallback, audit=audit)
