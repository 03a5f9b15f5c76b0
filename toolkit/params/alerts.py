"""The ``alerts:`` block of the dry-run and live params: which alerts a run raises, and when.

Where alerts GO is not a parameter: channel URLs hold tokens and passwords, so they come
from the secret store (``TOOLKIT_ALERT_URLS``, see :mod:`toolkit.ops.alerts`), never from
a params file that every run archives. What is here is what a strategy's owner decides:
which kinds of event to be told about, and the thresholds that are early warnings rather
than halts (a drawdown worth a message long before the guard that stops trading).

The defaults raise every kind and add no threshold, so a params file without the block
behaves as before, and a session that completes normally raises nothing.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import ConfigDict, Field

from toolkit.params.base import StrictModel

__all__ = ["ALERT_KIND_NAMES", "AlertKindName", "AlertSettings"]

#: The kinds a params file can switch on or off (the ledger's ``alerts.kind`` values but
#: ``test``, which only `toolkit alerts test` raises).
AlertKindName = Literal["run_failed", "guard_tripped", "kill_switch_changed", "reconciliation_mismatch",
                        "token_expiry", "missed_session"]
ALERT_KIND_NAMES: tuple[AlertKindName, ...] = get_args(AlertKindName)


class AlertSettings(StrictModel):
    """Which alerts runs of these params raise, and the early-warning thresholds (fractions of equity)."""

    model_config = ConfigDict(frozen=True)

    kinds: tuple[AlertKindName, ...] = Field(
        ALERT_KIND_NAMES, description="the kinds of alert this account's runs send (others are neither sent "
                                      "nor recorded)")
    drawdown: float | None = Field(
        None, gt=0, lt=1,
        description="send guard_tripped when a session ends this far below the account's peak equity "
                    "(an early warning below guards.max_drawdown_limit); null = only when a guard trips")
    daily_loss: float | None = Field(
        None, gt=0, lt=1,
        description="send guard_tripped when a session's equity ends this far below the previous session's; "
                    "null = only when a guard trips")
    token_expiry_days: float = Field(
        2.0, gt=0, le=7,
        description="send token_expiry when the Schwab refresh token (7 days) has fewer days left")

    def wants(self, kind: str) -> bool:
        """True when runs of these params send ``kind`` (``test`` always goes)."""
        return kind == "test" or kind in self.kinds
