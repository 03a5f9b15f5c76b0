"""Params validation: one clear message naming field, value and what is allowed."""

import pytest

from toolkit import params as P
from toolkit.errors import ParamsError

BASE = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 20, "slow": 100},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2000-01-01", "end": "2018-12-31"},
    "initial_cash": 100000,
    "fees_bps": 10,
    "slippage_bps": 0,
    "fill": "close",
}


def _err(raw) -> ParamsError:
    with pytest.raises(ParamsError) as ei:
        P.validate("backtest", raw)
    return ei.value


def test_default_file_is_valid():
    p = P.load("backtest", P.repo_root() / "params/backtest/sma_crossover.yaml")
    assert p.strategy_params == {"fast": 20, "slow": 100}
    assert p.data.symbols == ["NASDAQ"]


def test_unknown_top_level_key():
    e = _err({**BASE, "feez_bps": 3})
    assert e.field == "feez_bps" and "fees_bps" in e.allowed


def test_unknown_nested_key_lists_known_keys():
    e = _err({**BASE, "data": {**BASE["data"], "symbol": "X"}})
    assert e.field == "data.symbol" and "symbols" in e.allowed


def test_wrong_type():
    e = _err({**BASE, "initial_cash": "lots"})
    assert e.field == "initial_cash" and e.value == "lots"


def test_fast_not_below_slow():
    e = _err({**BASE, "strategy_params": {"fast": 100, "slow": 100}})
    assert e.field.startswith("strategy_params") and "smaller than slow" in str(e)


def test_unknown_strategy_param():
    e = _err({**BASE, "strategy_params": {"fast": 10, "slow": 50, "fastest": 1}})
    assert e.field == "strategy_params.fastest" and "fast" in e.allowed


def test_unknown_strategy_lists_available():
    e = _err({**BASE, "strategy": "magic"})
    assert e.field == "strategy" and "sma_crossover" in e.allowed


def test_unknown_symbol():
    e = _err({**BASE, "data": {**BASE["data"], "symbols": ["NASDAQ", "DOW"]}})
    assert e.field == "data.symbols" and e.value == "DOW" and "SP500" in e.allowed


def test_date_range_outside_data():
    e = _err({**BASE, "data": {**BASE["data"], "end": "2020-06-30"}})
    assert e.field == "data.end" and "2018-12-31" in e.allowed
    e = _err({**BASE, "data": {**BASE["data"], "start": "1990-01-01"}})
    assert e.field == "data.start"


def test_bad_fill_value():
    e = _err({**BASE, "fill": "vwap"})
    assert e.field == "fill" and "close" in e.allowed


def test_overrides_are_dotted_and_yaml():
    ov = P.parse_overrides(["strategy_params.fast=10", "data.symbols=[SP500,NASDAQ]", "fees_bps=2.5"])
    assert ov == {"strategy_params.fast": 10, "data.symbols": ["SP500", "NASDAQ"], "fees_bps": 2.5}
    p = P.validate("backtest", P.apply_overrides(BASE, ov))
    assert p.strategy_params["fast"] == 10 and p.data.symbols == ["SP500", "NASDAQ"]


def test_override_without_equals_is_an_error():
    with pytest.raises(ParamsError) as ei:
        P.parse_overrides(["fast10"])
    assert ei.value.field == "--set"


def test_override_with_bad_yaml_names_the_problem():
    with pytest.raises(ParamsError) as ei:
        P.parse_overrides(["fast=[1, 2"])  # parser error: has a short `problem`
    assert ei.value.field == "--set fast" and "YAML value" in ei.value.allowed
    with pytest.raises(ParamsError) as ei:
        P.parse_overrides(["fast=\x07"])  # reader error: no `problem` attribute
    assert ei.value.field == "--set fast" and "unacceptable character" in ei.value.allowed


def test_csv_source_needs_path():
    e = _err({**BASE, "data": {"source": "csv", "symbols": ["SPY"]}})
    assert "path" in str(e)


def test_params_hash_is_stable_and_order_free():
    assert P.params_hash({"a": 1, "b": [1, 2]}) == P.params_hash({"b": [1, 2], "a": 1})
    assert P.params_hash({"a": 1}) != P.params_hash({"a": 2})


def test_dry_run_strategy_decides_at_the_runs_execution_time():
    """One execution time per run: v3.5b's golden 15min_after_open gives way to the run's."""
    p = P.load("daily_dry_run", P.repo_root() / "params/daily_dry_run/hierarchical_adaptive_v3_5b.yaml",
               ["execution_time=open"])
    assert p.strategy_params["execution_time"] == "open"


def test_dry_run_db_url_with_password_is_refused():
    with pytest.raises(ParamsError) as ei:
        P.load("daily_dry_run", P.repo_root() / "params/daily_dry_run/sma_crossover.yaml",
               ["db_url=postgresql://trader:hunter2@db.example/ledger"])
    assert ei.value.field == "db_url" and "TOOLKIT_DB_URL" in ei.value.allowed
    # No password: accepted.
    P.load("daily_dry_run", P.repo_root() / "params/daily_dry_run/sma_crossover.yaml",
           ["db_url=sqlite:///ledger.sqlite"])
    with pytest.raises(ParamsError) as ei:
        P.load("daily_dry_run", P.repo_root() / "params/daily_dry_run/sma_crossover.yaml",
               ["db_url=postgresql://trader:hunter2@db.example/ledger"])
    assert "hunter2" not in str(ei.value)  # the error (and so the log) never shows the password


# --------------------------------------------------------------------------- the package's structure

