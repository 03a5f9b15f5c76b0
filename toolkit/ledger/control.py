"""Controls of the engine: system state, the kill switch, the audit log and config overrides.

Each control change is written with its audit entry in one transaction, so
the log can never miss a change nor record one that did not happen.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from toolkit.ledger import db
from toolkit.ledger.base import LedgerBase
from toolkit.ledger.checks import text
from toolkit.ledger.convert import frame
from toolkit.ledger.errors import LedgerError
from toolkit.ledger.lifecycle import KILL_SWITCH_KEY
from toolkit.ledger.models import AuditLogRow, ConfigHistoryRow, ConfigOverrideRow, SystemStateRow
from toolkit.ledger.records import KillSwitch

if TYPE_CHECKING:
    import pandas as pd


_STATE = SystemStateRow.__table__
_STATE_GET = select(_STATE.c.value).where(_STATE.c.key == bindparam("k"))
_STATE_UPDATE = update(_STATE).where(_STATE.c.key == bindparam("k"))
_STATE_INSERT = insert(_STATE)


class ControlMixin(LedgerBase):
    """System state, kill switch, audit log and configuration overrides of :class:`toolkit.ledger.Ledger`."""

    def get_state(self, key: str, default: Any = None) -> Any:
        """A value of ``system_state`` (engine session state, flags)."""
        with self._read_connection() as conn:
            row = conn.execute(_STATE_GET, {"k": key}).first()
            return default if row is None else row.value

    def set_state(self, key: str, value: Any, *, at: datetime | None = None) -> None:
        """Store a value in ``system_state``. The kill switch has its own audited setter."""
        text("key", key)
        if key == KILL_SWITCH_KEY:
            raise LedgerError("key: 'kill_switch' is set only through set_kill_switch (it must be audited)")
        db.json_dumps(value)
        when = self._at(at)
        with self.transaction() as s:
            self._put_state(s, key, value, when)

    @classmethod
    def _put_state(cls, s: Session, key: str, value: Any, at: datetime) -> None:
        s.flush()
        conn: Connection = s.connection()
        if conn.execute(_STATE_UPDATE, {"k": key, "value": value, "updated_at": at}).rowcount:
            cls._sync_identity(s, SystemStateRow, key, {"value": value, "updated_at": at})
        else:
            conn.execute(_STATE_INSERT, {"key": key, "value": value, "updated_at": at})

    def kill_switch(self) -> KillSwitch:
        """State of the kill switch (off when never set)."""
        value = self.get_state(KILL_SWITCH_KEY)
        if not value:
            return KillSwitch(on=False, reason=None, at=None, actor=None)
        at = value.get("at")
        return KillSwitch(
            on=bool(value.get("on")),
            reason=value.get("reason"),
            at=datetime.fromisoformat(at) if at else None,
            actor=value.get("actor"),
        )

    def set_kill_switch(self, on: bool, reason: str, actor: str = "user", *, at: datetime | None = None) -> KillSwitch:
        """Turn the kill switch on or off; the state and its audit entry commit together.

        A reason is required both ways: whoever reads the log later must know why
        trading stopped or resumed.
        """
        if not isinstance(on, bool):
            raise LedgerError(f"on: got {on!r}; allowed: True or False")
        text("reason", reason, max_length=10_000)
        text("actor", actor)
        when = self._at(at)
        value = {"on": on, "reason": reason.strip(), "at": when.isoformat(), "actor": actor}
        with self.transaction() as s:
            previous = s.get(SystemStateRow, KILL_SWITCH_KEY)
            was_on = bool(previous.value.get("on")) if previous is not None and previous.value else False
            self._put_state(s, KILL_SWITCH_KEY, value, when)
            s.add(AuditLogRow(at=when, actor=actor, action="kill_switch_on" if on else "kill_switch_off",
                              detail={"on": on, "was_on": was_on, "reason": reason.strip()}))
            s.flush()
        return KillSwitch(on=on, reason=reason.strip(), at=when, actor=actor)

    def audit(self, action: str, detail: Any = None, actor: str = "toolkit", *, at: datetime | None = None) -> None:
        """Append an entry to the audit log (e.g. a recorded live-trading confirmation)."""
        text("action", action)
        text("actor", actor)
        db.json_dumps(detail)
        when = self._at(at)
        with self.transaction() as s:
            s.add(AuditLogRow(at=when, actor=actor, action=action, detail=detail))
            s.flush()

    def audit_log(self, limit: int | None = None, *, action: str | None = None) -> pd.DataFrame:
        """Audit entries, oldest first (the last ``limit`` ones)."""
        with self._reading() as s:
            q = select(AuditLogRow).order_by(AuditLogRow.id.desc())
            if action is not None:
                q = q.where(AuditLogRow.action == action)
            if limit is not None:
                q = q.limit(limit)
            rows = [{"at": r.at, "actor": r.actor, "action": r.action, "detail": r.detail} for r in s.scalars(q)]
        rows.reverse()
        return frame(rows, ["at", "actor", "action", "detail"], time_columns=("at",), json_columns=("detail",))

    # ----------------------------------------------------------------- config overrides

    def set_override(
        self, key: str, value: Any, reason: str, *, actor: str = "user", at: datetime | None = None
    ) -> None:
        """Override a configuration value; the old value goes to ``config_history``."""
        text("key", key, max_length=256)
        text("reason", reason, max_length=10_000)
        db.json_dumps(value)
        self._write_override(key, value, reason, actor, self._at(at), clear=False)

    def clear_override(self, key: str, reason: str, *, actor: str = "user", at: datetime | None = None) -> None:
        """Remove the active override of ``key`` (recorded in history with ``new = None``)."""
        text("key", key, max_length=256)
        text("reason", reason, max_length=10_000)
        self._write_override(key, None, reason, actor, self._at(at), clear=True)

    def _write_override(self, key: str, value: Any, reason: str, actor: str, at: datetime, *, clear: bool) -> None:
        with self.transaction() as s:
            active = list(
                s.scalars(select(ConfigOverrideRow).where(ConfigOverrideRow.key == key, ConfigOverrideRow.active))
            )
            if clear and not active:
                raise LedgerError(f"key: no active override of {key!r} to clear")
            old = active[-1].value if active else None
            for row in active:
                row.active = False
            if not clear:
                s.add(ConfigOverrideRow(key=key, value=value, reason=reason, set_at=at, active=True))
            s.add(ConfigHistoryRow(key=key, old=old, new=value, reason=reason, at=at))
            s.add(AuditLogRow(at=at, actor=actor, action="clear_override" if clear else "set_override",
                              detail={"key": key, "old": old, "new": value, "reason": reason}))
            s.flush()

    def overrides(self) -> dict[str, Any]:
        """Active configuration overrides by key."""
        with self._reading() as s:
            rows = s.scalars(select(ConfigOverrideRow).where(ConfigOverrideRow.active).order_by(ConfigOverrideRow.id))
            return {r.key: r.value for r in rows}

    def config_history(self, key: str | None = None) -> pd.DataFrame:
        """Every change of configuration overrides, oldest first."""
        with self._reading() as s:
            q = select(ConfigHistoryRow).order_by(ConfigHistoryRow.id)
            if key is not None:
                q = q.where(ConfigHistoryRow.key == key)
            rows = [{"at": r.at, "key": r.key, "old": r.old, "new": r.new, "reason": r.reason} for r in s.scalars(q)]
        return frame(rows, ["at", "key", "old", "new", "reason"], time_columns=("at",), json_columns=("old", "new"))
