"""Parameters of every notebook: pydantic models, YAML loading and ``--set`` overrides.

A params file is validated completely before anything runs: an unknown key, a
wrong type, ``fast >= slow``, a date range outside the data or an unknown symbol
each give one :class:`~toolkit.errors.ParamsError` naming the field, the value and
what is allowed. Strategy parameters are checked against the strategy's own model
(see :mod:`toolkit.strategies`).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from toolkit.errors import ParamsError



class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProxySpec(_Model):
    """A synthetic instrument derived from a base symbol's daily returns."""

    base: str = Field(description="symbol whose daily returns drive the proxy")
    leverage: float = Field(description="daily return multiple, e.g. 3 or -1")
    annual_cost_bps: float = Field(0.0, ge=0, le=5000, description="yearly cost (expense ratio, financing)")

    @field_validator("leverage")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0 or abs(v) > 5:
            raise ValueError("leverage must be non-zero and between -5 and 5")
        return v


class ExtraSource(_Model):
    """More symbols from the user's files, next to the main source (e.g. real TLT)."""

    path: str = Field(description="file or folder of CSV/Parquet bars")
    symbols: list[str] = Field(min_length=1)


class DataParams(_Model):
    """Where the bars come from and which part of them to use."""

    source: Literal["sample", "csv"] = "sample"
    symbols: list[str] = Field(default_factory=lambda: ["NASDAQ"], min_length=1)
    path: str | None = Field(None, description="file or folder (source: csv)")
    start: dt.date | None = None
    end: dt.date | None = None
    prices: Literal["raw", "adjusted"] = "adjusted"
    #: Synthetic instruments (name -> spec), labelled as proxies in reports.
    proxies: dict[str, ProxySpec] = Field(default_factory=dict)
    #: Symbols used when present and switched off with a note when absent.
    optional_symbols: list[str] = Field(default_factory=list)
    #: Further files whose symbols join the main source's (same price choice).
    extra_sources: list[ExtraSource] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> "DataParams":
        if self.source == "csv" and not self.path:
            raise ValueError("data.path is required when data.source is csv")
        if self.source == "sample" and self.path:
            raise ValueError("data.path is only allowed with data.source: csv")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"data.start ({self.start}) must be before data.end ({self.end})")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("data.symbols lists a symbol twice")
        return self


class BacktestParams(_Model):
    """Parameters of ``notebooks/backtest.ipynb``."""

    strategy: str = "sma_crossover"
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    #: A flat strategy parameter file (params/strategies/*.yaml) merged under strategy_params.
    strategy_params_file: str | None = None
    data: DataParams = Field(default_factory=DataParams)
    initial_cash: float = Field(100_000.0, gt=0, le=1e12)
    fees_bps: float = Field(10.0, ge=0, le=1000)
    slippage_bps: float = Field(0.0, ge=0, le=1000)
    fill: Literal["close", "next_open"] = "close"
    whole_shares: bool = False
    risk_free_rate: float = Field(0.0, ge=-0.1, le=0.5, description="annual, for Sharpe and Sortino")
    benchmark: str | None = Field(None, description="symbol for buy and hold (default: the first symbol)")
    title: str | None = None


#: Params model of each notebook, as "module:Class": imported on first use, so a
#: backtest run does not pay for the walk-forward or dry-run machinery.
MODEL_PATHS: dict[str, str] = {
    "backtest": "toolkit.params:BacktestParams",
    "walk_forward": "toolkit.optimize.wf_params:WalkForwardParams",
    "daily_dry_run": "toolkit.engine.dry_run_params:DailyDryRunParams",
}
NOTEBOOKS = tuple(MODEL_PATHS)


def model_for(notebook: str) -> type[BaseModel]:
    """The params model of ``notebook`` (ParamsError listing the notebooks otherwise)."""
    import importlib

    if notebook not in MODEL_PATHS:
        raise ParamsError("notebook", notebook, "one of " + ", ".join(MODEL_PATHS))
    module, name = MODEL_PATHS[notebook].split(":")
    return getattr(importlib.import_module(module), name)


