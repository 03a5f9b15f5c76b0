"""What the ``toolkit config`` commands ask the ledger: an account's overrides, their history, set and revert.

Plain functions returning the text to print, so the CLI stays a thin argument parser
(as :mod:`toolkit.engine.status` does for ``toolkit live``). Setting an override with
the account's params file at hand checks it the way the account's next session will
(:func:`~toolkit.engine.account_overrides.apply_account_overrides`, with every other
override of the account) before anything is written; without the file it is written
as given and checked when the next session starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from toolkit.engine.account_overrides import OverrideRefused, apply_account_overrides
from toolkit.errors import ParamsError, ToolkitError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["clear_override_text", "history_text", "overrides_text", "params_check", "parse_assignment",
           "revert_checked", "revert_text", "set_override_text"]


def parse_assignment(item: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> ``(key, value)``, the value read as YAML (as ``--set`` reads it)."""
    from toolkit.params import parse_overrides

    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ParamsError("KEY=VALUE", item, "a dotted params key, '=' and a value read as YAML, e.g. "
                          "strategy_params.fast=12")
    try:
        ((key, value),) = parse_overrides([item]).items()
    except ParamsError as exc:
        raise ParamsError(f"value of {key.strip()}", raw, exc.allowed) from None
    if value is None:
        raise ParamsError(f"value of {key}", raw, "a value (to remove the override: toolkit config revert, or "
                          "clear it with toolkit config clear)")
    return key, value


def overrides_text(ledger: Ledger, account: str) -> str:
    """The account's overrides in force: key = value, who set it, when and why."""
    records = ledger.override_records(account)
    if records.empty:
        return f"no config overrides for account {account}: its sessions run on its params file as it is"
    lines = [f"config overrides of account {account} (its next session uses them):"]
    for r in records.to_dict("records"):
        lines.append(f"  {r['key']} = {_shown(r['value'])}  set by {r['actor']} at {_when(r['set_at'])}: "
                     f"{r['reason']}")
    return "\n".join(lines)


def history_text(ledger: Ledger, account: str, key: str | None = None) -> str:
    """Every change of the account's overrides, oldest first, with its id (what ``config revert`` takes)."""
    history = ledger.config_history(key, account=account)
    if history.empty:
        return f"no config changes for account {account}" + (f" of {key}" if key else "")
    lines = [f"config history of account {account} (id  when  key: old -> new  by who: why):"]
    for r in history.to_dict("records"):
        lines.append(f"  {r['id']}  {_when(r['at'])}  {r['key']}: {_shown(r['old'], '(none)')} -> "
                     f"{_shown(r['new'], '(cleared)')}  by {r['actor']}: {r['reason']}")
    return "\n".join(lines)


def set_override_text(ledger: Ledger, account: str, key: str, value: Any, reason: str, *, actor: str,
                      notebook: str | None = None, params: DailyDryRunParams | None = None) -> str:
    """Write the override (checked against ``params`` of ``notebook`` when given) and say what changed.

    With ``params`` the write and the check share one transaction: an override the
    account's next session would refuse is rolled back, nothing is written.
    """
    before = ledger.overrides(account).get(key)
    with ledger.transaction():
        ledger.set_override(key, value, reason, actor=actor, account=account)
        if params is not None and notebook is not None:
            try:
                apply_account_overrides(notebook, params, ledger)
            except OverrideRefused as exc:
                raise ToolkitError(f"{exc.detail}; nothing was written") from None
    change = int(ledger.config_history(key, account=account)["id"].iloc[-1])
    was = f"override {_shown(before)}" if before is not None else "no override"
    checked = (f"checked against {notebook} params" if params is not None else
               "not checked yet: the account's next session checks it (give --params FILE to check it now)")
    return (f"{key} = {_shown(value)} for account {account} (was: {was}); change {change} in the config history; "
            f"{checked}")


def clear_override_text(ledger: Ledger, account: str, key: str, reason: str, *, actor: str) -> str:
    """Remove the account's override of ``key``: its next session uses the params file's value."""
    ledger.clear_override(key, reason, actor=actor, account=account)
    return f"{key} override cleared for account {account}: its next session uses the params file's value"


def revert_checked(ledger: Ledger, change_id: int, reason: str, *, actor: str,
                   check: Callable[[], None] | None = None) -> None:
    """Undo one change of the history, checked as saving is: ``check`` runs in the revert's
    transaction and raising rolls it back, so a revert never writes what the next session refuses.

    Used by the panel and the CLI alike.
    """
    with ledger.transaction():
        ledger.revert_change(change_id, reason, actor=actor)
        if check is not None:
            check()


def params_check(ledger: Ledger, notebook: str, params: DailyDryRunParams) -> Callable[[], None]:
    """A check of the account's overrides against ``params`` as its next session applies them."""

    def check() -> None:
        try:
            apply_account_overrides(notebook, params, ledger)
        except OverrideRefused as exc:
            raise ToolkitError(f"{exc.detail}; nothing was written") from None

    return check


def revert_text(ledger: Ledger, change_id: int, reason: str, *, actor: str, notebook: str | None = None,
                params: DailyDryRunParams | None = None) -> str:
    """Undo one change of the history (its key goes back to the change's old value); says where it now stands.

    With ``params`` of ``notebook`` the result is checked first (:func:`revert_checked`).
    """
    check = params_check(ledger, notebook, params) if params is not None and notebook is not None else None
    revert_checked(ledger, change_id, reason, actor=actor, check=check)
    history = ledger.config_history()
    change = history[history["id"] == change_id].iloc[0]
    key, account = change["key"], change["account"]
    now = ledger.overrides(account).get(key)
    scope = f"for account {account}" if account is not None else "globally"
    if now is None:
        return (f"reverted change {change_id}: {key} override cleared {scope}; the next session uses the params "
                "file's value")
    return f"reverted change {change_id}: {key} = {_shown(now)} again {scope}"


def _shown(value: Any, missing: str = "(none)") -> str:
    if value is None:
        return missing
    return json.dumps(value) if not isinstance(value, str) else value


def _when(at: Any) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")
