"""Delivering one alert to each channel through apprise, and saying what happened without a secret.

A channel is an apprise URL (``mailto://user:pass@host``, ``slack://TokenA/TokenB/TokenC``,
``json://host/path``, an SMS gateway's): the URL IS the credential. So nothing that leaves
this module names one: a failure is told as "channel 2 (slack): ..." with apprise's own
reason, and every piece of every URL (user, password, host, path segments, query values)
is blanked out of that reason first. apprise's log lines are kept from the root logger
while it sends (a root handler, e.g. a notebook's or a cron job's, would otherwise print
them), and read back from the per-service result apprise returns.

Each channel gets its own ``Apprise`` object, so each outcome is known on its own (one
dead webhook must not hide that the e-mail went out), and the whole call on one channel
is bounded by ``timeout`` seconds: an alert never holds a run up for long.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote

from toolkit.connections.scrub import scrub_line

__all__ = ["DEFAULT_TIMEOUT", "Delivery", "blank_secrets", "deliver", "secret_parts", "split_urls"]

#: Longest an alert may wait on one channel, in seconds (apprise's own connect and read
#: timeouts are 4 s each; this bounds retries and slow services on top).
DEFAULT_TIMEOUT = 20.0
#: Longest reason kept per failed channel.
REASON_LENGTH = 200

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_SEPARATORS = re.compile(r"[:/@?&=#;,+\s]+")
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Delivery:
    """How one alert went: channels tried, how many took it, one secret-free line per failure."""

    channels: int
    delivered: int
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """At least one channel took the alert."""
        return self.delivered > 0


def split_urls(text: str | None) -> list[str]:
    """The channel URLs in ``text``: separated by commas, semicolons or white space; blanks dropped."""
    if not text:
        return []
    return [u for u in re.split(r"[,;\s]+", text) if u]


def scheme_of(url: str) -> str:
    """The URL's scheme (``slack``, ``mailto``) or ``?``: the only part of a URL ever shown."""
    found = _SCHEME.match(url)
    return found.group(1).lower() if found else "?"


def secret_parts(urls: Sequence[str]) -> list[str]:
    """Every piece of every URL that may be a credential, longest first (for :func:`scrub_line`).

    The whole URL, then each part between separators (user, password, host, path
    segments, query keys and values), as written and percent-decoded; all but the
    scheme, and none shorter than 3 characters (see :func:`blank_secrets` for how short
    ones are blanked).
    """
    parts: set[str] = set()
    for url in urls:
        parts.update({url, unquote(url)})
        rest = _SCHEME.sub("", url)
        for piece in _SEPARATORS.split(rest) + _SEPARATORS.split(unquote(rest)):
            if len(piece) >= 3:
                parts.add(piece)
    return sorted(parts, key=len, reverse=True)


def blank_secrets(text: str, parts: Sequence[str], limit: int = REASON_LENGTH) -> str:
    """``text`` on one line with every URL part blanked (``***``), cut to ``limit`` characters.

    Long parts (tokens, passwords: 8 characters or more) are blanked wherever they occur;
    short ones only as a whole word, so that a host named ``not`` leaves "notification" be.
    """
    long_parts = [p for p in parts if len(p) >= 8]
    for short in (p for p in parts if len(p) < 8):
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(short)}(?![A-Za-z0-9])", "***", text)
    return scrub_line(text, long_parts, limit)


@contextmanager
def _apprise_kept_quiet() -> Iterator[None]:
    """No log record of the sending reaches a handler of ours while apprise sends.

    apprise's may quote a URL's host; urllib3's debug lines quote the request path, which
    is a webhook's token. apprise's own records still reach the result it returns.
    """
    log, http = logging.getLogger("apprise"), logging.getLogger("urllib3")
    with _LOCK:
        propagate, null, level = log.propagate, logging.NullHandler(), http.level
        log.propagate = False
        log.addHandler(null)  # so Python's last-resort handler does not print them to stderr either
        http.setLevel(max(http.getEffectiveLevel(), logging.WARNING))
        try:
            yield
        finally:
            http.setLevel(level)
            log.removeHandler(null)
            log.propagate = propagate


def deliver(urls: Sequence[str], title: str, body: str, *, notify_type: str = "warning",
            timeout: float = DEFAULT_TIMEOUT) -> Delivery:
    """Send ``title`` and ``body`` to every URL; never raises for a channel that fails.

    ``notify_type`` is apprise's: ``info``, ``success``, ``warning`` or ``failure``.
    """
    import apprise

    secrets = secret_parts(urls)
    delivered, errors = 0, []
    with _apprise_kept_quiet():
        for number, url in enumerate(urls, 1):
            outcome = _send_one(apprise, url, title, body, notify_type, timeout)
            if outcome is None:
                delivered += 1
                continue
            ours, theirs = outcome  # only apprise's words can quote the URL: those are blanked
            said = blank_secrets(theirs, secrets) if theirs else ""
            errors.append(f"channel {number} ({scheme_of(url)}): {ours}" + (f": {said}" if said else ""))
    return Delivery(len(urls), delivered, tuple(errors))


def _send_one(apprise: object, url: str, title: str, body: str, notify_type: str,
              timeout: float) -> tuple[str, str] | None:
    """None when the channel took it, else why not: our words, and apprise's (which the caller blanks)."""
    try:
        sender = apprise.Apprise()  # type: ignore[attr-defined]
        if not sender.add(url):
            return "not a URL apprise can send to (unknown service or missing parts)", ""
        result = sender.notify(body=body, title=title, notify_type=notify_type, timeout=timeout)
    except Exception as exc:  # a plugin or apprise itself failing must not fail the caller
        return f"apprise raised {type(exc).__name__}", ""
    if result:
        return None
    reasons = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
    status = getattr(getattr(result, "status", None), "name", "FAILURE").lower()
    return f"not delivered ({status})", " ".join(reasons)
