"""The strategy part every notebook shares: which strategy, its params, a params file under them.

Strategy parameters are checked against the strategy's own model (see
:mod:`toolkit.strategies`); a flat parameter set (``params/strategies/*.yaml``) or a
walk-forward hand-off (``recommended_params.yaml``) may supply them, with the values
written in the notebook's params on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from toolkit.errors import ParamsError
from toolkit.params.base import NotebookParams
from toolkit.params.files import read_yaml
from toolkit.strategies import registry
from toolkit.strategies.base import Strategy, StrategyParams

__all__ = [
    "HANDOFF_KEYS",
    "StrategyRunParams",
    "merge_strategy_params",
    "read_strategy_params_file",
    "resolve_strategy_params",
]

#: Keys of a walk-forward hand-off file (``recommended_params.yaml``).
HANDOFF_KEYS = {"strategy", "strategy_params", "walk_forward_run_id"}


class StrategyRunParams(NotebookParams):
    """Params of a notebook that runs one strategy (the first keys of every notebook's file)."""

    strategy: str = "sma_crossover"
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    #: A flat strategy parameter file (params/strategies/*.yaml) merged under strategy_params.
    strategy_params_file: str | None = None


def read_strategy_params_file(path: Path, strategy: str | None = None) -> dict[str, Any]:
    """Strategy parameters from a flat YAML set (e.g. the golden parameters) or from a
    walk-forward hand-off (``recommended_params.yaml``: strategy, strategy_params and
    walk_forward_run_id), whose strategy must be the run's."""
    data = read_yaml(path, "strategy_params_file")
    if "strategy_params" in data and set(data) <= HANDOFF_KEYS:
        if strategy is not None and data.get("strategy") not in (None, strategy):
            raise ParamsError("strategy_params_file", str(path),
                              f"a parameter set for {strategy} (this hand-off is for {data.get('strategy')})")
        return dict(data["strategy_params"] or {})
    return data


def merge_strategy_params(
    params: dict[str, Any], params_file: str | None, base_dir: Path, strategy: str | None = None
) -> dict[str, Any]:
    """``params_file`` (see read_strategy_params_file) with ``params`` on top."""
    merged = dict(params)
    if params_file:
        fpath = (base_dir / params_file).resolve()
        if not fpath.is_file():
            raise ParamsError("strategy_params_file", params_file, "an existing YAML file of strategy parameters")
        merged = {**read_strategy_params_file(fpath, strategy), **merged}
    return merged


def resolve_strategy_params(
    strategy: str, params: dict[str, Any], params_file: str | None, base_dir: Path
) -> tuple[type[Strategy[Any]], StrategyParams]:
    """The strategy class and its validated, merged params (see merge_strategy_params)."""
    cls = registry.get(strategy)
    return cls, cls.parse_params(merge_strategy_params(params, params_file, base_dir, strategy))
