"""Tests of walk-forward fold generation."""

from __future__ import annotations

import pandas as pd
import pytest

from toolkit.errors import ParamsError
from toolkit.optimize import Fold, folds_table, walk_forward_folds


@pytest.fixture
def index() -> pd.DatetimeIndex:
    return pd.date_range("2020-01-01", periods=100, freq="B", tz="UTC", name="timestamp")


def test_rolling_windows_slide(index):
    folds = walk_forward_folds(index, scheme="rolling", in_sample=40, out_of_sample=20)
    assert [(f.is_slice, f.oos_slice) for f in folds] == [
        (slice(0, 40), slice(40, 60)),
        (slice(20, 60), slice(60, 80)),
        (slice(40, 80), slice(80, 100)),
    ]
    f = folds[1]
    assert isinstance(f, Fold) and f.number == 2
    assert f.is_start == index[20] and f.is_end == index[59]
    assert f.oos_start == index[60] and f.oos_end == index[79]
    assert f.n_in_sample == 40 and f.n_out_of_sample == 20


def test_anchored_windows_grow_from_start(index):
    folds = walk_forward_folds(index, scheme="anchored", in_sample=40, out_of_sample=20)
    assert [(f.is_slice, f.oos_slice) for f in folds] == [
        (slice(0, 40), slice(40, 60)),
        (slice(0, 60), slice(60, 80)),
        (slice(0, 80), slice(80, 100)),
    ]
    assert all(f.is_start == index[0] for f in folds)


@pytest.mark.parametrize("scheme", ["rolling", "anchored"])
def test_default_step_makes_oos_contiguous_and_disjoint(index, scheme):
    folds = walk_forward_folds(index, scheme=scheme, in_sample=30, out_of_sample=15)
    positions = [i for f in folds for i in range(f.oos_slice.start, f.oos_slice.stop)]
    assert positions == list(range(30, 30 + 15 * len(folds)))  # no overlap, no gap
    assert len(folds) == 4  # 30 + 4*15 = 90 <= 100; a 5th would need 105
    for f in folds:  # OOS always strictly after IS
        assert f.is_slice.stop == f.oos_slice.start and f.is_end < f.oos_start


def test_custom_step(index):
    folds = walk_forward_folds(index, scheme="rolling", in_sample=50, out_of_sample=20, step=10)
    assert [f.oos_slice for f in folds] == [slice(50, 70), slice(60, 80), slice(70, 90), slice(80, 100)]


def test_partial_last_reaches_the_end(index):
    folds = walk_forward_folds(index, scheme="rolling", in_sample=30, out_of_sample=15, partial_last=True)
    assert folds[-1].oos_slice == slice(90, 100) and folds[-1].oos_end == index[-1]
    assert len(folds) == 5
    # When in_sample + out_of_sample exceeds the data, one partial fold still fits.
    one = walk_forward_folds(index, scheme="anchored", in_sample=90, out_of_sample=50, partial_last=True)
    assert len(one) == 1 and one[0].oos_slice == slice(90, 100)


def test_exact_fit_gives_one_fold(index):
    folds = walk_forward_folds(index, scheme="rolling", in_sample=80, out_of_sample=20)
    assert len(folds) == 1 and folds[0].oos_end == index[-1]


def test_fold_slices_select_frame_rows(index):
    frame = pd.DataFrame({"close": range(100)}, index=index)
    f = walk_forward_folds(index, scheme="rolling", in_sample=40, out_of_sample=20)[0]
    assert f.in_sample(frame)["close"].tolist() == list(range(40))
    assert f.out_of_sample(frame).index[0] == f.oos_start


def test_folds_table(index):
    table = folds_table(walk_forward_folds(index, scheme="anchored", in_sample=40, out_of_sample=20))
    assert list(table.index) == [1, 2, 3]
    assert table["is_bars"].tolist() == [40, 60, 80] and table["oos_bars"].tolist() == [20, 20, 20]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"in_sample": 90, "out_of_sample": 20}, "in_sample + out_of_sample"),
        ({"in_sample": 0}, "in_sample"),
        ({"in_sample": 10.5}, "in_sample"),
        ({"out_of_sample": -1}, "out_of_sample"),
        ({"step": 0}, "step"),
        ({"scheme": "expanding"}, "scheme"),
    ],
)
def test_bad_arguments_name_the_field(index, kwargs, field):
    args = {"scheme": "rolling", "in_sample": 40, "out_of_sample": 20} | kwargs
    with pytest.raises(ValueError) as info:
        walk_forward_folds(index, **args)
    assert isinstance(info.value, ParamsError) and info.value.field == field
    assert "allowed" in str(info.value)


def test_not_enough_bars_message_says_what_is_allowed(index):
    with pytest.raises(ValueError, match=r"90 \+ 20 = 110 bars.*at most the 100 bars"):
        walk_forward_folds(index, scheme="rolling", in_sample=90, out_of_sample=20)


def test_bad_index(index):
    with pytest.raises(ValueError, match="index"):
        walk_forward_folds(list(index), scheme="rolling", in_sample=10, out_of_sample=5)
    with pytest.raises(ValueError, match="duplicate"):
        walk_forward_folds(index.append(index[-1:]), scheme="rolling", in_sample=10, out_of_sample=5)
    with pytest.raises(ValueError, match="sorted"):
        walk_forward_folds(index[::-1], scheme="rolling", in_sample=10, out_of_sample=5)
