"""The five execution times of a trading session, spelled once.

Their New York instants on a given day come from the exchange calendar
(:func:`toolkit.time.execution_instant`); here is what does not need a calendar:
the order of the times, where each sits relative to the open or the close, the
short code in a client order id, and which field of a daily bar prices it.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from toolkit.errors import InvalidInput

__all__ = ["EXECUTION_TIMES", "ExecutionTime", "ExecutionTimeName"]


class ExecutionTime(str, Enum):
    """When in the session a run decides and trades (DESIGN.md, Money and time)."""

    OPEN = "open"
    AFTER_OPEN_15MIN = "15min_after_open"
    BEFORE_CLOSE_15MIN = "15min_before_close"
    BEFORE_CLOSE_5MIN = "5min_before_close"
    CLOSE = "close"

    @classmethod
    def parse(cls, value: Any, field: str = "execution_time") -> ExecutionTime:
        """The member named by ``value``, or an :class:`~toolkit.errors.InvalidInput` listing the five."""
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(field, value, "one of " + ", ".join(EXECUTION_TIMES)) from None

    @property
    def anchor(self) -> Literal["open", "close"]:
        """The session event this time is measured from."""
        return _ANCHOR[self]

    @property
    def offset_minutes(self) -> int:
        """Minutes after (positive) or before (negative) the :attr:`anchor`."""
        return _OFFSET_MINUTES[self]

    @property
    def code(self) -> str:
        """The short form inside a client order id (``O``, ``O15``, ``C15``, ``C5``, ``C``)."""
        return _CODE[self]

    @property
    def bar_field(self) -> Literal["open", "close"]:
        """The daily bar's price nearest to this time: the open for the two morning times, else the close."""
        return "open" if self.anchor == "open" else "close"


_ANCHOR: dict[ExecutionTime, Literal["open", "close"]] = {
    ExecutionTime.OPEN: "open",
    ExecutionTime.AFTER_OPEN_15MIN: "open",
    ExecutionTime.BEFORE_CLOSE_15MIN: "close",
    ExecutionTime.BEFORE_CLOSE_5MIN: "close",
    ExecutionTime.CLOSE: "close",
}
_OFFSET_MINUTES = {
    ExecutionTime.OPEN: 0,
    ExecutionTime.AFTER_OPEN_15MIN: 15,
    ExecutionTime.BEFORE_CLOSE_15MIN: -15,
    ExecutionTime.BEFORE_CLOSE_5MIN: -5,
    ExecutionTime.CLOSE: 0,
}
_CODE = {
    ExecutionTime.OPEN: "O",
    ExecutionTime.AFTER_OPEN_15MIN: "O15",
    ExecutionTime.BEFORE_CLOSE_15MIN: "C15",
    ExecutionTime.BEFORE_CLOSE_5MIN: "C5",
    ExecutionTime.CLOSE: "C",
}

#: The execution times a run may choose, in the order they happen in a session.
EXECUTION_TIMES: tuple[str, ...] = tuple(e.value for e in ExecutionTime)

#: The same five names as a type for params models (a test keeps it equal to the enum).
ExecutionTimeName = Literal["open", "15min_after_open", "15min_before_close", "5min_before_close", "close"]
