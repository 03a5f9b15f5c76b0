"""Params files on disk: where the project root is and how a YAML file becomes a mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import ParamsError

__all__ = ["read_yaml", "repo_root"]


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a params YAML file into a dict (empty file = {})."""
    p = Path(path)
    if not p.is_file():
        raise ParamsError("--params", str(path), "an existing YAML file")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError("--params", str(path), f"valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ParamsError("--params", str(path), "a YAML mapping of keys to values")
    return data


def repo_root() -> Path:
    """The project root: the folder holding ``params/`` (cwd first, then the package's parent)."""
    cwd = Path.cwd()
    for cand in (cwd, *cwd.parents):
        if (cand / "params").is_dir() and (cand / "notebooks").is_dir():
            return cand
    return Path(__file__).resolve().parents[2]
