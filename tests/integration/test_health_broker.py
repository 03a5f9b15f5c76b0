"""``toolkit health``'s live broker check, as cron runs it: a process, the shipped Alpaca paper params, the stand-in.

The local Alpaca stand-in (tests/support/alpaca_standin.py) accepts exactly one key id and
secret. Everything else health checks is made sound first (a migrated ledger, the params
file's entries in a fake crontab, a completed run of the most recent due session, no disk
floor), so the exit status answers for the broker alone: the right keys give an ``ok``
broker row naming Alpaca and exit 0; a wrong secret gives a failed broker row (Alpaca's
401) and exit 1. Neither the keys nor the wrong secret appear in what health prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support.alpaca_standin import StandIn
from support.dummy_secrets import leaks_in
from support.fake_crontab import write_fake_crontab

pytest.importorskip("alpaca")

ROOT = Path(__file__).resolve().parents[2]
PARAMS = "params/live/alpaca_paper.yaml"
_SCRIPT = Path(sys.executable).with_name("toolkit")
TOOLKIT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "toolkit.cli"]
KEYS = {"APCA_API_KEY_ID": "PKHEALTH4Vn8Qz2Xc6Lm", "APCA_API_SECRET_KEY": "hc-secret-Tq7Yw3Rb9Kd5Ns1Fj"}
WRONG_SECRET = "hc-wrong-secret-Gp2Zx8Mv4Hc"
#: The clock health judges the last run by (a Monday evening after a session; the schedule is installed before it).
NOW = pd.Timestamp("2026-11-30 21:30", tz="UTC")
#: Everything a credential could come from besides what a test sets.
CREDENTIAL_ENV = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "ALPACA_API_KEY", "ALPACA_SECRET_KEY", "TOOLKIT_SECRETS",
                  "TOOLKIT_ENV_FILE", "TOOLKIT_ALERT_URLS", "TOOLKIT_DB_URL")


@pytest.fixture
def sound_setup(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine where only the broker is left to check: ledger, schedule, last run all fine."""
    from toolkit.ledger import open_ledger
    from toolkit.ops.crontab import Crontab
    from toolkit.ops.schedule import runs_between
    from toolkit.ops.schedule_install import install
    from toolkit.ops.schedule_target import load_target

    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_ENV}
    env |= {"TOOLKIT_DB_URL": db, "FAKE_CRONTAB_FILE": str(tmp_path / "crontab.txt"),
            "TOOLKIT_CACHE_DIR": str(tmp_path / "cache"),
            "TOOLKIT_ENV_FILE": str(tmp_path / "empty.env")}  # not the project's .env: only what the test sets
    (tmp_path / "empty.env").write_text("")
    crontab = write_fake_crontab(tmp_path)
    env["TOOLKIT_CRONTAB"] = str(crontab)
    target = load_target(ROOT / PARAMS)
    now = NOW
    with pytest.MonkeyPatch.context() as mp:  # the fake crontab program reads its file from the environment
        mp.setenv("FAKE_CRONTAB_FILE", env["FAKE_CRONTAB_FILE"])
        install(target, root=tmp_path, backend="cron", crontab=Crontab(str(crontab)),
                start=now - pd.Timedelta(days=1))
    # The most recent session the schedule made due by NOW (what health looks at) ran and completed.
    due = runs_between(target.execution_time, now - pd.Timedelta(days=10), now)[-1]
    key = target.run_key(due.session)
    with open_ledger(db) as ledger:
        ledger.start_run(key, mode="paper", at=due.at.to_pydatetime())
        ledger.finish_run(key, "completed", at=(due.at + pd.Timedelta(minutes=5)).to_pydatetime())
    return env


def health(env: dict[str, str], keys: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [*TOOLKIT, "health", "--params", PARAMS, "--backend", "cron", "--min-free-gb", "0",
            "--now", NOW.isoformat()]
    return subprocess.run(args, cwd=ROOT, env=env | keys, capture_output=True, text=True, timeout=300, check=False)


def rows(stdout: str) -> dict[str, tuple[str, str]]:
    """The table's rows by check: (status, detail); the check names hold no two spaces, the status is one word."""
    header, *lines = stdout.strip().splitlines()
    assert header.split() == ["check", "status", "detail"], stdout
    found = {}
    for line in lines:
        check, rest = line.split("  ", 1)
        status, _, detail = rest.strip().partition("  ")
        found[check.strip()] = (status, detail.strip())
    return found


def test_health_checks_the_live_brokers_credentials_and_fails_on_a_wrong_key(sound_setup: dict[str, str]) -> None:
    broker = "broker sma_crossover|alpaca-paper|5min_before_close"
    secrets = {**KEYS, "wrong": WRONG_SECRET}
    with StandIn.start(now="2015-12-01T20:45:00Z", keys=(KEYS["APCA_API_KEY_ID"], KEYS["APCA_API_SECRET_KEY"])) \
            as standin:
        urls = {"APCA_API_BASE_URL": standin.base_url, "APCA_API_DATA_URL": standin.base_url}
        good = health(sound_setup, {**KEYS, **urls})
        bad = health(sound_setup, {**KEYS, "APCA_API_SECRET_KEY": WRONG_SECRET, **urls})
        asked = standin.state()["request_counts"]

    assert good.returncode == 0, good.stdout + good.stderr
    got = rows(good.stdout)
    assert got[broker] == ("ok", "alpaca accepted the credentials")
    assert {status for status, _ in got.values()} <= {"ok", "warn"}  # alerts: no channel configured, a warning
    assert got["ledger"][0] == "ok" and got["schedule sma_crossover|alpaca-paper|5min_before_close"][0] == "ok"

    assert bad.returncode == 1, bad.stdout + bad.stderr
    failed = {check: row for check, row in rows(bad.stdout).items() if row[0] == "fail"}
    assert list(failed) == [broker]  # the broker, and nothing else, is what failed
    assert failed[broker][1].startswith("credentials: alpaca: ") and "HTTP 401" in failed[broker][1], failed
    assert asked.get("GET /v2/account", 0) >= 2  # both runs asked the stand-in, not some other Alpaca

    for done in (good, bad):
        assert leaks_in(done.stdout + done.stderr, secrets) == []
