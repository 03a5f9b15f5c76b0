"""Which modes and execution times an account may be switched to, and what is in force now.

The panel never decides this itself: a mode is offered when the account's notebook's
params model accepts the account's params file with that mode (the same validation the
next session runs), and ``online_live`` only when the ledger holds the account's live
confirmation (``toolkit live confirm``). Anything refused is shown disabled with the
model's own one-line reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toolkit.errors import ParamsError
from toolkit.widgets.accounts import AccountInfo, literal_choices

__all__ = ["MODES", "ModeChoice", "effective_setting", "execution_time_choices", "mode_choices"]

#: Every trading mode, in the order the panel shows them.
MODES = ("offline_mock", "paper", "online_live")


@dataclass(frozen=True)
class ModeChoice:
    """A mode and whether the account can trade it; ``why`` says why not, in one line."""

    mode: str
    allowed: bool
    why: str | None = None


def mode_choices(account: AccountInfo, *, live_confirmed: bool) -> list[ModeChoice]:
    """Each of :data:`MODES` for ``account``, allowed or refused with the reason."""
    if not account.editable or account.notebook is None:
        why = account.problem or "view-only: no params file under params/daily_dry_run or params/live names it"
        return [ModeChoice(m, False, why) for m in MODES]
    from toolkit.params.notebooks import model_for

    model = model_for(account.notebook)
    out: list[ModeChoice] = []
    for mode in MODES:
        try:
            model.parse({**account.raw, "mode": mode})
        except ParamsError as exc:
            out.append(ModeChoice(mode, False, str(exc)))
            continue
        if mode == "online_live" and not live_confirmed:
            out.append(ModeChoice(mode, False, f"needs the live confirmation of {account.name} "
                                               f"(`toolkit live confirm --account {account.name}`)"))
            continue
        out.append(ModeChoice(mode, True))
    return out


def execution_time_choices(account: AccountInfo) -> tuple[str, ...]:
    """The execution times the account's notebook allows (its params model's choices)."""
    if account.notebook is None:
        return () if account.execution_time is None else (account.execution_time,)
    from toolkit.params.notebooks import model_for

    return literal_choices(model_for(account.notebook), "execution_time")


def effective_setting(account: AccountInfo, overrides: Mapping[str, Any], key: str) -> Any:
    """The value of ``mode`` or ``execution_time`` the next session uses: the override, else the file's."""
    if key in overrides:
        return overrides[key]
    return getattr(account, key)
