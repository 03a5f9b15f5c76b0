"""Writing a person's changes as the account's config overrides, all or none.

A change back to the value of the account's params file clears the override (the file is
in force again) instead of stacking an override equal to it; any other change sets one.
Every key of one save is written in one ledger transaction, so a refused key (the
ledger checks each) leaves none of the others behind. Each write records who, when, the
old and new values and the reason (``config_history``).

Before the transaction commits, a dry-run account's params are checked with the
overrides exactly as its next session will apply them
(:func:`toolkit.engine.account_overrides.apply_account_overrides`): what that session
would refuse is rolled back and never written. A live account cannot be checked here
(resolving its params loads the broker's data, which needs credentials the panel does
not have); its next session checks it before any order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.widgets.accounts import AccountInfo

__all__ = ["session_check", "write_overrides"]


def session_check(account: AccountInfo, ledger: Ledger, project_root: Path) -> Callable[[], None] | None:
    """A check of ``account``'s overrides as its next session applies them, or None (a live account)."""
    if account.notebook != "daily_dry_run" or not account.editable:
        return None
    from toolkit.engine.override_commands import params_check
    from toolkit.params import validate

    params = cast("DailyDryRunParams", validate(account.notebook, dict(account.raw), base_dir=project_root))
    return params_check(ledger, account.notebook, params)


def write_overrides(
    ledger: Ledger,
    account: str,
    changes: Mapping[str, Any],
    *,
    base: Mapping[str, Any],
    active: Mapping[str, Any],
    reason: str,
    actor: str,
    check: Callable[[], None] | None = None,
) -> list[str]:
    """Write ``changes`` (dotted key -> new value) for ``account``; returns one line per key written.

    ``base``: the params file's values of those keys; ``active``: the account's overrides now;
    ``check``: run after the writes, in their transaction; raising rolls every write back.
    """
    done: list[str] = []
    with ledger.transaction():
        for key, value in changes.items():
            if key in active and key in base and value == base[key]:
                ledger.clear_override(key, reason, actor=actor, account=account)
                done.append(f"{key}: back to the params file's {value!r}")
            elif active.get(key, base.get(key)) != value or key not in base:
                ledger.set_override(key, value, reason, actor=actor, account=account)
                done.append(f"{key}: {active.get(key, base.get(key))!r} -> {value!r}")
        if check is not None and done:
            check()
    return done
