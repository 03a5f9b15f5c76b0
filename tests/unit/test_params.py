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
