"""Errors a user can act on.

Every error raised for bad input names what was wrong (the field or symbol), the
value that was seen and what is allowed, so a quant reading a failed papermill log
knows what to fix without reading a traceback from deep inside pandas.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, get_args, get_origin

#: Longest value shown in a message: a fuzzed or pasted blob must not flood the one line.
MAX_SHOWN = 120


class ToolkitError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class ParamsError(ToolkitError):
    """A parameter (from a params file, ``--set`` or a notebook) is not allowed.

    ``field`` is the dotted path of the parameter (``strategy_params.fast``),
    ``value`` what was given and ``allowed`` a short statement of what is allowed.
    The message is one line: ``field: got VALUE; allowed: ALLOWED``, the value shown as
    the user wrote it (dates as ISO dates) and cut to :data:`MAX_SHOWN` characters.
    ``problem`` says what is wrong when that reads better than the value; the message is
    then ``field: PROBLEM; ALLOWED`` with ``allowed`` a phrase of its own
    (``strategy_params.fast: unknown parameter 'fast' for mean_reversion; its parameters
    are ...``).
    """

    def __init__(self, field: str, value: Any, allowed: str, *, problem: str | None = None) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.problem = problem
        if problem is None:
            text = f"{field}: got {shown(value)}; allowed: {allowed}"
        else:
            text = f"{field}: {problem}; {allowed}"
        super().__init__(one_line(text))


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


class BrokerError(ToolkitError):
    """A broker (Alpaca, Schwab) could not do what was asked; the message says what to do.

    ``broker`` names it; ``status`` is the HTTP status when there was one. Raised by the
    adapters only after they have made sure nothing was doubled (an order POST that
    failed has been looked up by its id first, promise 8).
    """

    def __init__(self, broker: str, message: str, *, status: int | None = None) -> None:
        self.broker = broker
        self.status = status
        super().__init__(one_line(f"{broker}: {message}"))


class BrokerUnavailable(BrokerError):
    """Timeouts, connection errors, 429 and 5xx that outlasted the adapter's bounded retries."""


class BrokerAuthError(BrokerError):
    """Credentials missing, refused (401/403) or expired (a Schwab refresh token after 7 days)."""


class UnsupportedOrder(BrokerError):
    """An order type or term this broker does not offer; refused before anything is sent."""


class AmbiguousOrder(BrokerError):
    """After a crash, more than one broker order could be the one the ledger sent: a person must look."""


# ----------------------------------------------------------------------- wording


def shown(value: Any) -> str:
    """``value`` as a message shows it: dates as ISO text, at most :data:`MAX_SHOWN` characters."""
    text = repr(_plain(value))
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def one_line(text: str) -> str:
    """Fold line breaks (a YAML excerpt, a library's message) so an error stays one line."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def number(value: Any) -> str:
    """A bound as a person writes it: ``0``, ``0.5``, ``1000000000000`` (not ``1e+12``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


#: pydantic error types -> what is allowed, in plain words (types with bounds or choices
#: are worded by :func:`plain_allowed` itself).
PLAIN: dict[str, str] = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "int_parsing_size": "a whole number of sensible size",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "decimal_type": "a number", "decimal_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "text", "string_unicode": "text", "str_type": "text",
    "date_type": "a date like 2018-06-01", "date_parsing": "a date like 2018-06-01",
    "date_from_datetime_parsing": "a date like 2018-06-01",
    "date_from_datetime_inexact": "a date like 2018-06-01 (no time of day)",
    "datetime_type": "a date and time like 2018-06-01T15:30:00Z",
    "datetime_parsing": "a date and time like 2018-06-01T15:30:00Z",
    "datetime_from_date_parsing": "a date and time like 2018-06-01T15:30:00Z",
    "time_type": "a time of day like 15:30", "time_parsing": "a time of day like 15:30",
    "time_delta_type": "a duration like 00:15:00 or a number of seconds",
    "time_delta_parsing": "a duration like 00:15:00 or a number of seconds",
    "list_type": "a list, e.g. [a, b]", "tuple_type": "a list, e.g. [a, b]", "set_type": "a list, e.g. [a, b]",
    "dict_type": "a mapping of keys to values", "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values", "dataclass_type": "a mapping of keys to values",
    "none_required": "nothing (null)", "extra_forbidden": "no such key here",
    "missing": "a value (this field is required)",
    "url_parsing": "a URL", "url_type": "a URL",
}

_BOUND_TYPES = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
_OPS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def field_path(err: Mapping[str, Any], prefix: str = "") -> str:
    """Where a pydantic error is, as a dotted params path (``data.proxies.X.base``).

    A key that is not text (``1: 2`` in YAML) is reported on the mapping that holds it
    (``strategy_params``; ``(params)`` at the top), the key being the value shown.
    """
    loc = tuple(err.get("loc", ()))
    if loc and loc[-1] == "[key]":
        loc = loc[:-2]
    elif err.get("type") == "invalid_key":
        loc = loc[:-1]
    path = prefix + ".".join(str(p) for p in loc)
    return path.rstrip(".") or "(params)"


