"""``TOOLKIT_SECRETS=keyring``: the system keyring (macOS Keychain, Windows Credential Locker,
Secret Service on Linux desktops), through the ``keyring`` library.

Each name is one password of the service ``$TOOLKIT_KEYRING_SERVICE`` (default
``toolkit``): ``keyring set toolkit APCA_API_KEY_ID`` stores one. ``keyring`` picks the
system's backend itself (``PYTHON_KEYRING_BACKEND`` overrides it); a headless server has
none, and then ``keyrings.alt``'s file keyring is the usual choice. A keyring cannot be
listed, so iterating the store shows only the environment's names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from toolkit.connections.secrets import ENV_CHOICE, AuditSink, SecretStore, SecretStoreError

__all__ = ["SERVICE_ENV", "KeyringStore", "open_store"]

SERVICE_ENV = "TOOLKIT_KEYRING_SERVICE"
NO_KEYRING = ("this machine has no keyring backend (a headless server has none): install keyrings.alt and set "
              "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring (or EncryptedKeyring), or choose "
              f"{ENV_CHOICE}=env, vault or aws")


class KeyringStore(SecretStore):
    """Passwords of one keyring service; each name read once per store."""

    backend = "keyring"
    writable = True

    def __init__(self, service: str, *, fallback: SecretStore | None, audit: AuditSink | None) -> None:
        super().__init__({}, audit, fallback=fallback)
        self.service = service
        self._cache: dict[str, str | None] = {}

    def _call(self, what: str, fn: Any, *args: str) -> Any:
        import keyring.errors

        try:
            return fn(*args)
        except keyring.errors.NoKeyringError:
            raise SecretStoreError(f"{ENV_CHOICE}=keyring: {NO_KEYRING}") from None
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"{ENV_CHOICE}=keyring: {what} in service {self.service!r} failed "
                                   f"({type(exc).__name__})") from None

    def _lookup(self, name: str) -> str | None:
        if name not in self._cache:
            import keyring

            self._cache[name] = self._call(f"reading {name}", keyring.get_password, self.service, name)
        return self._cache[name]

    def _names(self) -> Iterable[str]:
        return [n for n, v in self._cache.items() if v is not None]

    @property
    def where(self) -> str:
        return f"the keyring service {self.service!r} (or the environment)"

    def store(self, name: str, value: str) -> None:
        import keyring

        self._call(f"writing {name}", keyring.set_password, self.service, name, value)
        self._cache[name] = value


def open_store(settings: Mapping[str, str], *, fallback: SecretStore | None, audit: AuditSink | None) -> KeyringStore:
    return KeyringStore((settings.get(SERVICE_ENV) or "").strip() or "toolkit", fallback=fallback, audit=audit)
