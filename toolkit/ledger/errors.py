"""Errors raised by the ledger.

They subclass :class:`toolkit.errors.ToolkitError` so notebooks and the CLI can
catch every deliberate toolkit error in one place, and they say what to do: a
failed papermill log should be enough to fix the problem.
"""

from __future__ import annotations

from toolkit.errors import IllegalTransition, ToolkitError


class LedgerError(ToolkitError):
    """The ledger refused a request or cannot be used as it is.

    Raised before anything is written, so a refused request never leaves a
    partial record behind.
    """


class IllegalTransitionError(LedgerError, IllegalTransition):
    """A stored order was asked to move to a status the model's state machine does not allow.

    Both a :class:`LedgerError` (nothing was written) and the model's
    :class:`~toolkit.errors.IllegalTransition` (same table, same message).
    """
