"""Clock and NYSE calendar: sessions, execution instants (DST, early closes), freshness."""

from __future__ import annotations

import pandas as pd
import pytest

from toolkit.errors import InvalidInput
from toolkit.model import EXECUTION_TIMES
from toolkit.time import (
    Clock,
    FixedClock,
    SystemClock,
    execution_instant,
    expected_bar_date,
    is_session,
    last_bar_is_fresh,
    next_session,
    previous_session,
    session_date,
    sessions_in_range,
)

UTC = "UTC"


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz=UTC)


# -- clock -----------------------------------------------------------------------------


def test_fixed_clock_is_utc_and_moves_forward_only():
    clock = FixedClock("2018-11-23T09:30:00-05:00")
    assert clock.now() == ts("2018-11-23 14:30")
    assert str(clock.now().tz) == UTC
    clock.advance("15min")
    assert clock.now() == ts("2018-11-23 14:45")
    with pytest.raises(InvalidInput, match="clock"):
        clock.advance_to("2018-11-22T00:00Z")


def test_fixed_clock_refuses_naive_time():
    with pytest.raises(InvalidInput, match="timezone"):
        FixedClock("2018-11-23 15:45")


def test_system_clock_satisfies_protocol():
    now = SystemClock().now()
    assert isinstance(SystemClock(), Clock) and isinstance(FixedClock(now), Clock)
    assert str(now.tz) == UTC


# -- sessions --------------------------------------------------------------------------


def test_independence_day_is_not_a_session():
    assert not is_session("2018-07-04")
    assert is_session("2018-07-03") and is_session("2018-07-05")
    assert not is_session("2018-07-07")  # Saturday


def test_sample_era_dates_are_covered():
    # The bundled sample starts in 1999, before exchange_calendars' default window.
    assert is_session("1999-01-04")
    assert not is_session("2001-09-11")  # markets closed after 9/11


def test_previous_and_next_session_skip_holidays():
    assert previous_session("2018-07-05") == pd.Timestamp("2018-07-03")
    assert previous_session("2018-07-04") == pd.Timestamp("2018-07-03")
    assert next_session("2018-07-03") == pd.Timestamp("2018-07-05")


def test_sessions_in_range_inclusive():
    got = sessions_in_range("2018-07-02", "2018-07-06")
    assert [d.date().isoformat() for d in got] == ["2018-07-02", "2018-07-03", "2018-07-05", "2018-07-06"]
    with pytest.raises(InvalidInput, match="end"):
        sessions_in_range("2018-07-06", "2018-07-02")


def test_out_of_range_date_names_field():
    with pytest.raises(InvalidInput, match="session_date.*1980"):
        is_session("1980-01-02")


# -- execution instants ----------------------------------------------------------------


def test_execution_instants_winter_est():
    day = "2018-01-10"  # EST, UTC-5
    assert execution_instant(day, "open") == ts("2018-01-10 14:30")
    assert execution_instant(day, "15min_after_open") == ts("2018-01-10 14:45")
    assert execution_instant(day, "15min_before_close") == ts("2018-01-10 20:45")
    assert execution_instant(day, "5min_before_close") == ts("2018-01-10 20:55")
    assert execution_instant(day, "close") == ts("2018-01-10 21:00")


def test_execution_instants_across_dst_change():
    # DST began Sunday 2018-03-11: Friday open is 14:30 UTC, Monday open 13:30 UTC.
    assert execution_instant("2018-03-09", "open") == ts("2018-03-09 14:30")
    assert execution_instant("2018-03-12", "open") == ts("2018-03-12 13:30")
    assert execution_instant("2018-03-12", "close") == ts("2018-03-12 20:00")
    # and back: DST ended Sunday 2018-11-04
    assert execution_instant("2018-11-02", "close") == ts("2018-11-02 20:00")
    assert execution_instant("2018-11-05", "close") == ts("2018-11-05 21:00")


def test_early_close_shifts_before_close_times():
    day = "2018-11-23"  # day after Thanksgiving: 13:00 New York close
    assert execution_instant(day, "open") == ts("2018-11-23 14:30")
    assert execution_instant(day, "close") == ts("2018-11-23 18:00")
    assert execution_instant(day, "15min_before_close") == ts("2018-11-23 17:45")
    assert execution_instant(day, "5min_before_close") == ts("2018-11-23 17:55")


@pytest.mark.parametrize("et", EXECUTION_TIMES)
def test_every_execution_instant_is_utc_and_ordered(et):
    got = execution_instant("2018-06-15", et)
    assert str(got.tz) == UTC
    instants = [execution_instant("2018-06-15", e) for e in EXECUTION_TIMES]
    assert instants == sorted(instants)


def test_invalid_execution_time_names_field_value_allowed():
    with pytest.raises(ValueError) as err:
        execution_instant("2018-06-15", "noon")
    msg = str(err.value)
    assert "execution_time" in msg and "'noon'" in msg and "15min_before_close" in msg


def test_execution_instant_on_holiday_is_a_clear_error():
    with pytest.raises(InvalidInput, match="2018-07-04.*2018-07-05"):
        execution_instant("2018-07-04", "open")


def test_session_date_is_new_york_date():
    assert session_date(ts("2018-07-03 01:00")) == pd.Timestamp("2018-07-02")
    assert session_date(ts("2018-07-03 20:55")) == pd.Timestamp("2018-07-03")


# -- stale data ------------------------------------------------------------------------


def test_expected_bar_date_by_execution_time():
    assert expected_bar_date("2018-07-05", "close") == pd.Timestamp("2018-07-05")
    for et in EXECUTION_TIMES[:-1]:
        assert expected_bar_date("2018-07-05", et) == pd.Timestamp("2018-07-03")


def test_last_bar_is_fresh():
    # before the close the previous session's bar (across the holiday) is enough
    assert last_bar_is_fresh(ts("2018-07-03"), "2018-07-05", "open")
    assert last_bar_is_fresh(ts("2018-07-03"), "2018-07-05", "5min_before_close")
    assert not last_bar_is_fresh(ts("2018-07-02"), "2018-07-05", "open")
    # at the close the session's own bar is expected
    assert not last_bar_is_fresh(ts("2018-07-03"), "2018-07-05", "close")
    assert last_bar_is_fresh(ts("2018-07-05"), "2018-07-05", "close")
    assert last_bar_is_fresh("2018-07-05", "2018-07-05", "close")  # naive = UTC date
    assert not last_bar_is_fresh(pd.NaT, "2018-07-05", "close")
