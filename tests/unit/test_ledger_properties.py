"""Property tests of the ledger's accounting over random trade sequences.

For any sequence of buys and sells (sells never exceed the holding), with
partial fills and cancelled remainders:

* cash + positions value = initial cash + realised + unrealised - fees
  (exactly when every ``qty * price`` fits six decimals, within the per-fill
  rounding otherwise);
* realised PnL and open lots equal an independent FIFO model kept by the test;
* lots are never negative, at every step;
* :meth:`Ledger.check_consistency` finds nothing, at every step;
* re-recording an order never duplicates it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.postgres import BACKENDS, sqlite_or_postgres

from toolkit.ledger import Ledger, open_ledger

MODE = "offline_mock"
_accounts = itertools.count()
SYMBOLS = ("AAA", "BBB", "CCC")
INITIAL = D("50000000")


@pytest.fixture(scope="module", params=BACKENDS)
def shared_ledger(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, list[datetime]]]:
    """One ledger for all examples, per backend; each example trades its own account, so books are separate.

    A fresh database per example would spend the run on migrations and on
    SQLAlchemy compiling the same statements for every new engine.
    """
    now = [datetime(2024, 1, 2, 14, 30, tzinfo=UTC)]
    sqlite = f"sqlite:///{tmp_path_factory.mktemp('prop') / 'ledger.sqlite'}"
    for url in sqlite_or_postgres(request, sqlite, fresh=True):  # its own database: it spans the module
        ledger = open_ledger(url, clock=lambda: now[0])
        yield ledger, now
        ledger.close()


def _amount(max_units: int, places: int) -> st.SearchStrategy[D]:
    return st.integers(1, max_units).map(lambda n: D(n).scaleb(-places))


@st.composite
def trade_plans(draw: st.DrawFn) -> dict:
    qty_places = draw(st.sampled_from([0, 3, 6]))
    price_places = draw(st.sampled_from([2, 6]))
    steps = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "symbol": st.sampled_from(SYMBOLS),
                    "side": st.sampled_from(["buy", "buy", "sell"]),
                    "qty": _amount(500 * 10**qty_places, qty_places),
                    "sell_fraction": st.integers(1, 100),
                    "price": _amount(1000 * 10**price_places, price_places),
                    "fees": st.integers(0, 500).map(lambda n: D(n).scaleb(-2)),
                    "pieces": st.integers(1, 3),
                    "cancel_rest": st.booleans(),
                    "minutes": st.integers(0, 3),
                }
            ),
            min_size=1,
            max_size=25,
        )
    )
    marks = {s: draw(_amount(1000 * 10**price_places, price_places)) for s in SYMBOLS}
    return {"qty_places": qty_places, "price_places": price_places, "steps": steps, "marks": marks}


def _split(total: D, pieces: int, places: int) -> list[D]:
    """Split ``total`` into up to ``pieces`` positive parts on the ``places`` grid."""
    unit = D(1).scaleb(-places)
    units = int(total / unit)
    pieces = max(1, min(pieces, units))
    base, extra = divmod(units, pieces)
    return [(base + (1 if i < extra else 0)) * unit for i in range(pieces)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=trade_plans())
def test_random_trading_keeps_the_books_consistent(shared_ledger: tuple[Ledger, list[datetime]], plan: dict) -> None:
    ledger, clock_t = shared_ledger
    account = f"prop-{next(_accounts)}"
    places = plan["qty_places"]
    exact = places + plan["price_places"] <= 6
    model: dict[str, deque[list[D]]] = defaultdict(deque)  # symbol -> FIFO of [qty, cost]
    model_realised: dict[str, D] = defaultdict(lambda: D(0))
    fees_paid = D(0)
    n_fills = 0
    placed = 0
    ledger.set_initial_cash(account, MODE, INITIAL)
    with ledger.transaction():  # one commit per example keeps the test fast; checks read inside it
        for i, step in enumerate(plan["steps"]):
            clock_t[0] += timedelta(minutes=step["minutes"], seconds=1)
            symbol, side = step["symbol"], step["side"]
            held = sum((q for q, _ in model[symbol]), D(0))
            if side == "sell":
                if held == 0:
                    continue
                unit = D(1).scaleb(-places)
                qty = max(unit, (held * step["sell_fraction"] / 100).quantize(unit, rounding="ROUND_DOWN"))
                qty = min(qty, held)
            else:
                qty = step["qty"]
            cid = f"{account}-o{i}"
            kwargs = dict(client_order_id=cid, run_key=None, mode=MODE, strategy="prop", account=account,
                          symbol=symbol, side=side, quantity=qty)
            ledger.record_order(**kwargs)
            ledger.record_order(**kwargs)  # a re-run: must not duplicate
            placed += 1
            ledger.transition_order(cid, "submitted")
            parts = _split(qty, step["pieces"], places)
            if step["cancel_rest"] and len(parts) > 1:
                parts = parts[:-1]
            for j, part in enumerate(parts):
                fee = step["fees"] if j == 0 else D(0)
                ledger.record_fill(cid, f"{account}-f{i}-{j}", part, step["price"], fee)
                n_fills += 1
                fees_paid += fee
                # Independent FIFO model.
                if side == "buy":
                    model[symbol].append([part, step["price"]])
                else:
                    left = part
                    while left:
                        lot = model[symbol][0]
                        take = min(lot[0], left)
                        model_realised[symbol] += take * (step["price"] - lot[1])
                        lot[0] -= take
                        left -= take
                        if lot[0] == 0:
                            model[symbol].popleft()
            if sum(parts) < qty:
                ledger.transition_order(cid, "cancelled", "rest cancelled")
                assert ledger.get_order(cid).status == "cancelled"
            else:
                assert ledger.get_order(cid).status == "filled"

            lots = ledger.lots(account, MODE, include_closed=True)
            assert all(lot.open_quantity >= 0 for lot in lots)
            assert ledger.check_consistency(account, MODE, plan["marks"]) == []

    # After the commit, from a fresh read.
    marks = plan["marks"]
    assert ledger.check_consistency(account, MODE, marks) == []
    orders = ledger.orders(account=account, mode=MODE)
    assert len(orders) == placed == orders["client_order_id"].nunique()
    positions = ledger.positions(account, MODE, include_flat=True)
    open_lots = ledger.lots(account, MODE)
    for symbol in SYMBOLS:
        expected_lots = [(q, c) for q, c in model[symbol]]
        assert [(lot.open_quantity, lot.cost_price) for lot in open_lots if lot.symbol == symbol] == expected_lots
        pos = positions.get(symbol)
        assert (pos.quantity if pos else D(0)) == sum((q for q, _ in expected_lots), D(0))
        if exact:
            assert (pos.realised_pnl if pos else D(0)) == model_realised[symbol]
        elif pos:
            assert abs(pos.realised_pnl - model_realised[symbol]) <= D("0.000001") * n_fills

    cash = ledger.cash(account, MODE)
    value = sum((lot.open_quantity * marks[lot.symbol] for lot in open_lots), D(0))
    unrealised = sum((lot.open_quantity * (marks[lot.symbol] - lot.cost_price) for lot in open_lots), D(0))
    realised = sum((p.realised_pnl for p in positions.values()), D(0))
    fills = ledger.fills(account=account, mode=MODE)
    assert sum(fills["fees"], D(0)) == fees_paid
    lhs = cash + value
    rhs = INITIAL + realised + unrealised - fees_paid
    if exact:
        assert lhs == rhs
    else:
        assert abs(lhs - rhs) <= D("0.000001") * max(n_fills, 1)
