"""Two runs of one key never overlap, across real processes; a killed holder's lock is taken over.

Real processes on one SQLite ledger (and a PostgreSQL one, tests/support/postgres.py): the lock's
holders write when they enter and leave, and the log must alternate; a dry run
started while another process holds the key stops with one line naming it, or waits
for it; a dry run killed mid-session (``os._exit`` through the crash hook, like
SIGKILL) leaves its lock behind, and the next run takes it over and says so.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.engine.crash import CRASH_EXIT_CODE

ROOT = Path(__file__).resolve().parents[2]
KEY = "sma_crossover|lock-test|2018-06-01|close"
RAW = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 10, "slow": 30},
    "data": {"source": "sample", "symbols": ["NASDAQ", "SP500"], "start": "2017-06-01", "end": "2018-12-31"},
    "account": "lock-test",
    "as_of": "2018-06-01",
}

HOLDER = r"""
import os, sys, time
from pathlib import Path
from toolkit.engine.run_lock import hold_run_lock
from toolkit.ledger import open_ledger
url, key, log, go = sys.argv[1:5]
with open_ledger(url) as led:
    while not Path(go).exists():  # start together: every process races for the lock at once
        time.sleep(0.01)
    with hold_run_lock(led, key, wait_seconds=300):
        with open(log, "a") as f:
            f.write(f"start {os.getpid()}\n")
        time.sleep(0.2)  # the work a holder does; another holder must not start meanwhile
        with open(log, "a") as f:
            f.write(f"end {os.getpid()}\n")
"""

SESSION = r"""
import json, sys
from toolkit import params as tp
from toolkit.engine.daily import run_daily
from toolkit.engine.result import SessionError
raw, url = json.loads(sys.argv[1]), sys.argv[2]
p = tp.validate("daily_dry_run", {**raw, "db_url": url})
try:
    r = run_daily(p)
except SessionError as exc:
    print(f"{type(exc).__name__}: {exc}", flush=True)
    sys.exit(3)
print(r.status, len(r.orders), json.dumps(r.messages), flush=True)
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_CRASH_AT", "TOOLKIT_DB_URL")}
    return env | extra


def _session(url: str, raw: dict | None = None, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SESSION, json.dumps(raw or RAW), url], cwd=ROOT, env=_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_holders_of_one_key_never_overlap(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    from toolkit.ledger import open_ledger

    open_ledger(url).close()  # migrate once, before the race
    log, go = tmp_path / "holders.log", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", HOLDER, url, KEY, str(log), str(go)], cwd=ROOT, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    lines = log.read_text().split()
    events = list(zip(lines[0::2], lines[1::2], strict=True))
    assert len(events) == 8
    # start A, end A, start B, end B, ...: never two holders at once
    for (kind_a, pid_a), (kind_b, pid_b) in zip(events[0::2], events[1::2], strict=True):
        assert (kind_a, kind_b, pid_a) == ("start", "end", pid_b)
    assert {pid for _, pid in events} == {str(p.pid) for p in procs}
    with open_ledger(url) as led:
        assert led.run_locks() == []


def test_a_dry_run_of_a_held_key_stops_or_waits_naming_the_holder(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from toolkit.ledger import open_ledger

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with open_ledger(url) as led:
        _, mine = led.acquire_run_lock(KEY, host=socket.gethostname(), pid=os.getpid(), at=datetime.now(UTC))
        assert mine is not None
        stopped = _session(url)
        out, err = stopped.communicate(timeout=300)
        assert stopped.returncode == 3, err
        assert out.strip() == (f"RunLocked: run {KEY} is already running: lock held by host {socket.gethostname()} pid "
                               f"{os.getpid()} since {mine.acquired_at:%Y-%m-%d %H:%M:%S}Z (last heartbeat "
                               f"{mine.heartbeat_at:%H:%M:%S}Z); this run did not start (lock_wait_seconds: 0)")
        assert led.get_run(KEY) is None  # nothing was written

        waiting = _session(url, {**RAW, "lock_wait_seconds": 300})
        assert waiting.stderr is not None
        line = waiting.stderr.readline()  # the waiting run says so, then we let it go
        assert line.startswith(f"waiting up to 300 s for run {KEY}: lock held by host {socket.gethostname()} pid "
                               f"{os.getpid()}"), line
        assert led.get_run(KEY) is None
        assert led.release_run_lock(mine)
        out, err = waiting.communicate(timeout=300)
        assert waiting.returncode == 0, err
        assert out.startswith("completed ")
        assert led.get_run(KEY).status == "completed"
        assert led.run_locks() == []


def test_a_killed_holders_lock_is_taken_over_and_the_session_completes(tmp_path: Path) -> None:
    from toolkit.ledger import open_ledger

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    crashed = _session(url, TOOLKIT_CRASH_AT="order_recorded")
    crashed.communicate(timeout=300)
    assert crashed.returncode == CRASH_EXIT_CODE
    with open_ledger(url) as led:
        left = led.run_lock(KEY)
        assert left is not None and left.pid == crashed.pid  # the dead process's lock is still there
        assert led.get_run(KEY).status == "started"

    again = _session(url)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    note = (f"took over the lock of run {KEY} from host {socket.gethostname()} pid {crashed.pid} since "
            f"{left.acquired_at:%Y-%m-%d %H:%M:%S}Z: its process {crashed.pid} is gone (audit log run_lock_taken_over)")
    assert note in err
    status, orders, messages = out.strip().split(" ", 2)
    assert status == "completed" and int(orders) > 0
    assert json.loads(messages)[0] == note  # the session's report says it too
    with open_ledger(url) as led:
        audit = led.audit_log(action="run_lock_taken_over")
        assert [d["previous"]["pid"] for d in audit["detail"]] == [crashed.pid]
        assert led.run_locks() == []
        assert led.get_run(KEY).status == "completed"
        orders = led.orders(account="lock-test")
        assert orders["client_order_id"].is_unique


@pytest.mark.postgresql
def test_holders_never_overlap_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    log, go = tmp_path / "holders.log", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", HOLDER, postgres_url, KEY, str(log), str(go)], cwd=ROOT,
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    lines = log.read_text().split()
    events = list(zip(lines[0::2], lines[1::2], strict=True))
    for (kind_a, pid_a), (kind_b, pid_b) in zip(events[0::2], events[1::2], strict=True):
        assert (kind_a, kind_b, pid_a) == ("start", "end", pid_b)
    assert len(events) == 6
