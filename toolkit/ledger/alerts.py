"""Alerts as sent (or not): the ``alerts`` table of :class:`toolkit.ledger.Ledger`.

Every alert the toolkit raises is recorded, delivered or not, so that "did anyone get
told?" has an answer afterwards and a dead channel shows up in ``toolkit alerts list``
instead of in silence. The ledger stores what was said and the outcome only: how many
channels were tried, whether one took it, and an error text the caller has already
cleared of secrets (a channel's URL holds its token or password, and never comes here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from toolkit.ledger.base import LedgerBase
from toolkit.ledger.checks import choice, text
from toolkit.ledger.convert import record_frame
from toolkit.ledger.errors import LedgerError
from toolkit.ledger.lifecycle import ALERT_KINDS
from toolkit.ledger.models import AlertRow

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ALERT_KINDS", "AlertRecord", "AlertsMixin"]

#: Longest title the ``alerts`` table holds (String(256)).
TITLE_LENGTH = 256


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One recorded alert; ``channels`` tried, ``delivered`` when at least one took it."""

    id: int
    at: datetime
    kind: str
    account: str | None
    run_key: str | None
    title: str
    body: str
    channels: int
    delivered: bool
    error: str | None


def _alert_record(row: AlertRow) -> AlertRecord:
    return AlertRecord(id=row.id, at=row.at, kind=row.kind, account=row.account, run_key=row.run_key,
                       title=row.title, body=row.body, channels=row.channels, delivered=row.delivered,
                       error=row.error)


class AlertsMixin(LedgerBase):
    """Recording and reading alerts."""

    def record_alert(
        self,
        kind: str,
        title: str,
        body: str,
        *,
        channels: int,
        delivered: bool,
        error: str | None = None,
        account: str | None = None,
        run_key: str | None = None,
        at: datetime | None = None,
    ) -> AlertRecord:
        """Append one alert and its outcome; returns it as stored.

        Refused, writing nothing: an unknown kind, a blank or too long title, a negative
        channel count, and ``delivered`` with no channel tried (nothing can have taken it).
        """
        choice("kind", kind, ALERT_KINDS)
        text("title", title, max_length=TITLE_LENGTH)
        if not isinstance(body, str):
            raise LedgerError(f"body: got {body!r}; allowed: a string")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 0:
            raise LedgerError(f"channels: got {channels!r}; allowed: an int >= 0")
        if not isinstance(delivered, bool):
            raise LedgerError(f"delivered: got {delivered!r}; allowed: True or False")
        if delivered and channels == 0:
            raise LedgerError("delivered: got True with channels 0; allowed: False when no channel was tried")
        if error is not None and not isinstance(error, str):
            raise LedgerError(f"error: got {error!r}; allowed: a string or None")
        text("account", account, optional=True)
        text("run_key", run_key, max_length=256, optional=True)
        when = self._at(at)
        with self.transaction() as s:
            row = AlertRow(at=when, kind=kind, account=account, run_key=run_key, title=title, body=body,
                           channels=channels, delivered=delivered, error=error)
            s.add(row)
            s.flush()
            return _alert_record(row)

    def alert_records(
        self, limit: int | None = None, *, kind: str | None = None, account: str | None = None
    ) -> list[AlertRecord]:
        """The last ``limit`` alerts (all when None), oldest first; optionally of one kind or account."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise LedgerError(f"limit: got {limit!r}; allowed: an int >= 0 or None")
        if kind is not None:
            choice("kind", kind, ALERT_KINDS)
        with self._reading() as s:
            q = select(AlertRow).order_by(AlertRow.at.desc(), AlertRow.id.desc())
            if kind is not None:
                q = q.where(AlertRow.kind == kind)
            if account is not None:
                q = q.where(AlertRow.account == account)
            if limit is not None:
                q = q.limit(limit)
            records = [_alert_record(r) for r in s.scalars(q)]
        records.reverse()
        return records

    def alerts(self, limit: int | None = None, *, kind: str | None = None, account: str | None = None) -> pd.DataFrame:
        """:meth:`alert_records` as a DataFrame (one column per :class:`AlertRecord` field)."""
        return record_frame(self.alert_records(limit, kind=kind, account=account), AlertRecord, time_columns=("at",))
