"""Readable log-axis ticks (toolkit.report.axis_ticks): 1-2-5 values, short labels, every range."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.report.axis_ticks import AxisTicks, log_ticks, short_number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"), (1, "1"), (0.5, "0.5"), (0.3, "0.3"), (0.001, "0.001"), (999, "999"),
        (1000, "1k"), (50_000, "50k"), (72_500, "72.5k"), (100_000, "100k"), (999_999.99, "1M"),
        (1_000_000, "1M"), (1_250_000, "1.25M"), (2e9, "2B"), (5e12, "5T"), (-50_000, "-50k"),
        (0.000123, "1.23e-4"), (1e-5, "1e-5"), (2e18, "2e18"), (1e15, "1e15"),
    ],
)
def test_short_number(value: float, text: str) -> None:
    assert short_number(value) == text


def test_short_number_refuses_what_is_not_a_number() -> None:
    with pytest.raises(ValueError, match="short_number: got nan; allowed: a finite number"):
        short_number(float("nan"))


def test_an_equity_range_of_about_one_decade_gets_1_2_5_ticks() -> None:
    # The README's picture of the backtest explorer: buy and hold fell to 27k, the strategy rose to 264k.
    assert log_ticks(26_968.5, 263_617.2) == AxisTicks((50_000.0, 100_000.0, 200_000.0), ("50k", "100k", "200k"))
    assert log_ticks(40_000, 1_200_000) == AxisTicks(
        (50_000.0, 100_000.0, 200_000.0, 500_000.0, 1_000_000.0), ("50k", "100k", "200k", "500k", "1M"))


def test_too_narrow_for_1_2_5_gets_the_finer_log_series() -> None:
    # 1-2-5 would place only 50k and 100k.
    assert log_ticks(36_000, 182_000) == AxisTicks((50_000.0, 70_000.0, 100_000.0, 150_000.0),
                                                   ("50k", "70k", "100k", "150k"))
    assert log_ticks(70_000, 240_000).labels == ("70k", "100k", "150k", "200k")


def test_less_than_a_decade_gets_evenly_spaced_round_values() -> None:
    # No 1-2-5 value lies in 110k..190k: plotly would show minor digits only.
    assert log_ticks(110_000, 190_000) == AxisTicks((120_000.0, 140_000.0, 160_000.0, 180_000.0),
                                                    ("120k", "140k", "160k", "180k"))
    assert log_ticks(95_000, 105_000).labels == ("96k", "98k", "100k", "102k", "104k")
    assert log_ticks(0.9, 1.1).labels == ("0.9", "0.95", "1", "1.05", "1.1")  # growth of 1


def test_several_decades_get_powers_of_ten_then_every_few_of_them() -> None:
    assert log_ticks(1_000, 1e6).labels == ("1k", "10k", "100k", "1M")
    assert log_ticks(1, 1e20).labels == ("1", "1k", "1M", "1B", "1T", "1e15", "1e18")


def test_tiny_and_huge_values() -> None:
    assert log_ticks(1e-7, 3e-6) == AxisTicks((1e-7, 2e-7, 5e-7, 1e-6, 2e-6), ("1e-7", "2e-7", "5e-7", "1e-6", "2e-6"))
    assert log_ticks(0.02, 0.3).values == (0.02, 0.05, 0.1, 0.2)  # exact decimals, not 0.020000000000000004
    assert log_ticks(3e12, 4e13).labels == ("5T", "10T", "20T")
    assert log_ticks(100_000.1, 100_000.2).labels[:2] == ("100.0001k", "100.00012k")  # digits enough to differ


def test_a_flat_range_gets_one_tick_at_its_value() -> None:
    assert log_ticks(100_000, 100_000) == AxisTicks((100_000.0,), ("100k",))


@pytest.mark.parametrize(
    ("low", "high", "message"),
    [
        (0, 10, "log_ticks: got low=0, high=10; allowed: finite numbers > 0 (a log axis)"),
        (-1, 10, "log_ticks: got low=-1, high=10; allowed: finite numbers > 0"),
        (1, float("inf"), "log_ticks: got low=1, high=inf; allowed: finite numbers > 0"),
        (10, 1, "log_ticks: got low=10 above high=1; allowed: low <= high"),
    ],
)
def test_bad_ranges_are_named(low: float, high: float, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        log_ticks(low, high)


@settings(max_examples=400, deadline=None)
@given(
    low_exp=st.floats(min_value=-12, max_value=14, allow_nan=False),
    decades=st.floats(min_value=1e-4, max_value=20, allow_nan=False),
)
def test_any_range_gets_a_readable_number_of_distinct_increasing_ticks_inside_it(low_exp: float,
                                                                                 decades: float) -> None:
    low = 10.0 ** low_exp
    high = low * 10.0 ** decades
    ticks = log_ticks(low, high)
    assert 3 <= len(ticks.values) <= 8, ticks
    assert all(a < b for a, b in zip(ticks.values, ticks.values[1:], strict=False)), ticks
    assert all(low * (1 - 1e-9) <= v <= high * (1 + 1e-9) for v in ticks.values), ticks
    assert len(set(ticks.labels)) == len(ticks.labels), ticks
    assert all(math.isfinite(v) and v > 0 for v in ticks.values)


def test_adaptive_log_axis_lets_plotly_pick_ticks_and_label_them_in_full() -> None:
    from toolkit.report.axis_ticks import LOG_AXIS_NTICKS, adaptive_log_axis

    assert adaptive_log_axis(26_968.5, 263_617.2) == {"type": "log", "tickmode": "auto", "nticks": 3,
                                                      "tickformat": "~s"}
    assert adaptive_log_axis(0.45, 3.2)["tickformat"] == "~g"  # a growth of 1: 0.5, not 500m
    assert adaptive_log_axis(1, 5)["tickformat"] == "~s"
    # plotly.js: powers every ceil(t) decades if t = span / nticks > 0.7; a linear step if span < 1;
    # else "D2" (1-2-5) if t > 0.3, else "D1" (every digit). With 3 ticks "D1" needs span <= 0.9 < 1: never.
    assert LOG_AXIS_NTICKS * 0.3 < 1


@pytest.mark.parametrize(("low", "high"), [(0, 10), (-1, 10), (float("nan"), 10), (1, float("inf"))])
def test_adaptive_log_axis_refuses_what_a_log_axis_cannot_draw(low, high) -> None:
    from toolkit.report.axis_ticks import adaptive_log_axis

    with pytest.raises(ValueError, match="adaptive_log_axis: got low="):
        adaptive_log_axis(low, high)
