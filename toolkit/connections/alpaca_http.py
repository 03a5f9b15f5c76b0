"""alpaca-py made safe for a trading session: a timeout on every request, no retry behind our back.

Used by the broker adapter (:mod:`toolkit.brokers.alpaca`) and the market data source
(:mod:`toolkit.data.sources.alpaca`): one transport, one reading of an error answer.

alpaca-py 0.44 (the version pinned in ``requirements.lock``) sends every request through
one ``requests.Session`` per client with no timeout, so one silent network hang stalls a
scheduled session for ever. It also retries HTTP 429 and 504 by itself, three times,
three seconds apart, for POSTs too: an order POST answered 429 is sent again without
anyone asking whether the first one landed (promise 8 forbids exactly that). Its
``TradingClient`` does not even pass the retry settings on to ``RESTClient``.

:func:`harden` switches that retry off on a built client and mounts a
:class:`TimeoutAdapter` that gives every request a timeout (:func:`set_timeout`); the
broker adapter then decides what may be retried, after asking Alpaca whether the order is
already there. The data source only sets the timeout: a bars GET changes nothing, so
alpaca-py may repeat it. :func:`classify` turns what alpaca-py and requests raise into a
:class:`Failure` the caller can act on, with a one-line detail that never contains a key;
:func:`answer_text` is Alpaca's own words of an error answer, scrubbed the same way.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pydantic
import requests
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from requests.adapters import HTTPAdapter

from toolkit.connections.scrub import scrub, scrub_line
from toolkit.errors import BrokerError

__all__ = ["Failure", "FailureKind", "TimeoutAdapter", "answer_text", "classify", "harden", "scrub", "set_timeout"]

#: What :func:`harden` changes on an alpaca-py client; their absence means an untested version.
PATCHED_ATTRIBUTES = ("_session", "_retry", "_retry_codes")
#: Longest Retry-After honoured (seconds): a rate limit longer than this is an outage, not a pause.
MAX_RETRY_AFTER = 60.0
#: Longest piece of a broker's answer shown in a message.
MAX_DETAIL = 160
#: 403 bodies that mean "these keys may not do this" rather than "this order is refused".
AUTH_MESSAGE = re.compile(r"^\s*(forbidden|unauthori[sz]ed|request is not authorized|access key verification failed)"
                          r"\W*$", re.IGNORECASE)


class TimeoutAdapter(HTTPAdapter):
    """An HTTP adapter that sends every request with ``timeout`` unless the caller set one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: dict[str, str] | None = None) -> requests.Response:
        return super().send(request, stream=stream, timeout=self.timeout if timeout is None else timeout,
                            verify=verify, cert=cert, proxies=proxies)


def harden(client: RESTClient, timeout: float) -> None:
    """Switch off ``client``'s own retries and give each of its requests ``timeout`` seconds.

    Raises :class:`BrokerError` when the client lacks the attributes alpaca-py 0.44 has:
    a different version could retry order POSTs again, so it is refused, not trusted.
    """
    missing = [name for name in PATCHED_ATTRIBUTES if not hasattr(client, name)]
    if missing:
        raise BrokerError("alpaca", f"the installed alpaca-py has no {', '.join(missing)}: its own retry of order "
                                    "POSTs cannot be switched off; install the version pinned in requirements.lock "
                                    "(make setup)")
    client._retry = 0
    client._retry_codes = []
    set_timeout(client, timeout)


def set_timeout(client: RESTClient, timeout: float) -> None:
    """Give every request of ``client`` (its own ``requests.Session``) ``timeout`` seconds: alpaca-py sets none."""
    adapter = TimeoutAdapter(timeout)
    client._session.mount("https://", adapter)
    client._session.mount("http://", adapter)


class FailureKind(str, Enum):
    #: Timeout, connection error, 429, 5xx or an unreadable answer: the request may or may not have landed.
    TRANSIENT = "transient"
    #: 401, or a 403 that refuses the keys rather than the request.
    AUTH = "auth"
    #: The broker refused this request for a reason it states (400, 422, an order's 403).
    REFUSED = "refused"
    #: 422 "client_order_id must be unique": an order with this id exists (or existed).
    DUPLICATE_ID = "duplicate_id"
    NOT_FOUND = "not_found"
    OTHER = "other"


