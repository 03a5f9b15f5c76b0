"""Every schwab-py call checked: a status read, a bounded retry, a one-line error without secrets.

The broker adapter (:mod:`toolkit.brokers.schwab`) runs its calls through
:class:`SchwabCalls`; the price-history source (:mod:`toolkit.data.sources.schwab`) reads
its answers with the same pieces (:func:`refuses_login`, :func:`is_transient`,
:func:`error_text`, :func:`client_secrets`), in its own words and without retrying.

schwab-py returns the raw ``httpx.Response`` and raises nothing for an HTTP error, so
a 500 or an HTML page from a gateway would otherwise flow on as data. Its session is
Authlib's ``OAuth2Client``, which refreshes the 30-minute access token inside the
call; a refresh token past its 7 days surfaces there as an ``OAuthError``. This module
turns all of that into the toolkit's errors:

* 401 and 403, an ``OAuthError`` or a 4xx from the token endpoint: :class:`BrokerAuthError`
  saying how to log in again (nothing is retried: retrying a refused login helps no one);
* 429 (its ``Retry-After`` honoured), 5xx, timeouts and connection errors: retried by
  :meth:`SchwabCalls.read` with the injected ``sleep``, then :class:`BrokerUnavailable`;
* other 4xx: :class:`BrokerError` with Schwab's own message.

An order POST is never retried here: :meth:`SchwabCalls.once` sends it once and reports
an unknown outcome as :class:`OutcomeUnknown`, and the broker looks the order up before
anything is sent again (promise 8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError

from toolkit.connections.schwab import LOGIN_HOW
from toolkit.connections.scrub import scrub_line
from toolkit.errors import BrokerAuthError, BrokerError, BrokerUnavailable

__all__ = ["OutcomeUnknown", "SchwabCalls", "backoff", "body_message", "client_secrets", "error_text", "is_transient",
           "refuses_login"]

#: Longest wait a ``Retry-After`` may impose on one retry (a bad header must not stall a session).
MAX_RETRY_AFTER = 60.0
#: Longest part of a response body shown in an error.
MAX_BODY_SHOWN = 200
BROKER = "schwab"


@dataclass
class OutcomeUnknown(Exception):
    """A call whose effect at Schwab is unknown (timeout, connection error, 5xx) or refused for now (429)."""

    reason: str
    retry_after: float | None = None
    #: False when Schwab surely did not act on the request (a 429, a connection never made):
    #: only then may an order POST be sent again. A timeout, a 5xx or a dropped answer may
    #: have placed the order, and without a client order id a second POST could double it.
    maybe_processed: bool = True

    def __str__(self) -> str:
        return self.reason


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: Schwab's ``Retry-After``, else 0.5 s doubling to 8 s."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    return float(min(0.5 * 2 ** (attempt - 1), 8.0))


def retry_after_of(resp: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the number form Schwab sends), None when absent or unreadable."""
    value = resp.headers.get("Retry-After")
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def refuses_login(status: int) -> bool:
    """401 and 403: Schwab refused the login (retrying helps no one; log in again)."""
    return status in (401, 403)


def is_transient(status: int) -> bool:
    """429 and 5xx: Schwab could not answer now (an order may or may not have been acted on)."""
    return status == 429 or status >= 500


def client_secrets(client: Any, *more: str | None) -> Iterator[str]:
    """The secrets a schwab-py client holds (app key and secret, access and refresh tokens), then ``more``.

    What a message must never show: pass it to :func:`toolkit.connections.scrub.scrub`.
    """
    session = getattr(client, "session", None)
    token = getattr(session, "token", None) or {}
    values = [getattr(client, "api_key", None), getattr(session, "client_secret", None),
              token.get("access_token"), token.get("refresh_token"), *more]
    return (v for v in values if isinstance(v, str) and len(v) >= 4)


def body_message(resp: httpx.Response) -> str:
    """What Schwab said in an error body, in one short line (an HTML page is named, not shown)."""
    said = error_text(resp)
    if said is None:
        kind = "an HTML page" if "<html" in resp.text[:500].lower() else "a body that is not JSON"
        return f"{kind} instead of JSON (a gateway or proxy error)"
    return said


def error_text(resp: httpx.Response) -> str | None:
    """Schwab's own words in a JSON error body (``message``, ``errors[0].detail``...), None when it is not JSON."""
    try:
        data = resp.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return data[key]
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0]
            if isinstance(first, dict):
                return str(first.get("detail") or first.get("title") or first)
            return str(first)
    return str(data)


