"""Tests of parameter grid expansion, validation filtering and chunking."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from toolkit.errors import ParamsError
from toolkit.optimize import FilteredGrid, chunks, expand_grid, filter_valid


def test_order_is_nested_loops_in_spec_order():
    grid = expand_grid({"fast": [5, 10], "slow": [50, 100, 200], "mode": ["long", "short"]})
    assert list(grid.columns) == ["fast", "slow", "mode"]
    assert grid.index.name == "combination" and list(grid.index) == list(range(12))
    expected = list(itertools.product([5, 10], [50, 100, 200], ["long", "short"]))
    assert [tuple(r) for r in grid.itertuples(index=False)] == expected
    assert grid["fast"].dtype == np.int64 and grid["slow"].dtype == np.int64


def test_int_range_is_inclusive_and_stays_int():
    grid = expand_grid({"fast": {"start": 5, "stop": 50, "step": 5}})
    assert grid["fast"].tolist() == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert grid["fast"].dtype == np.int64
    # stop not on the step grid: last value below it.
    assert expand_grid({"n": {"start": 1, "stop": 10, "step": 4}})["n"].tolist() == [1, 5, 9]
    # descending range with a negative step
    assert expand_grid({"n": {"start": 3, "stop": 1, "step": -1}})["n"].tolist() == [3, 2, 1]


def test_float_range_is_rounded_and_inclusive():
    values = expand_grid({"x": {"start": 0.1, "stop": 0.3, "step": 0.1}})["x"].tolist()
    assert values == [0.1, 0.2, 0.3]  # not 0.30000000000000004
    assert values[2] == 0.3
    values = expand_grid({"x": {"start": 0, "stop": 1, "step": 0.05}})["x"].tolist()
    assert len(values) == 21 and values[-1] == 1.0 and values[7] == 0.35
    assert expand_grid({"x": {"start": 0.5, "stop": 2, "step": 0.25}})["x"].dtype == np.float64
    assert expand_grid({"x": {"start": 1e-4, "stop": 5e-4, "step": 1e-4}})["x"].tolist() == [
        0.0001,
        0.0002,
        0.0003,
        0.0004,
        0.0005,
    ]


def test_mixed_spec_and_fixed_values():
    grid = expand_grid({"fast": {"start": 10, "stop": 20, "step": 10}, "k": 2.5, "flag": [True, False]})
    assert len(grid) == 4
    assert grid["k"].tolist() == [2.5] * 4
    assert grid["flag"].dtype == bool
    assert grid.iloc[1].to_dict() == {"fast": 10, "k": 2.5, "flag": False}


def test_list_valued_parameter_kept_as_object():
    grid = expand_grid({"symbols": [["SPY", "QQQ"], ["TLT"]], "w": [1, 2]})
    assert grid["symbols"].tolist() == [["SPY", "QQQ"], ["SPY", "QQQ"], ["TLT"], ["TLT"]]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec"),
        ([1, 2], "spec"),
        ({"fast": []}, "spec.fast"),
        ({"fast": [5, 5, 10]}, "spec.fast"),
        ({"fast": {"start": 1, "stop": 10}}, "spec.fast"),
        ({"fast": {"start": 1, "stop": 10, "step": 1, "by": 2}}, "spec.fast"),
        ({"fast": {"start": 1, "stop": 10, "step": 0}}, "spec.fast.step"),
        ({"fast": {"start": 1, "stop": 10, "step": -1}}, "spec.fast.step"),
        ({"fast": {"start": "1", "stop": 10, "step": 1}}, "spec.fast.start"),
        ({"fast": {"start": 1, "stop": float("inf"), "step": 1}}, "spec.fast.stop"),
        ({"fast": {1, 2}}, "spec.fast"),
    ],
)
def test_bad_spec_names_the_field(spec, field):
    with pytest.raises(ValueError) as info:
        expand_grid(spec)
    assert isinstance(info.value, ParamsError)
    assert info.value.field == field
    assert "allowed" in str(info.value)


def test_max_combinations_guard():
    spec = {"a": list(range(100)), "b": list(range(100)), "c": list(range(100))}
    with pytest.raises(ValueError, match="max_combinations=10,000"):
        expand_grid(spec, max_combinations=10_000)
    assert len(expand_grid(spec)) == 1_000_000


def test_filter_valid_drops_and_reports():
    grid = expand_grid({"fast": [5, 10, 20], "slow": [10, 20, 50]})
    res = filter_valid(grid, lambda p: p["fast"] < p["slow"])
    assert isinstance(res, FilteredGrid)
    kept, dropped = res
    assert dropped == 3 and res.n_kept == 6
    assert list(kept.index) == [0, 1, 2, 4, 5, 8]  # original combination numbers kept
    assert (kept["fast"] < kept["slow"]).all()
    assert res.reading() == "kept 6 of 9 combinations; dropped 3 the validator rejected"


def test_filter_valid_vectorized_equals_rowwise():
    grid = expand_grid({"fast": {"start": 2, "stop": 40, "step": 2}, "slow": {"start": 10, "stop": 100, "step": 5}})
    a = filter_valid(grid, lambda p: p["fast"] * 2 <= p["slow"])
    b = filter_valid(grid, lambda g: (g["fast"] * 2 <= g["slow"]).to_numpy(), vectorized=True)
    pd.testing.assert_frame_equal(a.grid, b.grid)
    assert a.n_dropped == b.n_dropped > 0


def test_filter_valid_rejects_non_bool_and_bad_masks():
    grid = expand_grid({"fast": [5, 10]})
    with pytest.raises(ValueError, match="validator"):
        filter_valid(grid, lambda p: None)  # forgot `return`
    with pytest.raises(ValueError, match="validator"):
        filter_valid(grid, lambda g: [True], vectorized=True)
    with pytest.raises(ValueError, match="validator"):
        filter_valid(grid, "fast < slow")


def test_filter_valid_error_in_validator_names_combination():
    grid = expand_grid({"fast": [5, 10]})
    with pytest.raises(KeyError) as info:
        filter_valid(grid, lambda p: p["slow"] > 0)
    assert any("fast" in note for note in info.value.__notes__)


def test_chunks_cover_grid_in_order():
    grid = expand_grid({"a": list(range(10)), "b": [0, 1]})
    parts = list(chunks(grid, 7))
    assert [len(p) for p in parts] == [7, 7, 6]
    pd.testing.assert_frame_equal(pd.concat(parts), grid)
    assert len(list(chunks(grid, 100))) == 1
    with pytest.raises(ValueError, match="size"):
        chunks(grid, 0)
