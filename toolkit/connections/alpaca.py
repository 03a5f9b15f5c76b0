"""Alpaca's API keys and endpoints, from the variables alpaca-py's own docs use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from toolkit.connections.env import environment, require
from toolkit.errors import ParamsError

__all__ = ["AlpacaCredentials"]

KEY_VARS = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")


@dataclass(frozen=True)
class AlpacaCredentials:
    """Key id and secret, and optional base URLs (a local stand-in in tests, a proxy).

    ``base_url`` (``APCA_API_BASE_URL``) points the trading client elsewhere;
    ``data_url`` (``APCA_API_DATA_URL``) the market-data client. None = Alpaca's own.
    """

    key_id: str = field(repr=False)
    secret_key: str = field(repr=False)
    base_url: str | None = None
    data_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlpacaCredentials:
        env = environment(environ)
        key_id, secret = require("alpaca", env, KEY_VARS, "the keys of the Alpaca account, paper or live")
        urls = [_url(env, name) for name in ("APCA_API_BASE_URL", "APCA_API_DATA_URL")]
        return cls(key_id, secret, urls[0], urls[1])

    def secrets(self) -> tuple[str, ...]:
        """The secret values (for tests and log scrubbing, never for printing)."""
        return (self.key_id, self.secret_key)


def _url(env: Mapping[str, str], name: str) -> str | None:
    """An endpoint variable, checked: ``http://`` or ``https://`` and a host (else one clear line)."""
    value = (env.get(name) or "").strip()
    if not value:
        return None
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest.strip("/"):
        raise ParamsError(name, value, "a URL like https://paper-api.alpaca.markets or http://127.0.0.1:8080 "
                                       "(the address only, without /v2)")
    return value
