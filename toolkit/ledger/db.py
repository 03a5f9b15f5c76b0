"""Engine set-up and schema migrations of the ledger.

SQLite is the default backend (one file under ``outputs/``), so the engine is
tuned for it: foreign keys on (SQLite ignores them otherwise), WAL so a
notebook can read while a run writes, a busy timeout instead of instant
"database is locked" errors, and real transactions. Python's ``sqlite3``
driver, left alone, issues no ``BEGIN`` before reads and commits implicitly
before DDL; the recipe from the SQLAlchemy docs below makes every SQLAlchemy
transaction a real SQLite transaction, so a migration or a fill is atomic.
Write transactions start with ``BEGIN IMMEDIATE``: two processes writing the
ledger then queue on the busy timeout rather than dead-lock on lock upgrade.

PostgreSQL (``postgresql+psycopg://``, a team's shared ledger) gets the same
guarantees by other means, because the ledger's methods read a balance and write
it back in one transaction and rely on no other writer in between: a write
transaction first takes one transaction-scoped advisory lock per database
(writers queue, as on SQLite, waiting at most the same 30 s), and a read
transaction runs at REPEATABLE READ, so every statement of a report or a
consistency check sees one snapshot, as a SQLite read transaction does. Two
sessions of different accounts then write the one ledger in turn, each
transaction short, and neither ever sees the other's half-written state.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from toolkit.errors import ParamsError
from toolkit.ledger.errors import LedgerError

if TYPE_CHECKING:  # alembic loads on first use: ~0.5 s that `toolkit health` and readers should not pay
    from alembic.config import Config
    from alembic.script import ScriptDirectory

ENV_URL = "TOOLKIT_DB_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "toolkit_ledger_write"
#: Key of the PostgreSQL advisory lock that serialises the ledger's writers (advisory
#: locks are per database, so one constant serves every ledger on a server).
WRITER_LOCK_KEY = 0x746F6F6C6B6974  # "toolkit"


def project_root(start: Path | None = None) -> Path:
    """Nearest folder at or above ``start`` (default: cwd) holding ``pyproject.toml``.

    Notebooks run with their own folder as working directory; anchoring the
    default ledger at the project root keeps one ledger per checkout instead of
    one per folder a notebook happens to run in. Falls back to ``start``.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def resolve_url(url: str | None, *, start: Path | None = None) -> str:
    """The ledger URL: ``url``, else ``$TOOLKIT_DB_URL``, else ``<root>/outputs/ledger.sqlite``.

    A plain path (no ``scheme://``), as in ``toolkit live status --db outputs/ledger.sqlite``,
    is a SQLite file. ``start``: where the project root is looked for (default: the cwd; the
    runner passes the notebooks' folder, the working directory of its kernels).
    """
    chosen = url or os.environ.get(ENV_URL, "").strip()
    if not chosen:
        return f"sqlite:///{project_root(start) / 'outputs' / 'ledger.sqlite'}"
    if "://" not in chosen:
        return f"sqlite:///{Path(chosen).expanduser().resolve()}"
    return chosen


def shown_url(url: str) -> str:
    """``url`` with its password hidden (errors end up in logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1***@", url)


def require_existing(url: str) -> None:
    """Refuse a SQLite file that does not exist: a read-only command must not create a ledger."""
    try:
        path = _sqlite_file(url)
    except ArgumentError:  # create_ledger_engine says what is wrong with the URL
        return
    if path is not None and not path.is_file():
        raise ParamsError(
            "ledger", str(path), "an existing ledger file (this command only reads; it creates none)"
        )


#: Python module of a database driver -> what to install for it.
DRIVER_PACKAGES = {
    "psycopg": '"psycopg[binary]"', "psycopg2": "psycopg2-binary", "asyncpg": "asyncpg", "pg8000": "pg8000",
    "pymysql": "PyMySQL", "MySQLdb": "mysqlclient", "mysql": "mysql-connector-python", "pyodbc": "pyodbc",
    "pymssql": "pymssql", "oracledb": "oracledb", "cx_Oracle": "cx_Oracle", "aiosqlite": "aiosqlite",
}


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ledger URL; None for another database, memory or a ``file:`` URI."""
    return _sqlite_file(url)


def _json_default(value: Any) -> Any:
    # Decimals as strings keep every digit; JSON floats would not.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a JSON ledger column: {value!r}")