def plain_allowed(err: Mapping[str, Any], bounds: Mapping[str, Any] | None = None) -> str:
    """What a pydantic error says is allowed, in plain words (never "Input should be ...").

    ``err`` is one entry of ``ValidationError.errors()``; ``bounds`` (``gt``/``ge``/``lt``/
    ``le`` and ``whole``, see :func:`field_bounds`) lets a range read as one phrase
    ("a number from 0 to 1000") although pydantic reports only the bound that failed.
    """
    kind = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    if kind == "invalid_key" or "[key]" in err.get("loc", ()):
        return "keys that are names (text), e.g. fees_bps, not numbers or lists"
    if kind in _BOUND_TYPES:
        limits = dict(bounds or {})
        limits.update({k: v for k, v in ctx.items() if k in _OPS})
        noun = "a whole number" if limits.pop("whole", False) else "a number"
        low = next(((op, limits[op]) for op in ("ge", "gt") if op in limits), None)
        high = next(((op, limits[op]) for op in ("le", "lt") if op in limits), None)
        if low and high and low[0] == "ge" and high[0] == "le":
            return f"{noun} from {number(low[1])} to {number(high[1])}"
        parts = [f"{_OPS[bound[0]]} {number(bound[1])}" for bound in (low, high) if bound]
        return f"{noun} " + " and ".join(parts)
    if kind in ("literal_error", "enum"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return "one of " + ", ".join(choices) if choices else _strip(str(err.get("msg", "")))
    if kind == "multiple_of":
        return f"a multiple of {number(ctx.get('multiple_of'))}"
    if kind in ("too_short", "string_too_short"):
        unit = "character" if kind.startswith("string") else "item"
        n = ctx.get("min_length")
        return f"at least {n} {unit}{'' if n == 1 else 's'}"
    if kind in ("too_long", "string_too_long"):
        unit = "character" if kind.startswith("string") else "item"
        n = ctx.get("max_length")
        return f"at most {n} {unit}{'' if n == 1 else 's'}"
    if kind == "string_pattern_mismatch":
        return f"text matching {ctx.get('pattern')}"
    if kind in PLAIN:
        return PLAIN[kind]
    return _strip(str(err.get("msg", "")))


def _strip(msg: str) -> str:
    """A library message without pydantic's preambles ("Value error, ", "Input should be ")."""
    for prefix in ("Value error, ", "Assertion failed, ", "Input should be "):
        msg = msg.removeprefix(prefix)
    return one_line(msg)


def field_at(model: Any, loc: tuple[int | str, ...]) -> tuple[Any, Any]:
    """The field info and annotation at ``loc`` in a pydantic model, ``(None, None)`` if not found.

    Follows nested models, ``X | None``, mappings (``data.proxies.<name>``) and lists
    (``extra_sources.<i>``). Duck-typed (``model_fields``) so this module imports no pydantic.
    """
    current: Any = model
    info: Any = None
    i = 0
    while i < len(loc):
        fields = getattr(current, "model_fields", None)
        if isinstance(fields, Mapping):
            if str(loc[i]) not in fields:
                return None, None
            info = fields[str(loc[i])]
            current = info.annotation
            i += 1
            continue
        args = [a for a in get_args(current) if a is not type(None)]
        origin = get_origin(current)
        if origin in (dict, Mapping) and args:
            current, info = args[-1], None
            i += 1
        elif origin in (list, tuple, set) and args:
            current, info = args[0], None
            i += 1
        elif len(args) == 1 and args[0] is not current:  # X | None
            current = args[0]
        else:
            return None, None
    return info, current


def model_keys(model: Any, loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed at ``loc`` (a nested model's fields), sorted; ``[]`` when not a model."""
    _, current = field_at(model, loc)
    args = [a for a in get_args(current) if a is not type(None)]
    if len(args) == 1:
        current = args[0]
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if isinstance(fields, Mapping) else []


def field_bounds(model: Any, loc: tuple[int | str, ...]) -> dict[str, Any]:
    """The numeric bounds (``gt ge lt le``) and wholeness (``whole``) of the field at ``loc``."""
    info, _ = field_at(model, loc)
    if info is None:
        return {}
    out: dict[str, Any] = {}
    for item in info.metadata:
        for op in _OPS:
            v = getattr(item, op, None)
            if v is not None:
                out[op] = v
    if info.annotation is int or set(get_args(info.annotation)) == {int, type(None)}:
        out["whole"] = True
    return out