#: sha256 (first 16 hex digits) of each resolved params dump, keys in model order, as the
#: code before the issue-8 redesign produced them: params hashes name runs and sit in the
#: ledger, and the report's params table lists the keys in this order.
RESOLVED_DUMPS = {
    ("backtest", None): "ad0b4f42cb988b3a",
    ("backtest", "hierarchical_adaptive_v3_5b.yaml"): "453cca071d8942ab",
    ("backtest", "sma_crossover.yaml"): "0f8bf3c3e161ac0b",
    ("walk_forward", None): "342d5b4919eed20e",
    ("walk_forward", "bench_10x500.yaml"): "f79fe7117cb33495",
    ("walk_forward", "sma_crossover.yaml"): "93ed3b329b459e89",
    ("daily_dry_run", None): "f8c5d8bcc45b62c7",
    ("daily_dry_run", "hierarchical_adaptive_v3_5b.yaml"): "0f15aa6b78281f50",
    ("daily_dry_run", "sma_crossover.yaml"): "dddf725ffaa8c1fd",
}


@pytest.mark.parametrize(("notebook", "name"), list(RESOLVED_DUMPS))
def test_resolved_params_dump_as_before_the_redesign(notebook, name):
    import hashlib
    import json

    p = P.load(notebook, P.repo_root() / "params" / notebook / name if name else None)
    dump = p.model_dump(mode="json")
    if notebook == "walk_forward":
        # The one deliberate change since: chunk_size's default (and the bundled files) became
        # "auto" with the fused grid kernels (issue 14), where it was 250; every other key is as before.
        assert dump["chunk_size"] == "auto"
        dump["chunk_size"] = 250
    digest = hashlib.sha256(json.dumps(dump).encode()).hexdigest()[:16]
    assert digest == RESOLVED_DUMPS[(notebook, name)]


@pytest.mark.parametrize("notebook", P.NOTEBOOKS)
def test_validate_is_the_notebooks_model_parsing_and_resolving_itself(notebook):
    from toolkit.params.base import NotebookParams

    model = P.model_for(notebook)
    assert issubclass(model, NotebookParams)
    raw = {"data": {"symbols": ["NASDAQ"], "start": "2010-01-01", "end": "2018-12-31"}}
    assert P.validate(notebook, raw) == model.parse(raw).resolve(P.repo_root())


def test_unknown_notebook_lists_the_registered_ones():
    with pytest.raises(ParamsError) as ei:
        P.validate("paper_trading", {})
    assert (ei.value.field, ei.value.allowed) == ("notebook", "one of backtest, walk_forward, daily_dry_run, live")


def test_every_params_part_is_strict():
    """One strict base: every model a params file reaches refuses unknown keys."""
    from pydantic import BaseModel

    from toolkit.params.base import StrictModel

    seen: set[type] = set()

    def walk(model: type[BaseModel]) -> None:
        seen.add(model)
        for f in model.model_fields.values():
            for arg in [f.annotation, *getattr(f.annotation, "__args__", ())]:
                if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in seen:
                    walk(arg)

    for notebook in P.NOTEBOOKS:
        walk(P.model_for(notebook))
    lax = [m for m in seen if not issubclass(m, StrictModel)]
    assert len(seen) > 10 and not lax, lax


def test_one_cost_model_for_every_notebook():
    from toolkit.params.costs import Costs, ResearchCosts, SessionCosts

    bt = P.validate("backtest", {**BASE, "fees_bps": 7, "slippage_bps": 2, "fill": "next_open"})
    assert bt.costs == ResearchCosts(fees_bps=7, slippage_bps=2, fill="next_open")
    assert type(P.validate("walk_forward", {}).costs) is ResearchCosts
    assert type(P.validate("daily_dry_run", {}).costs) is SessionCosts
    assert issubclass(ResearchCosts, Costs) and issubclass(SessionCosts, Costs)
    # One set of bounds: the same error for the same bad fee, wherever it is written.
    errors = [_err({**BASE, "fees_bps": 2000})]
    for notebook in ("walk_forward", "daily_dry_run"):
        with pytest.raises(ParamsError) as ei:
            P.validate(notebook, {"costs": {"fees_bps": 2000}})
        errors.append(ei.value)
    assert [e.field for e in errors] == ["fees_bps", "costs.fees_bps", "costs.fees_bps"]
    assert len({e.allowed for e in errors}) == 1


def test_guard_params_are_what_the_risk_engine_takes():
    from toolkit.engine.guards import GuardSettings as EngineGuardSettings
    from toolkit.engine.guards import RiskEngine

    p = P.validate("daily_dry_run", {"guards": {"max_order_notional": 5000, "kill_switch": True}})
    assert EngineGuardSettings is P.GuardSettings and type(p.guards) is P.GuardSettings
    from decimal import Decimal

    from toolkit.engine.guards import MarketState, PortfolioState

    engine = RiskEngine(p.guards)
    report = engine.check([], PortfolioState(cash=Decimal(1000)), MarketState())
    assert engine.settings is p.guards and [h.guard for h in report.halts] == ["kill_switch"]


def test_max_data_age_is_dumped_only_when_in_force_and_refused_by_the_dry_run():
    import datetime as dt

    assert "max_data_age" not in P.GuardSettings().model_dump()
    assert P.GuardSettings(max_data_age=dt.timedelta(minutes=5)).model_dump(mode="json")["max_data_age"] == "PT5M"
    with pytest.raises(ParamsError) as ei:
        P.validate("daily_dry_run", {"guards": {"max_data_age": "PT5M"}})
    assert ei.value.field == "guards.max_data_age" and "quote time" in ei.value.allowed
