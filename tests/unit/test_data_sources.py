"""Sources of bars: a registry of names, one class per source, DataParams.source checked against it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toolkit.data import load_dataset, load_sample
from toolkit.data.sources import BarRequest, Source, registry
from toolkit.data.sources.alpaca import AlpacaSource
from toolkit.data.sources.files import FilesSource
from toolkit.data.sources.sample import SampleSource
from toolkit.data.sources.schwab import SchwabSource
from toolkit.errors import ParamsError
from toolkit.params import DataParams
from toolkit.params.backtest import BacktestParams

ROOT = Path(__file__).resolve().parents[2]


def _data_error(raw: dict) -> ParamsError:
    with pytest.raises(ParamsError) as ei:
        BacktestParams.parse({"data": raw})
    return ei.value


def test_builtin_sources_are_registered_under_their_params_spelling():
    assert registry.available() == {"sample": SampleSource, "csv": FilesSource, "alpaca": AlpacaSource,
                                    "schwab": SchwabSource}
    assert isinstance(registry.get("sample"), SampleSource) and isinstance(registry.get("csv"), FilesSource)
    assert not SampleSource.takes_path and FilesSource.takes_path
    assert not AlpacaSource.takes_path and not SchwabSource.takes_path


def test_unknown_source_lists_the_registered_ones():
    e = _data_error({"source": "polygon"})
    assert (e.field, e.value, e.allowed) == ("data.source", "polygon", "one of sample, csv, alpaca, schwab")
    with pytest.raises(ParamsError) as ei:
        registry.get("polygon")
    assert (ei.value.field, ei.value.allowed) == ("data.source", "one of sample, csv, alpaca, schwab")


def test_path_rules_follow_the_source():
    # Each rule names the field it is about (data.path), not the whole data block.
    e = _data_error({"source": "csv"})
    assert (e.field, e.value, e.allowed) == ("data.path", None, "a file or folder of bars (required when data.source is csv)")
    e = _data_error({"source": "sample", "path": "x"})
    assert (e.field, e.value, e.allowed) == ("data.path", "x", "no path with data.source: sample (only csv read a path)")
    e = _data_error({"source": "alpaca", "path": "x"})
    assert (e.field, e.allowed) == ("data.path", "no path with data.source: alpaca (only csv read a path)")


def test_sample_source_loads_what_load_sample_loads():
    got = registry.get("sample").load(BarRequest(["NASDAQ", "SP500"], "raw"))
    want = load_sample(["NASDAQ", "SP500"], prices="raw")
    assert list(got) == ["NASDAQ", "SP500"]
    for sym in want:
        pd.testing.assert_frame_equal(got[sym], want[sym])


def test_files_source_needs_an_existing_path(tmp_path):
    for request in (BarRequest(["X"]), BarRequest(["X"], path=tmp_path / "absent")):
        with pytest.raises(ParamsError) as ei:
            registry.get("csv").load(request)
        assert ei.value.field == "data.path"


def test_csv_spelling_assembles_a_dataset_from_files(tmp_path):
    bars = load_sample(["NASDAQ"], prices="raw")["NASDAQ"].loc["2018-01":"2018-03"]
    bars.rename_axis("date").to_csv(tmp_path / "NDX.csv")
    data = DataParams(source="csv", path=str(tmp_path), symbols=["NDX"])
    ds = load_dataset(data, base_dir=ROOT)
    assert ds.symbols == ["NDX"] and len(ds.panel) == len(bars)
    assert (ds.frames["NDX"]["close"].to_numpy() == bars["close"].to_numpy()).all()


class _Constant(Source):
    """A made-up source: one flat bar a day, to show what registering takes."""

    name = "constant"

    def load(self, request: BarRequest) -> dict[str, pd.DataFrame]:
        index = pd.date_range("2020-01-01", periods=5, freq="D", tz="UTC", name="timestamp")
        bar = {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 0.0}
        return {s: pd.DataFrame(bar, index=index) for s in request.symbols}


@pytest.fixture
def scratch_registry(monkeypatch):
    """The registry as it is, restored after the test (registration is process-wide)."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry.available()))


def test_a_registered_source_becomes_a_valid_data_source(scratch_registry):
    with pytest.raises(ParamsError):
        BacktestParams.parse({"data": {"source": "constant"}})
    registry.register(_Constant)
    assert registry.allowed() == "one of sample, csv, alpaca, schwab, constant"
    data = BacktestParams.parse({"data": {"source": "constant", "symbols": ["ONE"]}}).data
    assert load_dataset(data, base_dir=ROOT).panel[("ONE", "close")].tolist() == [1.0] * 5


def test_a_name_is_registered_once(scratch_registry):
    class Other(_Constant):
        name = "sample"

    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Other)
    assert registry.register(SampleSource) is SampleSource  # the same class again is harmless
