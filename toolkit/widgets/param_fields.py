"""One field of a strategy's params model as a form needs it: its kind, what it allows, how text parses.

The control panel's parameter editor and the explorers' strategy form both build one input
per field of a pydantic params model. Both read the field through :func:`describe` so they
say the same thing about it ("a number > 0 and < 1 (off: none)") and turn typed text into a
value the same way. Number fields are text boxes parsed here, never browser number boxes:
a number box silently turns ``2.5`` into ``25`` for a whole-number field and blanks ``abc``
while the kernel keeps the old value, so the person would save something they never typed.
"""

from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from toolkit.errors import ParamsError, field_bounds, number, plain_allowed

__all__ = ["NONE_WORDS", "FieldSpec", "Kind", "describe"]

Kind = Literal["bool", "int", "float", "choice", "text", "json"]

#: What an optional field accepts for "off" when typed (an empty box counts too).
NONE_WORDS = ("none", "null")

_WHOLE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class FieldSpec:
    """What a form needs to know about one field: kind, optional (None = off), choices, rule."""

    name: str
    kind: Kind
    optional: bool
    choices: tuple[Any, ...]
    description: str | None
    allowed: str

    def parse(self, text: str, *, prefix: str = "") -> Any:
        """The value typed as ``text``; ParamsError (``<prefix><name>: got ...; allowed: ...``) if it is not one.

        Only the type is checked here (a whole number, a number, JSON); bounds and
        cross-field rules are the model's, checked when the form validates it.
        """
        raw = text.strip()
        if self.optional and raw.lower() in ("", *NONE_WORDS):
            return None
        if self.kind == "int" and _WHOLE.fullmatch(raw.replace("_", "")):
            return int(raw.replace("_", ""))
        if self.kind == "float":
            try:
                return float(raw)
            except ValueError:
                pass
        if self.kind == "choice":
            for choice in self.choices:
                if str(choice) == raw:
                    return choice
        if self.kind == "text":
            return text
        if self.kind == "bool" and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        if self.kind == "json":
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ParamsError(prefix + self.name, text, f"JSON ({exc.msg})") from None
        raise ParamsError(prefix + self.name, text, self.allowed)

    def text(self, value: Any) -> str:
        """``value`` as the text box shows it (``""`` for None, JSON for lists and mappings)."""
        if value is None:
            return ""
        if self.kind == "json":
            return json.dumps(to_jsonable_python(value))
        return str(value)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without ``| None``, whether None was allowed)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), optional
    return annotation, False


def describe(model: type[BaseModel], name: str) -> FieldSpec:
    """Field ``name`` of ``model``: its kind and, in the words of the toolkit's errors, what it allows."""
    info = model.model_fields[name]
    ann, optional = _unwrap(info.annotation)
    choices: tuple[Any, ...] = ()
    kind: Kind
    if get_origin(ann) is Literal:
        kind, choices = "choice", get_args(ann)
    elif ann is bool:
        kind = "bool"
    elif ann is int:
        kind = "int"
    elif ann is float:
        kind = "float"
    elif ann is str:
        kind = "text"
    else:
        kind = "json"
    bounds = field_bounds(model, (name,))
    if kind in ("int", "float") and set(bounds) - {"whole"}:
        allowed = plain_allowed({"type": "greater_than"}, bounds)
    else:
        allowed = {
            "bool": "on or off",
            "int": "a whole number",
            "float": "a number",
            "choice": "one of " + ", ".join(map(number, choices)),
            "text": "text",
            "json": "JSON",
        }[kind]
    allowed += " (off: none)" if optional else ""
    return FieldSpec(name, kind, optional, choices, info.description, allowed)
