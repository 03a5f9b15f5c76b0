"""panel alignment (no filling), fingerprint stability and the describe summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.data import describe, fingerprint, load_sample, panel, validate_bars
from toolkit.errors import ParamsError


def daily(days: list[str], closes: list[float]) -> pd.DataFrame:
    index = pd.DatetimeIndex(days, tz="UTC", name="timestamp")
    c = np.asarray(closes, dtype=float)
    df = pd.DataFrame({"open": c, "high": c + 1, "low": c - 1, "close": c, "volume": 10.0}, index=index)
    return validate_bars(df, "T")


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    return {
        "A": daily(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], [10, 11, 12, 13]),
        # listed later, and trades on a date A lacks (2024-01-06)
        "B": daily(["2024-01-04", "2024-01-05", "2024-01-06"], [20, 21, 22]),
    }


def test_panel_on_the_first_symbols_calendar_without_filling(frames):
    out = panel(frames)
    assert list(out.columns.names) == ["symbol", "field"]
    assert out.columns.tolist()[:5] == [("A", f) for f in ("open", "high", "low", "close", "volume")]
    assert out.index.equals(frames["A"].index)
    assert out[("B", "close")].isna().tolist() == [True, True, False, False]  # NaN before listing
    assert out[("B", "close")].iloc[2:].tolist() == [20.0, 21.0]  # 2024-01-06 dropped
    assert out.loc[:, "A"].equals(frames["A"])


def test_panel_on_another_calendar(frames):
    out = panel(frames, calendar="B")
    assert out.index.equals(frames["B"].index)
    assert out[("A", "close")].tolist()[:2] == [12.0, 13.0] and np.isnan(out[("A", "close")].iloc[2])
    with pytest.raises(ParamsError) as info:
        panel(frames, calendar="C")
    assert (info.value.field, info.value.value, info.value.allowed) == ("data.calendar", "C", "one of A, B")
    with pytest.raises(ParamsError):
        panel({})


def test_fingerprint_is_stable_and_order_independent(frames):
    fp = fingerprint(frames)
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert fingerprint({"B": frames["B"], "A": frames["A"]}) == fp
    assert fingerprint({k: v.copy() for k, v in frames.items()}) == fp
    unit = {k: v.set_axis(v.index.as_unit("us")) for k, v in frames.items()}
    assert fingerprint(unit) == fp


def test_fingerprint_changes_with_data_and_names(frames):
    fp = fingerprint(frames)
    changed = {k: v.copy() for k, v in frames.items()}
    changed["B"].iloc[1, 3] = 21.000000001
    assert fingerprint(changed) != fp
    assert fingerprint({"A": frames["A"], "C": frames["B"]}) != fp
    shifted = {k: v.set_axis(v.index + pd.Timedelta("1min")) for k, v in frames.items()}
    assert fingerprint(shifted) != fp
    assert fingerprint({"A": frames["A"]}) != fp


def test_fingerprint_of_the_sample_is_pinned():
    """Same data = same fingerprint across processes and versions of this code."""
    fp = fingerprint(load_sample())
    assert fp == "b10576685001e08abae0add85f952721a3b633b25a3bd3e0c001cbe6b9287567"


def test_describe(frames):
    out = describe(frames)
    assert out.index.tolist() == ["A", "B"]
    assert out.loc["B"].tolist()[:5] == [
        pd.Timestamp("2024-01-04", tz="UTC"), pd.Timestamp("2024-01-06", tz="UTC"), 3, 20.0, 22.0,
    ]
    assert not out["synthetic"].any()


def test_missing_bars_are_gaps_after_a_symbols_first_bar_and_notes_name_them() -> None:
    from toolkit.data.dataset import gap_notes
    from toolkit.data.panel import missing_bars

    idx = pd.date_range("2020-01-01", periods=6, freq="D", tz="UTC", name="timestamp")
    bar = {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}
    frames = {"A": pd.DataFrame(bar, index=idx),
              "B": pd.DataFrame(bar, index=idx[[1, 2, 4]]),  # starts late, misses idx[3] and idx[5]
              "C": pd.DataFrame(bar, index=idx[1:].append(pd.DatetimeIndex(["2020-01-09"], tz="UTC")))}
    bars = panel(frames)
    assert {k: [str(d.date()) for d in v] for k, v in missing_bars(bars).items()} == {
        "B": ["2020-01-04", "2020-01-06"]}
    notes = gap_notes(frames, bars, "A")
    assert notes[0].startswith("Warning: B has no bar on 2 sessions of the calendar (A): 2020-01-04, 2020-01-06.")
    assert notes[1] == "C has 1 bar(s) outside A's 2020-01-01 to 2020-01-06: left out (the panel follows A's sessions)."
