"""Secret values taken out of any text a broker's API sent back, before it reaches a message.

A broker or a proxy may echo a request header or a query string in an error body (the
key id, a token): promise 7 says such text never reaches a message, log or file. Both
alpaca-py and schwab-py callers, broker adapters and data sources, pass what they show
through here.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["scrub", "scrub_line"]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every (non-empty) secret value replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def scrub_line(text: str, secrets: Iterable[str], limit: int) -> str:
    """:func:`scrub`, then one line of at most ``limit`` characters (cut ones end with ``...``)."""
    flat = " ".join(scrub(text, secrets).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
