"""``--set key=value`` overrides: dotted keys, values read as YAML, applied to a params mapping."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from toolkit.errors import ParamsError

__all__ = ["apply_overrides", "parse_overrides"]


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["a.b=1", "c=[x,y]"]`` -> ``{"a.b": 1, "c": ["x", "y"]}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ParamsError("--set", item, "key=value with a dotted key, e.g. strategy_params.fast=10")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ParamsError("--set", item, "a non-empty key before '='")
        try:
            out[key] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ParamsError(f"--set {key}", raw, f"a YAML value ({exc.problem})") from None
    return out


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set each dotted key of ``overrides`` in a deep copy of ``raw``."""
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            elif not isinstance(nxt, dict):
                raise ParamsError(key, value, f"'{part}' holds a value, not a mapping of keys")
            node = nxt
        node[parts[-1]] = value
    return out