class SchwabCalls:
    """Runs schwab-py calls and checks what came back.

    ``secrets`` yields the strings that must never appear in a message (app key and
    secret, tokens, the account number); ``before`` runs before every call (the token
    file's age check), so an expired login fails before anything is sent.
    """

    def __init__(self, *, sleep: Callable[[float], None], max_attempts: int,
                 secrets: Callable[[], Iterable[str]], before: Callable[[], None]) -> None:
        if max_attempts < 1:
            raise BrokerError(BROKER, f"max_attempts: got {max_attempts}; allowed: 1 or more")
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.secrets = secrets
        self.before = before

    def scrub(self, text: str) -> str:
        """``text`` cut to one short line with every secret replaced by ``***``."""
        return scrub_line(text, self.secrets(), MAX_BODY_SHOWN)

    def once(self, what: str, call: Callable[[], httpx.Response]) -> httpx.Response:
        """Send once and return the answer, except: 401/403 and a refused login raise :class:`BrokerAuthError`;
        429, 5xx, timeouts and connection errors raise :class:`OutcomeUnknown`.
        """
        self.before()
        try:
            resp = call()
        except httpx.HTTPStatusError as e:  # the token endpoint answered an error Authlib could not read
            status = e.response.status_code
            if is_transient(status):
                raise OutcomeUnknown(f"token refresh got HTTP {status}", retry_after_of(e.response),
                                     maybe_processed=False) from None
            raise BrokerAuthError(BROKER, f"{what}: token refresh refused (HTTP {status}); {LOGIN_HOW}",
                                  status=status) from None
        except httpx.TimeoutException as e:
            raise OutcomeUnknown(f"timed out ({type(e).__name__})") from None
        except httpx.ConnectError as e:  # no connection was made: the request never reached Schwab
            raise OutcomeUnknown(f"connection failed ({type(e).__name__}: {self.scrub(str(e))})",
                                 maybe_processed=False) from None
        except httpx.TransportError as e:
            raise OutcomeUnknown(f"connection failed ({type(e).__name__}: {self.scrub(str(e))})") from None
        except OAuthError as e:  # the refresh token expired or was revoked (Authlib raises it inside the call)
            raise BrokerAuthError(BROKER, f"{what}: Schwab refused the login "
                                          f"({self.scrub(_oauth_text(e))}); {LOGIN_HOW}") from None
        status = resp.status_code
        if refuses_login(status):
            raise BrokerAuthError(BROKER, f"{what}: HTTP {status} ({self.scrub(body_message(resp))}); "
                                          f"the login was refused: {LOGIN_HOW}", status=status)
        if is_transient(status):
            raise OutcomeUnknown(f"HTTP {status} ({self.scrub(body_message(resp))})", retry_after_of(resp),
                                 maybe_processed=status != 429)
        return resp

    def read(self, what: str, call: Callable[[], httpx.Response], *, missing_ok: bool = False) -> httpx.Response | None:
        """A call that changes nothing at Schwab (or may safely be repeated), retried up to ``max_attempts``.

        Returns the 2xx response, None for a 404 when ``missing_ok``; raises
        :class:`BrokerUnavailable` when the retries ran out and :class:`BrokerError` for other 4xx.
        """
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = self.once(what, call)
            except OutcomeUnknown as e:
                last = e.reason
                if attempt < self.max_attempts:
                    self.sleep(backoff(attempt, e.retry_after))
                continue
            if resp.is_success:
                return resp
            if resp.status_code == 404 and missing_ok:
                return None
            raise BrokerError(BROKER, f"{what}: HTTP {resp.status_code} ({self.scrub(body_message(resp))})",
                              status=resp.status_code)
        raise BrokerUnavailable(BROKER, f"{what}: {last} after {self.max_attempts} attempts; Schwab is not "
                                        "answering: try again later")

    def json(self, what: str, call: Callable[[], httpx.Response]) -> object:
        """:meth:`read` and parse the JSON body (an unreadable body is a :class:`BrokerError`)."""
        resp = self.read(what, call)
        assert resp is not None
        try:
            return resp.json()
        except ValueError:
            raise BrokerError(BROKER, f"{what}: HTTP {resp.status_code} with {body_message(resp)}",
                              status=resp.status_code) from None


def _oauth_text(e: OAuthError) -> str:
    error = getattr(e, "error", None) or type(e).__name__
    description = getattr(e, "description", None)
    return f"{error}: {description}" if description else str(error)
