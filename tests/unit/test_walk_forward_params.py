"""Walk-forward params: validated completely, errors naming the field, before anything runs."""

import pytest

from toolkit import params as P
from toolkit.errors import ParamsError
from toolkit.params.walk_forward import WalkForwardParams, resolve_grid

ROOT = P.repo_root()
BASE = {
    "grid": {"fast": [5, 10, 20], "slow": {"start": 20, "stop": 60, "step": 20}},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2012-01-01", "end": "2015-12-31"},
    "in_sample": 250,
    "out_of_sample": 125,
}


def _err(raw) -> ParamsError:
    with pytest.raises(ParamsError) as ei:
        P.validate("walk_forward", raw)
    return ei.value


@pytest.mark.parametrize("name", ["sma_crossover.yaml", "bench_10x500.yaml"])
def test_shipped_files_are_valid(name):
    p = P.load("walk_forward", ROOT / "params/walk_forward" / name)
    assert isinstance(p, WalkForwardParams) and p.strategy == "sma_crossover"


def test_default_file_matches_the_issue():
    p = P.load("walk_forward", ROOT / "params/walk_forward/sma_crossover.yaml")
    assert (p.scheme, p.in_sample, p.out_of_sample, p.objective) == ("rolling", 756, 252, "sharpe")
    assert p.constraints.min_trades == 3 and p.costs.fees_bps == 10 and p.data.symbols == ["NASDAQ"]
    g = resolve_grid(p, {})
    assert (g.n_total, g.n_dropped, g.n_kept) == (90, 1, 89)


def test_bench_file_is_ten_folds_of_five_hundred():
    from toolkit.data.dataset import load_dataset
    from toolkit.optimize.folds import walk_forward_folds

    p = P.load("walk_forward", ROOT / "params/walk_forward/bench_10x500.yaml")
    bars = load_dataset(p.data, base_dir=ROOT).panel
    folds = walk_forward_folds(bars.index, scheme=p.scheme, in_sample=p.in_sample, out_of_sample=p.out_of_sample,
                               partial_last=p.partial_last)
    assert len(bars) == 5000 and len(folds) == 10 and resolve_grid(p, {}).n_kept == 500


def test_invalid_combinations_are_filtered_with_a_count():
    p = P.validate("walk_forward", BASE)
    g = resolve_grid(p, {})
    # 3 fast x 3 slow; (20, 20) is rejected by the strategy's fast < slow rule.
    assert (g.n_total, g.n_dropped) == (9, 1)
    assert "fast=20, slow=20" in g.reading() and "smaller than slow" in g.reading()
    assert list(g.grid.index) == [0, 1, 2, 3, 4, 5, 7, 8]  # full-grid numbers are kept


def test_unknown_keys_name_the_field():
    e = _err({**BASE, "objectiv": "sharpe"})
    assert e.field == "objectiv" and "objective" in e.allowed
    e = _err({**BASE, "costs": {"fee_bps": 5}})
    assert e.field == "costs.fee_bps" and "fees_bps" in e.allowed
    e = _err({**BASE, "constraints": {"min_trade": 5}})
    assert e.field == "constraints.min_trade" and "min_trades" in e.allowed


def test_objective_with_unknown_metric_names_the_field():
    e = _err({**BASE, "objective": "sharpe - 0.5 * abs(max_dd)"})
    assert e.field == "objective" and "'max_dd' is not one" in e.allowed and "max_drawdown" in e.allowed


def test_objective_expression_is_accepted():
    p = P.validate("walk_forward", {**BASE, "objective": "sharpe - 0.5 * abs(max_drawdown)"})
    assert p.objective == "sharpe - 0.5 * abs(max_drawdown)"


def test_grid_errors_name_the_parameter():
    e = _err({**BASE, "grid": {"fast": [0, 5], "slow": [50]}})
    assert e.field == "grid.fast" and e.value == 0
    e = _err({**BASE, "grid": {"fastest": [5], "slow": [50]}})
    assert e.field == "grid.fastest" and "fast" in e.allowed
    e = _err({**BASE, "grid": {"fast": {"start": 5, "stop": 50}}})
    assert e.field == "grid.fast" and "start, stop, step" in e.allowed
    e = _err({**BASE, "grid": {"fast": {"start": 50, "stop": 5, "step": 5}, "slow": [100]}})
    assert e.field == "grid.fast.step"
    e = _err({**BASE, "grid": {"fast": [50, 60], "slow": [20, 30]}})
    assert e.field == "grid" and "all 4 rejected" in e.allowed
    e = _err({**BASE, "grid": {}})
    assert e.field == "grid"


def test_a_parameter_fixed_and_searched_is_an_error():
    e = _err({**BASE, "strategy_params": {"fast": 5}})
    assert e.field == "grid.fast"


def test_fixed_strategy_params_are_checked():
    e = _err({**BASE, "grid": {"fast": [5, 10]}, "strategy_params": {"slowest": 50}})
    assert e.field == "strategy_params.slowest"
    e = _err({**BASE, "grid": {"fast": [5, 10]}, "strategy_params": {"slow": 1}})
    assert e.field == "strategy_params.slow"
    p = P.validate("walk_forward", {**BASE, "grid": {"fast": [5, 10]}, "strategy_params": {"slow": 50}})
    assert p.strategy_params == {"slow": 50}


def test_windows_must_fit_in_the_data():
    e = _err({**BASE, "in_sample": 1100, "out_of_sample": 100})
    assert "in_sample" in e.field and "bars" in e.allowed


def test_step_must_equal_out_of_sample():
    e = _err({**BASE, "step": 50})
    assert e.field == "step" and "125" in e.allowed
    assert P.validate("walk_forward", {**BASE, "step": 125}).step == 125


def test_other_fields():
    assert _err({**BASE, "scheme": "expanding"}).field == "scheme"
    assert _err({**BASE, "executor": "ray"}).field == "executor"
    assert _err({**BASE, "scheduler_address": "tcp://127.0.0.1:8786"}).field == "scheduler_address"
    assert _err({**BASE, "heatmap": ["fast", "fast"]}).field == "heatmap"
    assert _err({**BASE, "heatmap": ["fast", "window"]}).field == "heatmap"
    assert _err({**BASE, "pbo_splits": 7}).field == "pbo_splits"
    assert _err({**BASE, "constraints": {"max_drawdown": 0.4}}).field == "constraints.max_drawdown"
    assert _err({**BASE, "chunk_size": 0}).field == "chunk_size"
    assert _err({**BASE, "data": {**BASE["data"], "symbols": ["DOW"]}}).field == "data.symbols"
    assert _err({**BASE, "benchmark": "SP500"}).field == "benchmark"
    p = P.validate("walk_forward", {**BASE, "executor": "dask", "scheduler_address": "tcp://127.0.0.1:8786"})
    assert p.scheduler_address == "tcp://127.0.0.1:8786"


def test_resolved_params_validate_again_unchanged():
    p = P.validate("walk_forward", {**BASE, "objective": "sharpe - abs(max_drawdown)"})
    again = P.validate("walk_forward", p.model_dump(mode="json"))
    assert again.model_dump(mode="json") == p.model_dump(mode="json")
