"""``toolkit health``: a table of checks and a non-zero exit on any failure, from a real ledger and crontab."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support.fake_crontab import write_fake_crontab

from toolkit.ops.crontab import Crontab
from toolkit.ops.health import check_health, health_table
from toolkit.ops.schedule import ScheduledRun
from toolkit.ops.schedule_install import install
from toolkit.ops.schedule_target import load_target

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Crontab:
    monkeypatch.setenv("FAKE_CRONTAB_FILE", str(tmp_path / "crontab.txt"))
    monkeypatch.setenv("TOOLKIT_CRONTAB", str(write_fake_crontab(tmp_path)))
    return Crontab()


def _params(tmp_path: Path) -> Path:
    folder = tmp_path / "daily_dry_run"
    folder.mkdir(exist_ok=True)
    raw = {"strategy": "sma_crossover", "strategy_params": {"fast": 10, "slow": 30}, "account": "health",
           "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2017-01-03", "end": "2018-12-31"},
           "db_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}
    path = folder / "health.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _run_session(params: Path, day: str) -> None:
    from toolkit import params as tp
    from toolkit.engine.daily import run_daily

    run_daily(tp.load("daily_dry_run", params, {"as_of": day}))


def _by_check(rows) -> dict[str, tuple[str, str]]:
    return {r.check: (r.status, r.detail) for r in rows}


def test_a_sound_setup_is_all_ok_and_a_missed_session_fails(tmp_path: Path, crontab: Crontab) -> None:
    params = _params(tmp_path)
    target = load_target(params)
    install(target, root=ROOT, backend="cron", zone="UTC", start="2018-01-01")
    _run_session(params, "2018-06-01")
    rows = check_health([], now="2018-06-01 18:00", backend="cron", outputs=tmp_path, min_free_gb=0.0,
                        environ={"TOOLKIT_ALERT_URLS": "json://127.0.0.1:9/hook?secret=x"})
    got = _by_check(rows)  # no --params: the files the installed entries name
    assert [r.check for r in rows] == ["ledger", f"schedule {target.key}", f"last run {target.key}", "secrets",
                                       "alerts", "disk"]
    assert got["secrets"] == ("ok", "TOOLKIT_SECRETS=env: the store answers")
    assert got["alerts"] == ("ok", "1 channel(s) configured (json)")  # never the URL
    assert got["ledger"][0] == "ok" and got["ledger"][1].endswith("reachable, schema at 0005_alerts_run_locks")
    assert got[f"schedule {target.key}"] == ("ok", "2 entries (55 16,17,19,20 * * 1,2,3,4,5, ...)")
    assert got[f"last run {target.key}"][0] == "ok"
    assert got[f"last run {target.key}"][1].startswith("2018-06-01 (16:00 New York): completed; last run 2018-06-01 "
                                                      "completed")
    assert all(r.status == "ok" for r in rows)

    later = _by_check(check_health([str(params)], now="2018-06-05 18:00", backend="cron", outputs=tmp_path,
                                   min_free_gb=0.0))
    assert later[f"last run {target.key}"][0] == "fail"
    assert later[f"last run {target.key}"][1].startswith("missed: 2018-06-05 (16:00 New York) has no run; last run "
                                                        "2018-06-01 completed")
    soon = _by_check(check_health([str(params)], now="2018-06-05 16:10", backend="cron", outputs=tmp_path,
                                  min_free_gb=0.0))
    assert soon[f"last run {target.key}"][0] == "warn"  # due 10 minutes ago: running, perhaps


def test_missing_ledger_old_schema_no_entry_and_a_full_disk_fail(tmp_path: Path, crontab: Crontab,
                                                                 toolkit_cli) -> None:
    from toolkit.ledger import db, open_ledger

    params = _params(tmp_path)
    target = load_target(params)
    got = _by_check(check_health([str(params)], backend="cron", outputs=tmp_path, min_free_gb=0.0))
    assert got["ledger"][0] == "fail" and "an existing ledger file" in got["ledger"][1]
    assert got[f"schedule {target.key}"] == ("fail", f"not installed: toolkit schedule install --params {params}")
    open_ledger(target.db_url).close()
    engine = db.create_ledger_engine(target.db_url)
    db.downgrade(engine, "0004_config_actor_account")
    engine.dispose()
    got = _by_check(check_health([str(params)], backend="cron", outputs=tmp_path, min_free_gb=1e9))
    assert got["ledger"] == ("fail", f"{target.db_url}: schema at 0004_config_actor_account, this toolkit needs "
                                     "0005_alerts_run_locks (any toolkit run migrates it)")
    assert got["disk"][0] == "fail" and got["disk"][1].endswith("(fails under 1e+09 GB)")
    done = toolkit_cli(["health", "--params", str(params), "--backend", "cron"])
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].split() == ["check", "status", "detail"]


def test_a_schwab_token_near_expiry_warns_without_calling_the_broker(tmp_path: Path, crontab: Crontab) -> None:
    folder = tmp_path / "live"
    folder.mkdir()
    params = folder / "schwab.yaml"
    params.write_text(yaml.safe_dump({"strategy": "sma_crossover", "account": "sch", "mode": "online_live",
                                      "confirm_live": "sch", "broker": {"name": "schwab"},
                                      "data": {"source": "schwab", "symbols": ["SPY"], "prices": "raw"},
                                      "db_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}))
    token = tmp_path / "token.json"
    token.write_text(json.dumps({"creation_timestamp": time.time() - 6.5 * 86400, "token": {}}))
    env = {"SCHWAB_API_KEY": "k", "SCHWAB_APP_SECRET": "s", "SCHWAB_TOKEN_PATH": str(token)}
    got = _by_check(check_health([str(params)], backend="cron", outputs=tmp_path, min_free_gb=0.0, broker=False,
                                 environ=env))
    key = "sma_crossover|sch|5min_before_close"
    assert got[f"token {key}"][0] == "warn" and "expires in 0.5 days" in got[f"token {key}"][1]
    assert got[f"broker {key}"] == ("warn", "skipped (--no-broker)")


def test_health_imports_no_research_or_notebook_machinery(tmp_path: Path) -> None:
    params = _params(tmp_path)
    code = ("import sys, json\nfrom toolkit.cli import main\n"
            f"status = main(['health', '--params', {str(params)!r}, '--backend', 'cron', '--min-free-gb', '0'])\n"
            "heavy = sorted(m for m in ('vectorbt', 'plotly', 'papermill', 'nbconvert', 'numba') if m in sys.modules)\n"
            "print(json.dumps(heavy))")
    env = {"FAKE_CRONTAB_FILE": str(tmp_path / "c.txt"), "TOOLKIT_CRONTAB": str(write_fake_crontab(tmp_path)),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert json.loads(done.stdout.splitlines()[-1]) == [], done.stderr


def test_the_table_lines_up() -> None:
    from toolkit.ops.health import HealthRow

    text = health_table([HealthRow("ledger", "ok", "fine"), HealthRow("disk", "fail", "0.1 GB free")])
    assert text.splitlines() == ["check   status  detail", "ledger  ok      fine", "disk    fail    0.1 GB free"]


def test_scheduled_run_dataclass_is_what_health_reads() -> None:
    run = ScheduledRun(dt.date(2018, 6, 1), pd.Timestamp("2018-06-01 20:00", tz="UTC"), False)
    assert run.new_york.strftime("%H:%M") == "16:00"


def test_the_head_revision_read_from_the_files_is_alembics() -> None:
    from toolkit.ledger import db
    from toolkit.ops.health import _head_revision

    assert _head_revision(db.MIGRATIONS_DIR / "versions") == db.head_revision()


def test_the_schedule_cache_answers_as_the_calendar_does(tmp_path: Path) -> None:
    from toolkit.ops.schedule import runs_between
    from toolkit.ops.schedule_cache import cached_runs_between

    first = cached_runs_between("5min_before_close", "2026-11-20", "2026-12-01", folder=tmp_path)
    assert (tmp_path / "schedule" / "5min_before_close.json").is_file()
    again = cached_runs_between("5min_before_close", "2026-11-25", "2026-11-30", folder=tmp_path)  # from the file
    assert first == runs_between("5min_before_close", "2026-11-20", "2026-12-01")
    assert again == runs_between("5min_before_close", "2026-11-25", "2026-11-30")
    assert [(r.session.day, r.early_close) for r in again] == [(25, False), (27, True)]  # 26th: Thanksgiving


def test_health_refuses_a_negative_disk_floor_and_checks_the_outputs_it_is_given(tmp_path: Path, crontab: Crontab,
                                                                                toolkit_cli) -> None:
    from toolkit.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--min-free-gb: got -1"):
        check_health([], backend="cron", outputs=tmp_path, min_free_gb=-1)
    done = toolkit_cli(["health", "--backend", "cron", "--min-free-gb", "-1"])
    assert (done.returncode, done.stderr.strip()) == (2, "error: --min-free-gb: got -1.0; allowed: a number of "
                                                         "gigabytes >= 0")
    elsewhere = tmp_path / "archive" / "not-yet"
    done = toolkit_cli(["health", "--backend", "cron", "--min-free-gb", "0", "--outputs", str(elsewhere),
                        "--db-url", f"sqlite:///{tmp_path / 'none.sqlite'}"])
    disk = next(line for line in done.stdout.splitlines() if line.startswith("disk"))
    assert f"GB free for {elsewhere} (fails under 0 GB)" in disk


def test_an_unreachable_postgresql_ledger_is_one_line_in_the_table() -> None:
    """psycopg's error ends with a second line "(Background on this error at: ...)": not in the table."""
    rows = check_health([], backend="cron", db_url="postgresql+psycopg://u:pw@127.0.0.1:9/none", min_free_gb=0.0,
                        crontab=Crontab("/bin/true"), environ={})
    ledger = _by_check(rows)["ledger"]
    assert ledger[0] == "fail" and "not reachable: OperationalError" in ledger[1]
    assert "\n" not in ledger[1] and "Background on this error" not in ledger[1] and "pw" not in ledger[1]
    assert len(health_table(rows).splitlines()) == len(rows) + 1


