"""v3.5b parameters: defaults, golden files, bounds and the §10 cross-field rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from toolkit.errors import ParamsError
from toolkit.strategies import registry
from toolkit.strategies.hierarchical_adaptive_v3_5b import HierarchicalAdaptiveV35b, HierarchicalAdaptiveV35bParams

PARAMS_DIR = Path(__file__).resolve().parents[2] / "params" / "strategies"
THE_32 = [
    "measurement_noise", "process_noise_1", "process_noise_2", "osc_smoothness", "strength_smoothness",
    "T_max", "sma_fast", "sma_slow", "t_norm_bull_thresh", "t_norm_bear_thresh", "realized_vol_window",
    "vol_baseline_window", "upper_thresh_z", "lower_thresh_z", "vol_crush_threshold", "vol_crush_lookback",
    "leverage_scalar", "use_inverse_hedge", "w_PSQ_max", "allow_treasury", "bond_sma_fast", "bond_sma_slow",
    "max_bond_weight", "treasury_trend_symbol", "rebalance_threshold", "execution_time", "signal_symbol",
    "core_long_symbol", "leveraged_long_symbol", "inverse_hedge_symbol", "bull_bond_symbol", "bear_bond_symbol",
]
FLAGS = ["symmetric_volume_adjustment", "double_smoothing"]


def test_model_has_the_32_parameters_and_two_flags():
    assert len(THE_32) == 32
    assert set(HierarchicalAdaptiveV35bParams.model_fields) == set(THE_32 + FLAGS)


def test_constructor_defaults_match_spec():
    p = HierarchicalAdaptiveV35b().params
    assert (p.measurement_noise, p.osc_smoothness, p.t_norm_bull_thresh) == (2000.0, 15, 0.2)
    assert p.vol_baseline_window == 126
    assert (p.sma_fast, p.sma_slow, p.lower_thresh_z, p.vol_crush_threshold) == (40, 140, 0.2, -0.15)
    assert (p.execution_time, p.symmetric_volume_adjustment, p.double_smoothing) == ("close", False, False)
    assert HierarchicalAdaptiveV35b().warmup == 147  # max(140, 126 + 21)


def test_golden_live_file():
    raw = yaml.safe_load((PARAMS_DIR / "hierarchical_adaptive_v3_5b.yaml").read_text())
    assert set(raw) == set(THE_32 + FLAGS), "flat: all 32 + the two flags, nothing else"
    s = HierarchicalAdaptiveV35b(raw)
    p = s.params
    assert p.measurement_noise == 3000.0 and p.t_norm_bull_thresh == 0.05 and p.vol_baseline_window == 200
    assert p.osc_smoothness == 15 and p.execution_time == "15min_after_open"
    assert p.symmetric_volume_adjustment is False and p.double_smoothing is False
    assert s.warmup == 221 and s.series_length == 221  # §1: W = max(150, 221, 60)
    assert s.price_source == "daily_close_fallback"


def test_gold_grid_file_differs_only_where_the_spec_says():
    live = yaml.safe_load((PARAMS_DIR / "hierarchical_adaptive_v3_5b.yaml").read_text())
    grid = yaml.safe_load((PARAMS_DIR / "hierarchical_adaptive_v3_5b_gold_grid.yaml").read_text())
    diff = {k: grid[k] for k in live if live[k] != grid[k]}
    assert diff == {"osc_smoothness": 10, "symmetric_volume_adjustment": True, "execution_time": "close"}
    assert HierarchicalAdaptiveV35b(grid).price_source == "daily_close"


def test_registered_under_its_name():
    assert "toolkit.strategies.hierarchical_adaptive_v3_5b" in registry.BUILTIN_MODULES
    assert registry._REGISTRY["hierarchical_adaptive_v3_5b"] is HierarchicalAdaptiveV35b
    assert HierarchicalAdaptiveV35b.has_regime is True


@pytest.mark.parametrize("when", ["open", "15min_after_open", "15min_before_close", "5min_before_close", "close"])
def test_execution_times_accepted(when):
    s = HierarchicalAdaptiveV35b({"execution_time": when})
    expected = {"open": "daily_open", "close": "daily_close"}.get(when, "daily_close_fallback")
    assert s.price_source == expected


BAD = [
    # (overrides, field named by the error)
    ({"sma_fast": 140, "sma_slow": 140}, "sma_slow"),
    ({"sma_fast": 200}, "sma_slow"),
    ({"t_norm_bull_thresh": 0.0}, "t_norm_bull_thresh"),
    ({"t_norm_bull_thresh": -0.1}, "t_norm_bull_thresh"),
    ({"t_norm_bear_thresh": 0.0}, "t_norm_bear_thresh"),
    ({"t_norm_bear_thresh": 0.1}, "t_norm_bear_thresh"),
    ({"upper_thresh_z": 0.2, "lower_thresh_z": 0.2}, "lower_thresh_z"),
    ({"lower_thresh_z": 1.5}, "lower_thresh_z"),
    ({"upper_thresh_z": 0.1}, "lower_thresh_z"),
    ({"bull_bond_symbol": "QQQ"}, "bull_bond_symbol"),
    ({"vol_crush_threshold": 0.0}, "vol_crush_threshold"),
    ({"vol_crush_threshold": 0.1}, "vol_crush_threshold"),
    ({"leverage_scalar": 0.49}, "leverage_scalar"),
    ({"leverage_scalar": 1.51}, "leverage_scalar"),
    ({"w_PSQ_max": 0.0}, "w_PSQ_max"),
    ({"w_PSQ_max": 1.01}, "w_PSQ_max"),
    ({"rebalance_threshold": 0.0}, "rebalance_threshold"),
    ({"bond_sma_fast": 60, "bond_sma_slow": 60}, "bond_sma_slow"),
    ({"bond_sma_fast": 80}, "bond_sma_slow"),
    ({"max_bond_weight": -0.01}, "max_bond_weight"),
    ({"max_bond_weight": 1.01}, "max_bond_weight"),
    ({"execution_time": "noon"}, "execution_time"),
    ({"measurement_noise": 0.0}, "measurement_noise"),
    ({"process_noise_1": -1.0}, "process_noise_1"),
    ({"process_noise_2": 0.0}, "process_noise_2"),
    ({"osc_smoothness": 0}, "osc_smoothness"),
    ({"strength_smoothness": 0}, "strength_smoothness"),
    ({"T_max": 0.0}, "T_max"),
    ({"realized_vol_window": 1}, "realized_vol_window"),
    ({"vol_crush_lookback": 0}, "vol_crush_lookback"),
    ({"bull_bond_symbol": "TQQQ"}, "bull_bond_symbol"),
    ({"bear_bond_symbol": "TMF"}, "bear_bond_symbol"),
    ({"leveraged_long_symbol": "QQQ"}, "leveraged_long_symbol"),
    ({"use_inverse_hedge": True, "inverse_hedge_symbol": "TQQQ"}, "inverse_hedge_symbol"),
    ({"signal_symbol": ""}, "signal_symbol"),
    ({"no_such_param": 1}, "no_such_param"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD, ids=[f"{f}:{o}" for o, f in BAD])
def test_bad_values_name_the_field(overrides, field):
    with pytest.raises(ParamsError) as info:
        HierarchicalAdaptiveV35b(overrides)
    assert info.value.field == f"strategy_params.{field}"
    assert field in str(info.value)


def test_unused_roles_may_repeat():
    """The inverse symbol only matters with use_inverse_hedge; bonds only with allow_treasury."""
    HierarchicalAdaptiveV35b({"inverse_hedge_symbol": "TQQQ"})
    HierarchicalAdaptiveV35b({"allow_treasury": False, "bull_bond_symbol": "QQQ", "bear_bond_symbol": "QQQ"})


def test_symbol_lists():
    s = HierarchicalAdaptiveV35b()
    assert s.instruments() == ["TQQQ", "QQQ", "TMF", "TMV"]
    assert s.required_symbols() == ["QQQ", "TQQQ"]
    assert s.optional_symbols() == ["TLT", "TMF", "TMV"]
    h = HierarchicalAdaptiveV35b({"use_inverse_hedge": True, "allow_treasury": False})
    assert h.instruments() == ["TQQQ", "QQQ", "PSQ"]
    assert h.required_symbols() == ["QQQ", "TQQQ", "PSQ"]
    assert h.optional_symbols() == []
