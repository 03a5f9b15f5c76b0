"""Storing the simulated venue costs the same on the thousandth session as on the first.

Three parts make that so, and each must leave what is stored exactly as before:

* the broker knows which leading orders and fills are settled (never change again),
  and works on the unsettled tail only;
* :func:`toolkit.engine.venue.venue_state` converts each settled order and fill once
  and must still equal ``to_dict()`` after every step;
* the ledger writes a state key set many times in one transaction (``coalesce=True``)
  at its first set and at the commit: the row left behind, value and time, is the one
  writing every set would have left.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from toolkit.brokers.simulated import SimulatedBroker
from toolkit.engine.venue import broker_state_key, save_venue, venue_state
from toolkit.errors import InvalidInput
from toolkit.ledger import Ledger, open_ledger
from toolkit.model import Instrument, Order, OrderSide, OrderType
from toolkit.time import execution_instant, sessions_in_range

SYMBOLS = ["AAA", "BBB", "CCC"]
SESSIONS = list(sessions_in_range("2018-01-02", "2018-06-29"))
T0 = dt.datetime(2018, 1, 2, 21, tzinfo=dt.UTC)


@pytest.fixture
def ledger(ledger_url: str) -> Ledger:
    """An empty ledger on each backend (SQLite; PostgreSQL where its test server runs)."""
    led = open_ledger(ledger_url)
    yield led
    led.close()


def stored_row(ledger: Ledger, key: str) -> tuple[Any, pd.Timestamp] | None:
    """The row as the database holds it right now (in the open transaction, if any), bypassing get_state."""
    with ledger.transaction() as s:
        row = s.execute(text("SELECT value, updated_at FROM system_state WHERE key = :k"), {"k": key}).first()
    if row is None:
        return None
    value = json.loads(row[0]) if isinstance(row[0], str) else row[0]  # SQLite keeps the text, PostgreSQL parses
    at = pd.Timestamp(row[1])
    return value, at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")


# ----------------------------------------------------------------- the broker's settled history

order_step = st.fixed_dictionaries({
    "symbol": st.sampled_from(SYMBOLS),
    "side": st.sampled_from(["buy", "buy", "sell"]),
    "quantity": st.integers(min_value=0, max_value=40),
    "limit_offset": st.none() | st.integers(min_value=-3, max_value=3),
})
session_step = st.fixed_dictionaries({
    "prices": st.fixed_dictionaries({s: st.integers(min_value=20, max_value=200) for s in SYMBOLS}),
    "volumes": st.none() | st.fixed_dictionaries({s: st.integers(min_value=0, max_value=600) for s in SYMBOLS}),
    "orders": st.lists(order_step, max_size=4),
    "second_update": st.booleans(),  # a later execution time of the same session: partial fills continue
})


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(session_step, min_size=1, max_size=14))
def test_venue_state_is_to_dict_after_every_step_and_settled_entries_never_change(steps):
    b = SimulatedBroker(initial_cash=D(20_000), slippage_bps=5, fee_bps=10, fixed_fee=D("0.5"),
                        max_participation=0.05, instruments={"CCC": Instrument.crypto("0.01", "1")})
    settled_seen: list[tuple[list, list]] = []  # (orders, fills) dicts settled at each check

    def check() -> None:
        full = b.to_dict()
        assert venue_state(b) == full
        n_orders, n_fills = b.settled_counts()
        assert n_fills == len(full["fills"])
        assert all(o["status"] in ("filled", "cancelled", "rejected") for o in full["orders"][:n_orders])
        assert n_orders == len(full["orders"]) or full["orders"][n_orders]["status"] not in (
            "filled", "cancelled", "rejected")
        assert b.to_dict(orders_from=n_orders, fills_from=n_fills) == {
            **full, "orders": full["orders"][n_orders:], "fills": []}
        assert b.history_dicts("orders", 0, n_orders) == full["orders"][:n_orders]
        for orders, fills in settled_seen:  # what was settled is still there, unchanged
            assert full["orders"][:len(orders)] == orders and full["fills"][:len(fills)] == fills
        settled_seen.append((json.loads(json.dumps(full["orders"][:n_orders])), json.loads(json.dumps(full["fills"]))))

    for i, (session, s) in enumerate(zip(SESSIONS, steps, strict=False)):
        prices = {k: D(v) for k, v in s["prices"].items()}
        b.set_market(prices, s["volumes"], at=execution_instant(session, "15min_after_open"))
        check()
        for j, o in enumerate(s["orders"]):
            kw = {}
            if o["limit_offset"] is not None:
                kw = {"order_type": OrderType.LIMIT, "limit_price": prices[o["symbol"]] + o["limit_offset"]}
            qty = D(o["quantity"]) / (100 if o["symbol"] == "CCC" else 1)
            b.submit_order(Order(client_order_id=f"o{i}-{j}", symbol=o["symbol"], side=OrderSide(o["side"]),
                                 quantity=qty, **kw))
            check()
        if s["second_update"]:
            b.set_market(prices, s["volumes"], at=execution_instant(session, "close"))
            check()
    b.end_session()
    check()
    restored = SimulatedBroker.from_dict(json.loads(json.dumps(venue_state(b))))
    assert restored.settled_counts() == b.settled_counts() and venue_state(restored) == b.to_dict()


def test_leaving_out_more_than_the_settled_history_is_refused():
    b = SimulatedBroker(initial_cash=D(1000), max_participation=0.5)
    b.set_market({"AAA": D(10)}, {"AAA": 10}, at=T0)
    b.submit_order(Order(client_order_id="a", symbol="AAA", side=OrderSide.BUY, quantity=D(8)))  # 5 fill, 3 open
    assert b.settled_counts() == (0, 1)
    with pytest.raises(InvalidInput, match="orders_from: got 1; allowed: 0 to 0"):
        b.to_dict(orders_from=1)
    with pytest.raises(InvalidInput, match="fills_from: got 2; allowed: 0 to 1"):
        b.to_dict(fills_from=2)
    b.end_session()
    assert b.settled_counts() == (1, 1)


# ----------------------------------------------------------------- the ledger's coalesced writes

def test_a_coalesced_key_is_written_at_its_first_set_and_at_the_commit_with_the_last_value(ledger):
    at = [T0 + dt.timedelta(minutes=i) for i in range(4)]
    with ledger.transaction():
        ledger.set_state("other", {"n": 0}, at=at[0])
        ledger.set_state("venue", {"n": 1}, at=at[1], coalesce=True)
        first = stored_row(ledger, "venue")
        ledger.set_state("venue", {"n": 2}, at=at[2], coalesce=True)
        ledger.set_state("venue", {"n": 3}, at=at[3], coalesce=True)
        assert stored_row(ledger, "venue") == first  # the repeats wait for the commit
        assert first == ({"n": 1}, pd.Timestamp(at[1]))
        assert ledger.get_state("venue") == {"n": 3}  # a read in the transaction sees the last value
        ledger.set_state("venue", {"n": 4}, at=at[3], coalesce=True)
    assert ledger.get_state("venue") == {"n": 4}
    row = stored_row(ledger, "venue")
    with ledger.transaction():
        ledger.set_state("venue", {"n": 4}, at=at[3])  # what writing every set would have left
    assert stored_row(ledger, "venue") == row == ({"n": 4}, pd.Timestamp(at[3]))


def test_a_coalesced_key_is_inserted_where_a_plain_write_inserts_it(tmp_path: Path):
    """The first set writes at once, so SQLite's row order (what a dump of the ledger lists) is unchanged."""
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as led:
        with led.transaction():
            led.set_state("venue", {"n": 1}, coalesce=True)
            led.set_state("other", {"n": 0})
            led.set_state("venue", {"n": 2}, coalesce=True)
            led.set_state("last", {"n": 0})
        with led.transaction() as s:
            keys = [r[0] for r in s.execute(text("SELECT key FROM system_state ORDER BY rowid"))]
    assert keys == ["venue", "other", "last"]


