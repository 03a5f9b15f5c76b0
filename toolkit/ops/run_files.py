"""Reading an archived run's JSON files (manifest, metrics, snapshot) without trusting them.

A run cut short, an older toolkit's manifest or a hand-edited file may lack a file, a
section or the right type; every reader of the archive (the index, diff, prune, alerts,
``toolkit runs``) wants an empty mapping then, not an exception. Standard library only:
these readers run at the end of every run and in quick commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["json_part", "read_json_object"]


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; empty when the file is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # ValueError covers json.JSONDecodeError and bad encodings
        return {}
    return data if isinstance(data, dict) else {}


def json_part(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    """``mapping[key]`` when it is a mapping, else empty (an older or partial manifest)."""
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}