def _first_error(exc: ValidationError, prefix: str = "") -> ParamsError:
    """Turn pydantic's first error into one ParamsError a user can act on."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "(params)"
    value = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = "no such key; known keys here: " + ", ".join(_known_keys(exc.title, err["loc"]))
    elif kind == "missing":
        allowed = "a value (this field is required)"
        value = None
    else:
        allowed = err["msg"].removeprefix("Value error, ")
    return ParamsError(field, _redact(value), allowed)


def _redact(value: Any) -> Any:
    """Hide the password of a ``scheme://user:password@host`` URL: errors end up in logs."""
    import re

    if isinstance(value, str):
        return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1***@", value)
    return value


def _known_keys(title: str, loc: tuple) -> list[str]:
    import sys

    loaded = [getattr(sys.modules.get(p.split(":")[0]), p.split(":")[1], None) for p in MODEL_PATHS.values()]
    model: Any = {m.__name__: m for m in [*loaded, DataParams, ProxySpec, ExtraSource] if m is not None}.get(title)
    for part in loc[:-1]:
        if model is None:
            break
        f = model.model_fields.get(str(part))
        ann = getattr(f, "annotation", None) if f else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return sorted(model.model_fields) if model else []


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


def validate(notebook: str, raw: dict[str, Any], *, base_dir: Path | None = None) -> BaseModel:
    """Validate ``raw`` params for ``notebook`` completely, including strategy params and data.

    ``base_dir`` resolves relative paths (the repository root by default).
    """
    cls = model_for(notebook)
    try:
        model = cls(**raw)
    except ValidationError as exc:
        raise _first_error(exc) from None
    except TypeError as exc:  # e.g. a list where a mapping was expected at the top level
        raise ParamsError("(params)", raw, str(exc)) from None
    if notebook == "backtest":
        model = _check_backtest(model, base_dir or repo_root())
    elif notebook == "walk_forward":
        model = _check_walk_forward(model, base_dir or repo_root())
    elif notebook == "daily_dry_run":
        from toolkit.engine.dry_run_params import check_dry_run

        model = check_dry_run(model, base_dir or repo_root())
    return model


#: Keys of a walk-forward hand-off file (``recommended_params.yaml``).
HANDOFF_KEYS = {"strategy", "strategy_params", "walk_forward_run_id"}


def read_strategy_params_file(path: Path, strategy: str | None = None) -> dict[str, Any]:
    """Strategy parameters from a flat YAML set (e.g. the golden parameters) or from a
    walk-forward hand-off (``recommended_params.yaml``: strategy, strategy_params and
    walk_forward_run_id), whose strategy must be the run's."""
    data = read_yaml(path)
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


def resolve_strategy_params(strategy: str, params: dict[str, Any], params_file: str | None, base_dir: Path):
    """The strategy class and its validated, merged params (see merge_strategy_params)."""
    from toolkit.strategies import registry

    cls = registry.get(strategy)
    return cls, cls.parse_params(merge_strategy_params(params, params_file, base_dir, strategy))


def _check_backtest(p: BacktestParams, base_dir: Path) -> BacktestParams:
    _, parsed = resolve_strategy_params(p.strategy, p.strategy_params, p.strategy_params_file, base_dir)
    p = p.model_copy(update={"strategy_params": parsed.model_dump(mode="json")})
    from toolkit.backtest.dataset import check_data_params

    check_data_params(p.data, base_dir=base_dir)
    return p


def _check_walk_forward(p: BaseModel, base_dir: Path) -> BaseModel:
    """Strategy, grid, objective and data checks of a walk-forward (see toolkit.optimize.wf_params)."""
    from toolkit.optimize.wf_params import check_walk_forward

    return check_walk_forward(p, base_dir)


def load(notebook: str, path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> BaseModel:
    """Read, override and validate: the one way params enter a run."""
    raw = read_yaml(path) if path else {}
    ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return validate(notebook, apply_overrides(raw, ov))


def params_hash(resolved: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of resolved params (keys sorted)."""
    blob = json.dumps(resolved, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def repo_root() -> Path:
    """The project root: the folder holding ``params/`` (cwd first, then the package's parent)."""
    cwd = Path.cwd()
    for cand in (cwd, *cwd.parents):
        if (cand / "params").is_dir() and (cand / "notebooks").is_dir():
            return cand
    return Path(__file__).resolve().parents[1]
