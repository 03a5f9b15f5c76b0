"""The PostgreSQL server the ledger tests run against, beside SQLite.

``make postgres`` (``.ci/install-postgres``) installs Debian's PostgreSQL when it is
missing, starts it and creates the login role these settings name; ``make test`` runs it
first, and ``.ci/run`` sets ``TOOLKIT_TEST_POSTGRES=required`` so that a server that is not
reachable FAILS the PostgreSQL variants on CI instead of skipping them silently. On a
developer machine without a server they skip with the reason from :func:`unreachable`.

Settings: ``$TOOLKIT_TEST_POSTGRES_URL`` (default :data:`DEFAULT_URL`, the role
``.ci/install-postgres`` creates: a local, test-only login with CREATEDB). Its database is
the maintenance database that test databases are created from and dropped through.

Databases: per pytest process, a template migrated to the newest revision, an empty one,
and one shared ledger database cloned from the first. ``ledger_url`` hands each test the
shared database emptied (every ledger table's rows deleted, its ids restarted: about 15 ms,
where cloning a database takes 0.4-1.5 s on a busy two-core machine, which on the ~100
ledger tests would add a minute or two to CI). A test that changes the schema (drops a
constraint, migrates down) takes a fresh clone instead (``postgres_fresh_url``,
``empty_ledger_url``); emptying refuses a shared database whose constraints changed. Names
carry the process id, so two pytest runs on one server never touch each other's databases.
The databases are created and dropped by pytest-postgresql's janitor (what its
``postgresql_noproc`` fixture does for a server that is already running).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

URL_ENV = "TOOLKIT_TEST_POSTGRES_URL"
REQUIRED_ENV = "TOOLKIT_TEST_POSTGRES"
DEFAULT_URL = "postgresql+psycopg://toolkit_test:toolkit-test-only@127.0.0.1:5432/postgres"
#: The ledger's backends as pytest parameters; ``-m "not postgresql"`` leaves PostgreSQL out.
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql))
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Server:
    """Where the test server listens and as whom the tests log in."""

    host: str
    port: int
    user: str
    password: str | None
    maintenance_db: str

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL of database ``dbname`` on this server (psycopg 3)."""
        from sqlalchemy.engine import URL

        return URL.create("postgresql+psycopg", username=self.user, password=self.password, host=self.host,
                          port=self.port, database=dbname).render_as_string(hide_password=False)

    def shown(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.maintenance_db}"


def server() -> Server:
    """The server of ``$TOOLKIT_TEST_POSTGRES_URL`` (default: the role ``make postgres`` creates)."""
    from sqlalchemy.engine import make_url

    url = make_url(os.environ.get(URL_ENV, "").strip() or DEFAULT_URL)
    return Server(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                  password=url.password, maintenance_db=url.database or "postgres")


def required() -> bool:
    """Whether a missing server fails the PostgreSQL tests (CI) instead of skipping them."""
    return os.environ.get(REQUIRED_ENV, "").strip().lower() == "required"


def unreachable(srv: Server, timeout_s: int = 5) -> str | None:
    """Why no PostgreSQL test can run here, or None when the server answers and the role may create databases."""
    import psycopg

    try:
        with psycopg.connect(host=srv.host, port=srv.port, user=srv.user, password=srv.password,
                             dbname=srv.maintenance_db, connect_timeout=timeout_s) as conn:
            row = conn.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"no PostgreSQL server for the tests at {srv.shown()} ({first}); run `make postgres` "
                f"(installs and starts Debian's PostgreSQL as root or with sudo -n) or set {URL_ENV}")
    if not row or not row[0]:
        return f"the role {srv.user} at {srv.shown()} may not create databases (CREATEDB): the tests need one each"
    return None


def janitor(srv: Server, dbname: str, *, template: str | None = None, as_template: bool = False) -> Any:
    """pytest-postgresql's :class:`DatabaseJanitor` of ``dbname`` (created on enter, dropped on exit).

    Its stock clean-up terminates every session on the database, autovacuum's workers
    included, which only a superuser may do: a CREATEDB role fails on a template that
    autovacuum happens to visit. Here it ends only client sessions (the tests' own);
    PostgreSQL stops autovacuum by itself before it copies or drops a database.
    """
    import psycopg
    from pytest_postgresql.janitor import DatabaseJanitor

    class ClientSessionsJanitor(DatabaseJanitor):
        @staticmethod
        def _terminate_connection(cur: psycopg.Cursor, dbname: str) -> None:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()", (dbname,))

    return ClientSessionsJanitor(user=srv.user, host=srv.host, port=srv.port, password=srv.password, dbname=dbname,
                                 template_dbname=template, as_template=as_template,
                                 maintenance_dbname=srv.maintenance_db, connection_timeout=10)


