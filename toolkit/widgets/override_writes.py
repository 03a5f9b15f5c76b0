"""Writing a person's changes as the account's config overrides, all or none.

A change back to the value of the account's params file clears the override (the file is
in force again) instead of stacking an override equal to it; any other change sets one.
Every key of one save is written in one ledger transaction, so a refused key (the
ledger checks each) leaves none of the others behind. Each write records who, when, the
old and new values and the reason (``config_history``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.ledger import Ledger

__all__ = ["write_overrides"]


def write_overrides(
    ledger: Ledger,
    account: str,
    changes: Mapping[str, Any],
    *,
    base: Mapping[str, Any],
    active: Mapping[str, Any],
    reason: str,
    actor: str,
) -> list[str]:
    """Write ``changes`` (dotted key -> new value) for ``account``; returns one line per key written.

    ``base``: the params file's values of those keys; ``active``: the account's overrides now.
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
    return done
