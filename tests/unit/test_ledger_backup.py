"""``toolkit db backup`` / ``toolkit db restore`` on SQLite and PostgreSQL (issue 12 point 8).

Write, back up, change, restore: every table equals what it was at the backup. PostgreSQL
runs the real pg_dump and pg_restore; the URL's password reaches them in PGPASSWORD only.
"""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from toolkit.ledger import Ledger, db, open_ledger
from toolkit.ledger.models import Base

ACCOUNT, MODE = "team-a", "offline_mock"
T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


class TickingClock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


def _books(ledger: Ledger, n: int, prefix: str = "o") -> None:
    for i in range(n):
        cid = f"{prefix}{i}"
        ledger.record_order(client_order_id=cid, run_key=None, mode=MODE, strategy="sma", account=ACCOUNT,
                            symbol="SPY", side="buy", quantity=D(2), decision_price=D("100.5"))
        ledger.transition_order(cid, "submitted")
        ledger.record_fill(cid, f"f-{cid}", D(2), D("100.123456"), D("0.5"))
    ledger.record_snapshot(account=ACCOUNT, mode=MODE, strategy="sma", session_date=date(2024, 1, 2 + n),
                           equity=D("10000"), cash=D("9000"), context={"n": n})


def _contents(url: str) -> dict[str, list[Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


@pytest.fixture
def spied_tools(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    """Every program the backup runs (argv, environment), run for real."""
    calls: list[tuple[list[str], dict[str, str]]] = []
    real = subprocess.run

    def spy(args: list[str], *a: Any, **kw: Any) -> Any:
        calls.append((list(args), dict(kw.get("env") or {})))
        return real(args, *a, **kw)

    monkeypatch.setattr(subprocess, "run", spy)
    return calls


def test_backup_change_restore_gives_back_every_row(ledger_url: str, tmp_path: Path, toolkit_cli: Any,
                                                    spied_tools: list) -> None:
    with open_ledger(ledger_url, clock=TickingClock()) as ledger:
        ledger.set_initial_cash(ACCOUNT, MODE, D("10000"))
        _books(ledger, 3)
        ledger.set_override("strategy_params.fast", 12, "faster", actor="ann", account=ACCOUNT)
    saved = _contents(ledger_url)
    assert len(saved["fills"]) == 3 and len(saved["config_overrides"]) == 1

    backup = tmp_path / "backups" / "ledger.backup"
    done = toolkit_cli(["db", "backup", str(backup), "--db-url", ledger_url])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backup: ") and str(backup) in done.stdout and db.head_revision() in done.stdout
    assert backup.is_file() and not list(backup.parent.glob(".*partial"))
    assert backup.stat().st_mode & 0o777 == 0o600  # every order and balance: owner only

    with open_ledger(ledger_url, clock=TickingClock()) as ledger:  # the day goes on after the backup
        _books(ledger, 2, prefix="later")
        ledger.clear_override("strategy_params.fast", "back to the file", account=ACCOUNT)
        ledger.set_kill_switch(True, "outage")
    assert _contents(ledger_url) != saved

    done = toolkit_cli(["db", "restore", str(backup), "--db-url", ledger_url])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("restore: ")
    assert _contents(ledger_url) == saved
    with open_ledger(ledger_url) as ledger:  # usable as it was: migrated, consistent, writable
        assert ledger.check_consistency(ACCOUNT, MODE, {"SPY": D(101)}) == []
        assert not ledger.kill_switch().on
        _books(ledger, 1, prefix="after")
        assert len(ledger.fills()) == 4

    password = make_url(ledger_url).password
    if password is not None:  # PostgreSQL: pg_dump and pg_restore got it in their environment only
        connecting = [args for args, _ in spied_tools if args[1].startswith("--dbname=") or "pg_dump" in args[0]]
        assert [os.path.basename(args[0]) for args in connecting] == ["pg_dump", "pg_restore"]
        for args, env in spied_tools:  # (the others list the archive's schema revision, offline)
            assert not any(password in a for a in args)
            assert env.get("PGPASSWORD") == (password if args in connecting else None)
        assert f":{password}@" not in done.stdout + done.stderr
    else:
        assert spied_tools == []  # SQLite: the backup API, no program


def test_a_backup_never_overwrites_a_file(ledger_url: str, tmp_path: Path, toolkit_cli: Any) -> None:
    open_ledger(ledger_url).close()
    existing = tmp_path / "keep.backup"
    existing.write_text("mine")
    done = toolkit_cli(["db", "backup", str(existing), "--db-url", ledger_url])
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"error: FILE: got '{existing}'; allowed: a path where no file exists yet "
                           "(a backup never overwrites one)\n")
    assert existing.read_text() == "mine"


def test_restore_over_a_ledger_migrated_further_is_refused(empty_ledger_url: str, tmp_path: Path,
                                                          toolkit_cli: Any) -> None:
    engine = db.create_ledger_engine(empty_ledger_url)
    db.upgrade(engine, "0004_config_actor_account")
    engine.dispose()
    backup = tmp_path / "old.backup"
    assert toolkit_cli(["db", "backup", str(backup), "--db-url", empty_ledger_url]).returncode == 0
    open_ledger(empty_ledger_url).close()  # a newer toolkit migrates the ledger to 0005
    before = _contents(empty_ledger_url)

    done = toolkit_cli(["db", "restore", str(backup), "--db-url", empty_ledger_url])
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "is at schema revision 0005_alerts_run_locks, newer than the backup's " \
        "(0004_config_actor_account)" in done.stderr and "nothing was changed" in done.stderr
    assert _contents(empty_ledger_url) == before


def test_restore_into_a_running_sessions_ledger_is_refused(ledger_url: str, tmp_path: Path,
                                                          toolkit_cli: Any) -> None:
    open_ledger(ledger_url).close()
    backup = tmp_path / "l.backup"
    assert toolkit_cli(["db", "backup", str(backup), "--db-url", ledger_url]).returncode == 0
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid is free now: the lock of a process that died
    locks = Base.metadata.tables["run_locks"]
    engine = db.create_ledger_engine(ledger_url)
    with engine.begin() as conn:
        conn.execute(locks.insert(), [
            {"key": "sma|team-a|2024-01-02|close", "host": socket.gethostname(), "pid": os.getpid(),
             "acquired_at": T0, "heartbeat_at": T0},
            {"key": "sma|team-b|2024-01-02|close", "host": socket.gethostname(), "pid": finished.pid,
             "acquired_at": T0, "heartbeat_at": T0}])
    done = toolkit_cli(["db", "restore", str(backup), "--db-url", ledger_url])
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"error: a session is running on the ledger at {db.shown_url(ledger_url)} "
                           f"(sma|team-a|2024-01-02|close, pid {os.getpid()} on {socket.gethostname()}): "
                           "restore once it has finished; nothing was changed\n")
    with engine.begin() as conn:  # the live holder finishes; the dead one's lock stays behind
        conn.execute(locks.delete().where(locks.c.pid == os.getpid()))
    engine.dispose()
    assert toolkit_cli(["db", "restore", str(backup), "--db-url", ledger_url]).returncode == 0
    assert _contents(ledger_url)["run_locks"] == []  # the backup's (empty) locks


def test_a_file_that_is_no_backup_is_refused(ledger_url: str, tmp_path: Path, toolkit_cli: Any) -> None:
    open_ledger(ledger_url).close()
    other = tmp_path / "notes.txt"
    other.write_text("not a ledger")
    done = toolkit_cli(["db", "restore", str(other), "--db-url", ledger_url])
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"error: FILE: got '{other}'; allowed: a backup written by toolkit db backup "
                           "(a SQLite file or a pg_dump custom-format archive)\n")
