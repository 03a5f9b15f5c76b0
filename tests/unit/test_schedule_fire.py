"""``toolkit schedule fire`` and ``run-due`` on the exchange calendar, with real dry-run sessions.

The firings are in 2018 so the bundled sample data covers the sessions: Thanksgiving
(2018-11-22, a holiday), the day after (an early close at 13:00), the end of daylight
saving (2018-11-04). The clock and sleep are injected (no waiting); each session runs
the real engine (:func:`toolkit.engine.daily.run_daily`) on a real SQLite ledger.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from toolkit.ops.catch_up import MissedSession, _decide, run_due
from toolkit.ops.fire import fire
from toolkit.ops.schedule import ScheduledRun
from toolkit.ops.schedule_target import ScheduleTarget, load_target
from toolkit.ops.scheduled_session import SessionOutcome, exit_status


def _target(tmp_path: Path, execution_time: str = "close", **extra: object) -> ScheduleTarget:
    folder = tmp_path / "daily_dry_run"
    folder.mkdir(exist_ok=True)
    raw = {"strategy": "sma_crossover", "strategy_params": {"fast": 10, "slow": 30}, "account": "sched",
           "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2017-01-03", "end": "2018-12-31"},
           "execution_time": execution_time, "db_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}", **extra}
    path = folder / "sched.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_target(path)


def engine_session(target: ScheduleTarget, run: ScheduledRun) -> SessionOutcome:
    """Run the session in process through the engine (what the notebook calls), for speed."""
    from toolkit import params as tp
    from toolkit.engine.daily import run_daily

    result = run_daily(tp.load("daily_dry_run", target.params_file, {"as_of": run.session.isoformat()}))
    return SessionOutcome(run.session, "completed", str(result.status), exit_status("completed", str(result.status)))


class Clock:
    def __init__(self, start: str) -> None:
        self.now = pd.Timestamp(start, tz="America/New_York").tz_convert("UTC")
        self.slept = 0.0

    def __call__(self) -> pd.Timestamp:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += pd.Timedelta(seconds=seconds)


def _fire(target: ScheduleTarget, at: str) -> tuple[int, list[str], Clock, list[dt.date]]:
    clock, said, ran = Clock(at), [], []

    def launch(t: ScheduleTarget, run: ScheduledRun) -> SessionOutcome:
        ran.append(run.session)
        assert clock.now >= run.at  # it waited for the exact instant
        return engine_session(t, run)

    code = fire(target, clock=clock, sleep=clock.sleep, launch=launch, say=said.append)
    return code, said, clock, ran


def test_a_holiday_firing_exits_quietly_and_logs_why(tmp_path: Path) -> None:
    code, said, clock, ran = _fire(_target(tmp_path, "5min_before_close"), "2018-11-22 15:50")
    assert (code, ran, clock.slept) == (0, [], 0.0)
    assert said == ["2018-11-22T20:50:00Z sma_crossover|sched|5min_before_close: no session at this firing (Thu "
                    "15:50 New York, looking 5 min ahead: a holiday, or another line of the schedule: daylight saving, "
                    "early close); nothing to do"]


def test_an_early_close_runs_on_its_own_line_only(tmp_path: Path) -> None:
    target = _target(tmp_path, "5min_before_close")
    code, said, _, ran = _fire(target, "2018-11-23 15:50")  # the normal-close line: the market closed at 13:00
    assert (code, ran) == (0, []) and "no session at this firing" in said[0]
    code, said, clock, ran = _fire(target, "2018-11-23 12:50")
    assert (code, ran, clock.slept) == (0, [dt.date(2018, 11, 23)], 300.0)
    assert said[0] == ("2018-11-23T17:55:00Z sma_crossover|sched|5min_before_close: starting session 2018-11-23 "
                       "(12:55 New York, early close)")
    assert said[1].endswith("session 2018-11-23: completed")
    code, said, _, ran = _fire(target, "2018-11-23 12:50")  # cron fired twice: the session is done
    assert (code, ran) == (0, []) and said[0].endswith("session 2018-11-23 is already completed in the ledger; "
                                                       "nothing to do")


def test_each_dst_line_fires_only_in_its_season(tmp_path: Path) -> None:
    target = _target(tmp_path, "close")  # cron fires at 19:55 and 20:55 UTC
    summer, winter = pd.Timestamp("2018-11-02 19:55", tz="UTC"), pd.Timestamp("2018-11-05 20:55", tz="UTC")
    for at, expected in ((summer, [dt.date(2018, 11, 2)]), (summer + pd.Timedelta(hours=1), []),
                         (winter - pd.Timedelta(hours=1), []), (winter, [dt.date(2018, 11, 5)])):
        code, _, _, ran = _fire(target, at.tz_convert("America/New_York").tz_localize(None).isoformat())
        assert (code, ran) == (0, expected), at


def test_a_live_holder_makes_the_firing_leave_the_session(tmp_path: Path) -> None:
    import os
    import socket
    from datetime import UTC, datetime

    from toolkit.ledger import open_ledger

    target = _target(tmp_path, "close")
    with open_ledger(target.db_url) as led:
        led.acquire_run_lock(target.run_key(dt.date(2018, 6, 1)), host=socket.gethostname(), pid=os.getpid(),
                             at=datetime(2018, 6, 1, 19, 56, tzinfo=UTC))
    code, said, _, ran = _fire(target, "2018-06-01 15:55")
    assert (code, ran) == (0, [])
    assert f"is running elsewhere (lock held by host {socket.gethostname()} pid {os.getpid()}" in said[0]


@pytest.mark.parametrize(("policy", "ran", "missed"), [
    ("last", ["2018-06-08"], ["2018-06-04", "2018-06-05", "2018-06-06", "2018-06-07"]),
    ("all", ["2018-06-04", "2018-06-05", "2018-06-06", "2018-06-07", "2018-06-08"], []),
    ("none", [], ["2018-06-04", "2018-06-05", "2018-06-06", "2018-06-07", "2018-06-08"]),
])
def test_run_due_runs_or_records_missed_sessions_by_policy(tmp_path: Path, policy: str, ran: list[str],
                                                           missed: list[str]) -> None:
    from toolkit.ledger import open_ledger

    target = _target(tmp_path, "close", catch_up=policy)
    engine_session(target, ScheduledRun(dt.date(2018, 6, 1), pd.Timestamp("2018-06-01 20:00", tz="UTC"), False))
    alerts: list[MissedSession] = []
    report = run_due(target, now="2018-06-08 17:00", launch=engine_session, on_missed=alerts.extend)
    assert [o.session.isoformat() for o in report.ran] == ran
    assert [m.session.isoformat() for m in report.missed] == missed == [m.session.isoformat() for m in alerts]
    assert report.exit_status == 0
    with open_ledger(target.db_url) as led:
        runs = led.runs(account="sched")
        assert list(runs["session_date"].astype(str)) == ["2018-06-01", *ran]
        audit = led.audit_log(action="session_missed")
        assert [d["session"] for d in audit["detail"]] == missed
        if missed:
            first = audit.iloc[0]["detail"]
            assert first["run_key"] == f"sma_crossover|sched|{missed[0]}|close"
            assert first["at"] == f"{missed[0]}T20:00:00+00:00" and first["reason"].startswith(f"catch_up: {policy}")
    again = run_due(target, now="2018-06-08 17:00", launch=engine_session, on_missed=alerts.extend)
    assert (again.due, again.ran, again.missed) == ([], [], [])  # nothing is run or recorded twice


def test_run_due_needs_a_start_and_survives_a_failing_alert(tmp_path: Path) -> None:
    target = _target(tmp_path, "close", catch_up="none")
    report = run_due(target, now="2018-06-08 17:00", launch=engine_session)
    assert report.notes == ["no run of this slot in the ledger and no --since: nothing to catch up"]

    def broken(_: list[MissedSession]) -> None:
        raise RuntimeError("channel down")

    report = run_due(target, now="2018-06-05 17:00", since="2018-06-04", launch=engine_session, on_missed=broken)
    assert [m.session.isoformat() for m in report.missed] == ["2018-06-04", "2018-06-05"]
    assert report.notes == ["on_missed failed for 2 missed session(s): RuntimeError: channel down"]


def test_a_live_session_is_never_traded_after_its_day() -> None:
    live = ScheduleTarget(Path("/x/live/a.yaml"), "live", "sma_crossover", "acct", "5min_before_close", "paper",
                          "last", None, "alpaca")
    due = [ScheduledRun(dt.date(2026, 11, d), pd.Timestamp(f"2026-11-{d} 20:55", tz="UTC"), False) for d in (24, 25)]
    to_run, skipped = _decide(live, due, pd.Timestamp("2026-11-25 20:58", tz="UTC"))  # today, before the close
    assert to_run == [due[1]] and [s for s, _ in skipped] == [due[0]]
    assert "never traded after its day" in skipped[0][1]
    to_run, skipped = _decide(live, due, pd.Timestamp("2026-11-25 21:00", tz="UTC"))  # the close
    assert to_run == [] and "after the close (21:00 UTC)" in skipped[1][1]
    none = ScheduleTarget(*[getattr(live, f) for f in ("params_file", "notebook", "strategy", "account",
                                                        "execution_time", "mode")], "none", None, "alpaca")
    to_run, skipped = _decide(none, due, pd.Timestamp("2026-11-25 20:58", tz="UTC"))
    assert to_run == [] and skipped[1][1].startswith("catch_up: none")


def test_run_due_from_the_command_line_records_alerts_and_says_so(tmp_path: Path, toolkit_cli,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from support.alert_inbox import INBOX, INBOX_URL, SECRET

    from toolkit.ledger import open_ledger

    monkeypatch.setenv("TOOLKIT_ALERT_URLS", INBOX_URL)
    INBOX.clear()
    target = _target(tmp_path, "close", catch_up="none")
    engine_session(target, ScheduledRun(dt.date(2018, 6, 1), pd.Timestamp("2018-06-01 20:00", tz="UTC"), False))
    done = toolkit_cli(["schedule", "run-due", "--params", str(target.params_file), "--now", "2018-06-05 17:00"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "sma_crossover|sched|close (daily_dry_run, catch_up: none): last run 2018-06-01 (completed); 2 session(s) due",
        "missed sma_crossover|sched|2018-06-04|close (2018-06-04 16:00 New York): catch_up: none (missed sessions are "
        "recorded, not run)",
        "missed sma_crossover|sched|2018-06-05|close (2018-06-05 16:00 New York): catch_up: none (missed sessions are "
        "recorded, not run)"]
    # one alert for the run-due, listing both sessions; one audit row per session
    assert [a["title"] for a in INBOX] == ["missed sessions: sma_crossover on sched, 2 sessions 2018-06-04 to "
                                           "2018-06-05 close"]
    assert INBOX[0]["body"].count("catch_up: none") == 2
    # and says how the alert went on stderr (a cron entry's log gets both), never its URL
    assert done.stderr.splitlines() == ["alert missed_session: delivered (1 channel(s) tried): missed sessions: "
                                        "sma_crossover on sched, 2 sessions 2018-06-04 to 2018-06-05 close"]
    with open_ledger(target.db_url) as led:
        alerts = led.alerts(kind="missed_session")
        assert list(alerts["run_key"]) == ["sma_crossover|sched|2018-06-05|close"]
        assert list(alerts["delivered"]) == [True]
        assert SECRET not in alerts.to_string()
        assert len(led.audit_log(action="session_missed")) == 2


def test_run_due_leaves_a_session_a_live_run_holds_and_health_shows_locks(tmp_path: Path) -> None:
    import os
    import socket
    from datetime import UTC, datetime

    from toolkit.ledger import open_ledger
    from toolkit.ops.health import check_health

    target = _target(tmp_path, "close", catch_up="last")
    engine_session(target, ScheduledRun(dt.date(2018, 6, 1), pd.Timestamp("2018-06-01 20:00", tz="UTC"), False))
    key = target.run_key(dt.date(2018, 6, 4))
    with open_ledger(target.db_url) as led:
        led.acquire_run_lock(key, host=socket.gethostname(), pid=os.getpid(), at=datetime(2018, 6, 4, 20, tzinfo=UTC))
        led.acquire_run_lock("x|dead|2018-06-04|close", host=socket.gethostname(), pid=2**22 + 12345,
                             at=datetime(2018, 6, 4, 20, tzinfo=UTC))
    report = run_due(target, now="2018-06-04 16:01", launch=engine_session)
    assert report.ran == [] and report.missed == []
    assert report.notes == [f"session 2018-06-04 is running now (lock held by host {socket.gethostname()} pid "
                            f"{os.getpid()} since 2018-06-04 20:00:00Z); left to it"]
    rows = {r.check: r for r in check_health([str(target.params_file)], backend="systemd", units=tmp_path / "u",
                                             outputs=tmp_path, min_free_gb=0.0, now="2018-06-04 16:01")}
    locks = rows["run locks"]
    assert locks.status == "warn"
    assert f"x|dead|2018-06-04|close held by host {socket.gethostname()} pid {2**22 + 12345}" in locks.detail
    assert "its process" in locks.detail


def test_a_long_gap_is_one_alert_and_one_audit_row_per_session(tmp_path: Path, toolkit_cli,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Seven months off: 146 sessions recorded, one message (count, first, last, the first 20 by name)."""
    from support.alert_inbox import INBOX, INBOX_URL

    from toolkit.ledger import open_ledger

    monkeypatch.setenv("TOOLKIT_ALERT_URLS", INBOX_URL)
    INBOX.clear()
    target = _target(tmp_path, "close", catch_up="none")
    done = toolkit_cli(["schedule", "run-due", "--params", str(target.params_file), "--now", "2018-07-31 17:00",
                        "--since", "2018-01-02"])
    assert done.returncode == 0, done.stderr
    assert len(INBOX) == 1
    assert INBOX[0]["title"] == "missed sessions: sma_crossover on sched, 146 sessions 2018-01-02 to 2018-07-31 close"
    body = INBOX[0]["body"].splitlines()
    assert body[0].startswith("146 scheduled sessions of sma_crossover|sched|close did not run")
    assert body[1].startswith("- sma_crossover|sched|2018-01-02|close (due 2018-01-02T21:00:00+00:00): catch_up: none")
    assert len(body) == 1 + 20 + 1 and body[-1].startswith("- ... and 126 more")
    with open_ledger(target.db_url) as led:
        assert len(led.alerts(kind="missed_session")) == 1
        assert len(led.audit_log(action="session_missed")) == 146


