"""The appendix of a dry-run or live session's report: the parameters it ran with and the data it read.

A risk officer reading a session's report must see which limits were in force (the
guards), what costs the simulation charged, which strategy parameters decided and where
the bars came from, as the backtest's appendix shows them. The session may have run
with the account's config overrides (set in the control panel or with ``toolkit config
set``): the table shows the values the session used, each overridden one marked with
the params file's value it replaced.

The tables are the backtest's (:func:`toolkit.report.backtest_headline.params_html`,
:func:`~toolkit.report.backtest_headline.dataset_html`): one way to show parameters and data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from toolkit.report.backtest_headline import dataset_html, params_html

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.data.dataset import Dataset
    from toolkit.engine.account_overrides import AppliedOverride

__all__ = ["session_data_html", "session_params", "session_params_html"]


@dataclass(frozen=True)
class _Ran:
    """What :func:`~toolkit.report.backtest_headline.params_html` reads: an object with ``params``."""

    params: BaseModel


def session_params(notebook: str, params: BaseModel, overrides: Sequence[AppliedOverride]) -> BaseModel:
    """``params`` with ``overrides`` applied, validated by ``notebook``'s model: the params the session ran with.

    The engine applied the same overrides the same way
    (:func:`toolkit.engine.account_overrides.apply_account_overrides`); params that already
    carry them (the live notebook's ``result.params``) come back unchanged.
    """
    if not overrides:
        return params
    from toolkit.params import apply_overrides, validate

    stated = params.model_dump()
    wanted = {o.key: o.value for o in overrides if _lookup(stated, o.key) != o.value}
    return validate(notebook, apply_overrides(stated, wanted)) if wanted else params


def _lookup(tree: Any, key: str) -> Any:
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _written(value: Any) -> str:
    if value is None:
        return "not set"
    return value if isinstance(value, str) else json.dumps(value, default=str)


def session_params_html(notebook: str, params: BaseModel, overrides: Sequence[AppliedOverride] = ()) -> str:
    """Every parameter the session ran with, grouped (run, strategy_params, data, costs, guards, ...) and foldable.

    A value set by a config override reads ``0.03 (override; params file: 0.05)``.
    """
    ran = session_params(notebook, params, overrides)
    marked = {o.key: f"override by {o.actor}; params file: {_written(o.base)}" for o in overrides}
    return params_html(_Ran(ran), marked=marked)


def session_data_html(dataset: Dataset | None, notes: Sequence[str] = ()) -> str:
    """One row per symbol the session read (first and last bar, bars, closes, proxy or not); the data notes below."""
    if dataset is None:
        return "<p>No data was loaded this time (see the status above).</p>"
    return dataset_html(dataset, notes)
