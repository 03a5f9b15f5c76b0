"""Params files on disk: where the project root is and how a YAML file becomes a mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import ParamsError

__all__ = ["read_yaml", "repo_root"]


def read_yaml(path: str | Path, field: str = "--params") -> dict[str, Any]:
    """Read a params YAML file into a dict (empty file = {}).

    Every way a file can fail to be a params mapping is one ParamsError on ``field`` (the
    option or key that named the file): missing, not UTF-8 text, a YAML syntax error
    (one line: the file, the line and column, and what the parser expected), or YAML
    that is not a mapping.
    """
    p = Path(path)
    if not p.is_file():
        raise ParamsError(field, str(path), "an existing YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError(field, str(path), f"a UTF-8 text file (byte {exc.start} is not UTF-8)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where, problem = yaml_problem(exc, text)
        raise ParamsError(field, str(path), problem, problem=f"{path}, {where}: invalid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(field, str(path), f"a YAML mapping of keys to values (this file holds a {_kind(data)})")
    return data


def yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[str, str]:
    """Where a YAML error is and what the parser expected, each one line.

    ``("line 3, column 5", "expected ',' or '}', but got ':' (while parsing a flow
    mapping)")``. PyYAML's own message spans several lines with an excerpt of the file.
    A reader error (a character YAML does not accept) has a character offset instead of
    a mark; it is turned into a line and column of ``text``.
    """
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        return f"line {line}, column {column}", f"{exc.reason} (character U+{char:04X})"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
    return where, str(problem) + (f" ({context})" if context else "")


def _kind(data: Any) -> str:
    return {list: "list", str: "single text value", int: "number", float: "number", bool: "true/false value"}.get(
        type(data), type(data).__name__
    )


def repo_root() -> Path:
    """The project root: the folder holding ``params/`` (cwd first, then the package's parent)."""
    cwd = Path.cwd()
    for cand in (cwd, *cwd.parents):
        if (cand / "params").is_dir() and (cand / "notebooks").is_dir():
            return cand
    return Path(__file__).resolve().parents[2]
