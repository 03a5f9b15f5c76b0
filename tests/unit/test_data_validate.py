"""validate_bars: every rule names the symbol, the first bad timestamp and the rule."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from toolkit.data import CANONICAL_FIELDS, validate_bars
from toolkit.data.validate import adjust_to_close, bar_index, check_prices
from toolkit.errors import DataError, ParamsError


def bars(n: int = 5, *, tz: str | None = "UTC") -> pd.DataFrame:
    """A small valid daily frame."""
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz=tz, name="timestamp")
    close = 100.0 + np.arange(n)
    return pd.DataFrame(
        {"open": close - 0.5, "high": close + 1.0, "low": close - 1.0, "close": close,
         "volume": np.full(n, 1000.0)},
        index=index,
    )


def ts(day: int) -> pd.Timestamp:
    return pd.Timestamp(f"2024-01-0{day}", tz="UTC")


def test_valid_frame_comes_back_canonical(assert_canonical):
    df = bars()
    df["extra"] = 1  # extra columns are left out
    out = validate_bars(df, "ABC")
    assert_canonical(out)
    pd.testing.assert_frame_equal(out, bars(), check_freq=False, check_index_type=False)


def test_integer_columns_and_nan_volume_are_fine(assert_canonical):
    df = bars().astype({"volume": "int64"})
    assert_canonical(validate_bars(df, "ABC"))
    df = bars()
    df["volume"] = np.nan  # unknown volume (close-only sources)
    assert validate_bars(df, "ABC")["volume"].isna().all()


def test_other_timezones_convert_to_utc_keeping_the_instant():
    df = bars(tz="America/New_York")
    out = validate_bars(df, "ABC")
    assert str(out.index.tz) == "UTC"
    assert out.index[0] == pd.Timestamp("2024-01-01 05:00", tz="UTC")


@pytest.mark.parametrize(
    ("edit", "day", "rule"),
    [
        ({"close": np.nan}, 3, "no NaN in prices"),
        ({"open": 0.0}, 3, "prices > 0"),
        ({"low": -1.0}, 3, "prices > 0"),
        ({"close": np.inf, "high": np.inf}, 3, "prices finite"),
        ({"high": 90.0, "low": 95.0, "open": 92.0, "close": 93.0}, 3, "high >= low"),
        ({"high": 101.5}, 3, "high >= max(open, close)"),  # close is 102
        ({"low": 101.8}, 3, "low <= min(open, close)"),  # open is 101.5
        ({"volume": -5.0}, 3, "volume >= 0"),
    ],
)
def test_each_rule_names_symbol_timestamp_and_rule(edit, day, rule):
    df = bars()
    for field, value in edit.items():
        df.loc[ts(day), field] = value
    with pytest.raises(DataError) as info:
        validate_bars(df, "XYZ")
    err = info.value
    assert (err.symbol, err.timestamp, err.rule) == ("XYZ", ts(day), rule)
    assert "XYZ" in str(err) and rule in str(err) and "2024-01-03" in str(err)


def test_first_bad_row_is_reported_not_the_first_rule():
    df = bars()
    df.loc[ts(4), "close"] = np.nan  # later row, earlier rule
    df.loc[ts(2), "volume"] = -1.0  # earlier row, later rule
    with pytest.raises(DataError) as info:
        validate_bars(df, "XYZ")
    assert (info.value.timestamp, info.value.rule) == (ts(2), "volume >= 0")


def test_duplicate_timestamp_with_different_values_is_an_error():
    df = bars()
    dup = df.iloc[[2]].copy()
    dup["close"] = 102.5
    df = pd.concat([df.iloc[:3], dup, df.iloc[3:]])
    with pytest.raises(DataError) as info:
        validate_bars(df, "XYZ")
    assert (info.value.symbol, info.value.timestamp, info.value.rule) == (
        "XYZ", ts(3), "unique timestamps",
    )


def test_unsorted_timestamps_are_an_error():
    df = bars().iloc[[0, 1, 3, 2, 4]]
    with pytest.raises(DataError) as info:
        validate_bars(df, "XYZ")
    assert (info.value.timestamp, info.value.rule) == (ts(3), "timestamps sorted ascending")
    assert "previous bar at 2024-01-04" in str(info.value)


def test_exact_duplicates_are_dropped_with_a_warning():
    df = bars()
    df = pd.concat([df.iloc[:3], df.iloc[[2, 2]], df.iloc[3:]])
    with pytest.warns(UserWarning, match=r"XYZ: dropped 2 exact duplicate"):
        out = validate_bars(df, "XYZ")
    assert len(out) == 5 and out.index.is_unique
    with pytest.raises(DataError, match="unique timestamps"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            validate_bars(df, "XYZ", drop_exact_duplicates=False)


def test_naive_index_missing_column_and_text_values_are_errors():
    with pytest.raises(DataError, match="tz-aware"):
        validate_bars(bars(tz=None), "XYZ")
    with pytest.raises(DataError, match="missing volume"):
        validate_bars(bars().drop(columns="volume"), "XYZ")
    df = bars().astype({"close": object})
    df.loc[ts(4), "close"] = "n/a"
    with pytest.raises(DataError) as info:
        validate_bars(df, "XYZ")
    assert (info.value.timestamp, info.value.rule) == (ts(4), "close is a number")
    with pytest.raises(DataError, match="DatetimeIndex"):
        validate_bars(bars().reset_index(), "XYZ")


def test_empty_frame_is_valid():
    out = validate_bars(bars().iloc[:0], "XYZ")
    assert len(out) == 0 and list(out.columns) == list(CANONICAL_FIELDS)


def test_vectorised_on_a_large_frame():
    """100k minute bars validate without a Python loop (the bad bar is still found)."""
    n = 100_000
    index = pd.date_range("2024-01-02 14:30", periods=n, freq="min", tz="UTC")
    close = 100 + np.cumsum(np.full(n, 0.001))
    df = pd.DataFrame(
        {"open": close, "high": close + 0.01, "low": close - 0.01, "close": close,
         "volume": np.ones(n)}, index=index,
    )
    assert len(validate_bars(df, "MIN")) == n
    df.iloc[n - 10, 1] = 1.0  # high far below
    with pytest.raises(DataError) as info:
        validate_bars(df, "MIN")
    assert info.value.timestamp == index[n - 10]


def test_check_prices_and_adjust_to_close():
    check_prices("raw")
    check_prices("adjusted")
    with pytest.raises(ParamsError) as info:
        check_prices("split")
    assert (info.value.field, info.value.value) == ("data.prices", "split")
    o, h, lo, c = adjust_to_close(
        np.array([10.0, 20.0]), np.array([12.0, 21.0]), np.array([9.0, 19.0]),
        np.array([12.0, 20.0]), np.array([6.0, 20.0]),
    )
    np.testing.assert_allclose(o, [5.0, 20.0])
    np.testing.assert_array_equal(c, [6.0, 20.0])  # the published adjusted close, exactly
    assert (h >= c).all() and (lo <= c).all()


def test_bar_index_is_the_datetime_index_or_a_type_error():
    b = bars()
    assert bar_index(b) is b.index and bar_index(b["close"]).equals(b.index)
    with pytest.raises(TypeError, match="DatetimeIndex"):
        bar_index(b.reset_index(drop=True))
