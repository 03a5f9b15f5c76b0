"""Alerts: tell a person when an unattended run needs them, and keep a record either way.

:func:`send_alert` is the one way an alert goes out: to every channel configured (apprise
URLs: e-mail, Slack or any webhook, SMS gateways), then one row in the ledger's ``alerts``
table saying when, what kind, how many channels were tried, whether one took it, and why
not. It never raises because a channel failed: a dead webhook must not turn a completed
session into a failed one. The trigger helpers (:mod:`toolkit.ops.alert_triggers`) decide
WHEN to call it; this module only how.

Channels come from the secret store (:func:`toolkit.connections.secrets.open_secret_store`;
the environment or a ``.env`` file by default) under :data:`ALERT_URLS`, comma or space
separated, because an apprise URL holds the channel's token or password. For the same
reason no URL is ever stored, printed or logged: a failure names the channel by its number
and scheme (``channel 2 (slack)``) with everything from the URL blanked out of the reason.
With no URL configured the alert is still recorded, as not delivered with the reason
:data:`NO_CHANNEL`, so ``toolkit alerts list`` shows what a person would have been told.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from toolkit.errors import InvalidInput, ToolkitError, one_line
from toolkit.ops.alert_channels import DEFAULT_TIMEOUT, Delivery, deliver, split_urls

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import AlertRecord, Ledger

__all__ = ["ALERT_URLS", "NOTIFY_TYPES", "NO_CHANNEL", "alert_line", "channel_urls", "send_alert"]

#: Name of the secret holding the channel URLs (comma or white-space separated).
ALERT_URLS = "TOOLKIT_ALERT_URLS"
#: The recorded reason when no channel is configured.
NO_CHANNEL = "no channel configured"
#: apprise's message type per kind (a channel may colour or prioritise by it).
NOTIFY_TYPES = {"run_failed": "failure", "guard_tripped": "warning", "kill_switch_changed": "warning",
                "reconciliation_mismatch": "failure", "token_expiry": "warning", "missed_session": "warning",
                "test": "info"}
#: Longest title the ledger keeps (the rest of a long title is in the body anyway).
TITLE_LENGTH = 256


def channel_urls(store: Mapping[str, str] | None = None, *, ledger: Ledger | None = None) -> list[str]:
    """The configured channel URLs (empty when none); ``store`` defaults to the secret store, whose
    lookup is written to ``ledger``'s audit log (``secret_read``: name, backend, found; never the value)."""
    from toolkit.connections.secrets import open_secret_store
    from toolkit.engine.remote import ledger_secret_audit

    if store is None:
        store = open_secret_store(audit=ledger_secret_audit(ledger) if ledger is not None else None)
    return split_urls(store.get(ALERT_URLS))


def send_alert(
    ledger: Ledger,
    kind: str,
    title: str,
    body: str,
    *,
    account: str | None = None,
    run_key: str | None = None,
    urls: Sequence[str] | None = None,
    clock: Callable[[], datetime] | None = None,
    store: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> AlertRecord:
    """Send one alert to every channel and record it in ``ledger``; returns the recorded row.

    ``urls``: these channels instead of the configured ones (``toolkit alerts test --url``).
    ``clock``: when the alert is recorded (default: the ledger's clock). ``store``: where the
    configured URLs are read (default: the secret store). An unknown ``kind`` is refused
    before anything is sent; a channel that fails, or a secret store that cannot be read,
    is recorded as not delivered with the reason.
    """
    allowed = tuple(NOTIFY_TYPES)
    if kind not in allowed:
        raise InvalidInput("kind", kind, ", ".join(allowed))
    title = " ".join(str(title).split())
    if len(title) > TITLE_LENGTH:
        title = title[: TITLE_LENGTH - 3] + "..."
    delivery = _deliver(ledger, kind, title, body, urls, store, timeout)
    error = "; ".join(delivery.errors) or None
    return ledger.record_alert(kind, title, body, channels=delivery.channels, delivered=delivery.ok, error=error,
                               account=account, run_key=run_key, at=clock() if clock is not None else None)


def _deliver(ledger: Ledger, kind: str, title: str, body: str, urls: Sequence[str] | None,
             store: Mapping[str, str] | None, timeout: float) -> Delivery:
    if urls is None:
        try:
            urls = channel_urls(store, ledger=ledger)
        except Exception as exc:  # a secret store that cannot be read is a channel failure, not the run's
            return Delivery(0, 0, (store_failure(exc),))
    if not urls:
        return Delivery(0, 0, (NO_CHANNEL,))
    return deliver(list(urls), title, body, notify_type=NOTIFY_TYPES[kind], timeout=timeout)


def store_failure(exc: BaseException) -> str:
    """Why the secret store could not be read: the toolkit's own one-line error (a bad
    ``TOOLKIT_SECRETS``, Vault without ``VAULT_ADDR``: names and settings, never a secret
    value), else only the exception's type (a library's text might quote anything)."""
    if isinstance(exc, ToolkitError):
        return f"the secret store could not be read: {one_line(str(exc))}"
    return f"the secret store could not be read ({type(exc).__name__})"


def alert_line(record: AlertRecord) -> str:
    """One line for a log or a terminal: kind, outcome and title (never a channel URL)."""
    tried = f"{record.channels} channel(s) tried"
    if record.delivered:
        outcome = f"delivered ({tried}" + (f"; {record.error})" if record.error else ")")
    else:
        outcome = f"NOT delivered ({record.error or tried})"
    return f"alert {record.kind}: {outcome}: {record.title}"