def json_dumps(value: Any) -> str:
    """JSON encoder of the ledger: Decimals as strings, datetimes as ISO 8601, sorted keys."""
    return json.dumps(value, default=_json_default, sort_keys=True)


def create_ledger_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine; makes the parent folder of a SQLite file."""
    try:
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=json_dumps)
    except ImportError as exc:  # the URL's database driver is not installed
        module = (exc.name or "").split(".")[0] or "its driver"
        package = DRIVER_PACKAGES.get(module, module)
        raise ParamsError(
            "ledger URL", shown_url(url),
            f"a database whose Python driver is installed ({module} is missing: pip install {package})",
        ) from None
    except ArgumentError:  # not a URL SQLAlchemy can read, or an unknown database
        raise ParamsError(
            "ledger URL", shown_url(url),
            "a file path or a SQLAlchemy URL such as sqlite:///outputs/ledger.sqlite or postgresql://host/db",
        ) from None
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Hand transaction control to SQLAlchemy (see module docstring).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    elif engine.dialect.name == "postgresql":

        @event.listens_for(engine, "begin")
        def _on_begin_postgresql(conn: Connection) -> None:
            # See the module docstring: writers queue on one lock, readers see one snapshot.
            # The driver has sent BEGIN with this first statement, so SET TRANSACTION applies.
            if conn.get_execution_options().get(WRITE_OPTION, False):
                conn.exec_driver_sql(
                    f"SELECT set_config('lock_timeout', '{BUSY_TIMEOUT_MS}ms', true), "
                    f"pg_advisory_xact_lock({WRITER_LOCK_KEY})"
                )
            else:
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    return engine


def enable_wal(engine: Engine) -> None:
    """Switch a SQLite file to WAL (persistent; must run outside a transaction)."""
    if engine.dialect.name != "sqlite" or _sqlite_file(str(engine.url)) is None:
        return
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]
    finally:
        raw.close()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration built in code: no ``alembic.ini`` needed at run time."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _scripts() -> ScriptDirectory:
    # The revision files ship with the package and do not change while it runs.
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest schema revision this version of the toolkit knows."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision id this version of the toolkit ships."""
    return {rev.revision for rev in _scripts().walk_revisions()}


def revision_order() -> list[str]:
    """The revisions this toolkit ships, oldest first (to tell which of two schemas is newer)."""
    return [rev.revision for rev in reversed(list(_scripts().walk_revisions()))]


def current_revision(engine: Engine) -> str | None:
    """The revision the database at ``engine`` is stamped with; None for a database without a ledger."""
    with engine.connect() as conn:
        heads = _current_revisions(conn)
    return heads[0] if heads else None


def _current_revisions(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    return tuple(MigrationContext.configure(connection).get_current_heads())


def _refuse_unknown(connection: Connection, url: str) -> None:
    unknown = sorted(set(_current_revisions(connection)) - known_revisions())
    if unknown:
        raise LedgerError(
            f"the ledger at {make_url(url).render_as_string(hide_password=True)} is at schema revision "
            f"{', '.join(unknown)}, which this toolkit does not know (newest known: {head_revision()}): "
            "it was written by a newer toolkit version. Update this checkout (git pull) and run "
            "`make setup` before using this ledger, or point TOOLKIT_DB_URL at another ledger; nothing was changed"
        )


@contextmanager
def _write_connection(engine: Engine) -> Iterator[Connection]:
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
        yield conn


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the schema up to ``revision`` in one transaction.

    Refuses a database stamped with a revision this code does not know (a newer
    toolkit wrote it) before changing anything.
    """
    try:
        with _write_connection(engine) as conn:
            _refuse_unknown(conn, str(engine.url))
            if revision == "head" and _current_revisions(conn) == (head_revision(),):
                return  # already current: skip loading env.py and the revision scripts
            from alembic import command

            command.upgrade(alembic_config(conn), revision)
    except SQLAlchemyError as exc:
        where = make_url(str(engine.url)).render_as_string(hide_password=True)
        raise LedgerError(
            f"migrating the ledger at {where} to {revision} failed and was rolled back, nothing changed: "
            f"{exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}"
        ) from exc


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the schema down to ``revision`` (``"base"`` drops every table)."""
    with _write_connection(engine) as conn:
        _refuse_unknown(conn, str(engine.url))
        from alembic import command

        command.downgrade(alembic_config(conn), revision)


