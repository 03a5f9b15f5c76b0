"""Orders and fills: idempotency, the order state machine, FIFO accounting, exact money."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pandas as pd
import pytest
from support.postgres import BACKENDS, sqlite_or_postgres

from toolkit.errors import IllegalTransition
from toolkit.ledger import IllegalTransitionError, Ledger, LedgerError, open_ledger
from toolkit.model import Fill, OrderAccepted, OrderCancelled, OrderFilled, OrderRejected, OrderSide

ACCOUNT, MODE = "acct-1", "offline_mock"


class TickingClock:
    """Deterministic clock: each call is one second after the previous one."""

    def __init__(self, start: datetime = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)) -> None:
        self.t = start

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


@pytest.fixture
def ledger(ledger_url: str) -> Ledger:
    led = open_ledger(ledger_url, clock=TickingClock())
    led.set_initial_cash(ACCOUNT, MODE, D("10000"))
    yield led
    led.close()


@pytest.fixture(params=BACKENDS)
def fresh_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    """Like ``ledger``, in a database of its own on PostgreSQL too (a test may alter its schema)."""
    for url in sqlite_or_postgres(request, f"sqlite:///{tmp_path / 'ledger.sqlite'}", fresh=True):
        led = open_ledger(url, clock=TickingClock())
        led.set_initial_cash(ACCOUNT, MODE, D("10000"))
        yield led
        led.close()


def _order(ledger: Ledger, cid: str, side: str = "buy", qty: object = 10, symbol: str = "SPY", **kw: object):
    return ledger.record_order(
        client_order_id=cid, run_key="sma|acct-1|2024-01-02|close", mode=MODE, strategy="sma",
        account=ACCOUNT, symbol=symbol, side=side, quantity=qty, **kw,
    )


def _table_counts(ledger: Ledger) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        return {
            t: conn.exec_driver_sql(f"select count(*) from {t}").scalar()
            for t in ("orders", "order_events", "fills", "position_lots", "positions", "cash_balances", "audit_log")
        }


def _snapshot_db(ledger: Ledger) -> dict[str, list]:
    with ledger.engine.connect() as conn:
        return {
            t: conn.exec_driver_sql(f"select * from {t} order by 1").fetchall()
            for t in ("orders", "order_events", "fills", "position_lots", "positions", "cash_balances")
        }


# ----------------------------------------------------------------- orders


def test_record_order_is_idempotent_on_client_order_id(ledger: Ledger) -> None:
    first = _order(ledger, "c1", reason="rebalance")
    again = _order(ledger, "c1", qty=12)  # a re-run that computed another size: the sent order stands
    assert again == first
    assert again.quantity == D(10) and again.status == "new"
    assert len(ledger.orders()) == 1
    assert [e.to_status for e in ledger.order_events("c1")] == ["new"]


def test_same_client_order_id_for_another_symbol_is_an_id_bug(ledger: Ledger) -> None:
    _order(ledger, "c1")
    with pytest.raises(LedgerError, match="different order: symbol"):
        _order(ledger, "c1", symbol="QQQ")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mode", "live", "mode: got 'live'; allowed: offline_mock, paper, online_live"),
        ("side", "short", "side: got 'short'"),
        ("quantity", D("0"), "quantity: got Decimal\\('0'\\); allowed: a number > 0"),
        ("quantity", D("1.0000001"), "at most 6 decimal places"),
        ("quantity", "ten", "quantity: got 'ten'"),
        ("order_type", "stop", "order_type: got 'stop'"),
        ("symbol", " ", "symbol: got ' '"),
    ],
)
def test_bad_order_input_names_field_and_writes_nothing(ledger: Ledger, field: str, value: object, message: str) -> None:
    kwargs = dict(client_order_id="c1", run_key=None, mode=MODE, strategy="s", account=ACCOUNT,
                  symbol="SPY", side="buy", quantity=1)
    kwargs[field] = value
    before = _table_counts(ledger)
    with pytest.raises(LedgerError, match=message):
        ledger.record_order(**kwargs)
    assert _table_counts(ledger) == before


def test_limit_order_needs_a_limit_price(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="limit_price"):
        _order(ledger, "c1", order_type="limit")
    order = _order(ledger, "c2", order_type="limit", limit_price="99.5")
    assert order.limit_price == D("99.500000")


def test_child_order_points_at_its_parent(ledger: Ledger) -> None:
    parent = _order(ledger, "p1")
    child = _order(ledger, "c1", parent_client_order_id="p1")
    assert child.parent_order_id == parent.id
    with pytest.raises(LedgerError, match="parent_client_order_id"):
        _order(ledger, "c2", parent_client_order_id="nope")


def test_legal_lifecycle_is_recorded_in_events(ledger: Ledger) -> None:
    _order(ledger, "c1")
    order = ledger.transition_order("c1", "submitted", "sent to sim", broker_order_id="B-1")
    assert (order.status, order.broker_order_id) == ("submitted", "B-1")
    ledger.record_fill("c1", "f1", 4, 100)
    order = ledger.transition_order("c1", "cancelled", "end of session")
    assert order.status == "cancelled" and order.filled_quantity == D(4)
    events = ledger.order_events("c1")
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "new"), ("new", "submitted"), ("submitted", "partially_filled"), ("partially_filled", "cancelled"),
    ]
    assert events[1].detail == "sent to sim"
    assert all(a.at < b.at for a, b in zip(events, events[1:]))


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), "new"),
        (("rejected",), "submitted"),
        (("cancelled",), "submitted"),
        (("submitted", "rejected"), "cancelled"),
        (("submitted",), "submitted"),
        (("submitted",), "new"),
    ],
)
def test_illegal_transition_raises_and_writes_nothing(ledger: Ledger, path: tuple[str, ...], illegal: str) -> None:
    _order(ledger, "c1")
    for status in path:
        ledger.transition_order("c1", status)
    before = _snapshot_db(ledger)
    with pytest.raises(IllegalTransitionError) as info:
        ledger.transition_order("c1", illegal, broker_order_id="B-9")
    assert info.value.to_status == illegal
    assert _snapshot_db(ledger) == before


def test_fill_statuses_come_only_from_fills(ledger: Ledger) -> None:
    _order(ledger, "c1")
    ledger.transition_order("c1", "submitted")
    before = _snapshot_db(ledger)
    for status in ("filled", "partially_filled"):
        with pytest.raises(LedgerError, match="set by record_fill"):
            ledger.transition_order("c1", status)
    assert _snapshot_db(ledger) == before


def test_a_second_broker_order_id_is_refused(ledger: Ledger) -> None:
    _order(ledger, "c1")
    ledger.transition_order("c1", "submitted", broker_order_id="B-1")
    with pytest.raises(LedgerError, match="already has 'B-1'"):
        ledger.transition_order("c1", "cancelled", broker_order_id="B-2")
    assert ledger.get_order("c1").status == "submitted"


def test_unknown_order(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="no order 'ghost'"):
        ledger.transition_order("ghost", "submitted")
    with pytest.raises(LedgerError, match="no order 'ghost'"):
        ledger.record_fill("ghost", "f1", 1, 1)


def test_nested_transaction_is_atomic(ledger: Ledger) -> None:
    before = _snapshot_db(ledger)
    with pytest.raises(IllegalTransitionError):
        with ledger.transaction():
            _order(ledger, "c1")
            ledger.transition_order("c1", "cancelled")
            ledger.transition_order("c1", "submitted")  # illegal: the whole unit rolls back
    assert _snapshot_db(ledger) == before
    assert ledger.get_order("c1") is None


# ----------------------------------------------------------------- broker events


def _fill(cid: str, n: int, qty: str, price: str, fee: str = "0") -> Fill:
    return Fill(f"{cid}-F{n}", cid, "SPY", OrderSide.BUY, D(qty), D(price), D(fee), pd.Timestamp("2024-01-02T21:00Z"))


def test_broker_events_are_applied_idempotently(ledger: Ledger) -> None:
    _order(ledger, "c1", qty=10)
    events = [OrderAccepted("c1", broker_order_id="B-1"),
              OrderFilled(_fill("c1", 1, "4", "100.1234567", "0.0000004")),  # 50-digit broker amounts
              OrderCancelled("c1", "end of session")]
    for _ in range(2):  # the engine hands over the broker's whole event list after every call
        for event in events:
            ledger.apply(event)
    order = ledger.get_order("c1")
    assert (order.status, order.broker_order_id, order.filled_quantity) == ("cancelled", "B-1", D(4))
    assert [(e.to_status, e.detail) for e in ledger.order_events("c1")][1:] == [
        ("submitted", None), ("partially_filled", "fill c1-F1: 4.000000 @ 100.123457"), ("cancelled", "end of session"),
    ]
    assert ledger.fills().iloc[0]["price"] == D("100.123457") and ledger.fills().iloc[0]["fees"] == D(0)


def test_broker_rejection_keeps_the_broker_id_and_an_illegal_event_writes_nothing(ledger: Ledger) -> None:
    _order(ledger, "c1")
    ledger.apply(OrderRejected("c1", "insufficient cash", broker_order_id="B-7"))
    assert ledger.get_order("c1").broker_order_id == "B-7"
    _order(ledger, "c2", qty=1)
    ledger.apply(OrderAccepted("c2"))
    ledger.apply(OrderFilled(_fill("c2", 1, "1", "100")))
    before = _snapshot_db(ledger)
    with pytest.raises(IllegalTransitionError) as info:
        ledger.apply(OrderRejected("c2", "too late"))
    assert (info.value.from_status, info.value.to_status) == ("filled", "rejected")
    assert isinstance(info.value, IllegalTransition)  # the model's error, from the model's table
    assert _snapshot_db(ledger) == before


# ----------------------------------------------------------------- fills and accounting


def test_partial_fills_move_the_order_and_the_books(ledger: Ledger) -> None:
    _order(ledger, "c1", qty=10)
    ledger.transition_order("c1", "submitted")
    ledger.record_fill("c1", "f1", D("4"), D("100.25"), D("0.40"))
    order = ledger.get_order("c1")
    assert (order.status, order.filled_quantity, order.remaining_quantity) == ("partially_filled", D(4), D(6))
    ledger.record_fill("c1", "f2", D("6"), D("100.50"), D("0.60"))
    order = ledger.get_order("c1")
    assert (order.status, order.filled_quantity) == ("filled", D(10))
    assert [e.to_status for e in ledger.order_events("c1")] == ["new", "submitted", "partially_filled", "filled"]

    pos = ledger.positions(ACCOUNT, MODE)["SPY"]
    assert pos.quantity == D(10)
    assert pos.avg_cost == D("100.400000")  # (4*100.25 + 6*100.50) / 10
    assert pos.realised_pnl == D(0)
    assert ledger.cash(ACCOUNT, MODE) == D("10000") - D("401.00") - D("0.40") - D("603.00") - D("0.60")
    assert ledger.check_consistency(ACCOUNT, MODE, {"SPY": D("101")}) == []


def test_fifo_realised_pnl_hand_example(ledger: Ledger) -> None:
    # buy 10 @ 100, buy 10 @ 110, sell 15 @ 120, fees 1 per fill.
    for cid, side, qty, price in (("b1", "buy", 10, 100), ("b2", "buy", 10, 110), ("s1", "sell", 15, 120)):
        _order(ledger, cid, side=side, qty=qty)
        ledger.transition_order(cid, "submitted")
        ledger.record_fill(cid, f"f-{cid}", qty, price, 1)
    # FIFO: the sell closes all of lot 1 (10 x (120 - 100) = 200) and 5 of lot 2 (5 x (120 - 110) = 50).
    pos = ledger.positions(ACCOUNT, MODE)["SPY"]
    assert pos.realised_pnl == D("250.000000")
    assert pos.quantity == D(5) and pos.avg_cost == D(110)
    lots = ledger.lots(ACCOUNT, MODE, "SPY", include_closed=True)
    assert [(lot.original_quantity, lot.open_quantity, lot.closed_at is not None) for lot in lots] == [
        (D(10), D(0), True), (D(10), D(5), False),
    ]
    # cash: 10000 - 1000 - 1 - 1100 - 1 + 1800 - 1 = 9697
    assert ledger.cash(ACCOUNT, MODE) == D("9697")
    # at 130: cash + 5 x 130 = 10347 = 10000 + 250 realised + 5 x (130 - 110) unrealised - 3 fees
    assert ledger.cash(ACCOUNT, MODE) + 5 * D(130) == D(10000) + D(250) + D(100) - D(3)
    assert ledger.check_consistency(ACCOUNT, MODE, {"SPY": D(130)}) == []


def test_fill_is_idempotent_on_fill_id(ledger: Ledger) -> None:
    _order(ledger, "c1")
    ledger.transition_order("c1", "submitted")
    first = ledger.record_fill("c1", "f1", 3, 100, 0)
    before = _snapshot_db(ledger)
    assert ledger.record_fill("c1", "f1", 3, 100, 0) == first
    assert _snapshot_db(ledger) == before
    with pytest.raises(LedgerError, match="different content"):
        ledger.record_fill("c1", "f1", 4, 100, 0)


@pytest.mark.parametrize(
    ("setup", "qty", "message"),
    [
        ("submitted", 11, "at most 10"),
        ("cancelled", 1, "is cancelled; fills are accepted only"),
        ("rejected", 1, "is rejected"),
    ],
)
def test_refused_fills_write_nothing(ledger: Ledger, setup: str, qty: int, message: str) -> None:
    _order(ledger, "c1", qty=10)
    if setup == "rejected":
        ledger.transition_order("c1", "rejected")
    else:
        ledger.transition_order("c1", "submitted")
        if setup == "cancelled":
            ledger.transition_order("c1", "cancelled")
    before = _snapshot_db(ledger)
    with pytest.raises(LedgerError, match=message):
        ledger.record_fill("c1", "f1", qty, 100)
    assert _snapshot_db(ledger) == before


def test_overfill_across_partials_is_refused(ledger: Ledger) -> None:
    _order(ledger, "c1", qty=10)
    ledger.transition_order("c1", "submitted")
    ledger.record_fill("c1", "f1", 7, 100)
    with pytest.raises(LedgerError, match="at most 3"):
        ledger.record_fill("c1", "f2", 4, 100)


def test_selling_more_than_held_is_refused(ledger: Ledger) -> None:
    _order(ledger, "b1", qty=5)
    ledger.record_fill("b1", "f1", 5, 100)
    _order(ledger, "s1", side="sell", qty=6)
    before = _snapshot_db(ledger)
    with pytest.raises(LedgerError, match="exceeds the holding of 5.000000; the ledger is long-only"):
        ledger.record_fill("s1", "f2", 6, 100)
    assert _snapshot_db(ledger) == before


def test_fill_on_new_order_implies_submission(ledger: Ledger) -> None:
    _order(ledger, "c1", qty=2)
    ledger.record_fill("c1", "f1", 2, 50)
    events = ledger.order_events("c1")
    assert [e.to_status for e in events] == ["new", "submitted", "filled"]
    assert events[1].detail == "implied by fill f1"


@pytest.mark.parametrize(
    ("field", "kwargs", "message"),
    [
        ("qty", {"qty": -1}, "qty: got -1; allowed: a number > 0"),
        ("price", {"price": 0}, "price: got 0"),
        ("fees", {"fees": D("-0.01")}, "fees: got Decimal\\('-0.01'\\); allowed: a number >= 0"),
        ("at", {"at": datetime(2024, 1, 2, 15, 0)}, "naive datetime"),
    ],
)
def test_bad_fill_input(ledger: Ledger, field: str, kwargs: dict, message: str) -> None:
    _order(ledger, "c1")
    args = {"qty": 1, "price": 100, "fees": 0, "at": None} | kwargs
    with pytest.raises(LedgerError, match=message):
        ledger.record_fill("c1", "f1", **args)


def test_fills_of_an_unfunded_account_are_kept(ledger: Ledger) -> None:
    ledger.record_order(client_order_id="x1", run_key=None, mode="paper", strategy="s", account="other",
                        symbol="QQQ", side="buy", quantity=1)
    ledger.record_fill("x1", "fx", 1, D("400"), D("1"))
    assert ledger.cash("other", "paper") == D("-401")
    assert ledger.initial_cash("other", "paper") == D(0)
    with pytest.raises(LedgerError, match="only once"):
        ledger.set_initial_cash("other", "paper", 1000)
    assert ledger.check_consistency("other", "paper", {"QQQ": D(400)}) == []


def test_initial_cash_once(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="already 10000.000000"):
        ledger.set_initial_cash(ACCOUNT, MODE, 5)
    with pytest.raises(LedgerError, match="never funded|no cash recorded"):
        ledger.cash(ACCOUNT, "paper")


def test_modes_keep_separate_books(ledger: Ledger) -> None:
    ledger.set_initial_cash(ACCOUNT, "paper", 500)
    _order(ledger, "m1")
    ledger.record_fill("m1", "f1", 10, 10)
    assert ledger.positions(ACCOUNT, "paper") == {}
    assert ledger.cash(ACCOUNT, "paper") == D(500)
    assert ledger.positions(ACCOUNT, MODE)["SPY"].quantity == D(10)


# ----------------------------------------------------------------- exact money and time


@pytest.mark.parametrize(
    "amount",
    ["999999999999.999999", "-999999999999.999999", "0.000001", "123456789.123456", "100", "0.1"],
)
def test_decimal_round_trip_is_exact(ledger: Ledger, amount: str) -> None:
    # Numeric(18, 6) on SQLite would go through a float: 999999999999.999999 -> 1e12.
    ledger.record_snapshot(account=ACCOUNT, mode=MODE, strategy="s", session_date=datetime(2024, 1, 2).date(),
                           equity=D(amount), cash=amount)
    snap = ledger.snapshots().iloc[0]
    assert snap["equity"] == D(amount) and snap["cash"] == D(amount)
    assert snap["equity"].as_tuple().exponent == -6


def test_price_and_quantity_round_trip_exactly(ledger: Ledger) -> None:
    _order(ledger, "c1", qty=D("0.123457"), decision_price=D("470.123456"))
    ledger.record_fill("c1", "f1", D("0.123457"), D("470.123457"), D("0.000001"))
    order = ledger.get_order("c1")
    assert order.quantity == D("0.123457") and order.decision_price == D("470.123456")
    fill = ledger.fills().iloc[0]
    assert (fill["quantity"], fill["price"], fill["fees"]) == (D("0.123457"), D("470.123457"), D("0.000001"))
    assert all(isinstance(v, D) for v in (fill["quantity"], fill["price"], fill["fees"]))


def test_amount_beyond_numeric_18_6_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="Numeric\\(18, 6\\)"):
        _order(ledger, "c1", qty=D("1000000000000"))


def test_floats_are_read_through_their_repr(ledger: Ledger) -> None:
    _order(ledger, "c1", qty=0.1 + 0.2)  # 0.30000000000000004 -> 0.300000
    assert ledger.get_order("c1").quantity == D("0.3")


def test_times_come_back_utc_aware(ledger: Ledger) -> None:
    from zoneinfo import ZoneInfo

    ny = datetime(2024, 1, 2, 15, 59, tzinfo=ZoneInfo("America/New_York"))
    _order(ledger, "c1", at=ny)
    order = ledger.get_order("c1")
    assert order.created_at == ny and order.created_at.tzinfo == UTC
    assert order.created_at.hour == 20


def test_trades_blotter_and_csv(ledger: Ledger, tmp_path: Path) -> None:
    for i in range(3):
        _order(ledger, f"c{i}", qty=1)
        ledger.record_fill(f"c{i}", f"f{i}", 1, D("100.10") + i, D("0.01"))
    trades = ledger.trades(2)
    assert trades["fill_id"].tolist() == ["f1", "f2"]
    assert trades.loc[1, "cash_flow"] == D("-102.110000")
    assert str(trades["at"].dt.tz) == "UTC"
    path = ledger.export_csv(tmp_path / "out" / "trades.csv")
    text = path.read_text()
    assert "f0" in text and "100.100000" in text and len(text.splitlines()) == 4


# ----------------------------------------------------------------- consistency check


def _books(ledger: Ledger) -> None:
    for cid, side, qty, price in (("b1", "buy", 10, 100), ("b2", "buy", 10, 110), ("s1", "sell", 15, 120)):
        _order(ledger, cid, side=side, qty=qty)
        ledger.record_fill(cid, f"f-{cid}", qty, price, 1)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("update positions set quantity = '6.000000'", "position quantity 6.000000 != sum of open lots 5.000000"),
        ("update position_lots set open_quantity = '-1.000000' where id = 1", "lot 1 of SPY is negative"),
        ("update positions set realised_pnl = '251.000000'", "realised PnL 251.000000 != FIFO replay"),
        ("update cash_balances set amount = '9700.000000'", "cash 9700.000000 != initial 10000.000000"),
        ("update fills set quantity = '9.000000' where fill_id = 'f-b1'", "order b1 is filled with 9.000000 of 10"),
        ("update position_lots set cost_price = '105.000000' where id = 2", "differ from the FIFO replay"),
    ],
)
def test_consistency_check_finds_tampering(ledger: Ledger, sql: str, expected: str) -> None:
    _books(ledger)
    assert ledger.check_consistency(ACCOUNT, MODE, {"SPY": D(130)}) == []
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql(sql)
    problems = ledger.check_consistency(ACCOUNT, MODE, {"SPY": D(130)})
    assert any(expected in p for p in problems), problems


def test_consistency_check_needs_prices_of_open_positions(ledger: Ledger) -> None:
    _books(ledger)
    assert ledger.check_consistency(ACCOUNT, MODE, {}) == ["SPY: no price given to value the open position of 5.000000"]


def test_orphan_fill_is_reported(fresh_ledger: Ledger) -> None:
    ledger = fresh_ledger  # PostgreSQL: a database of its own, as the test drops a constraint
    _books(ledger)
    ghost = ("insert into fills (order_id, fill_id, mode, quantity, price, fees, at) "
             "values (999, 'ghost', 'offline_mock', '1.000000', '1.000000', '0.000000', '2024-01-02 00:00:00')")
    # Bypass the foreign key, as a backend without one would allow: SQLite switches it off per
    # connection (outside a transaction); on PostgreSQL the throwaway database loses the constraint.
    if ledger.engine.dialect.name == "sqlite":
        raw = ledger.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA foreign_keys=OFF")
            raw.driver_connection.execute(ghost)
            raw.driver_connection.execute("PRAGMA foreign_keys=ON")
        finally:
            raw.close()
    else:
        with ledger.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE fills DROP CONSTRAINT fk_fills_order_id_orders")
            conn.exec_driver_sql(ghost)
    assert "fill ghost belongs to no order" in ledger.check_consistency(ACCOUNT, MODE, {"SPY": D(130)})


def test_two_ledger_objects_on_one_file_see_each_other(ledger: Ledger) -> None:
    other = open_ledger(ledger.url)
    try:
        _order(ledger, "c1")
        assert other.get_order("c1") is not None
        other.transition_order("c1", "submitted")
        assert ledger.get_order("c1").status == "submitted"
    finally:
        other.close()


def test_transaction_hands_out_the_session(ledger: Ledger) -> None:
    from sqlalchemy import text

    with ledger.transaction() as s:
        _order(ledger, "c1")
        assert s.execute(text("select count(*) from orders")).scalar() == 1
        assert ledger.in_transaction
    assert not ledger.in_transaction
