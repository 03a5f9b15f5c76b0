"""Every lead ``install --lead-minutes`` accepts gets its session, once, for every execution time.

The entries' firings are read off what install writes (the cron lines, in UTC, expanded
minute by minute over 2026: both daylight-saving changes, the early closes of 2026-11-27
and 2026-12-24, the holidays), and each firing asks :func:`firing_window`, the window
``toolkit schedule fire --lead N`` looks in, which session it is for. Every session of
the year must be found by exactly one firing: none silently never runs (a lead longer
than the window), none runs twice (a window that reaches the other DST line).
"""

from __future__ import annotations

import bisect
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from toolkit.model import EXECUTION_TIMES
from toolkit.ops.crontab import cron_schedule
from toolkit.ops.fire import fire, firing_window, session_for_firing
from toolkit.ops.schedule import LEAD_MINUTES, ScheduledRun, runs_between
from toolkit.ops.schedule_install import fire_instants, install
from toolkit.ops.schedule_target import ScheduleTarget, load_target
from toolkit.ops.scheduled_session import SessionOutcome

#: cron's day-of-week numbers (0 = Sunday) to pandas' (0 = Monday).
_PANDAS_DOW = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 0: 6}
YEAR = ("2026-01-01", "2027-01-01")


def _firings(cron_lines: list[str], start: str, end: str) -> list[pd.Timestamp]:
    """Every UTC minute in ``start..end`` that the cron time fields ``M H1,H2 * * D1,D2`` fire at."""
    out = []
    days = pd.date_range(start, end, freq="D", tz="UTC", inclusive="left")
    for line in cron_lines:
        minute, hours, _, _, dows = line.split()
        weekdays = {_PANDAS_DOW[int(d)] for d in dows.split(",")}
        for day in days[days.dayofweek.isin(list(weekdays))]:
            out += [day + pd.Timedelta(hours=int(h), minutes=int(minute)) for h in hours.split(",")]
    return sorted(out)


@pytest.mark.parametrize("execution_time", EXECUTION_TIMES)
def test_every_allowed_lead_finds_each_session_exactly_once(execution_time: str) -> None:
    runs = runs_between(execution_time, pd.Timestamp(YEAR[0], tz="UTC") + pd.Timedelta(hours=2),
                        pd.Timestamp(YEAR[1], tz="UTC"))
    instants = [r.at for r in runs]
    assert len(runs) == 251  # NYSE 2026
    lo, hi = LEAD_MINUTES
    for lead in range(lo, hi + 1):
        # what install writes: one line per firing minute, lead minutes before every instant
        lines = cron_schedule([at - pd.Timedelta(minutes=lead) for at in instants], "UTC")
        found: list[pd.Timestamp] = []
        for now in _firings(lines, *YEAR):
            start, end = firing_window(now, lead)
            picked = instants[bisect.bisect_right(instants, start):bisect.bisect_right(instants, end)]
            assert len(picked) <= 1, (lead, now, picked)
            found += picked
        assert found == instants, (execution_time, lead, sorted(set(instants) - set(found))[:3])


def test_install_writes_the_lead_into_the_entry_and_fire_reads_it(tmp_path: Path, monkeypatch) -> None:
    from support.fake_crontab import write_fake_crontab

    monkeypatch.setenv("FAKE_CRONTAB_FILE", str(tmp_path / "crontab.txt"))
    monkeypatch.setenv("TOOLKIT_CRONTAB", str(write_fake_crontab(tmp_path)))
    target = _target(tmp_path)
    for lead in (1, 16, 60):
        done = install(target, root=tmp_path, backend="cron", zone="UTC", start="2026-01-01", lead_minutes=lead)
        assert f"schedule fire --params {target.params_file} --notebook daily_dry_run --lead {lead} >>" in \
            done.entries[0]
        assert "--lead" not in done.entries[-1]  # the @reboot catch-up has no lead
        assert fire_instants(target.execution_time, lead_minutes=lead, start="2026-03-02")[0] == \
            pd.Timestamp("2026-03-02 21:00", tz="UTC") - pd.Timedelta(minutes=lead)
        units = install(target, root=tmp_path, backend="systemd", units=tmp_path / "units", start="2026-01-01",
                        lead_minutes=lead, lingers=lambda: None)
        service = (tmp_path / "units" / f"toolkit-{target.entry_id}-fire.service").read_text()
        assert service.rstrip().endswith(f"--notebook daily_dry_run --lead {lead}"), units


def test_a_firing_with_a_long_lead_waits_for_its_session_and_runs_it(tmp_path: Path) -> None:
    """An hour early (the longest lead): found, waited for, run; a 5-minute lookahead would have missed it."""
    from toolkit.ledger import open_ledger

    target = _target(tmp_path)
    now = [pd.Timestamp("2018-06-01 15:00", tz="America/New_York").tz_convert("UTC")]
    ran: list[dt.date] = []

    def sleep(seconds: float) -> None:
        now[0] += pd.Timedelta(seconds=seconds)

    def launch(t: ScheduleTarget, run: ScheduledRun) -> SessionOutcome:
        from toolkit import params as tp
        from toolkit.engine.daily import run_daily

        assert now[0] >= run.at
        ran.append(run.session)
        result = run_daily(tp.load("daily_dry_run", t.params_file, {"as_of": run.session.isoformat()}))
        return SessionOutcome(run.session, "completed", str(result.status), 0)

    assert session_for_firing("close", now[0], 5) is None
    code = fire(target, lead_minutes=60, clock=lambda: now[0], sleep=sleep, launch=launch, say=lambda _: None)
    assert (code, ran, now[0]) == (0, [dt.date(2018, 6, 1)], pd.Timestamp("2018-06-01 20:00", tz="UTC"))
    with open_ledger(target.db_url) as led:
        assert led.get_run(target.run_key(dt.date(2018, 6, 1))).status == "completed"


def test_fire_refuses_a_lead_install_would_not_write(tmp_path: Path, toolkit_cli) -> None:
    target = _target(tmp_path)
    done = toolkit_cli(["schedule", "fire", "--params", str(target.params_file), "--lead", "61"])
    assert (done.returncode, done.stderr.strip()) == (
        2, "error: --lead: got 61; allowed: a whole number of minutes from 1 to 60")
    done = toolkit_cli(["schedule", "install", "--params", str(target.params_file), "--lead-minutes", "61",
                        "--backend", "cron"])
    assert (done.returncode, done.stderr.strip()) == (
        2, "error: --lead-minutes: got 61; allowed: a whole number of minutes from 1 to 60")


def _target(tmp_path: Path) -> ScheduleTarget:
    folder = tmp_path / "daily_dry_run"
    folder.mkdir(exist_ok=True)
    raw = {"strategy": "sma_crossover", "strategy_params": {"fast": 10, "slow": 30}, "account": "lead",
           "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2017-01-03", "end": "2018-12-31"},
           "execution_time": "close", "db_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}
    path = folder / "lead.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_target(path)
