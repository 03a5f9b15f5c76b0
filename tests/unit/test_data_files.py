"""load_files on every real file in ../shared/data, plus hand-made edge cases.

Spot values were read from the raw files with a text editor (not through the loader).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.data import fingerprint, load_files
from toolkit.data.files import SUFFIXES
from toolkit.errors import DataError, ParamsError


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@dataclass(frozen=True)
class Expect:
    """What one real file must load as (one spot-checked symbol)."""

    symbols: tuple[str, ...] | int  # exact symbols, or how many
    symbol: str
    first: str
    first_close: float
    last: str
    last_close: float
    bars: int
    warns: tuple[str, ...] = ()  # regexes of the warnings the file must raise


EXPECTED: dict[str, Expect] = {
    # rows in DESCENDING order in the file
    "daily/qstrader/SPY.csv": Expect(("SPY",), "SPY", "2000-01-03", 145.4375, "2016-01-04", 201.020004, 4026),
    "daily/qstrader/AAPL.csv": Expect(("AAPL",), "AAPL", "2000-01-03", 111.937502, "2016-01-04", 105.349998, 4026),
    "daily/qstrader/AGG.csv": Expect(("AGG",), "AGG", "2006-11-01", 100.18, "2016-10-13", 111.559998, 2505),
    "daily/zipline/AAPL.csv": Expect(("AAPL",), "AAPL", "2012-01-03", 58.747143, "2014-12-31", 110.379997, 754),
    "daily/zipline/IBM.csv": Expect(("IBM",), "IBM", "2012-01-03", 186.300003, "2014-12-31", 160.440002, 754),
    "daily/zipline/KO.csv": Expect(("KO",), "KO", "2012-01-03", 35.07, "2014-12-31", 42.220001, 754),
    "daily/zipline/MSFT.csv": Expect(("MSFT",), "MSFT", "2012-01-03", 26.77, "2014-12-31", 46.450001, 754),
    # long format, raw columns by default
    "daily/zipline/quandl_sample_2014.csv": Expect(
        ("AAPL", "BRK_A", "MSFT", "ZEN"), "AAPL", "2014-01-02", 553.13, "2014-12-31", 110.38, 252
    ),
    # wide close-only
    "daily/lean-tests/etf_closes_2008_2016.csv": Expect(
        23, "SPY", "2008-01-02", 144.92999267578125, "2016-07-01", 209.9199981689453, 2141
    ),
    # US dates with a time part, volume in scientific notation, "Volume " header.
    # (500 data rows in the file; its README says 499.)
    "daily/lean-tests/spy_ohlcv_2013_2015.txt": Expect(
        ("spy_ohlcv_2013_2015",), "spy_ohlcv_2013_2015", "2013-02-22", 151.89, "2015-02-17", 210.11, 500
    ),
    "daily/alphasim/vti_tlt_gld_closes_2004_2012.csv": Expect(
        ("VTI", "TLT", "GLD"), "VTI", "2004-11-22", 40.81538391113281, "2012-10-31", 60.2110595703125, 2000
    ),
    # 188 columns, two of them (AGIXUSDT, SSVUSDT) entirely empty
    "daily/alphasim/crypto_closes_2019_2022.csv": Expect(
        186, "BTCUSDT", "2019-01-01", 3682.61, "2022-12-31", 16590.1, 1461,
        warns=(r"skipped 2 column\(s\) with no prices: AGIXUSDT, SSVUSDT",),
    ),
    # minute bars, New York offsets -> UTC (11:00-05:00 is 16:00 UTC)
    "minute/intraday/GLD.csv": Expect(("GLD",), "GLD", "2019-12-17 16:00", 138.99, "2019-12-24 15:59", 141.15, 1935),
    "minute/intraday/QQQ.csv": Expect(("QQQ",), "QQQ", "2019-12-17 16:00", 209.22, "2019-12-24 15:59", 211.76, 1940),
    "minute/intraday/SQQQ.csv": Expect(("SQQQ",), "SQQQ", "2019-12-17 16:00", 23.73, "2019-12-24 15:59", 22.65, 1929),
    "minute/intraday/TQQQ.csv": Expect(("TQQQ",), "TQQQ", "2019-12-17 16:00", 82.22, "2019-12-24 15:59", 85.67, 1936),
    "minute/intraday/UPRO.csv": Expect(("UPRO",), "UPRO", "2019-12-17 16:00", 67.89, "2019-12-24 15:59", 69.6, 1882),
    "minute/intraday/TLT.csv": Expect(("TLT",), "TLT", "2019-12-16 16:00", 138.16, "2020-01-13 15:59", 137.76, 6798),
    # 6690 rows minus one dividend-only row with empty OHLC
    "minute/intraday/SPXL.csv": Expect(
        ("SPXL",), "SPXL", "2019-12-16 16:00", 64.33, "2020-01-13 15:59", 69.04, 6689,
        warns=(r"SPXL: dropped 1 row\(s\) with empty open/high/low/close",),
    ),
    # 13435 rows - 1 dividend-only - 5071 exact copies - 3 volume-0 re-downloads
    "minute/intraday/SPY.csv": Expect(
        ("SPY",), "SPY", "2019-12-13 16:00", 316.54, "2020-01-16 20:59", 330.9, 8360,
        warns=(
            r"SPY: dropped 1 row\(s\) with empty open/high/low/close",
            r"SPY: dropped 5071 exact duplicate",
            r"SPY: dropped 3 re-downloaded bar",
        ),
    ),
}
RETURNS_FILE = "daily/zipline/spy_benchmark_returns.csv"
HAS_ADJUSTED = {  # files with adjusted columns (SPY minute's Adj Close is empty: not one)
    "daily/qstrader/SPY.csv", "daily/qstrader/AAPL.csv", "daily/qstrader/AGG.csv",
    "daily/zipline/quandl_sample_2014.csv",
}


def load_quietly(path, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_files(path, *args, **kwargs)


def test_every_shared_file_has_an_expectation(shared_data):
    found = {
        f.relative_to(shared_data).as_posix()
        for folder in ("daily", "minute")
        for f in (shared_data / folder).rglob("*")
        if f.is_file() and f.suffix.lower() in SUFFIXES
    }
    assert found == set(EXPECTED) | {RETURNS_FILE}


@pytest.mark.parametrize("prices", ["raw", "adjusted"])
@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_shared_file_loads_canonical(shared_data, assert_canonical, rel, prices):
    exp = EXPECTED[rel]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = load_files(shared_data / rel, prices=prices)
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(exp.warns), messages
    for pattern, message in zip(exp.warns, messages):
        assert pd.Series([message]).str.contains(pattern).all(), (pattern, message)
    if isinstance(exp.symbols, int):
        assert len(frames) == exp.symbols
    else:
        assert tuple(frames) == exp.symbols
    for frame in frames.values():
        assert_canonical(frame)
    df = frames[exp.symbol]
    assert len(df) == exp.bars
    assert df.index[0] == utc(exp.first) and df.index[-1] == utc(exp.last)
    if prices == "raw":
        assert df["close"].iloc[0] == pytest.approx(exp.first_close, rel=1e-12)
        assert df["close"].iloc[-1] == pytest.approx(exp.last_close, rel=1e-12)
    elif rel not in HAS_ADJUSTED:  # one price set only: loads the same either way
        assert fingerprint(frames) == fingerprint(load_quietly(shared_data / rel))


def test_returns_file_is_refused_with_a_clear_error(shared_data):
    with pytest.raises(ParamsError) as info:
        load_files(shared_data / RETURNS_FILE)
    assert info.value.field == "data.path"
    assert "returns series" in str(info.value) and "not price bars" in str(info.value)


def test_descending_file_comes_out_ascending_with_rows_intact(shared_data):
    df = load_files(shared_data / "daily/qstrader/SPY.csv")["SPY"]
    assert df.index.is_monotonic_increasing
    # 2015-12-31,205.130005,205.889999,203.869995,203.869995,102929500,199.584102
    row = df.loc[utc("2015-12-31")]
    assert row.tolist() == [205.130005, 205.889999, 203.869995, 203.869995, 102929500.0]


def test_qstrader_aapl_adjusted_vs_raw_around_the_7_for_1_split(shared_data):
    raw = load_files(shared_data / "daily/qstrader/AAPL.csv")["AAPL"]
    adj = load_files(shared_data / "daily/qstrader/AAPL.csv", prices="adjusted")["AAPL"]
    before, after = utc("2014-06-06"), utc("2014-06-09")
    # raw prices show the split: 645.57 -> 93.70
    assert raw.loc[before, "close"] == 645.570023 and raw.loc[after, "close"] == 93.699997
    assert raw.loc[after, "close"] / raw.loc[before, "close"] == pytest.approx(1 / 6.89, rel=0.01)
    # adjusted closes are the published Adj Close, exactly
    assert adj.loc[before, "close"] == 87.885505 and adj.loc[after, "close"] == 89.291786
    # open/high/low scaled by the same adj/close ratio; volume unchanged
    ratio = 87.885505 / 645.570023
    assert adj.loc[before, "open"] == pytest.approx(649.900002 * ratio, rel=1e-12)
    assert adj.loc[before, "high"] == pytest.approx(651.259979 * ratio, rel=1e-12)
    assert adj.loc[before, "low"] == pytest.approx(644.470024 * ratio, rel=1e-12)
    assert adj.loc[before, "volume"] == raw.loc[before, "volume"] == 87484600
    # no jump in the adjusted series across the split
    assert abs(adj["close"].pct_change().loc[after]) < 0.02
    assert adj["close"].iloc[0] == 3.641362  # 2000-01-03 Adj Close


def test_zipline_aapl_split_column_is_not_reapplied(shared_data):
    for prices in ("raw", "adjusted"):
        df = load_files(shared_data / "daily/zipline/AAPL.csv", prices=prices)["AAPL"]
        # 2014-06-06,92.842857,93.03714,92.067146,92.224289,...,split 1.0
        # 2014-06-09,92.699997,93.879997,91.75,93.699997,75415000,0.0,7.0
        assert df.loc[utc("2014-06-06"), "close"] == 92.224289
        assert df.loc[utc("2014-06-09")].tolist() == [92.699997, 93.879997, 91.75, 93.699997, 75415000.0]
        assert abs(df["close"].pct_change()).max() < 0.2  # no 7x or 1/7 jump anywhere


def test_quandl_long_file_picks_raw_or_adjusted_columns(shared_data):
    path = shared_data / "daily/zipline/quandl_sample_2014.csv"
    raw = load_files(path, ["AAPL", "ZEN"])
    adj = load_files(path, ["AAPL"], prices="adjusted")["AAPL"]
    assert list(raw) == ["AAPL", "ZEN"]
    day = utc("2014-06-06")
    # AAPL,2014-06-06,649.9,651.26,644.47,645.57,12497800.0,...,87.386664614072,87.569532538176,
    #   86.656537534745,86.804445414535,87484600.0
    assert raw["AAPL"].loc[day].tolist() == [649.9, 651.26, 644.47, 645.57, 12497800.0]
    assert adj.loc[day].tolist() == [87.386664614072, 87.569532538176, 86.656537534745,
                                     86.804445414535, 87484600.0]
    assert raw["ZEN"].index[0] == utc("2014-05-15")  # listed mid-year
    assert raw["ZEN"].loc[utc("2014-05-15"), "close"] == 13.43


def test_wide_file_empty_cells_are_dropped_per_symbol(shared_data):
    frames = load_quietly(shared_data / "daily/alphasim/crypto_closes_2019_2022.csv",
                          ["LINKUSDT", "COCOSUSDT", "BTCUSDT"])
    link = frames["LINKUSDT"]
    assert link.index[0] == utc("2019-01-16") and link["close"].iloc[0] == 0.479
    assert len(link) == 1446 and len(frames["BTCUSDT"]) == 1461
    assert len(frames["COCOSUSDT"]) == 1226  # 3 gaps after listing dropped too
    # close-only: open = high = low = close, volume unknown
    assert (link[["open", "high", "low"]].to_numpy() == link[["close"]].to_numpy()).all()
    assert link["volume"].isna().all()


def test_wide_file_empty_column_requested_explicitly(shared_data):
    with pytest.raises(DataError) as info:
        load_quietly(shared_data / "daily/alphasim/crypto_closes_2019_2022.csv", ["AGIXUSDT"])
    assert info.value.symbol == "AGIXUSDT" and info.value.rule == "at least one bar"


def test_lean_us_dates_scientific_volume_and_header_space(shared_data):
    df = load_files(shared_data / "daily/lean-tests/spy_ohlcv_2013_2015.txt")["spy_ohlcv_2013_2015"]
    # 2/22/2013 12:00:00 AM,151.16,151.89,150.49,151.89,1.062926E+08
    assert df.iloc[0].tolist() == [151.16, 151.89, 150.49, 151.89, 106292600.0]
    assert (df.index == df.index.normalize()).all()


def test_minute_file_is_converted_to_utc(shared_data):
    df = load_files(shared_data / "minute/intraday/TLT.csv")["TLT"]
    # 2019-12-16 15:59:00-05:00 and the next session's 09:30:00-05:00
    assert df.loc[utc("2019-12-16 20:59"), "close"] == 137.8
    assert df.loc[utc("2019-12-17 14:30"), "open"] == 138.21
    assert (df.index.minute.isin(range(60))).all() and not (df.index == df.index.normalize()).all()


def test_spy_minute_duplicates_warn_and_keep_real_volume(shared_data):
    with pytest.warns(UserWarning) as record:
        df = load_files(shared_data / "minute/intraday/SPY.csv")["SPY"]
    text = " | ".join(str(w.message) for w in record)
    assert "SPY: dropped 5071 exact duplicate" in text
    # 2020-01-14 11:00:00-05:00 appears with volume 70973 and again (re-downloaded) with 0
    assert df.loc[utc("2020-01-14 16:00"), "volume"] == 70973.0
    # the dividend-only row at 09:30 did not replace the real 09:30 bar
    assert df.loc[utc("2019-12-20 14:30"), "open"] == 320.46


def test_folder_loads_every_file_and_filters_symbols(shared_data):
    frames = load_files(shared_data / "daily/qstrader")
    assert list(frames) == ["AAPL", "AGG", "SPY"]
    some = load_files(shared_data / "daily/qstrader", ["SPY", "AAPL"])
    assert list(some) == ["SPY", "AAPL"]
    with pytest.raises(ParamsError) as info:
        load_files(shared_data / "daily/qstrader", ["MSFT"])
    assert (info.value.field, info.value.value) == ("data.symbols", "MSFT")
    assert info.value.allowed == "one of AAPL, AGG, SPY"


def test_folder_skips_returns_file_and_refuses_ambiguous_symbols(shared_data):
    folder = shared_data / "daily/zipline"
    with pytest.warns(UserWarning, match="spy_benchmark_returns.csv: skipped"):
        frames = load_files(folder, ["IBM", "KO", "BRK_A"])
    assert list(frames) == ["IBM", "KO", "BRK_A"]
    with pytest.raises(DataError) as info:
        load_quietly(folder)  # AAPL is in AAPL.csv and in quandl_sample_2014.csv
    assert info.value.symbol == "AAPL" and info.value.rule == "one source file per symbol"
    assert "AAPL.csv and quandl_sample_2014.csv" in str(info.value)


def test_parquet_loads_like_csv(shared_data, tmp_path):
    pytest.importorskip("pyarrow")
    source = shared_data / "daily/qstrader/AAPL.csv"
    pd.read_csv(source).to_parquet(tmp_path / "AAPL.parquet")
    for prices in ("raw", "adjusted"):
        from_csv = load_files(source, prices=prices)["AAPL"]
        from_parquet = load_files(tmp_path / "AAPL.parquet", prices=prices)["AAPL"]
        pd.testing.assert_frame_equal(from_parquet, from_csv)


# ------------------------------------------------------------------ hand-made files


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parquet_with_datetime_index(tmp_path, assert_canonical):
    index = pd.DatetimeIndex(["2024-03-08 09:30", "2024-03-11 09:30"]).tz_localize("America/New_York")
    df = pd.DataFrame({"Open": [1.0, 2.0], "High": [1.5, 2.5], "Low": [0.5, 1.5],
                       "Close": [1.2, 2.2], "Volume": [10, 20]}, index=index.rename("Datetime"))
    df.to_parquet(tmp_path / "X.parquet")
    out = load_files(tmp_path / "X.parquet")["X"]
    assert_canonical(out)
    # the weekend in between is the US DST switch: -05:00 then -04:00
    assert list(out.index) == [utc("2024-03-08 14:30"), utc("2024-03-11 13:30")]


def test_offsets_across_dst_in_text(tmp_path):
    path = write(tmp_path, "X.csv", "Datetime,Close\n"
                 "2024-03-08 09:30:00-05:00,1\n2024-03-11 09:30:00-04:00,2\n")
    out = load_files(path)["X"]
    assert list(out.index) == [utc("2024-03-08 14:30"), utc("2024-03-11 13:30")]


def test_daily_rows_with_an_offset_keep_their_session_date(tmp_path):
    path = write(tmp_path, "X.csv", "date,close\n2024-01-02 00:00:00-05:00,1\n2024-01-03 00:00:00-05:00,2\n")
    assert list(load_files(path)["X"].index) == [utc("2024-01-02"), utc("2024-01-03")]


def test_naive_intraday_times_are_refused(tmp_path):
    path = write(tmp_path, "X.csv", "date,close\n2024-01-02 09:30,1\n2024-01-02 09:31,2\n")
    with pytest.raises(DataError) as info:
        load_files(path)
    assert info.value.rule == "intraday timestamps carry a UTC offset"


def test_file_neither_ascending_nor_descending_is_an_error(tmp_path):
    path = write(tmp_path, "X.csv", "date,close\n2024-01-02,1\n2024-01-04,2\n2024-01-03,3\n2024-01-05,4\n")
    with pytest.raises(DataError) as info:
        load_files(path)
    assert (info.value.symbol, info.value.timestamp) == ("X", utc("2024-01-03"))
    assert info.value.rule == "rows in ascending or descending timestamp order"


def test_bad_bar_in_a_file_names_its_timestamp(tmp_path):
    path = write(tmp_path, "X.csv", "Date,Open,High,Low,Close,Volume\n"
                 "2024-01-02,10,11,9,10.5,100\n2024-01-03,10,9,11,10.5,100\n")
    with pytest.raises(DataError) as info:
        load_files(path)
    assert (info.value.symbol, info.value.timestamp, info.value.rule) == (
        "X", utc("2024-01-03"), "high >= low",
    )


def test_text_in_a_price_cell_and_unparseable_date(tmp_path):
    path = write(tmp_path, "X.csv", "date,close\n2024-01-02,1\n2024-01-03,oops\n")
    with pytest.raises(DataError, match="close is a number"):
        load_files(path)
    path = write(tmp_path, "Y.csv", "date,close\n2024-01-02,1\nsoon,2\n")
    with pytest.raises(DataError) as info:
        load_files(path)
    assert (info.value.timestamp, info.value.rule) == ("soon", "timestamps parse as dates")


def test_partial_ohlc_columns_are_refused(tmp_path):
    path = write(tmp_path, "X.csv", "date,open,close\n2024-01-02,1,1\n")
    with pytest.raises(DataError, match="all present or all absent"):
        load_files(path)


def test_header_spellings_are_folded(tmp_path):
    path = write(tmp_path, "X.csv", " DATE , OPEN,High ,low,Close,VOLUME,adj_close\n2024-01-02,10,11,9,10,5,5\n")
    raw = load_files(path)["X"]
    adj = load_files(path, prices="adjusted")["X"]
    assert raw.iloc[0].tolist() == [10.0, 11.0, 9.0, 10.0, 5.0]
    assert adj.iloc[0].tolist() == [5.0, 5.5, 4.5, 5.0, 5.0]


def test_missing_path_and_bad_arguments(tmp_path):
    with pytest.raises(ParamsError) as info:
        load_files(tmp_path / "nope.csv")
    assert info.value.field == "data.path"
    assert info.value.allowed == "an existing CSV/Parquet file or folder"
    with pytest.raises(ParamsError, match="this folder has none"):
        load_files(tmp_path)
    path = write(tmp_path, "X.csv", "date,close\n2024-01-02,1\n")
    with pytest.raises(ParamsError) as info:
        load_files(path, prices="total")
    assert info.value.field == "data.prices"
    with pytest.raises(ParamsError) as info:
        load_files(path, [])
    assert info.value.field == "data.symbols"


def test_close_only_single_file_has_unknown_volume(tmp_path):
    path = write(tmp_path, "X.csv", "date,close\n2024-01-03,2\n2024-01-02,1\n")
    out = load_files(path, "X")["X"]
    assert out["close"].tolist() == [1.0, 2.0]
    assert np.isnan(out["volume"]).all()


def test_wide_symbols_keep_their_spelling_even_when_they_look_like_fields(tmp_path):
    # LOW (Lowe's), OPEN (Opendoor) and DT (Dynatrace) are tickers in a wide table
    path = write(tmp_path, "w.csv", "Date,LOW,OPEN,DT\n2024-01-02,1,2,3\n2024-01-03,1.5,,3.5\n")
    frames = load_files(path)
    assert list(frames) == ["LOW", "OPEN", "DT"]
    assert frames["OPEN"]["close"].tolist() == [2.0]  # the empty cell is dropped
    assert frames["DT"].index[-1] == utc("2024-01-03")


def test_header_only_file_semicolons_and_bom(tmp_path):
    path = write(tmp_path, "X.csv", "date,open,high,low,close,volume\n")
    with pytest.raises(DataError) as info:
        load_files(path)
    assert (info.value.symbol, info.value.rule) == ("X", "at least one bar")
    path = tmp_path / "Y.csv"
    path.write_bytes("\ufeffDate;Close\n2024-01-02;5\n".encode())
    assert load_files(path)["Y"]["close"].tolist() == [5.0]


def test_two_spellings_of_one_column_are_refused(tmp_path):
    path = write(tmp_path, "X.csv", "date,Close,close \n2024-01-02,1,2\n")
    with pytest.raises(DataError, match="distinct column names"):
        load_files(path)