def _crash(target: ScheduleTarget, day: dt.date, status: str = "started") -> None:
    """The ledger as a run of ``day`` leaves it when it crashed (``started``) or failed or halted."""
    from toolkit.ledger import open_ledger

    with open_ledger(target.db_url) as led:
        led.start_run(target.run_key(day), mode="offline_mock")
        if status != "started":
            led.finish_run(target.run_key(day), status)


@pytest.mark.parametrize("status", ["started", "failed", "halted"])
def test_run_due_resumes_a_last_session_that_did_not_finish(tmp_path: Path, status: str) -> None:
    from toolkit.ledger import open_ledger

    target = _target(tmp_path, "close", catch_up="all")
    engine_session(target, ScheduledRun(dt.date(2018, 6, 1), pd.Timestamp("2018-06-01 20:00", tz="UTC"), False))
    _crash(target, dt.date(2018, 6, 4), status)
    report = run_due(target, now="2018-06-06 17:00", launch=engine_session)
    assert [r.session.isoformat() for r in report.due] == ["2018-06-04", "2018-06-05", "2018-06-06"]
    assert [o.session.isoformat() for o in report.ran] == ["2018-06-04", "2018-06-05", "2018-06-06"]
    with open_ledger(target.db_url) as led:
        assert [led.get_run(target.run_key(dt.date(2018, 6, d))).status for d in (4, 5, 6)] == ["completed"] * 3


