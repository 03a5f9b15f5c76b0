"""Schema migrations of the ledger: the upgrade path is real and a newer ledger is refused.

Each test runs on SQLite and on PostgreSQL (``empty_ledger_url``: a new file, an empty
database), upgrade and downgrade alike, except the checks of SQLite's own settings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from toolkit.errors import ToolkitError
from toolkit.ledger import LedgerError, open_ledger
from toolkit.ledger import db
from toolkit.ledger.models import Base

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _at(conn: sa.Connection, naive_utc: str) -> str:
    """A UTC time as the ledger stores it: naive text on SQLite, with its offset where the type has a zone."""
    return naive_utc if conn.dialect.name == "sqlite" else f"{naive_utc}+00"


def _diff(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def stamped(engine: sa.Engine) -> str | None:
    """The revision the database is stamped with, read from Alembic's table (None when empty)."""
    with engine.connect() as conn:
        if "alembic_version" not in sa.inspect(conn).get_table_names():
            return None
        return conn.execute(sa.text("select version_num from alembic_version")).scalar()


def test_five_revisions_in_order() -> None:
    assert db.known_revisions() == {"0001_initial", "0002_snapshot_context", "0003_run_halted_blocked",
                                    "0004_config_actor_account", "0005_alerts_run_locks"}
    assert db.head_revision() == "0005_alerts_run_locks"


def _insert_run(conn: sa.Connection, key: str, status: str) -> None:
    conn.execute(sa.text(
        "insert into runs (run_key, strategy, account, session_date, execution_time, mode, status, started_at)"
        " values (:k, 's', 'a', '2024-01-02', 'close', 'offline_mock', :st, :at)"
    ), {"k": key, "st": status, "at": _at(conn, "2024-01-02 21:00:00.000000")})


def test_0003_allows_halted_and_blocked_runs_and_still_refuses_other_statuses(empty_ledger_url: str) -> None:
    engine = db.create_ledger_engine(empty_ledger_url)
    db.upgrade(engine, "0002_snapshot_context")
    with engine.begin() as conn:
        _insert_run(conn, "s|a|2024-01-02|close", "completed")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        _insert_run(conn, "s|a|2024-01-03|close", "halted")  # the 0002 schema refuses it
    db.upgrade(engine)
    with engine.begin() as conn:
        _insert_run(conn, "s|a|2024-01-03|close", "halted")
        _insert_run(conn, "s|a|2024-01-04|close", "blocked")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        _insert_run(conn, "s|a|2024-01-05|close", "finished")  # the constraint survived the table rebuild
    with engine.connect() as conn:
        assert conn.execute(sa.text("select status from runs order by session_date")).scalars().all() == [
            "completed", "halted", "blocked"]
    db.downgrade(engine, "0002_snapshot_context")  # halted/blocked read as completed to the older schema
    with engine.connect() as conn:
        assert set(conn.execute(sa.text("select status from runs")).scalars()) == {"completed"}
    engine.dispose()


def _insert_override(conn: sa.Connection, key: str, value: str) -> None:
    """An override and its history row as the 0003-era toolkit wrote them (no actor, no account)."""
    at = _at(conn, "2024-01-02 14:30:00.000000")
    conn.execute(sa.text("insert into config_overrides (key, value, reason, set_at, active)"
                         " values (:k, :v, 'why', :at, :on)"), {"k": key, "v": value, "at": at, "on": True})
    conn.execute(sa.text("insert into config_history (key, old, new, reason, at)"
                         " values (:k, null, :v, 'why', :at)"), {"k": key, "v": value, "at": at})


def test_0004_keeps_overrides_as_global_ones_by_user_and_adds_account_scopes(empty_ledger_url: str) -> None:
    url = empty_ledger_url
    engine = db.create_ledger_engine(url)
    db.upgrade(engine, "0003_run_halted_blocked")
    with engine.begin() as conn:
        _insert_override(conn, "risk.max_weight", "0.5")
    engine.dispose()

    ledger = open_ledger(url)
    try:
        assert stamped(ledger.engine) == db.head_revision()
        assert ledger.overrides() == {"risk.max_weight": 0.5}  # the old row: global, made by 'user'
        assert ledger.override_records()[["key", "value", "actor"]].values.tolist() == [
            ["risk.max_weight", 0.5, "user"]]
        old = ledger.config_history()
        assert old[["id", "account", "key", "old", "new", "actor"]].values.tolist() == [
            [1, None, "risk.max_weight", None, 0.5, "user"]]
        assert old.loc[0, "at"] == T0
        ledger.set_override("strategy_params.fast", 12, "faster", actor="ann", account="dry-run")
        assert ledger.overrides("dry-run") == {"strategy_params.fast": 12}
    finally:
        ledger.close()

    engine = db.create_ledger_engine(url)
    db.downgrade(engine, "0003_run_halted_blocked")
    assert stamped(engine) == "0003_run_halted_blocked"
    with engine.connect() as conn:
        for table in ("config_overrides", "config_history"):
            cols = {c["name"] for c in sa.inspect(conn).get_columns(table)}
            assert not cols & {"actor", "account"}
        # Every row kept; the account's override is switched off so it cannot read as a global one
        # (SQLite reads the booleans as 1 and 0, PostgreSQL as True and False: equal in Python).
        assert conn.execute(sa.text("select key, active from config_overrides order by id")).all() == [
            ("risk.max_weight", 1), ("strategy_params.fast", 0)]
        assert conn.execute(sa.text("select key from config_history order by id")).scalars().all() == [
            "risk.max_weight", "strategy_params.fast"]
    db.upgrade(engine)  # and up again: the rows come back as global ones by 'user'
    with engine.connect() as conn:
        assert conn.execute(sa.text("select key, actor, account from config_history order by id")).all() == [
            ("risk.max_weight", "user", None), ("strategy_params.fast", "user", None)]
    engine.dispose()


