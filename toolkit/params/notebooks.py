"""Which params model each notebook has, and the one way params enter a run.

:data:`MODELS` is the registry: notebook name -> ``"module:Class"`` of its
:class:`~toolkit.params.base.NotebookParams`, imported on first use so that a backtest
does not pay for the walk-forward machinery or the dry run's engine. :func:`validate`
looks the model up and lets it parse and resolve itself; nothing here knows what a
notebook checks.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from toolkit.errors import ParamsError
from toolkit.params.base import NotebookParams
from toolkit.params.files import read_yaml, repo_root
from toolkit.params.overrides import apply_overrides, parse_overrides

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.params.backtest import BacktestParams
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.params.live import LiveParams
    from toolkit.params.walk_forward import WalkForwardParams

Overrides = list[str] | dict[str, Any] | None

__all__ = ["MODELS", "NOTEBOOKS", "load", "model_for", "params_hash", "validate"]

#: Params model of each notebook, as "module:Class" (imported on first use).
MODELS: dict[str, str] = {
    "backtest": "toolkit.params.backtest:BacktestParams",
    "walk_forward": "toolkit.params.walk_forward:WalkForwardParams",
    "daily_dry_run": "toolkit.params.daily_dry_run:DailyDryRunParams",
    "live": "toolkit.params.live:LiveParams",
}
NOTEBOOKS = tuple(MODELS)


def model_for(notebook: str) -> type[NotebookParams]:
    """The params model of ``notebook`` (ParamsError listing the notebooks otherwise)."""
    if notebook not in MODELS:
        raise ParamsError("notebook", notebook, "one of " + ", ".join(MODELS))
    module, name = MODELS[notebook].split(":")
    model: type[NotebookParams] = getattr(importlib.import_module(module), name)
    return model


@overload
def validate(
    notebook: Literal["backtest"], raw: dict[str, Any], *, base_dir: Path | None = None
) -> BacktestParams: ...
@overload
def validate(
    notebook: Literal["walk_forward"], raw: dict[str, Any], *, base_dir: Path | None = None
) -> WalkForwardParams: ...
@overload
def validate(
    notebook: Literal["daily_dry_run"], raw: dict[str, Any], *, base_dir: Path | None = None
) -> DailyDryRunParams: ...
@overload
def validate(notebook: Literal["live"], raw: dict[str, Any], *, base_dir: Path | None = None) -> LiveParams: ...
@overload
def validate(notebook: str, raw: dict[str, Any], *, base_dir: Path | None = None) -> NotebookParams: ...
def validate(notebook: str, raw: dict[str, Any], *, base_dir: Path | None = None) -> NotebookParams:
    """Validate ``raw`` params for ``notebook`` completely, including strategy params and data.

    ``base_dir`` resolves relative paths (the repository root by default).
    """
    return model_for(notebook).parse(raw).resolve(base_dir or repo_root())


@overload
def load(
    notebook: Literal["backtest"], path: str | Path | None = None, overrides: Overrides = None
) -> BacktestParams: ...
@overload
def load(
    notebook: Literal["walk_forward"], path: str | Path | None = None, overrides: Overrides = None
) -> WalkForwardParams: ...
@overload
def load(
    notebook: Literal["daily_dry_run"], path: str | Path | None = None, overrides: Overrides = None
) -> DailyDryRunParams: ...
@overload
def load(notebook: Literal["live"], path: str | Path | None = None, overrides: Overrides = None) -> LiveParams: ...
@overload
def load(notebook: str, path: str | Path | None = None, overrides: Overrides = None) -> NotebookParams: ...
def load(notebook: str, path: str | Path | None = None, overrides: Overrides = None) -> NotebookParams:
    """Read, override and validate: the one way params enter a run."""
    raw = read_yaml(path) if path else {}
    ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return validate(notebook, apply_overrides(raw, ov))


def params_hash(resolved: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of resolved params (keys sorted)."""
    blob = json.dumps(resolved, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
