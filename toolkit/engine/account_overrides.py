"""An account's config overrides, applied to its session's params before anything uses them.

The control panel (and ``toolkit config set``) writes overrides of dotted params keys
(``strategy_params.fast``, ``execution_time``, ``guards.daily_loss_limit``, ...) per
account into the ledger; the account's next session reads them here, right after it
opens the ledger. They are applied to the params as the params file gave them and the
whole set is validated again by the notebook's params model, so an override gets
exactly the checks a params file gets (bounds, cross-field rules, the strategy's own
model). A stored override the model refuses stops the session before any order, with
one line naming the key, the value and the model's reason: a session never runs on
params nobody validated, and never silently drops what someone set.

Some keys choose *what* runs rather than how, and are fixed by the params file
(:data:`FIXED_KEYS`): the account (the overrides are looked up by it), the ledger (open
before the overrides are read), the session date, the strategy (part of the run key and
of the account's performance record) and the data (the bars the session decides on).

Only the account's own overrides apply; global ones (``account`` NULL in the ledger)
are records without a session that applies them. A replay (``toolkit replay``) walks
history with the params it is given and applies none.

What the dry run does with ``mode``: its params model allows ``offline_mock`` only, so
an override of ``mode`` on a dry-run account is refused like any other value the model
refuses (the session stops and says to revert or clear it). On a live account,
``mode: online_live`` needs the account's recorded real-money confirmation (``toolkit
live confirm``), checked here as well as when the override is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from toolkit.engine.result import SessionError, json_safe
from toolkit.errors import ParamsError, one_line, shown

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["FIXED_KEYS", "AppliedOverride", "OverrideRefused", "apply_account_overrides"]

P = TypeVar("P", bound="DailyDryRunParams")

#: Params keys an override may not change (nor any key under them): see the module doc.
FIXED_KEYS = ("account", "db_url", "as_of", "strategy", "strategy_params_file", "data")

@dataclass(frozen=True)
class AppliedOverride:
    """One override in force for a session: the params file's value (``base``) and what replaced it."""

    key: str
    value: Any
    base: Any
    actor: str
    set_at: dt.datetime
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for the run summary (the ledger's run record, snapshot.json)."""
        return {"key": self.key, "value": json_safe(self.value), "base": json_safe(self.base),
                "actor": self.actor, "set_at": self.set_at.isoformat(), "reason": self.reason}


def apply_account_overrides(notebook: str, params: P, ledger: Ledger) -> tuple[P, tuple[AppliedOverride, ...]]:
    """``params`` with ``params.account``'s overrides from ``ledger`` applied and validated, and what was applied.

    No override: ``params`` itself and ``()``. Raises :class:`OverrideRefused` (a
    :class:`SessionError`, one line) for an override of a fixed key, one the params
    model of ``notebook`` refuses, or ``mode: online_live`` without the account's
    recorded confirmation.
    """
    from toolkit.params import apply_overrides, validate

    records = ledger.override_records(params.account)
    if records.empty:
        return params, ()
    stated = params.model_dump(mode="json")
    applied = tuple(
        AppliedOverride(key=r["key"], value=r["value"], base=_lookup(stated, r["key"]), actor=r["actor"],
                        set_at=r["set_at"].to_pydatetime(), reason=r["reason"])
        for r in records.to_dict("records"))
    for o in applied:
        if any(o.key == k or o.key.startswith(k + ".") for k in FIXED_KEYS):
            raise _refused(o, params.account,
                           f"as {o.key} is fixed by the params file (an override may not change "
                           f"{', '.join(FIXED_KEYS)})")
    wanted = {o.key: o.value for o in applied}
    raw = params.model_dump()
    try:
        overridden = validate(notebook, apply_overrides(raw, wanted))
    except ParamsError as exc:
        raise _refused(_culprit(exc, applied, notebook, raw), params.account,
                       f"by the {notebook} params: {exc}") from None
    if wanted.get("mode") == "online_live" and ledger.live_confirmation(params.account) is None:
        raise _refused(next(o for o in applied if o.key == "mode"), params.account,
                       f"as online_live (real money) needs the account's recorded confirmation: `toolkit live confirm "
                       f"--account {params.account}`")
    return overridden, applied  # type: ignore[return-value]  # validate(notebook) returns the notebook's model


def _lookup(tree: Any, key: str) -> Any:
    """The value at dotted ``key`` of a params mapping (None where the file leaves it out)."""
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _culprit(exc: ParamsError, applied: tuple[AppliedOverride, ...], notebook: str,
             raw: dict[str, Any]) -> AppliedOverride | tuple[AppliedOverride, ...]:
    """The override the model's error is about: the one at (or above, or under) the error's field,
    else the one refused on its own; else all of them together (a cross-field rule)."""
    from toolkit.params import apply_overrides, validate

    field = exc.field
    for o in applied:
        if field == o.key or field.startswith(o.key + ".") or o.key.startswith(field + "."):
            return o
    if len(applied) > 1:
        for o in applied:
            try:
                validate(notebook, apply_overrides(raw, {o.key: o.value}))
            except ParamsError:
                return o
    return applied if len(applied) > 1 else applied[0]


class OverrideRefused(SessionError):
    """A stored override the session cannot run with; ``detail`` says which and why (without what to do)."""

    def __init__(self, detail: str, account: str) -> None:
        self.detail = detail
        super().__init__(one_line(
            f"{detail}. Nothing was sent: revert or clear it (`toolkit config history --account {account}`, then "
            "`toolkit config revert CHANGE_ID --reason TEXT`), or set a value the params allow"))


def _refused(which: AppliedOverride | tuple[AppliedOverride, ...], account: str, why: str) -> OverrideRefused:
    overrides = which if isinstance(which, tuple) else (which,)
    named = ", ".join(f"{o.key}={shown(o.value)} (set by {o.actor} at {o.set_at.isoformat()}: {o.reason})"
                      for o in overrides)
    noun = "config override" if len(overrides) == 1 else "config overrides"
    return OverrideRefused(one_line(f"{noun} {named} of account {account} refused {why}"), account)