def test_secret_store_and_alert_channels(tmp_path: Path, crontab: Crontab) -> None:
    none = _by_check(check_health([], backend="cron", outputs=tmp_path, min_free_gb=0.0, environ={}))
    assert none["secrets"][0] == "ok"
    assert none["alerts"] == ("warn", "no alert channel configured (TOOLKIT_ALERT_URLS in the secret store): alerts "
                                      "are recorded in the ledger but reach nobody")
    vault = {"TOOLKIT_SECRETS": "vault", "VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "test-vault-token"}
    down = _by_check(check_health([], backend="cron", outputs=tmp_path, min_free_gb=0.0, environ=vault))
    assert down["secrets"][0] == "fail" and down["secrets"][1].startswith("the secret store does not answer: ")
    assert "alerts" not in down


def test_systemd_timers_must_be_enabled_not_only_written(tmp_path: Path) -> None:
    params = _params(tmp_path)
    target = load_target(params)
    units = tmp_path / "units"
    install(target, root=ROOT, backend="systemd", units=units, start="2018-01-01", lingers=lambda: None)
    asked: list[tuple[str, ...]] = []

    def systemctl(state: str, code: int):
        def run(*args: str) -> subprocess.CompletedProcess[str]:
            asked.append(args)
            return subprocess.CompletedProcess(["systemctl", "--user", *args], code, f"{state}\n", "")
        return run

    def row(**kw) -> tuple[str, str]:
        rows = check_health([str(params)], backend="systemd", units=units, outputs=tmp_path, min_free_gb=0.0,
                            now="2018-06-01 12:00", environ={}, **kw)
        return _by_check(rows)[f"schedule {target.key}"]

    fire, due = f"toolkit-{target.entry_id}-fire.timer", f"toolkit-{target.entry_id}-run-due.timer"
    assert row(systemctl=systemctl("enabled", 0))[0] == "ok"
    assert asked == [("is-enabled", fire), ("is-enabled", due)]
    assert row(systemctl=systemctl("disabled", 1)) == (
        "fail", f"unit files written but not enabled ({fire} disabled, {due} disabled): systemctl --user enable --now "
                f"{fire} {due}")

    def missing(*args: str) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError("systemctl")

    status, detail = row(systemctl=missing)
    assert status == "warn" and detail.endswith("systemctl is unavailable (FileNotFoundError): cannot tell whether "
                                                "the timers are enabled")
    if not Path("/run/systemd/system").is_dir():  # this machine: no systemd, so the real systemctl is not asked
        status, detail = row()
        assert status == "warn" and "systemd is not running here" in detail