def test_run_due_records_a_crashed_session_it_does_not_run_and_leaves_a_running_one(tmp_path: Path) -> None:
    import os
    import socket
    from datetime import UTC, datetime

    from toolkit.ledger import open_ledger

    target = _target(tmp_path, "close", catch_up="last")  # the repro
    engine_session(target, ScheduledRun(dt.date(2018, 6, 1), pd.Timestamp("2018-06-01 20:00", tz="UTC"), False))
    _crash(target, dt.date(2018, 6, 4))
    told: list[list[MissedSession]] = []
    report = run_due(target, now="2018-06-06 17:00", launch=engine_session, on_missed=told.append)
    assert [o.session.isoformat() for o in report.ran] == ["2018-06-06"]
    assert [m.session.isoformat() for m in report.missed] == ["2018-06-04", "2018-06-05"]
    assert [[m.session.isoformat() for m in batch] for batch in told] == [["2018-06-04", "2018-06-05"]]
    with open_ledger(target.db_url) as led:
        assert [d["session"] for d in led.audit_log(action="session_missed")["detail"]] == ["2018-06-04",
                                                                                             "2018-06-05"]
    # a started run whose holder is alive is running: neither run again nor recorded
    (tmp_path / "b").mkdir()
    other = _target(tmp_path / "b", "close", catch_up="all")
    engine_session(other, ScheduledRun(dt.date(2018, 6, 1), pd.Timestamp("2018-06-01 20:00", tz="UTC"), False))
    _crash(other, dt.date(2018, 6, 4))
    with open_ledger(other.db_url) as led:
        led.acquire_run_lock(other.run_key(dt.date(2018, 6, 4)), host=socket.gethostname(), pid=os.getpid(),
                             at=datetime(2018, 6, 4, 20, tzinfo=UTC))
    report = run_due(other, now="2018-06-04 16:05", launch=engine_session)
    assert (report.due, report.ran, report.missed) == ([], [], [])
    assert report.notes[0].startswith("session 2018-06-04 is running now (lock held by host")


def test_run_due_bad_times_are_one_line_and_create_nothing(tmp_path: Path, toolkit_cli) -> None:
    target = _target(tmp_path, "close")
    ledger_file = tmp_path / "ledger.sqlite"
    for option in ("--now", "--since"):
        done = toolkit_cli(["schedule", "run-due", "--params", str(target.params_file), option, "garbage"])
        assert (done.returncode, done.stderr.strip()) == (
            2, f"error: {option}: got 'garbage'; allowed: a date and time such as '2026-11-27 09:00' (New York when "
               "no zone)")
        assert not ledger_file.exists()
    done = toolkit_cli(["schedule", "run-due", "--params", str(target.params_file), "--now", "2018-03-11 02:30"])
    assert done.returncode == 2 and "skipped by the daylight-saving change" in done.stderr
    assert not ledger_file.exists()
