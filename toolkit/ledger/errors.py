"""Errors raised by the ledger.

They subclass :class:`toolkit.errors.ToolkitError` so notebooks and the CLI can
catch every deliberate toolkit error in one place, and they say what to do: a
failed papermill log should be enough to fix the problem.
"""

from __future__ import annotations

from toolkit.errors import ToolkitError


class LedgerError(ToolkitError):
    """The ledger refused a request or cannot be used as it is.

    Raised before anything is written, so a refused request never leaves a
    partial record behind.
    """


class IllegalTransitionError(LedgerError):
    """An order was asked to move to a status its lifecycle does not allow."""

    def __init__(self, client_order_id: str, from_status: str, to_status: str, allowed: tuple[str, ...]) -> None:
        self.client_order_id = client_order_id
        self.from_status = from_status
        self.to_status = to_status
        self.allowed = allowed
        allowed_text = ", ".join(allowed) if allowed else "none (terminal status)"
        super().__init__(
            f"order {client_order_id}: illegal transition {from_status} -> {to_status}; "
            f"allowed from {from_status}: {allowed_text}"
        )