@dataclass(frozen=True)
class Failure:
    """One failed request, as the adapter needs it: what kind, the HTTP status, a one-line detail."""

    kind: FailureKind
    status: int | None
    #: The broker's own message (``insufficient buying power``) or what went wrong on the way.
    detail: str
    #: Seconds the broker asked us to wait (429 Retry-After), None when it did not say.
    retry_after: float | None = None

    def describe(self) -> str:
        return self.detail if self.status is None else f"HTTP {self.status}: {self.detail}"


def classify(exc: BaseException, *, posting_order: bool, timeout: float, secrets: tuple[str, ...]) -> Failure | None:
    """What ``exc`` means for the adapter, or None when it is not a failure of the request (a bug: re-raise).

    ``posting_order``: the request was an order POST, where 400/422/403-with-a-reason
    refuse the order itself (insufficient buying power, pattern-day-trader protection)
    and are recorded as a rejection, not raised.
    """
    if isinstance(exc, APIError):
        return _api_failure(exc, posting_order=posting_order, secrets=secrets)
    if isinstance(exc, requests.exceptions.Timeout):
        return Failure(FailureKind.TRANSIENT, None, f"no answer within {timeout:g} s")
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return Failure(FailureKind.TRANSIENT, None, f"connection failed ({_root_cause(exc, secrets)})")
    if isinstance(exc, requests.exceptions.JSONDecodeError | pydantic.ValidationError):
        return Failure(FailureKind.TRANSIENT, None, "unreadable answer (not the JSON alpaca-py expects)")
    return None


def answer_text(exc: APIError, secrets: tuple[str, ...]) -> str:
    """Alpaca's own message of an error answer (``message`` of its JSON), else the body: one line, scrubbed.

    Unlike a :class:`Failure`'s detail, a body that is not JSON is shown as it came
    (cut short), an HTML page included.
    """
    message = _message(exc)
    return scrub_line(message if message and message.strip() else str(exc), secrets, MAX_DETAIL)


def _message(exc: APIError) -> str | None:
    """The ``message`` field of the JSON error body (perhaps blank), None when there is none."""
    body = _json_body(str(exc))
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else None


def _api_failure(exc: APIError, *, posting_order: bool, secrets: tuple[str, ...]) -> Failure:
    status = exc.status_code
    message = _message(exc)
    detail = scrub(message.strip(), secrets) if message and message.strip() else _text_detail(str(exc), secrets)
    if status == 429:
        return Failure(FailureKind.TRANSIENT, status, detail, _retry_after(exc))
    if status is None or status >= 500:
        return Failure(FailureKind.TRANSIENT, status, detail)
    if status == 401:
        return Failure(FailureKind.AUTH, status, detail)
    if status == 403:
        order_refused = posting_order and message is not None and not AUTH_MESSAGE.match(message)
        return Failure(FailureKind.REFUSED if order_refused else FailureKind.AUTH, status, detail)
    if status == 404:
        return Failure(FailureKind.NOT_FOUND, status, detail)
    if status == 422 and "client_order_id must be unique" in detail.lower():
        return Failure(FailureKind.DUPLICATE_ID, status, detail)
    if status in (400, 422):
        return Failure(FailureKind.REFUSED, status, detail)
    return Failure(FailureKind.OTHER, status, detail)


def _json_body(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _text_detail(text: str, secrets: tuple[str, ...]) -> str:
    """A non-JSON body (a proxy's HTML 502 page) as a short hint, never the whole page."""
    flat = " ".join(text.split())
    if not flat:
        return "empty answer"
    if flat.lstrip().startswith("<"):
        title = re.search(r"<title>(.*?)</title>", flat, re.IGNORECASE)
        return "HTML page" + (f" '{scrub(title.group(1).strip(), secrets)[:80]}'" if title else "") + " instead of JSON"
    return scrub(flat, secrets)[:MAX_DETAIL]


def _retry_after(exc: APIError) -> float | None:
    response = exc.response
    value = None if response is None else response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _root_cause(exc: BaseException, secrets: tuple[str, ...]) -> str:
    """The innermost reason of a connection error (``Connection reset by peer``), short."""
    seen: BaseException = exc
    for _ in range(10):  # a chain is a few links long; the bound only guards against a cycle
        nxt = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else seen.__cause__
        if nxt is None:
            break
        seen = nxt
    text = str(seen) or type(seen).__name__
    if "reset" in text.lower():
        return "connection reset by peer"
    return scrub(" ".join(text.split()), secrets)[:MAX_DETAIL]