def test_a_rolled_back_transaction_leaves_no_coalesced_value(ledger):
    ledger.set_state("venue", {"n": 0}, at=T0, coalesce=True)  # outside a transaction: written at once
    assert ledger.get_state("venue") == {"n": 0}
    with pytest.raises(RuntimeError, match="crash"), ledger.transaction():
        ledger.set_state("venue", {"n": 1}, coalesce=True)
        ledger.set_state("venue", {"n": 2}, coalesce=True)
        raise RuntimeError("crash")
    assert ledger.get_state("venue") == {"n": 0}
    with ledger.transaction():  # and nothing of it is left pending for the next transaction
        ledger.set_state("other", {"n": 9})
    assert ledger.get_state("venue") == {"n": 0}


def test_a_plain_set_after_coalesced_ones_is_the_value_that_stays(ledger):
    with ledger.transaction():
        ledger.set_state("venue", {"n": 1}, coalesce=True)
        ledger.set_state("venue", {"n": 2}, coalesce=True)
        ledger.set_state("venue", {"n": 3})
    assert ledger.get_state("venue") == {"n": 3}


def test_a_value_that_is_not_json_fails_the_transaction_that_would_store_it(ledger):
    with pytest.raises(TypeError, match="cannot store object"), ledger.transaction():
        ledger.set_state("venue", {"n": 1}, coalesce=True)
        ledger.set_state("venue", {"n": object()}, coalesce=True)
    assert ledger.get_state("venue") is None


# ----------------------------------------------------------------- the venue in a replay batch

def test_a_batch_stores_the_venue_as_its_last_save_left_it(ledger):
    """Saves after each order of several sessions in one transaction; the commit stores the last save's state.

    The market moves on after the last save (a session with no order): the stored state
    must not pick that up, exactly as when every save was written.
    """
    b = SimulatedBroker(initial_cash=D(100_000), fee_bps=10, slippage_bps=5)
    key = broker_state_key("acct", "offline_mock")
    snapshots = []
    with ledger.transaction():
        for i, session in enumerate(SESSIONS[:41]):  # the last one trades nothing
            at = execution_instant(session, "close")
            b.set_market({"AAA": D(100 + i), "BBB": D(50 + i % 7)}, at=at)
            if i % 3 == 0:
                for sym, side in (("AAA", "buy"), ("BBB", "buy")) if i % 2 == 0 else (("AAA", "sell"), ("BBB", "sell")):
                    held = b.get_positions().get(sym, D(0))
                    qty = D(10) if side == "buy" else held
                    if qty:
                        b.submit_order(Order(client_order_id=f"{session.date()}-{sym}-{side}", symbol=sym,
                                             side=OrderSide(side), quantity=qty))
                        save_venue(ledger, b, account="acct", mode="offline_mock", at=at.to_pydatetime())
                        snapshots.append((json.loads(json.dumps(b.to_dict())), at))
    last, last_at = snapshots[-1]
    assert len(last["orders"]) > 20 and b.to_dict() != last  # the market moved on after the last save
    assert ledger.get_state(key) == last
    assert stored_row(ledger, key)[1] == last_at
    assert SimulatedBroker.from_dict(ledger.get_state(key)).to_dict() == last
