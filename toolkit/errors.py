"""Errors a user can act on.

Every error raised for bad input names what was wrong (the field or symbol), the
value that was seen and what is allowed, so a quant reading a failed papermill log
knows what to fix without reading a traceback from deep inside pandas.
"""

from __future__ import annotations

from typing import Any


class ToolkitError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class ParamsError(ToolkitError):
    """A parameter (from a params file, ``--set`` or a notebook) is not allowed.

    ``field`` is the dotted path of the parameter (``strategy_params.fast``),
    ``value`` what was given and ``allowed`` a short statement of what is allowed.
    """

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: got {value!r}; allowed: {allowed}")


class DataError(ToolkitError):
    """Market data that breaks a rule of the canonical bar frame.

    ``symbol`` and ``timestamp`` locate the first bad bar, ``rule`` names the
    rule it breaks (for example ``high >= low``).
    """

    def __init__(self, symbol: str, timestamp: Any, rule: str, detail: str = "") -> None:
        self.symbol = symbol
        self.timestamp = timestamp
        self.rule = rule
        self.detail = detail
        where = f" at {timestamp}" if timestamp is not None else ""
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{symbol}{where}: bar breaks rule '{rule}'{extra}")


class InvalidInput(ParamsError, ValueError):
    """Bad input to the trading model or the engine: the field, the value seen, what is allowed.

    It is both a :class:`ParamsError` (so the runner reports it like any parameter
    error) and a ``ValueError`` (so plain Python callers can catch it).
    """


class IllegalTransition(ToolkitError):
    """An order was asked to move to a status its current status cannot reach.

    Raised by :meth:`toolkit.model.Order.apply` and by the ledger (whose
    ``IllegalTransitionError`` is also a ``LedgerError``) from the one table of
    :data:`toolkit.model.TRANSITIONS`, before anything changes.
    """

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
