"""Parameters of ``notebooks/walk_forward.ipynb``: the :class:`WalkForwardParams` model.

Validated completely before anything runs, like every params file: unknown keys,
a grid whose values the strategy rejects field by field (``fast: 0``), an
objective naming an unknown metric, windows longer than the data. Combinations the
strategy rejects as a whole (``fast >= slow``) are not errors: a rectangular grid
naturally contains some, so they are dropped and counted (:func:`resolve_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import pandas as pd
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from toolkit.data.dataset import check_data_params, load_dataset
from toolkit.errors import ParamsError, field_bounds, plain_allowed
from toolkit.optimize.evaluate import CONSTRAINT_RULES, METRICS, parse_objective
from toolkit.optimize.folds import walk_forward_folds
from toolkit.optimize.grid import OptimizeInputError, expand_grid, iter_combinations
from toolkit.params.base import StrictModel
from toolkit.params.costs import ResearchCosts
from toolkit.params.data import DataParams
from toolkit.params.strategy import StrategyRunParams, merge_strategy_params
from toolkit.strategies import registry

__all__ = [
    "CONSTRAINT_NAMES",
    "DEFAULT_GRID",
    "Constraints",
    "ResolvedGrid",
    "WalkForwardParams",
    "merged_strategy_params",
    "resolve_grid",
]

#: The default grid (SMA crossover): 10 fast x 9 slow lengths.
DEFAULT_GRID: dict[str, Any] = {
    "fast": {"start": 5, "stop": 50, "step": 5},
    "slow": {"start": 50, "stop": 250, "step": 25},
}


class Constraints(StrictModel):
    """Rules a combination must meet to be chosen (a NaN metric fails its rule)."""

    min_trades: int | None = Field(None, ge=0, description="at least this many round trips in sample")
    max_drawdown: float | None = Field(
        None, ge=-1, le=0, description="drawdown floor: -0.4 rejects combinations that lost more than 40% from a peak"
    )
    min_sharpe: float | None = Field(None, ge=-20, le=20, description="in-sample Sharpe at least this")
    min_exposure: float | None = Field(None, ge=0, le=1, description="share of bars in the market at least this")
    max_turnover: float | None = Field(None, ge=0, description="annual one-way turnover at most this")

    def as_dict(self) -> dict[str, float | None]:
        return self.model_dump()


CONSTRAINT_NAMES = tuple(Constraints.model_fields)
assert set(CONSTRAINT_NAMES) == set(CONSTRAINT_RULES), "Constraints fields and CONSTRAINT_RULES disagree"
assert all(rule[0] in METRICS for rule in CONSTRAINT_RULES.values())


class WalkForwardParams(StrategyRunParams):
    """Parameters of ``notebooks/walk_forward.ipynb``.

    ``strategy_params`` are held fixed (not searched); the grid overlays them.
    """

    #: Parameter -> list of values, a range {start, stop, step} (stop included) or one fixed value.
    grid: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_GRID))
    data: DataParams = Field(default_factory=DataParams)
    scheme: Literal["rolling", "anchored"] = "rolling"
    in_sample: int = Field(756, ge=2, le=100_000, description="bars in each in-sample window (the first, if anchored)")
    out_of_sample: int = Field(252, ge=1, le=100_000, description="bars in each out-of-sample window")
    step: int | None = Field(None, description="bars between fold starts; must equal out_of_sample (the default)")
    partial_last: bool = Field(True, description="keep a last, shorter out-of-sample window reaching the last bar")
    objective: str = Field("sharpe", description="metric or expression to maximise in sample")
    constraints: Constraints = Field(default_factory=Constraints)
    costs: ResearchCosts = Field(default_factory=ResearchCosts)
    initial_cash: float = Field(100_000.0, gt=0, le=1e12)
    risk_free_rate: float = Field(0.0, ge=-0.1, le=0.5, description="annual, for Sharpe and Sortino")
    benchmark: str | None = Field(None, description="symbol for buy and hold (default: the first symbol)")
    executor: Literal["local", "dask"] = "local"
    scheduler_address: str | None = Field(
        None, description="dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)"
    )
    n_workers: int = Field(2, ge=1, le=256, description="workers of the local dask cluster")
    chunk_size: int | Literal["auto"] = Field(
        "auto",
        description="combinations evaluated per task (auto: up to 20,000 with a fused kernel, "
        "fewer when daily returns are kept; 250 on the vectorbt path)",
    )
    heatmap: list[str] | None = Field(None, description="two grid parameters for the objective heatmap")
    heatmap_folds: Literal["mean", "last"] = Field(
        "mean", description="heatmap of the mean over folds or of the last fold"
    )
    recommend: Literal["last_fold", "most_frequent"] = Field(
        "last_fold", description="which fold's choice becomes recommended_params.yaml"
    )
    pbo_splits: int = Field(16, ge=2, le=24, description="CSCV blocks for the probability of backtest overfitting")
    pbo_max_trials: int = Field(
        2000, ge=2, le=100_000,
        description="PBO uses at most this many combinations (evenly spaced in grid order) to bound memory",
    )
    title: str | None = None

    @field_validator("objective")
    @classmethod
    def _objective(cls, v: str) -> str:
        try:
            return parse_objective(v).expression
        except ParamsError as exc:
            raise ValueError(exc.allowed) from None

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not v:
            raise ValueError(
                "at least one parameter to search, e.g. {fast: [10, 20], slow: {start: 50, stop: 200, step: 50}}"
            )
        return v

    @field_validator("chunk_size", mode="before")
    @classmethod
    def _chunk_size(cls, v: Any) -> Any:
        if v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100_000):
            return v
        raise ValueError("an int from 1 to 100000, or auto")

    @field_validator("pbo_splits")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("an even number (half the blocks in sample, half out of sample)")
        return v

    @field_validator("heatmap")
    @classmethod
    def _two(cls, v: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if v is None:
            return v
        if len(v) != 2 or v[0] == v[1]:
            raise ValueError("two different grid parameters, e.g. [fast, slow]")
        grid = info.data.get("grid") or {}
        missing = [h for h in v if h not in grid]
        if missing:
            raise ValueError(f"grid parameters ({', '.join(grid)}); {missing[0]!r} is not one")
        return v

    @field_validator("step")
    @classmethod
    def _step(cls, v: int | None, info: ValidationInfo) -> int | None:
        oos = info.data.get("out_of_sample")
        if v is not None and v != oos:
            raise ValueError(
                f"out_of_sample ({oos}) or omitted: the stitched out-of-sample curve needs windows "
                "that neither overlap nor leave gaps"
            )
        return v

    @field_validator("scheduler_address")
    @classmethod
    def _address(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v and info.data.get("executor") != "dask":
            raise ValueError("only with executor: dask (a local run needs no scheduler)")
        return v

    def resolve(self, base_dir: Path) -> Self:
        """Everything that needs the strategy or the data.

        Resolves the grid (errors name ``grid.<param>``), checks the data params like a
        backtest does and that at least one fold fits in the bars, and returns the
        params with ``strategy_params`` holding the validated fixed values.
        """
        cls = registry.get(self.strategy)
        fixed = merged_strategy_params(self, base_dir)
        known = cls.Params.model_fields
        unknown = [k for k in fixed if k not in known]
        if unknown:
            raise ParamsError(f"strategy_params.{unknown[0]}", fixed[unknown[0]],
                              "its parameters are " + ", ".join(sorted(known)),
                              problem=f"unknown parameter {unknown[0]!r} for {self.strategy}")
        resolve_grid(self, fixed)
        # Record the fixed values actually used (file + explicit), minus what the grid searches.
        fixed = {k: v for k, v in fixed.items() if k not in self.grid}
        self.data.refuse_intraday("walk-forward")
        check_data_params(self.data, base_dir=base_dir)
        if self.benchmark and self.benchmark not in self.data.symbols:
            raise ParamsError("benchmark", self.benchmark, "one of data.symbols: " + ", ".join(self.data.symbols))
        ds = load_dataset(self.data, base_dir=base_dir)
        walk_forward_folds(ds.panel.index, scheme=self.scheme, in_sample=self.in_sample,
                           out_of_sample=self.out_of_sample, partial_last=self.partial_last)
        return self.model_copy(update={"strategy_params": fixed})


# --------------------------------------------------------------------------- grid


@dataclass(frozen=True)
class ResolvedGrid:
    """The combinations a walk-forward runs, and those the strategy rejected."""

    grid: pd.DataFrame  # one column per grid parameter, index ``combination`` (full-grid numbers)
    n_total: int
    n_dropped: int
    example: str | None  # one rejected combination and the strategy's reason

    @property
    def n_kept(self) -> int:
        return len(self.grid)

    def reading(self) -> str:
        text = f"{self.n_kept:,} of {self.n_total:,} combinations kept"
        if self.n_dropped:
            text += f"; {self.n_dropped:,} dropped because the strategy rejects them (e.g. {self.example})"
        return text


def merged_strategy_params(p: WalkForwardParams, base_dir: Path) -> dict[str, Any]:
    """The fixed strategy params: the params file's values under ``strategy_params``."""
    return merge_strategy_params(p.strategy_params, p.strategy_params_file, base_dir)


