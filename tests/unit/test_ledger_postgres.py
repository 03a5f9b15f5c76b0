"""PostgreSQL ledger: writers queue as on SQLite, readers see one snapshot (toolkit/ledger/db.py).

The ledger's methods read a balance and write it back in one transaction; on PostgreSQL's
default READ COMMITTED two writers of one account could both read the old cash and one
update would be lost. A transaction-scoped advisory lock makes them queue.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from toolkit.ledger import Ledger, open_ledger

pytestmark = pytest.mark.postgresql
ACCOUNT, MODE = "team-a", "offline_mock"


def _order(ledger: Ledger, cid: str) -> None:
    ledger.record_order(client_order_id=cid, run_key=None, mode=MODE, strategy="sma", account=ACCOUNT,
                        symbol="SPY", side="buy", quantity=D(10))
    ledger.transition_order(cid, "submitted")


def _waiting_on_the_writer_lock(ledger: Ledger) -> bool:
    with ledger.engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted")).scalar())


def test_two_writers_of_one_account_queue_and_lose_no_update(postgres_url: str) -> None:
    first, second = open_ledger(postgres_url), open_ledger(postgres_url)
    try:
        first.set_initial_cash(ACCOUNT, MODE, D("10000"))
        _order(first, "a")
        _order(first, "b")
        errors: list[BaseException] = []

        def second_fill() -> None:
            try:
                second.record_fill("b", "f-b", D(10), D(100), D(1))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        with first.transaction():
            first.record_fill("a", "f-a", D(10), D(50), D(1))  # cash read and written, not committed
            worker = threading.Thread(target=second_fill)
            worker.start()
            deadline = time.monotonic() + 30
            while not _waiting_on_the_writer_lock(first):  # the second writer queues behind the first
                assert worker.is_alive() and time.monotonic() < deadline, "the second writer did not wait"
                time.sleep(0.02)
        worker.join(timeout=60)
        assert not worker.is_alive() and errors == []
        # Both fills' cash flows are in: 10000 - (500 + 1) - (1000 + 1).
        assert second.cash(ACCOUNT, MODE) == D("8498")
        assert first.check_consistency(ACCOUNT, MODE, {"SPY": D(100)}) == []
    finally:
        first.close()
        second.close()


def test_a_read_transaction_sees_one_snapshot_and_writes_take_the_lock(postgres_url: str) -> None:
    reader, writer = open_ledger(postgres_url), open_ledger(postgres_url)
    try:
        writer.set_initial_cash(ACCOUNT, MODE, D("10000"))
        _order(writer, "a")
        cash = sa.text("select amount from cash_balances where account = :a")
        with reader.engine.begin() as conn:
            assert conn.execute(sa.text("show transaction_isolation")).scalar() == "repeatable read"
            before = conn.execute(cash, {"a": ACCOUNT}).scalar()
            writer.record_fill("a", "f-a", D(10), D(50), D(1))  # commits meanwhile
            assert conn.execute(cash, {"a": ACCOUNT}).scalar() == before  # the same snapshot throughout
        assert reader.cash(ACCOUNT, MODE) == D("9499")  # a new transaction sees the fill
        with writer.transaction() as s:
            conn = s.connection()
            assert conn.execute(sa.text("show transaction_isolation")).scalar() == "read committed"
            held = conn.execute(sa.text("select count(*) from pg_locks where locktype = 'advisory' and granted "
                                        "and pid = pg_backend_pid()")).scalar()
            assert held == 1
    finally:
        reader.close()
        writer.close()


def test_foreign_keys_hold_on_postgresql(postgres_url: str) -> None:
    with open_ledger(postgres_url) as ledger, pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as conn:
        conn.execute(sa.text("insert into fills (order_id, fill_id, mode, quantity, price, fees, at) "
                             "values (999, 'orphan', 'paper', 1, 1, 0, now())"))
