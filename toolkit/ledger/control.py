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
from toolkit.ledger.lifecycle import KILL_SWITCH_KEY, live_confirmation_key
from toolkit.ledger.models import AuditLogRow, ConfigHistoryRow, ConfigOverrideRow, SystemStateRow
from toolkit.ledger.records import KillSwitch
from toolkit.model import TradingMode

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
        self._write_pending(("state", key))
        with self._read_connection() as conn:
            row = conn.execute(_STATE_GET, {"k": key}).first()
            return default if row is None else row.value

    def set_state(self, key: str, value: Any, *, at: datetime | None = None, coalesce: bool = False) -> None:
        """Store a value in ``system_state``. The kill switch has its own audited setter.

        ``coalesce``: a key set again and again in one transaction is written the first
        time and then once more just before the commit, with the last value (see
        :meth:`_write_coalesced`); the caller must not change ``value`` afterwards.
        """
        text("key", key)
        if key == KILL_SWITCH_KEY:
            raise LedgerError("key: 'kill_switch' is set only through set_kill_switch (it must be audited)")
        if coalesce:
            when = self._at(at)

            def write(s: Session) -> None:
                db.json_dumps(value)
                self._put_state(s, key, value, when)

            self._write_coalesced(("state", key), write)
            return
        db.json_dumps(value)
        when = self._at(at)
        self._write_pending(("state", key))  # an earlier coalesced value must not land after this one
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
    #
    # An override sets one dotted key of an account's notebook params (``strategy_params.fast``,
    # ``execution_time``, ``mode``, ...) for that account's next sessions; ``account=None`` is
    # a global override (kept as before, applied by no session). Every change writes the
    # override, its ``config_history`` row (old and new value, who, why) and its audit entry
    # in one transaction. ``None`` is never an override's value: in the history it means
    # "no override", which is what a revert puts back.

    def set_override(
        self, key: str, value: Any, reason: str, *, actor: str = "user", account: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Override ``key`` for ``account`` (None: globally); the value it replaces goes to ``config_history``.

        ``mode: online_live`` (real money) is refused unless the account's live trading
        was confirmed (``toolkit live confirm``).
        """
        text("key", key, max_length=256)
        text("reason", reason, max_length=10_000)
        text("actor", actor)
        text("account", account, optional=True)
        if value is None:
            raise LedgerError(f"value of {key}: got None; allowed: a JSON value other than null "
                              "(clear_override removes an override)")
        try:
            db.json_dumps(value)
        except TypeError:
            raise LedgerError(f"value of {key}: got {value!r}; allowed: a JSON value (number, text, true/false, "
                              "list or mapping of them)") from None
        self._write_override(key, value, reason, actor, account, self._at(at), clear=False)

    def clear_override(
        self, key: str, reason: str, *, actor: str = "user", account: str | None = None, at: datetime | None = None
    ) -> None:
        """Remove the active override of ``key`` for ``account`` (recorded in history with ``new = None``)."""
        text("key", key, max_length=256)
        text("reason", reason, max_length=10_000)
        text("actor", actor)
        text("account", account, optional=True)
        self._write_override(key, None, reason, actor, account, self._at(at), clear=True)

    def revert_change(self, change_id: int, reason: str, *, actor: str = "user", at: datetime | None = None) -> None:
        """Put the key of ``config_history`` row ``change_id`` (same account) back to that change's ``old``.

        An ``old`` of None (the change made the first override) clears the override; the
        revert is a change of its own (history row and audit entry ``revert_override``).
        """
        if isinstance(change_id, bool) or not isinstance(change_id, int):
            raise LedgerError(f"change_id: got {change_id!r}; allowed: the id of a change in config_history")
        text("reason", reason, max_length=10_000)
        text("actor", actor)
        when = self._at(at)
        with self.transaction() as s:
            change = s.get(ConfigHistoryRow, change_id)
            if change is None:
                raise LedgerError(f"change_id: got {change_id}; allowed: the id of a change in config_history "
                                  "(see `toolkit config history`)")
            self._write_override(change.key, change.old, reason, actor, change.account, when,
                                 clear=change.old is None, reverts=change_id)

    def _write_override(self, key: str, value: Any, reason: str, actor: str, account: str | None, at: datetime, *,
                        clear: bool, reverts: int | None = None) -> None:
        scope = "globally" if account is None else f"for account {account!r}"
        with self.transaction() as s:
            if key == "mode" and value == TradingMode.ONLINE_LIVE.value:
                self._check_live_confirmed(s, account)
            active = list(s.scalars(
                select(ConfigOverrideRow).where(ConfigOverrideRow.key == key, ConfigOverrideRow.active,
                                                _in_scope(ConfigOverrideRow.account, account))
                .order_by(ConfigOverrideRow.id)))
            if clear and not active:
                if reverts is not None:
                    raise LedgerError(f"change_id: got {reverts}; allowed: a change whose undoing changes something "
                                      f"(it made the first override of {key!r} {scope}, and none is active now)")
                raise LedgerError(f"key: no active override of {key!r} {scope} to clear")
            old = active[-1].value if active else None
            if not clear:
                self._refuse_overlap(s, key, account, scope)
            for row in active:
                row.active = False
            if not clear:
                s.add(ConfigOverrideRow(key=key, value=value, reason=reason, set_at=at, active=True, actor=actor,
                                        account=account))
            s.add(ConfigHistoryRow(key=key, old=old, new=value, reason=reason, at=at, actor=actor, account=account))
            detail: dict[str, Any] = {"key": key, "account": account, "old": old, "new": value, "reason": reason}
            if reverts is not None:
                detail["change_id"] = reverts
            action = "revert_override" if reverts is not None else "clear_override" if clear else "set_override"
            s.add(AuditLogRow(at=at, actor=actor, action=action, detail=detail))
            s.flush()

    @staticmethod
    def _refuse_overlap(s: Session, key: str, account: str | None, scope: str) -> None:
        """Refuse ``key`` when an active override of the same scope is its parent or child.

        ``strategy_params`` and ``strategy_params.fast`` both active would make the value in
        force depend on the order they are applied in: whoever reads the overrides (the
        session, the panel, ``toolkit config show``) could each see a different one.
        """
        keys = s.scalars(select(ConfigOverrideRow.key).where(ConfigOverrideRow.active,
                                                             _in_scope(ConfigOverrideRow.account, account)))
        for other in keys:
            if other != key and (other.startswith(key + ".") or key.startswith(other + ".")):
                raise LedgerError(f"key: got {key!r}; allowed: a key that neither holds nor sits inside an active "
                                  f"override {scope} ({other!r} is one: clear it first)")

    @staticmethod
    def _check_live_confirmed(s: Session, account: str | None) -> None:
        """Real money only after the recorded confirmation (promise 3), even through an override."""
        if account is None:
            raise LedgerError("account: got None; allowed: an account label for mode online_live (real money is "
                              "confirmed per account, never overridden globally)")
        if s.get(SystemStateRow, live_confirmation_key(account)) is None:
            raise LedgerError(f"mode: got 'online_live' for account {account!r}; allowed: online_live only after "
                              f"`toolkit live confirm --account {account}` recorded the real-money confirmation")

    def overrides(self, account: str | None = None) -> dict[str, Any]:
        """Active overrides of ``account`` (None: the global ones) by key."""
        with self._reading() as s:
            rows = s.scalars(select(ConfigOverrideRow)
                             .where(ConfigOverrideRow.active, _in_scope(ConfigOverrideRow.account, account))
                             .order_by(ConfigOverrideRow.id))
            return {r.key: r.value for r in rows}

    def override_records(self, account: str | None = None) -> pd.DataFrame:
        """Active overrides of ``account`` (None: the global ones): key, value, reason, actor, set_at."""
        with self._reading() as s:
            q = (select(ConfigOverrideRow)
                 .where(ConfigOverrideRow.active, _in_scope(ConfigOverrideRow.account, account))
                 .order_by(ConfigOverrideRow.id))
            rows = [{"key": r.key, "value": r.value, "reason": r.reason, "actor": r.actor, "set_at": r.set_at}
                    for r in s.scalars(q)]
        return frame(rows, ["key", "value", "reason", "actor", "set_at"], time_columns=("set_at",),
                     json_columns=("value",))

    def config_history(self, key: str | None = None, *, account: str | None = None) -> pd.DataFrame:
        """Every change of configuration overrides, oldest first: id, at, account, key, old, new, reason, actor.

        ``account`` keeps that account's changes; None keeps every change (global ones
        have ``account`` None). ``id`` is what :meth:`revert_change` takes.
        """
        with self._reading() as s:
            q = select(ConfigHistoryRow).order_by(ConfigHistoryRow.id)
            if key is not None:
                q = q.where(ConfigHistoryRow.key == key)
            if account is not None:
                q = q.where(ConfigHistoryRow.account == account)
            rows = [{"id": r.id, "at": r.at, "account": r.account, "key": r.key, "old": r.old, "new": r.new,
                     "reason": r.reason, "actor": r.actor} for r in s.scalars(q)]
        return frame(rows, HISTORY_COLUMNS, time_columns=("at",), json_columns=("old", "new"))


#: Columns of :meth:`ControlMixin.config_history`.
HISTORY_COLUMNS = ["id", "at", "account", "key", "old", "new", "reason", "actor"]


def _in_scope(column: Any, account: str | None) -> Any:
    """``account IS NULL`` for the global scope, else ``account = :account``."""
    return column.is_(None) if account is None else column == account