def resolve_grid(p: WalkForwardParams, fixed: dict[str, Any]) -> ResolvedGrid:
    """Expand the grid and let the strategy's own model judge every combination.

    A value a field rejects on its own (``fast: 0``) is an error naming
    ``grid.<param>``: it is a typo, not a combination to skip. A combination the
    model rejects as a whole (``fast >= slow``) is dropped and counted.
    """
    cls = registry.get(p.strategy)
    known = cls.Params.model_fields
    for name in p.grid:
        if name not in known:
            raise ParamsError(f"grid.{name}", p.grid[name], "its parameters are " + ", ".join(sorted(known)),
                              problem=f"unknown parameter {name!r} for {p.strategy}")
        if name in p.strategy_params:
            raise ParamsError(
                f"grid.{name}", p.grid[name], "a parameter not also fixed in strategy_params (set it in one place)"
            )
    try:
        full = expand_grid(p.grid)
    except OptimizeInputError as exc:
        field = "grid" + exc.field.removeprefix("spec")
        raise ParamsError(field, exc.value, exc.allowed) from None
    keep: list[bool] = []
    example = None
    for row in iter_combinations(full):
        try:
            cls.Params(**{**fixed, **row})
            keep.append(True)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            msg = plain_allowed(err, field_bounds(cls.Params, err["loc"]))
            if loc:  # a single field's value: an error in the params file
                where = "grid" if err["loc"][0] in p.grid else "strategy_params"
                raise ParamsError(f"{where}.{loc}", err.get("input"), msg) from None
            keep.append(False)
            if example is None:
                example = ", ".join(f"{k}={v}" for k, v in row.items()) + f": {msg}"
        except TypeError as exc:
            raise ParamsError("grid", row, str(exc)) from None
    kept = full.loc[keep]
    if kept.empty:
        raise ParamsError(
            "grid", p.grid,
            f"at least one combination the strategy accepts (all {len(full):,} rejected, e.g. {example})",
        )
    return ResolvedGrid(kept, len(full), len(full) - len(kept), example)
