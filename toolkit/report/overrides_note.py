"""The "Overrides in effect" note of a session report: which config overrides the session ran with.

A session of an account with config overrides (set in the control panel or with
``toolkit config set``) ran on params its params file does not show; whoever reads the
report must see that, with the file's value beside the override and who set it, when
and why. Sessions without overrides show nothing, so their reports are what they were.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.engine.account_overrides import AppliedOverride

__all__ = ["overrides_note"]

HEADING = "Overrides in effect"


def overrides_note(overrides: Sequence[AppliedOverride]) -> str | None:
    """Markdown: a heading line and a table (key, params file, override, who, when, why); None without any."""
    if not overrides:
        return None
    lines = [
        f"> **{HEADING}.** This session ran with {len(overrides)} config override(s) of the account's params "
        "(`toolkit config history` lists every change; `toolkit config revert` undoes one):",
        "",
        "| key | params file | override | who | when | why |",
        "|---|---|---|---|---|---|",
    ]
    for o in overrides:
        cells = [f"`{o.key}`", _value(o.base), _value(o.value), _cell(o.actor),
                 o.set_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), _cell(o.reason)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _value(value: Any) -> str:
    """A params value as the YAML/JSON a person would type; absent from the file: an em dash."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return "`" + _cell(text).replace("`", "'") + "`"


def _cell(text: str) -> str:
    """One table cell: no line breaks, pipes escaped (a reason is free text)."""
    return " ".join(str(text).split()).replace("|", "\\|")
