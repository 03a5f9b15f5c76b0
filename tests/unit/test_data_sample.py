"""load_sample / sample_range on the real daily sample bundled with ``arch``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.data import SAMPLE_SYMBOLS, load_sample, sample_range
from toolkit.errors import ParamsError


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_all_symbols_by_default_in_order(assert_canonical):
    frames = load_sample()
    assert tuple(frames) == SAMPLE_SYMBOLS == ("SP500", "NASDAQ", "VIX")
    for frame in frames.values():
        assert_canonical(frame)
        assert (frame.index == frame.index.normalize()).all()  # daily: midnight UTC


def test_sp500_spot_values():
    sp = load_sample(["SP500"])["SP500"]
    assert (sp.index[0], sp.index[-1], len(sp)) == (utc("1999-01-04"), utc("2018-12-31"), 5031)
    # sp500.csv.gz: 1/4/1999,1229.22998,1248.810059,1219.099976,1228.099976,1228.099976,877000000
    assert sp.iloc[0].tolist() == [1229.22998, 1248.810059, 1219.099976, 1228.099976, 877000000.0]


def test_vix_is_close_only_without_holiday_rows():
    vix = load_sample(["VIX"])["VIX"]
    assert vix.index[0] == utc("2014-01-03") and vix["close"].iloc[0] == 13.76
    assert utc("2014-01-20") not in vix.index  # "." (MLK day) in the package file
    assert (vix[["open", "high", "low"]].to_numpy() == vix[["close"]].to_numpy()).all()
    assert vix["volume"].isna().all()


def test_adjusted_prices():
    raw = load_sample(["NASDAQ", "VIX"])
    adj = load_sample(["NASDAQ", "VIX"], prices="adjusted")
    # the index sample's Adj Close equals its Close, and VIX has no adjusted series
    pd.testing.assert_frame_equal(raw["NASDAQ"], adj["NASDAQ"])
    pd.testing.assert_frame_equal(raw["VIX"], adj["VIX"])


def test_returns_copies_not_the_cache():
    first = load_sample(["SP500"])["SP500"]
    first.iloc[0, 3] = -1.0
    assert load_sample(["SP500"])["SP500"].iloc[0, 3] == 1228.099976


def test_unknown_symbol_and_bad_prices():
    with pytest.raises(ParamsError) as info:
        load_sample(["SP500", "DOW"])
    err = info.value
    assert (err.field, err.value, err.allowed) == ("data.symbols", "DOW", "one of SP500, NASDAQ, VIX")
    with pytest.raises(ParamsError) as info:
        load_sample([])
    assert info.value.field == "data.symbols"
    with pytest.raises(ParamsError) as info:
        load_sample(prices="dividend")
    assert (info.value.field, info.value.value) == ("data.prices", "dividend")


def test_symbols_are_deduplicated_and_a_string_is_one_symbol():
    assert list(load_sample(["VIX", "SP500", "VIX"])) == ["VIX", "SP500"]
    assert list(load_sample("VIX")) == ["VIX"]


def test_sample_range():
    assert sample_range("VIX") == (utc("2014-01-03"), utc("2019-01-03"))
    assert sample_range("NASDAQ") == (utc("1999-01-04"), utc("2018-12-31"))
    with pytest.raises(ParamsError):
        sample_range("sp500")


def test_volume_is_float():
    assert load_sample(["SP500"])["SP500"]["volume"].dtype == np.float64
