"""Alpaca's API keys and endpoints, from the variables alpaca-py's own docs use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from toolkit.credentials.env import environment, require

__all__ = ["AlpacaCredentials"]

KEY_VARS = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")


@dataclass(frozen=True)
class AlpacaCredentials:
    """Key id and secret, and optional base URLs (a local stand-in in tests, a proxy).

    ``base_url`` (``APCA_API_BASE_URL``) points the trading client elsewhere;
    ``data_url`` (``APCA_API_DATA_URL``) the market-data client. None = Alpaca's own.
    """

    key_id: str
    secret_key: str = field(repr=False)
    base_url: str | None = None
    data_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlpacaCredentials:
        env = environment(environ)
        key_id, secret = require("alpaca", env, KEY_VARS, "the keys of the Alpaca account, paper or live")
        return cls(key_id, secret, env.get("APCA_API_BASE_URL") or None, env.get("APCA_API_DATA_URL") or None)

    def secrets(self) -> tuple[str, ...]:
        """The secret values (for tests and log scrubbing, never for printing)."""
        return (self.key_id, self.secret_key)
