"""The scheduled instants come from the exchange calendar: early closes, holidays, DST."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from toolkit.errors import InvalidInput
from toolkit.ops.schedule import cron_times_utc, due_run, runs_between, upcoming_runs


def test_an_early_close_moves_the_run_and_a_holiday_has_none() -> None:
    runs = upcoming_runs("5min_before_close", after="2026-11-25 00:00", count=4)
    assert [(r.session, r.new_york.strftime("%H:%M"), r.early_close) for r in runs] == [
        (dt.date(2026, 11, 25), "15:55", False),
        # 2026-11-26 is Thanksgiving: no run; the day after closes at 13:00.
        (dt.date(2026, 11, 27), "12:55", True),
        (dt.date(2026, 11, 30), "15:55", False),
        (dt.date(2026, 12, 1), "15:55", False),
    ]
    assert runs[1].at == pd.Timestamp("2026-11-27 17:55", tz="UTC")


def test_daylight_saving_changes_the_utc_instant_not_the_new_york_one() -> None:
    runs = runs_between("close", "2026-03-06", "2026-03-10 23:00")  # DST starts 2026-03-08
    assert [r.at.strftime("%m-%d %H:%M") for r in runs] == ["03-06 21:00", "03-09 20:00", "03-10 20:00"]
    assert {r.new_york.strftime("%H:%M") for r in runs} == {"16:00"}


def test_cron_fires_before_every_instant_the_calendar_can_give() -> None:
    fires = cron_times_utc("5min_before_close", lead_minutes=5)
    # winter, summer, and early closes in winter (17:55 UTC) and summer (16:55 UTC, e.g. 2030-07-03)
    assert {(20, 50), (19, 50), (17, 50), (16, 50)} <= set(fires)
    runs = runs_between("5min_before_close", "2026-01-01", "2027-12-31")
    fired = {(r.at - pd.Timedelta(minutes=5)).strftime("%H:%M") for r in runs}
    assert fired <= {f"{h:02d}:{m:02d}" for h, m in fires}


def test_a_firing_waits_only_for_its_own_instant() -> None:
    lead = pd.Timedelta(minutes=10)
    assert due_run("5min_before_close", now="2026-11-27 12:50", lead=lead).session == dt.date(2026, 11, 27)
    assert due_run("5min_before_close", now="2026-11-27 15:50", lead=lead) is None  # the normal-close line
    assert due_run("5min_before_close", now="2026-11-26 12:50", lead=lead) is None  # Thanksgiving


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="count"):
        upcoming_runs("close", after="2026-01-01", count=0)
    with pytest.raises(InvalidInput, match="after"):
        upcoming_runs("close", after="not a date", count=1)
