"""A strategy's default parameters as YAML a user can paste into a params file.

``toolkit strategies`` prints this for every registered strategy: a ``strategy:`` line
and a ``strategy_params:`` block holding every parameter at its default, each followed
by its description as a comment. Pasted into a params file (or the lines under
``strategy_params:`` pasted under that key) it validates as is, and reads back as the
strategy's defaults; a test holds both true for every registered strategy.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from toolkit.strategies.base import Strategy

__all__ = ["defaults_yaml"]

#: Values whose one-line form is longer than this are written one item per line.
_INLINE_WIDTH = 60
#: Descriptions line up in this column (or one space after a longer line).
_COMMENT_COLUMN = 28


def _flow(value: Any) -> str:
    """``value`` as one line of YAML (flow style; strings quoted only where YAML needs it)."""
    return yaml.safe_dump([value], default_flow_style=True, width=10**9, sort_keys=False).strip()[1:-1]


def _field_lines(name: str, value: Any, required: bool) -> list[str]:
    """``name: value`` (plus one line per item for a long list or mapping), without indentation."""
    if required:
        return [f"{name}:"]
    inline = _flow(value)
    if not isinstance(value, list | dict) or len(inline) <= _INLINE_WIDTH or not value:
        return [f"{name}: {inline}"]
    if isinstance(value, list):
        return [f"{name}:", *(f"  - {_flow(item)}" for item in value)]
    return [f"{name}:", *(f"  {_flow(k)}: {_flow(v)}" for k, v in value.items())]


def _defaults(cls: type[Strategy[Any]]) -> dict[str, Any]:
    """The defaults as validated and dumped by the model (JSON types), or field by field."""
    try:
        return cls.Params().model_dump(mode="json")
    except ValidationError:  # a required parameter: dump the others one by one
        out: dict[str, Any] = {}
        for fname, info in cls.Params.model_fields.items():
            if not info.is_required():
                default = info.get_default(call_default_factory=True)
                out[fname] = yaml.safe_load(_flow(default)) if default is not None else None
        return out


def defaults_yaml(cls: type[Strategy[Any]]) -> str:
    """``strategy: NAME`` and ``strategy_params:`` with every parameter's default, commented."""
    values = _defaults(cls)
    lines = [f"strategy: {cls.name}", "strategy_params:"]
    for fname, info in cls.Params.model_fields.items():
        required = info.is_required()
        first, *rest = _field_lines(fname, values.get(fname), required)
        note = "REQUIRED" + (f": {info.description}" if info.description else "") if required else info.description
        first = f"  {first}"
        if note:
            first = f"{first.ljust(_COMMENT_COLUMN)} # {note}" if len(first) < _COMMENT_COLUMN else f"{first}  # {note}"
        lines.append(first)
        lines.extend(f"  {line}" for line in rest)
    return "\n".join(lines) + "\n"
