"""Schwab's app key, secret and token (a file, or the secret store), and the one-process-per-token lock.

A Schwab refresh token lives about 7 days; a refresh by one process invalidates the
token another process holds (a control panel and a scheduled run at once), so a
process takes an exclusive lock beside the token file for as long as it uses it.

The token is a file (``SCHWAB_TOKEN_PATH``), or, with no such file configured, the
JSON text of that file kept as ``SCHWAB_TOKEN`` in a writable secret store
(``TOOLKIT_SECRETS=keyring|vault|aws``): schwab-py reads it and writes every refreshed
token back there (``client_from_access_functions``). The lock of a stored token is a
file in the temporary directory named after the store's location, so two processes
on one machine never share it either.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from toolkit.connections.env import environment
from toolkit.connections.secrets import SecretStore
from toolkit.errors import BrokerAuthError, BrokerError

__all__ = ["LOGIN_HOW", "REFRESH_TOKEN_SECONDS", "TOKEN_NAME", "TOKEN_WARN_DAYS", "SchwabCredentials",
           "TokenFileLock", "TokenHealth", "open_schwab_client", "store_token_lock_path", "token_days_left",
           "token_health"]

#: The secret-store name of a Schwab token kept there (the token file's JSON text).
TOKEN_NAME = "SCHWAB_TOKEN"

#: A Schwab refresh token expires this long after the login that created it.
REFRESH_TOKEN_SECONDS = 7 * 86400
#: Preflight warns when the refresh token has fewer days left than this (issue 10, point 8).
TOKEN_WARN_DAYS = 2.0
LOGIN_HOW = ("log in again with schwab-py (schwab.auth.client_from_manual_flow(api_key, app_secret, "
             "callback_url, token_path)), which writes a new token file valid for 7 days")


@dataclass(frozen=True)
class SchwabCredentials:
    """App key and secret (``SCHWAB_API_KEY``, ``SCHWAB_APP_SECRET``) and the token: the file
    ``SCHWAB_TOKEN_PATH``, else ``SCHWAB_TOKEN`` in a writable secret store (``token_store``).

    ``account_number`` (``SCHWAB_ACCOUNT_NUMBER``, optional) picks one account when the
    login sees several.
    """

    api_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    token_path: Path | None
    account_number: str | None = field(default=None, repr=False)
    token_store: SecretStore | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SchwabCredentials:
        env = environment(environ)
        values = {n: (env.get(n) or "").strip() for n in ("SCHWAB_API_KEY", "SCHWAB_APP_SECRET", "SCHWAB_TOKEN_PATH")}
        path = values.pop("SCHWAB_TOKEN_PATH")
        store = env if isinstance(env, SecretStore) and not path and env.get(TOKEN_NAME) else None
        missing = [n for n, v in values.items() if not v]
        if not path and store is None:
            missing.append("SCHWAB_TOKEN_PATH")
        where = env.where if isinstance(env, SecretStore) else "the environment"
        if missing:
            raise BrokerAuthError("schwab", f"credentials missing: set {', '.join(missing)} in {where} (the app's "
                                            "key and secret, and the token file written at login, or the token's "
                                            f"JSON as {TOKEN_NAME} in a keyring, Vault or AWS secret store); they "
                                            "are never read from params files or notebooks")
        if store is not None and not store.writable:
            raise BrokerAuthError("schwab", f"{TOKEN_NAME} is in {where}, which cannot keep the token schwab-py "
                                            "refreshes: set SCHWAB_TOKEN_PATH to a token file, or keep "
                                            f"{TOKEN_NAME} in TOOLKIT_SECRETS=keyring, vault or aws")
        return cls(values["SCHWAB_API_KEY"], values["SCHWAB_APP_SECRET"], Path(path).expanduser() if path else None,
                   (env.get("SCHWAB_ACCOUNT_NUMBER") or "").strip() or None, store)

    def secrets(self) -> tuple[str, ...]:
        """The secret values (for tests and log scrubbing, never for printing)."""
        return tuple(v for v in (self.api_key, self.app_secret, self.account_number) if v)


def store_token_lock_path(store: SecretStore) -> Path:
    """Where the lock of a token kept in ``store`` lives: one file per store location on this machine."""
    digest = hashlib.sha256(f"{store.backend}:{store.where}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"toolkit-schwab-token-{digest}"


def token_days_left(token_path: Path, *, now: float | None = None) -> float:
    """Days before the refresh token in ``token_path`` expires (negative: expired).

    Reads only ``creation_timestamp`` (the format schwab-py writes); a missing or
    unreadable file is a :class:`BrokerAuthError` saying how to log in.
    """
    try:
        created = float(json.loads(token_path.read_text())["creation_timestamp"])
    except FileNotFoundError:
        raise BrokerAuthError("schwab", f"SCHWAB_TOKEN_PATH: no token file at {token_path}; {LOGIN_HOW}") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise BrokerAuthError("schwab", f"SCHWAB_TOKEN_PATH: {token_path} is not a schwab-py token file "
                                        f"(no creation_timestamp); {LOGIN_HOW}") from None
    age = (time.time() if now is None else now) - created
    return (REFRESH_TOKEN_SECONDS - age) / 86400


class TokenFileLock:
    """An exclusive, non-blocking lock on ``<token file>.lock`` held while a process uses the token.

    The operating system releases it when the process dies, so a crashed run never
    leaves a stale lock; a second live process gets a clear error instead of silently
    invalidating the first one's token.
    """

    def __init__(self, token_path: Path) -> None:
        self.path = Path(str(token_path) + ".lock")
        self._handle: IO[str] | None = None

    def acquire(self) -> TokenFileLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise BrokerError("schwab", f"token file {self.path.with_suffix('')} is in use by another process "
                                        f"(pid {holder}); one process owns a Schwab token at a time: wait for it "
                                        "or stop it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor drops the flock
            self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def __enter__(self) -> TokenFileLock:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


@dataclass(frozen=True)
class TokenHealth:
    """What preflight says about the refresh token: ``ok``, ``warn`` (under 2 days) or ``expired``."""

    days_left: float
    level: str
    message: str

    @property
    def expired(self) -> bool:
        return self.level == "expired"


def token_health(days_left: float) -> TokenHealth:
    """Judge ``days_left`` (from :func:`token_days_left`): a scheduled run must not die on a silent expiry."""
    if days_left <= 0:
        return TokenHealth(days_left, "expired", f"Schwab refresh token expired {-days_left:.1f} days ago; {LOGIN_HOW}")
    if days_left < TOKEN_WARN_DAYS:
        return TokenHealth(days_left, "warn", f"Schwab refresh token expires in {days_left:.1f} days "
                                              f"(under {TOKEN_WARN_DAYS:g}); {LOGIN_HOW} before it does")
    return TokenHealth(days_left, "ok", f"Schwab refresh token valid for {days_left:.1f} more days")


def _token_shape_ok(token: Any) -> bool:
    """An OAuth token with both tokens as text (else Authlib fails deep in a later call)."""
    return isinstance(token, dict) and all(isinstance(token.get(k), str) and token.get(k)
                                           for k in ("access_token", "refresh_token"))


def _check_token_shape(path: Path) -> None:
    if not _token_shape_ok(json.loads(path.read_text()).get("token")):
        raise BrokerAuthError("schwab", f"SCHWAB_TOKEN_PATH: {path} could not be opened as a schwab-py token "
                                        f"(no access_token and refresh_token in it); {LOGIN_HOW}")


def open_schwab_client(credentials: SchwabCredentials, *, lock: TokenFileLock | None = None,
                       now: float | None = None) -> tuple[Any, TokenFileLock]:
    """A ``schwab.client.Client`` on the token (file or store), and the lock held for as long as it is used.

    Takes the token's lock first (a second process gets a clear error), refuses a
    token past its 7 days (saying how to log in), then opens the client with
    ``schwab.auth.client_from_token_file`` or, for a token kept in the secret store,
    ``client_from_access_functions`` (every refreshed token is written back to the
    store): never a browser or manual login, which a scheduled run could not answer.
    On any failure the lock is released again.
    """
    if credentials.token_path is not None:
        lock_path = credentials.token_path
    elif credentials.token_store is not None:
        lock_path = store_token_lock_path(credentials.token_store)
    else:
        raise BrokerAuthError("schwab", f"no token: set SCHWAB_TOKEN_PATH or keep {TOKEN_NAME} in the secret store")
    lock = lock if lock is not None else TokenFileLock(lock_path)
    if not lock.held:
        lock.acquire()
    try:
        if credentials.token_path is None:
            return _client_from_store(credentials, now), lock
        health = token_health(token_days_left(credentials.token_path, now=now))
        if health.expired:
            raise BrokerAuthError("schwab", health.message)
        _check_token_shape(credentials.token_path)
        import schwab

        try:
            client = schwab.auth.client_from_token_file(str(credentials.token_path), credentials.api_key,
                                                        credentials.app_secret)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # Authlib on a malformed "token"
            raise BrokerAuthError("schwab", f"SCHWAB_TOKEN_PATH: {credentials.token_path} could not be opened as a "
                                            f"schwab-py token; {LOGIN_HOW}") from None
    except BaseException:
        lock.release()
        raise
    return client, lock


def _client_from_store(credentials: SchwabCredentials, now: float | None) -> Any:
    """The client on ``SCHWAB_TOKEN`` of the secret store; schwab-py writes each refreshed token back there."""
    store = credentials.token_store
    assert store is not None
    label = f"{TOKEN_NAME} in {store.where}"
    try:
        data = json.loads(store[TOKEN_NAME])
        created = float(data["creation_timestamp"])
    except (KeyError, ValueError, TypeError):
        raise BrokerAuthError("schwab", f"{label} is not a schwab-py token (the JSON text of a token file, with "
                                        f"creation_timestamp and token); {LOGIN_HOW}, then store the file's "
                                        "text") from None
    age = (time.time() if now is None else now) - created
    health = token_health((REFRESH_TOKEN_SECONDS - age) / 86400)
    if health.expired:
        raise BrokerAuthError("schwab", health.message)
    if not _token_shape_ok(data.get("token")):
        raise BrokerAuthError("schwab", f"{label} could not be opened as a schwab-py token (no access_token and "
                                        f"refresh_token in it); {LOGIN_HOW}")

    def write(token: Any, *args: Any, **kwargs: Any) -> None:  # schwab-py passes the wrapped token
        store.store(TOKEN_NAME, json.dumps(token))

    import schwab

    return schwab.auth.client_from_access_functions(credentials.api_key, credentials.app_secret, lambda: data, write)
