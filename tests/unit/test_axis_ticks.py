"""Readable log-axis ticks at every zoom (toolkit.report.axis_ticks.adaptive_log_axis)."""

from __future__ import annotations

import pytest


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
