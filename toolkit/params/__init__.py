"""Parameters of every notebook: pydantic models, YAML loading and ``--set`` overrides.

A params file is validated completely before anything runs: an unknown key, a
wrong type, ``fast >= slow``, a date range outside the data or an unknown symbol
each give one :class:`~toolkit.errors.ParamsError` naming the field, the value and
what is allowed. Strategy parameters are checked against the strategy's own model
(see :mod:`toolkit.strategies`).

Shared parts, cheap to import (pydantic and yaml only):

* :mod:`~toolkit.params.base` -- :class:`StrictModel` (unknown keys are errors) and
  :class:`NotebookParams` (``parse`` then ``resolve(base_dir)``);
* :mod:`~toolkit.params.data` -- :class:`DataParams` (``source`` is a name registered in
  :mod:`toolkit.data.sources`);
* :mod:`~toolkit.params.costs` -- the cost model shared by every engine;
* :mod:`~toolkit.params.guards` -- :class:`GuardSettings`, the ``guards:`` block and what
  the risk engine takes;
* :mod:`~toolkit.params.files`, :mod:`~toolkit.params.overrides` -- YAML files, ``--set``.

One model per notebook, each resolving itself and imported only when that notebook's
params are validated (:data:`~toolkit.params.notebooks.MODELS`):
:mod:`~toolkit.params.backtest`, :mod:`~toolkit.params.walk_forward`,
:mod:`~toolkit.params.daily_dry_run`. Those sit above ``data``, ``strategies`` and
``optimize`` (they check params against them); the runs that consume the params
(``backtest.job``, ``optimize.walk_forward``, ``engine.session``) sit above them.
"""

from toolkit.params.base import NotebookParams, StrictModel
from toolkit.params.costs import Costs, ResearchCosts, SessionCosts
from toolkit.params.data import DataParams, ExtraSource, ProxySpec
from toolkit.params.files import read_yaml, repo_root
from toolkit.params.guards import GuardSettings
from toolkit.params.notebooks import (
    MODELS,
    NOTEBOOKS,
    load,
    model_for,
    params_hash,
    validate,
)
from toolkit.params.overrides import apply_overrides, parse_overrides

__all__ = [
    "MODELS",
    "NOTEBOOKS",
    "Costs",
    "DataParams",
    "ExtraSource",
    "GuardSettings",
    "NotebookParams",
    "ProxySpec",
    "ResearchCosts",
    "SessionCosts",
    "StrictModel",
    "apply_overrides",
    "load",
    "model_for",
    "params_hash",
    "parse_overrides",
    "read_yaml",
    "repo_root",
    "validate",
]