def test_empty_to_head_matches_models(empty_ledger_url: str, tmp_path: Path) -> None:
    url = empty_ledger_url.replace(str(tmp_path), str(tmp_path / "nested"))  # SQLite: in a folder not there yet
    ledger = open_ledger(url)
    try:
        if url.startswith("sqlite"):
            assert (tmp_path / "nested" / "ledger.sqlite").exists()  # parent folder made
        assert stamped(ledger.engine) == db.head_revision()
        assert {"orders", "order_events", "fills", "position_lots", "positions", "cash_balances",
                "performance_snapshots", "config_overrides", "config_history", "system_state", "runs",
                "audit_log", "alerts", "run_locks", "alembic_version"} <= _tables(url)
        assert _diff(ledger.engine) == []  # migrations and models agree, column types included
    finally:
        ledger.close()


def test_revision_0001_lacks_context_so_the_diff_check_is_not_vacuous(empty_ledger_url: str) -> None:
    engine = db.create_ledger_engine(empty_ledger_url)
    db.upgrade(engine, "0001_initial")
    diff = _diff(engine)
    assert sorted(d[1].name for d in diff if d[0] == "add_table") == ["alerts", "run_locks"]
    diff = [d for d in diff if d[0] != "add_table" and not (d[0] == "add_index" and d[1].table.name == "alerts")]
    assert all(d[0] == "add_column" for d in diff)
    assert sorted((d[2], d[3].name) for d in diff) == [
        ("config_history", "account"), ("config_history", "actor"), ("config_overrides", "account"),
        ("config_overrides", "actor"), ("performance_snapshots", "context")]
    engine.dispose()


def test_upgrade_from_0001_keeps_rows(empty_ledger_url: str) -> None:
    url = empty_ledger_url
    engine = db.create_ledger_engine(url)
    db.upgrade(engine, "0001_initial")
    # Rows as the 0001-era toolkit stored them (money as exact text on SQLite, UTC times).
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into orders (id, client_order_id, mode, strategy, account, symbol, side, quantity, order_type,"
            " status, created_at, updated_at, reason) values (1, 'c1', 'paper', 's', 'a', 'SPY', 'buy', '3.500000',"
            " 'market', 'filled', :t, :t, 'rebalance')"), {"t": _at(conn, "2024-01-02 14:30:00.000000")})
        conn.execute(sa.text(
            "insert into fills (id, order_id, fill_id, mode, quantity, price, fees, at) values"
            " (1, 1, 'f1', 'paper', '3.500000', '470.120000', '0.350000', :t)"),
            {"t": _at(conn, "2024-01-02 14:30:01.000000")})
        conn.execute(sa.text(
            "insert into performance_snapshots (account, mode, strategy, session_date, equity, cash, daily_return,"
            " recorded_at) values ('a', 'paper', 's', '2024-01-02', '100000.123456', '98000.000000', 0.001, :t)"),
            {"t": _at(conn, "2024-01-02 21:00:00.000000")})
    engine.dispose()

    ledger = open_ledger(url)
    try:
        assert stamped(ledger.engine) == db.head_revision()
        order = ledger.get_order("c1")
        assert order is not None
        assert (order.quantity, order.status, order.reason) == (Decimal("3.5"), "filled", "rebalance")
        assert order.created_at == T0 and order.created_at.tzinfo is not None
        fills_df = ledger.fills()
        assert fills_df.loc[0, "price"] == Decimal("470.120000") and fills_df.loc[0, "fees"] == Decimal("0.35")
        snaps_df = ledger.snapshots()
        assert snaps_df.loc[0, "equity"] == Decimal("100000.123456")
        assert snaps_df.loc[0, "context"] is None  # new column, old row
        # The new column is usable on the migrated database.
        ledger.record_snapshot(account="a", mode="paper", strategy="s", session_date=date(2024, 1, 3),
                               equity=1, cash=1, context={"regime": "calm"})
        assert ledger.snapshots()["context"].tolist() == [None, {"regime": "calm"}]
    finally:
        ledger.close()


