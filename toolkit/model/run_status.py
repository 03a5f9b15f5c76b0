"""What became of one scheduled decision (a run of strategy, account, session, execution time).

The ledger stores a run's status and the session loop decides it; both name it with
:class:`RunStatus`, defined here once. Values are the strings stored in the ledger's
``runs.status`` column (a ``StrEnum``: a member equals, prints and serialises as its text).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RunStatus"]


class RunStatus(StrEnum):
    """A run's status in the ledger."""

    #: Opened; the session is in progress (or its process died: it is resumed on the next run).
    STARTED = "started"
    COMPLETED = "completed"
    #: Stopped before any order (bad or stale data); the message says what to do.
    FAILED = "failed"
    #: The session date is not an exchange session: nothing was traded.
    MARKET_CLOSED = "market_closed"
    #: A halting guard (kill switch, daily loss, drawdown, stale bar) stopped every order of the session.
    HALTED = "halted"
    #: An order guard refused some orders of the session (the others were sent).
    BLOCKED = "blocked"

    @property
    def finished(self) -> bool:
        """The run ended (every status but ``started``)."""
        return self is not RunStatus.STARTED

    @property
    def retryable(self) -> bool:
        """Running the slot again tries again: a crash, a failure, or a halt (the kill switch may be off now)."""
        return self in (RunStatus.STARTED, RunStatus.FAILED, RunStatus.HALTED)

    @property
    def stopped(self) -> bool:
        """The session meant to trade and guards stopped orders (``toolkit run`` exits 3)."""
        return self in (RunStatus.HALTED, RunStatus.BLOCKED)
