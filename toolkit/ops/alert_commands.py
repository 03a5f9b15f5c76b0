"""What the ``toolkit alerts`` commands and the kill switch's callers print: plain functions returning text.

The CLI stays an argument parser; the control panel and a notebook get the same lines.
No line ever holds a channel URL (see :mod:`toolkit.ops.alerts`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from toolkit.ops.alerts import ALERT_URLS, NO_CHANNEL, alert_line, send_alert

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import AlertRecord, Ledger

__all__ = ["alerts_text", "announce_kill_switch", "announce_token_expiry", "send_test_alert"]

#: Columns ``toolkit alerts list`` shows, in order.
LIST_COLUMNS = ["at", "kind", "account", "delivered", "channels", "title", "error"]


def send_test_alert(ledger: Ledger, urls: Sequence[str] | None = None, *,
               store: Mapping[str, str] | None = None) -> tuple[AlertRecord, str]:
    """Send a ``test`` alert (to ``urls``, else the configured channels), record it; the record and a line."""
    import getpass
    import socket

    who = f"{getpass.getuser()}@{socket.gethostname()}"
    record = send_alert(ledger, "test", f"toolkit test alert from {who}",
                        "If you read this, alerts from the toolkit reach you on this channel.",
                        urls=urls, store=store)
    line = alert_line(record)
    if record.error == NO_CHANNEL:
        line += f"; set {ALERT_URLS} (comma-separated apprise URLs) in the environment, .env or the secret store"
    return record, line


def alerts_text(ledger: Ledger, *, limit: int = 20, kind: str | None = None) -> str:
    """The last ``limit`` alerts, oldest first, as a table (or a sentence when there are none)."""
    import pandas as pd

    df = ledger.alerts(limit, kind=kind)
    if df.empty:
        return "no alerts recorded in this ledger" + (f" of kind {kind}" if kind else "")
    shown = df[LIST_COLUMNS].copy()
    shown["at"] = shown["at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    shown["delivered"] = shown["delivered"].map({True: "yes", False: "NO"})
    shown = shown.fillna("")
    with pd.option_context("display.width", 220, "display.max_columns", 10, "display.max_colwidth", 80):
        return shown.to_string(index=False)


def announce_kill_switch(ledger: Ledger, *, clock: Callable[[], datetime] | None = None,
                         store: Mapping[str, str] | None = None) -> str:
    """The ``kill_switch_changed`` alert for the switch's current state; its line (never raises)."""
    from toolkit.ops.alert_triggers import alert_kill_switch_changed

    try:
        return alert_line(alert_kill_switch_changed(ledger, ledger.kill_switch(), clock=clock, store=store))
    except Exception as exc:  # the switch is set and audited; a failed alert must not hide that
        return f"alert kill_switch_changed: not recorded ({type(exc).__name__})"


def announce_token_expiry(ledger_url: str | None, days_left: float | None, *, threshold: float,
                          account: str | None = None, store: Mapping[str, str] | None = None) -> str | None:
    """The ``token_expiry`` alert when ``days_left`` is under ``threshold``; its line, or None (never raises)."""
    from toolkit.ledger import open_ledger
    from toolkit.ops.alert_triggers import alert_token_expiry

    if days_left is None or days_left >= threshold:
        return None
    try:
        with open_ledger(ledger_url) as ledger:
            record = alert_token_expiry(ledger, days_left, threshold=threshold, account=account, store=store)
    except Exception as exc:
        return f"alert token_expiry: not recorded ({type(exc).__name__})"
    return None if record is None else alert_line(record)