def test_downgrade_to_0001_then_base(empty_ledger_url: str) -> None:
    url = empty_ledger_url
    ledger = open_ledger(url)
    ledger.record_snapshot(account="a", mode="paper", strategy="s", session_date=date(2024, 1, 2),
                           equity=Decimal("5"), cash=Decimal("5"), context={"x": 1})
    ledger.close()
    engine = db.create_ledger_engine(url)
    db.downgrade(engine, "0001_initial")
    assert stamped(engine) == "0001_initial"
    with engine.connect() as conn:
        cols = {c["name"] for c in sa.inspect(conn).get_columns("performance_snapshots")}
        assert "context" not in cols
        # Text on SQLite, NUMERIC(18, 6) on PostgreSQL: the same six places either way.
        assert str(conn.execute(sa.text("select equity from performance_snapshots")).scalar()) == "5.000000"
    db.downgrade(engine, "base")
    assert stamped(engine) is None
    engine.dispose()
    assert _tables(url) <= {"alembic_version"}


def test_newer_revision_is_refused_before_anything_changes(empty_ledger_url: str) -> None:
    url = empty_ledger_url
    open_ledger(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("update alembic_version set version_num = '0099_from_the_future'"))
        conn.execute(sa.text("create table future_table (x integer)"))
    before = _tables(url)

    with pytest.raises(LedgerError, match="newer toolkit version") as info:
        open_ledger(url)
    assert isinstance(info.value, ToolkitError)
    assert "0099_from_the_future" in str(info.value) and "git pull" in str(info.value) and "make setup" in str(info.value)

    assert _tables(url) == before
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).all() == [("0099_from_the_future",)]
    engine.dispose()


def test_reopening_at_head_is_a_no_op(ledger_url: str) -> None:
    first = open_ledger(ledger_url)
    first.set_initial_cash("a", "paper", 100)
    first.close()
    second = open_ledger(ledger_url)
    assert second.cash("a", "paper") == Decimal(100)
    second.close()


def test_url_from_environment(empty_ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_DB_URL", empty_ledger_url)
    ledger = open_ledger()
    try:
        assert ledger.url == empty_ledger_url and stamped(ledger.engine) == db.head_revision()
    finally:
        ledger.close()
    assert "runs" in _tables(empty_ledger_url)


def test_default_url_is_outputs_under_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_DB_URL", raising=False)
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    monkeypatch.chdir(notebooks)  # papermill runs notebooks in their own folder
    ledger = open_ledger()
    ledger.close()
    assert (tmp_path / "outputs" / "ledger.sqlite").exists()
    assert not (notebooks / "outputs").exists()


def test_sqlite_foreign_keys_and_wal_are_on(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = open_ledger(_url(path))
    try:
        with ledger.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with pytest.raises(sa.exc.IntegrityError):
            with ledger.engine.begin() as conn:
                conn.exec_driver_sql(
                    "insert into fills (order_id, fill_id, mode, quantity, price, fees, at) "
                    "values (999, 'orphan', 'paper', '1', '1', '0', '2024-01-02 00:00:00')"
                )
    finally:
        ledger.close()


def test_a_failing_migration_leaves_nothing_behind(empty_ledger_url: str) -> None:
    url = empty_ledger_url
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table audit_log (x integer)"))  # 0001 creates audit_log last: it fails there
    engine.dispose()
    with pytest.raises(LedgerError, match="failed and was rolled back, nothing changed: .*already exists"):
        open_ledger(url)
    assert _tables(url) == {"audit_log"}  # orders, fills, ... rolled back with it; no version stamped


def test_0004_downgrade_switches_overrides_off_with_a_boolean_postgresql_takes(tmp_path: Path) -> None:
    """PostgreSQL refuses ``SET active = 0`` on a boolean column: the downgrade binds ``false``."""
    import importlib.util
    import io

    from alembic.operations import Operations
    from sqlalchemy.dialects import postgresql

    spec = importlib.util.spec_from_file_location(
        "m0004", Path(db.__file__).parent / "migrations" / "versions" / "0004_config_actor_account.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    context = MigrationContext.configure(dialect=postgresql.dialect(), opts={"as_sql": True, "output_buffer": out,
                                                                             "literal_binds": True})
    with Operations.context(context):
        module.downgrade()
    sql = " ".join(out.getvalue().split())
    assert "UPDATE config_overrides SET active=false WHERE config_overrides.account IS NOT NULL" in sql
    assert "active = 0" not in sql