def migrate_template(host: str, port: int, user: str, dbname: str, password: str | None, **_: Any) -> None:
    """Loader of the migrated template (pytest-postgresql's ``load`` signature): schema at head."""
    from toolkit.ledger import db

    url = Server(host, int(port), user, password, dbname).url(dbname)
    engine = db.create_ledger_engine(url)
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class SessionDatabases:
    """The databases of one pytest process on the test server."""

    server: Server
    head_template: str
    empty_template: str
    shared: str
    constraints: int  # of the shared database at the start: a test that drops one is caught

    def shared_url(self) -> str:
        return self.server.url(self.shared)


def _constraints(cur: Any) -> int:
    cur.execute("SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = current_schema()")
    return int(cur.fetchone()[0])


@contextmanager
def session_databases(srv: Server) -> Iterator[SessionDatabases]:
    """The templates (migrated, empty) and the shared ledger database; all dropped at the end."""
    import psycopg

    prefix = f"toolkit_test_{os.getpid()}"
    head, empty, shared = f"{prefix}_head_tmpl", f"{prefix}_empty_tmpl", f"{prefix}_shared"
    with janitor(srv, head, as_template=True) as jm, janitor(srv, empty, as_template=True):
        jm.load(migrate_template)
        with janitor(srv, shared, template=head):
            with psycopg.connect(host=srv.host, port=srv.port, user=srv.user, password=srv.password,
                                 dbname=shared) as conn, conn.cursor() as cur:
                constraints = _constraints(cur)
            yield SessionDatabases(srv, head, empty, shared, constraints)


def emptied(dbs: SessionDatabases) -> str:
    """The shared ledger database with every ledger row deleted and ids restarting at 1; its URL.

    DELETE, not TRUNCATE: on tables of a few rows it is 40x faster (no new files to sync).
    """
    import psycopg
    from psycopg import sql

    from toolkit.ledger.models import Base

    srv = dbs.server
    with psycopg.connect(host=srv.host, port=srv.port, user=srv.user, password=srv.password,
                         dbname=dbs.shared) as conn, conn.cursor() as cur:
        cur.execute("SET lock_timeout = '10s'")  # a transaction a test left open would otherwise hang here
        if _constraints(cur) != dbs.constraints:
            raise AssertionError(f"a test changed the schema of the shared test database {dbs.shared}: a test "
                                 "that drops constraints or migrates must use postgres_fresh_url or empty_ledger_url")
        for table in reversed(Base.metadata.sorted_tables):  # children before parents (foreign keys)
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.name)))
        cur.execute("SELECT setval(format('%I', sequencename)::regclass, 1, false) FROM pg_sequences "
                    "WHERE schemaname = current_schema()")
    return dbs.shared_url()


@contextmanager
def fresh_database(dbs: SessionDatabases, *, migrated: bool = True) -> Iterator[str]:
    """A new database cloned from a template (schema at head, or empty); yields its URL, drops it afterwards."""
    name = f"toolkit_test_{os.getpid()}_{next(_numbers)}"
    with janitor(dbs.server, name, template=dbs.head_template if migrated else dbs.empty_template):
        yield dbs.server.url(name)


def sqlite_or_postgres(request: pytest.FixtureRequest, sqlite_url: str, *, fresh: bool = False,
                       migrated: bool = True) -> Iterator[str]:
    """For a fixture parametrised over :data:`BACKENDS`: ``sqlite_url``, or a PostgreSQL ledger database.

    PostgreSQL: the shared database emptied, or with ``fresh`` (or not ``migrated``) a new clone.
    """
    if request.param == "sqlite":
        yield sqlite_url
        return
    dbs: SessionDatabases = request.getfixturevalue("postgres_databases")
    if not fresh and migrated:
        yield emptied(dbs)
        return
    with fresh_database(dbs, migrated=migrated) as url:
        yield url
