"""``toolkit db backup FILE`` and ``toolkit db restore FILE``: the ledger, saved and put back.

Why not ``cp``: a SQLite ledger runs in WAL mode, so the newest transactions may live in
``ledger.sqlite-wal`` and a file copy taken while a session writes can be torn. SQLite's
online backup API copies a consistent snapshot through SQLite's own locks, whoever is
writing. On PostgreSQL the same job is ``pg_dump --format=custom`` and
``pg_restore --clean --single-transaction`` (all or nothing). The password of the URL
reaches those programs through ``PGPASSWORD`` in their environment, never on their
command line (where ``ps`` shows it) or in a message.

A restore is refused, with nothing changed, when it would:

* put a backup written by a newer toolkit (an unknown schema revision) in place;
* replace a ledger that is migrated further than the backup: the newer schema's rows
  (e.g. alerts) would silently go, and an older toolkit may be the one writing it now;
* pull the ledger from under a running session: a run lock (``run_locks``) whose holder
  is alive (same host: its process exists; another host: a heartbeat in the last
  :data:`LIVE_LOCK_S` seconds).
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from toolkit.errors import ParamsError, ToolkitError
from toolkit.ledger import db
from toolkit.ledger.models import RunLockRow

#: A run lock on another host counts as held while its heartbeat is younger than this.
LIVE_LOCK_S = 600
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class BackupReport:
    """What a backup or restore did: the file, the ledger (password hidden), the schema revision."""

    action: str  # "backup" | "restore"
    file: Path
    ledger: str
    backend: str  # "sqlite" | "postgresql"
    revision: str | None
    size_bytes: int

    def line(self) -> str:
        where = f"{self.ledger} -> {self.file}" if self.action == "backup" else f"{self.file} -> {self.ledger}"
        return (f"{self.action}: {where} ({self.backend}, schema {self.revision or 'empty'}, "
                f"{self.size_bytes / 1024:.0f} KiB)")


#: File mode of a backup: owner read/write only.
BACKUP_MODE = 0o600


def backup_ledger(target: Path | str, url: str | None = None) -> BackupReport:
    """Write a consistent copy of the ledger at ``url`` (default: ``$TOOLKIT_DB_URL``, else outputs/) to ``target``.

    Never overwrites a file; the copy is written beside ``target`` and renamed into place,
    so an interrupted backup leaves no half file under the name.
    """
    resolved = db.resolve_url(url)
    backend = _backend(resolved)
    target = Path(target).expanduser()
    if target.exists():
        raise ParamsError("FILE", str(target), "a path where no file exists yet (a backup never overwrites one)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        # Owner-only from the first byte: a backup holds every order, balance and audit row.
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, BACKUP_MODE))
        if backend == "sqlite":
            source = _existing_sqlite(resolved)
            with _sqlite(source) as src, _sqlite(partial) as dst:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        else:
            _run_pg("pg_dump", ["--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"], resolved)
        os.chmod(partial, BACKUP_MODE)  # pg_dump and SQLite keep the mode; this says it once more
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport("backup", target, db.shown_url(resolved), backend, backup_revision(target),
                        target.stat().st_size)


def restore_ledger(source: Path | str, url: str | None = None, *,
                   clock: Callable[[], datetime] | None = None) -> BackupReport:
    """Replace the ledger at ``url`` with the backup ``source`` (see the module docstring for refusals)."""
    resolved = db.resolve_url(url)
    backend = _backend(resolved)
    source = Path(source).expanduser()
    kind = _backup_kind(source)
    if kind != backend:
        raise ParamsError("FILE", str(source), f"a backup of a {backend} ledger (this one is a {kind} backup: "
                                               "restore it into a ledger of its kind, --db-url)")
    revision = backup_revision(source)
    order = db.revision_order()
    if revision is not None and revision not in order:
        raise ParamsError("FILE", str(source), f"a backup this toolkit can read (it is at schema revision "
                                               f"{revision}, newer than {order[-1]}: update the toolkit first); "
                                               "nothing was changed")
    current = _current_revision(resolved)
    if current is not None:
        if current not in order:
            raise ToolkitError(f"the ledger at {db.shown_url(resolved)} is at schema revision {current}, written by a "
                               "newer toolkit; update this checkout before restoring into it; nothing was changed")
        if revision is None or order.index(current) > order.index(revision):
            raise ToolkitError(
                f"the ledger at {db.shown_url(resolved)} is at schema revision {current}, newer than the backup's "
                f"({revision or 'empty'}): restoring would drop what the newer schema holds. Restore into a new "
                "ledger (--db-url) and open it with this toolkit to migrate it; nothing was changed")
        _refuse_running_session(resolved, clock or (lambda: datetime.now(UTC)))
    if backend == "sqlite":
        path = db.sqlite_file(resolved)
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        with _sqlite(source) as src, _sqlite(path) as dst:
            src.backup(dst)  # page by page under SQLite's lock: readers never see half a ledger
    else:
        _run_pg("pg_restore", ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                               "--exit-on-error", str(source)], resolved, database_flag=True)
    return BackupReport("restore", source, db.shown_url(resolved), backend, revision, source.stat().st_size)


def backup_revision(path: Path) -> str | None:
    """The ledger schema revision stored in a backup file (None: no ledger schema in it)."""
    if _backup_kind(path) == "sqlite":
        with _sqlite(path) as con:
            try:
                row = con.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.DatabaseError:
                return None
        return None if row is None else str(row[0])
    listing = _tool("pg_restore", ["--data-only", "--table=alembic_version", "--file=-", str(path)], dict(os.environ))
    lines = listing.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and i + 1 < len(lines) and lines[i + 1] != "\\.":
            return lines[i + 1].strip()
    return None


# ----------------------------------------------------------------- helpers


def _backend(url: str) -> str:
    try:
        name = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):  # any unreadable URL gets the same one line
        name = ""
    if name not in ("sqlite", "postgresql"):
        raise ParamsError("--db-url", db.shown_url(url), "a SQLite file or a PostgreSQL URL (postgresql+psycopg://...)")
    if name == "sqlite" and db.sqlite_file(url) is None:
        raise ParamsError("--db-url", db.shown_url(url), "a SQLite ledger file (not an in-memory database)")
    return name


def _existing_sqlite(url: str) -> Path:
    path = db.sqlite_file(url)
    assert path is not None
    if not path.is_file():
        raise ParamsError("ledger", str(path), "an existing ledger file (there is nothing to back up)")
    return path


def _backup_kind(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        raise ParamsError("FILE", str(path), "an existing backup file written by toolkit db backup") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise ParamsError("FILE", str(path), "a backup written by toolkit db backup (a SQLite file or a pg_dump "
                                         "custom-format archive)")


class _sqlite:
    """A plain ``sqlite3`` connection as a context manager that closes it (sqlite3's own only commits)."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path, timeout=db.BUSY_TIMEOUT_MS / 1000)

    def __enter__(self) -> sqlite3.Connection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()


def _current_revision(url: str) -> str | None:
    path = db.sqlite_file(url)
    if path is not None and not path.is_file():
        return None
    engine = db.create_ledger_engine(url)
    try:
        return db.current_revision(engine)
    except SQLAlchemyError as exc:
        raise ToolkitError(f"cannot read the ledger at {db.shown_url(url)}: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _refuse_running_session(url: str, clock: Callable[[], datetime]) -> None:
    engine = db.create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            if "run_locks" not in inspect(conn).get_table_names():
                return
            locks = conn.execute(select(RunLockRow.key, RunLockRow.host, RunLockRow.pid,
                                        RunLockRow.heartbeat_at)).all()
    finally:
        engine.dispose()
    now, here = clock(), socket.gethostname()
    for key, host, pid, heartbeat in locks:
        alive = _pid_alive(pid) if host == here else (now - heartbeat).total_seconds() < LIVE_LOCK_S
        if alive:
            raise ToolkitError(f"a session is running on the ledger at {db.shown_url(url)} ({key}, pid {pid} on "
                               f"{host}): restore once it has finished; nothing was changed")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _pg_environment(url: str) -> tuple[dict[str, str], str]:
    """The libpq environment of ``url`` (password in PGPASSWORD) and the database name."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    given = {"PGHOST": parsed.host, "PGPORT": parsed.port, "PGUSER": parsed.username, "PGPASSWORD": parsed.password}
    env.update({var: str(value) for var, value in given.items() if value is not None})
    for key, option in parsed.query.items():  # ?sslmode=require and friends
        if key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
            env[f"PG{key.upper()}"] = option if isinstance(option, str) else option[-1]
    if not parsed.database:
        raise ParamsError("--db-url", db.shown_url(url), "a PostgreSQL URL that names its database")
    return env, parsed.database


def _run_pg(program: str, args: list[str], url: str, *, database_flag: bool = False) -> None:
    env, database = _pg_environment(url)
    env["PGDATABASE"] = database
    # pg_restore reads the archive from its last argument and restores into --dbname.
    _tool(program, [f"--dbname={database}", *args] if database_flag else args, env)


def _tool(program: str, args: list[str], env: dict[str, str]) -> str:
    exe = shutil.which(program)
    if exe is None:
        raise ToolkitError(f"{program} is not installed: install PostgreSQL's client programs "
                           "(Debian: apt-get install postgresql-client; make postgres installs the server and them)")
    done = subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolkitError(f"{program} failed (exit {done.returncode}): {_first_line(done.stderr)}; "
                           "nothing was changed" + (" (single transaction)" if program == "pg_restore" else ""))
    return done.stdout


def _first_line(text: object) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[0] if lines else "no message"
