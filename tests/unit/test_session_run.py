"""run_session: closed days, idempotent re-runs, guards, kill switch, bad data, params errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine.daily import session_clock
from toolkit.engine.market import MarketCursor
from toolkit.engine.result import SessionError
from toolkit.engine.session import run_session
from toolkit.engine.venue import load_simulated_broker
from toolkit.errors import ParamsError
from toolkit.ledger import open_ledger

RAW = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 10, "slow": 30},
    "data": {"source": "sample", "symbols": ["NASDAQ", "SP500"], "start": "2017-06-01", "end": "2018-12-31"},
    "account": "unit",
    "costs": {"fees_bps": 10, "slippage_bps": 0},
    "guards": {"daily_loss_limit": None},
}


@pytest.fixture(scope="module")
def dataset():
    p = tkparams.validate("daily_dry_run", RAW)
    return load_dataset(p.data, base_dir=Path.cwd())


def _params(**update):
    raw = {**RAW, **update}
    return tkparams.validate("daily_dry_run", raw)


def _run(ledger, p, data):
    panel = data if isinstance(data, pd.DataFrame) else data.panel
    return run_session(p, ledger=ledger, broker=load_simulated_broker(ledger, p),
                       clock=session_clock(p.as_of, p.execution_time), market=MarketCursor(panel))


@pytest.fixture
def ledger(ledger_url: str):
    with open_ledger(ledger_url) as led:  # SQLite and PostgreSQL (tests/conftest.py)
        yield led


def test_first_session_trades_and_rerun_is_already_done(ledger, dataset) -> None:
    p = _params(as_of="2018-06-01")
    r = _run(ledger, p, dataset)
    assert r.status == "completed" and len(r.orders) == 2 and len(r.fills) == 2
    assert all(o.mode == "offline_mock" for o in r.orders)
    assert r.problems == []
    again = _run(ledger, p, dataset)
    assert again.status == "already_done" and "already done" in again.message
    assert len(ledger.orders()) == 2 and len(ledger.fills()) == 2
    snap = ledger.snapshots().iloc[-1]
    assert snap["context"]["mode"] == "offline_mock"


def test_closed_day_changes_nothing(ledger, dataset) -> None:
    r = _run(ledger, _params(as_of="2018-07-04"), dataset)
    assert r.status == "market_closed" and "market closed" in r.message
    assert ledger.orders().empty and ledger.snapshots().empty
    assert ledger.get_run(r.run_key).status == "market_closed"


def test_kill_switch_halts_everything_and_is_audited(ledger, dataset) -> None:
    # Issue 9 point 6: a session stopped by the kill switch used to be recorded as completed.
    ledger.set_kill_switch(True, "unit test")
    r = _run(ledger, _params(as_of="2018-06-01"), dataset)
    assert r.status == "halted" and r.orders == []
    assert any("kill_switch" in b for b in r.blocked)
    assert "guard_halt" in set(ledger.audit_log()["action"])
    assert ledger.get_run(r.run_key).status == "halted"
    assert ledger.get_run(r.run_key).summary["status"] == "halted"


def test_the_kill_switch_halts_a_quiet_session_and_a_crashed_runs_orders_too(ledger, dataset) -> None:
    # Issue 11: the kill switch blocks every run until it is reset, not only the runs
    # whose strategy wants to trade, and never lets a resumed run send what it recorded.
    first = _run(ledger, _params(as_of="2018-06-01"), dataset)
    assert first.status == "completed" and first.orders
    ledger.set_kill_switch(True, "panel test")
    quiet = _run(ledger, _params(as_of="2018-06-04"), dataset)
    assert quiet.decision is not None and not quiet.decision.rebalance
    assert quiet.status == "halted" and quiet.orders == [] and "panel test" in quiet.message
    assert ledger.get_run(quiet.run_key).status == "halted"


def test_a_run_resumed_while_the_kill_switch_is_on_sends_nothing(ledger, dataset, monkeypatch) -> None:
    # A run that crashed after recording its orders, resumed while the switch is on.
    from toolkit.engine import session

    class Crash(Exception):
        pass

    def crash_after_recording(step: str) -> None:
        if step == "order_recorded":
            raise Crash(step)

    monkeypatch.setattr(session, "crash_point", crash_after_recording)
    p = _params(as_of="2018-06-01")
    with pytest.raises(Crash):
        _run(ledger, p, dataset)
    recorded = ledger.orders()
    assert len(recorded) == 2 and set(recorded["status"]) == {"new"}
    ledger.set_kill_switch(True, "stop everything")
    monkeypatch.undo()
    resumed = _run(ledger, p, dataset)
    assert resumed.status == "halted" and resumed.fills == []
    assert set(ledger.orders()["status"]) == {"new"} and ledger.fills().empty
    ledger.set_kill_switch(False, "go on")
    done = _run(ledger, p, dataset)
    assert done.status == "completed" and len(done.fills) == 2


def test_after_the_kill_switch_is_lifted_the_account_returns_to_its_targets(ledger, dataset) -> None:
    # Issue 9 point 6: the kill switch stopped the account's first (buying) session; the next
    # session has no rebalance of its own, and the account used to stay flat forever.
    ledger.set_kill_switch(True, "unit test")
    halted = _run(ledger, _params(as_of="2018-06-01"), dataset)
    assert halted.status == "halted" and ledger.positions("unit", "offline_mock") == {}
    assert halted.decision.target_weights["NASDAQ"] > 0
    still_on = _run(ledger, _params(as_of="2018-06-04"), dataset)  # still halted: the debt is kept
    assert still_on.status == "halted" and ledger.positions("unit", "offline_mock") == {}
    ledger.set_kill_switch(False, "unit test done")
    after = _run(ledger, _params(as_of="2018-06-05"), dataset)
    assert after.status == "completed" and "guards stopped the orders of the last session" in after.message
    held = ledger.positions("unit", "offline_mock")
    assert set(held) == {"NASDAQ", "SP500"} and all(p.quantity > 0 for p in held.values())
    quiet = _run(ledger, _params(as_of="2018-06-06"), dataset)  # back at the targets: nothing more to do
    assert quiet.status == "completed" and quiet.orders == [] and "no rebalance today" in quiet.message


def test_a_halted_session_is_tried_again_when_run_again(ledger, dataset) -> None:
    ledger.set_kill_switch(True, "unit test")
    p = _params(as_of="2018-06-01")
    assert _run(ledger, p, dataset).status == "halted"
    ledger.set_kill_switch(False, "unit test done")
    again = _run(ledger, p, dataset)
    assert again.status == "completed" and again.resumed and len(again.fills) == 2


def test_holdings_contradicting_the_targets_are_traded_back(ledger, dataset) -> None:
    # Drift is measured against the actual holdings. A ledger written before issue 9 has
    # the kill-switch session recorded as completed and no note that orders are owed:
    # the holdings alone (targets > 0, nothing held) must bring the account back.
    from toolkit.engine.snapshots import perf_key

    ledger.set_kill_switch(True, "unit test")
    _run(ledger, _params(as_of="2018-06-01"), dataset)
    key = perf_key("sma_crossover", "unit", "offline_mock")
    state = ledger.get_state(key)
    assert state.pop("owed") is True
    ledger.set_state(key, state)  # as the old toolkit left it
    ledger.set_kill_switch(False, "unit test done")
    after = _run(ledger, _params(as_of="2018-06-04"), dataset)
    assert "holdings differ from the strategy's targets" in after.message and "NASDAQ target" in after.message
    assert after.status == "completed" and len(after.fills) == 2


def test_why_trade_without_rebalance_compares_signs_not_drift() -> None:
    from toolkit.engine.planning import why_trade_without_rebalance

    perf = {"equity": "1"}
    targets = {"NASDAQ": 0.5, "SP500": 0.5}
    one = {"NASDAQ": 1, "SP500": 1}
    # Weights that drifted (3 vs 1 share at the same price) are no reason: the backtest holds them too.
    assert why_trade_without_rebalance(perf, targets, {"NASDAQ": 3, "SP500": 1}, one) is None
    msg = why_trade_without_rebalance(perf, targets, {"NASDAQ": 3}, one)
    assert msg is not None and "SP500 target 50%, held 0" in msg
    assert "QQQ" in why_trade_without_rebalance(perf, {"QQQ": 0.0}, {"QQQ": 5}, {"QQQ": 1})
    assert "PSQ" in why_trade_without_rebalance(perf, {"PSQ": -0.2}, {"PSQ": 5}, {"PSQ": 1})
    assert why_trade_without_rebalance(perf, {"TLT": 0.4}, {}, {}) is None  # no price: not compared
    assert "first session" in why_trade_without_rebalance({}, targets, {}, {})
    assert "guards stopped" in why_trade_without_rebalance({"owed": True}, targets, {"NASDAQ": 3, "SP500": 1}, one)


def test_order_guard_block_is_recorded(ledger, dataset) -> None:
    r = _run(ledger, _params(as_of="2018-06-01", guards={"daily_loss_limit": None, "max_order_notional": 10000}), dataset)
    assert r.orders == [] and len(r.blocked) == 2
    assert r.status == "blocked" and ledger.get_run(r.run_key).status == "blocked"
    audit = ledger.audit_log(action="guard_block")
    assert len(audit) == 2 and "max_order_notional" in audit.iloc[0]["detail"]["reason"]


def test_stale_data_stops_before_any_order(ledger, dataset) -> None:
    panel = dataset.panel.loc[:"2018-05-30"]
    p = _params(as_of="2018-06-01")
    with pytest.raises(SessionError, match="stale data.*run again"):
        _run(ledger, p, panel)
    assert ledger.orders().empty
    assert ledger.get_run("sma_crossover|unit|2018-06-01|close").status == "failed"


def test_corrupt_bar_stops_before_any_order(ledger, dataset) -> None:
    panel = dataset.panel.copy()
    panel.loc[pd.Timestamp("2018-06-01", tz="UTC"), ("NASDAQ", "close")] = np.nan
    with pytest.raises(SessionError, match="NASDAQ close on 2018-06-01.*missing or corrupt"):
        _run(ledger, _params(as_of="2018-06-01"), panel)
    assert ledger.orders().empty


def test_sell_session_sells_before_buying(ledger, dataset) -> None:
    _run(ledger, _params(as_of="2018-06-01"), dataset)
    r = _run(ledger, _params(as_of="2018-06-29"), dataset)
    sides = [o.side for o in r.orders]
    assert "sell" in sides and sides == sorted(sides, key=lambda s: s != "sell")
    assert r.snapshot.daily_return is not None and r.problems == []


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"strategy": "nope"}, "strategy"),
        ({"data": {"source": "sample", "symbols": ["FOO"]}}, "data.symbols"),
        ({"mode": "online_live"}, "mode"),
        ({"as_of": "2030-01-02"}, "as_of"),
        ({"guards": {"bogus": 1}}, "guards.bogus"),
    ],
)
def test_bad_params_name_the_field(update, field) -> None:
    with pytest.raises(ParamsError) as exc:
        tkparams.validate("daily_dry_run", {**RAW, **update})
    assert exc.value.field == field


def test_newer_ledger_schema_is_refused(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from toolkit.engine.daily import run_daily

    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    open_ledger(url).close()
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    eng.dispose()
    with pytest.raises(SessionError, match="No order was sent"):
        run_daily(_params(as_of="2018-06-01", db_url=url))


def test_default_as_of_is_last_session(dataset) -> None:
    p = _params()
    assert p.as_of is None
    assert dataset.panel.index[-1].date() == dt.date(2018, 12, 31)


def test_participation_cap_fills_part_and_cancels_the_rest(ledger, dataset) -> None:
    """A cap of 1e-9 of the index's ~2e9 daily volume allows 2 shares of a ~10-share order."""
    p = _params(as_of="2018-06-01", broker={"max_participation": 1e-9}, costs={"fees_bps": 10, "slippage_bps": 0, "fixed_fee": 1.0})
    r = _run(ledger, p, dataset)
    assert r.status == "completed" and r.problems == []
    orders = ledger.orders()
    assert set(orders["status"]) == {"cancelled"}
    assert (orders["filled_quantity"] > 0).all() and (orders["filled_quantity"] < orders["quantity"]).all()
    fills = ledger.fills()
    vol = {s: float(dataset.panel[(s, "volume")].loc["2018-06-01"]) for s in ("NASDAQ", "SP500")}
    for _, f in fills.iterrows():
        assert float(f["quantity"]) <= vol[f["symbol"]] * 1e-9
        assert float(f["fees"]) >= 1.0  # the fixed fee is charged on the order's first fill
    events = ledger.order_events(orders["client_order_id"].iloc[0])
    assert [e.to_status for e in events][-2:] == ["partially_filled", "cancelled"]


def test_crypto_symbol_trades_in_lot_steps_above_min_notional(ledger, shared_data) -> None:
    """Real Binance closes (../shared/data): BTCUSDT quantities are multiples of 0.00001."""
    from decimal import Decimal

    raw = {
        **RAW,
        "strategy_params": {"fast": 5, "slow": 20},
        "data": {"source": "csv", "path": str(shared_data / "daily/alphasim/crypto_closes_2019_2022.csv"),
                 "symbols": ["BTCUSDT"], "start": "2020-01-01", "end": "2021-12-31"},
        "account": "crypto",
        "initial_cash": 1000,
        "instruments": {"BTCUSDT": {"step_size": 0.00001, "min_notional": 10}},
        "as_of": "2021-02-09",
    }
    p = tkparams.validate("daily_dry_run", raw)
    data = load_dataset(p.data, base_dir=Path.cwd())
    r = _run(ledger, p, data)
    assert r.status == "completed" and r.problems == []
    fills = ledger.fills()
    assert len(fills) == 1
    qty = Decimal(str(fills["quantity"].iloc[0]))
    assert qty > 0 and qty % Decimal("0.00001") == 0 and qty != qty.to_integral_value()
    assert qty * Decimal(str(fills["price"].iloc[0])) >= 10


def test_a_missing_bar_holds_the_symbol_and_trades_the_others(ledger, dataset) -> None:
    """Gap policy: on 2018-10-05 NASDAQ's SMAs cross down (sell) while SP500 stays long, and
    SP500's bar is missing. The session completes, sells NASDAQ and leaves SP500 as it was
    (before the policy the whole session stopped on the missing bar)."""
    _run(ledger, _params(as_of="2018-07-13"), dataset)
    held = ledger.positions("unit", "offline_mock")["SP500"].quantity
    assert held > 0
    panel = dataset.panel.copy()
    panel.loc[pd.Timestamp("2018-10-05", tz="UTC"), "SP500"] = np.nan
    r = _run(ledger, _params(as_of="2018-10-05"), panel)
    assert r.status == "completed"
    assert {(o.symbol, o.side) for o in r.orders} == {("NASDAQ", "sell")}
    assert ledger.positions("unit", "offline_mock")["SP500"].quantity == held
    assert r.decision.target_weights["SP500"] == 0.5  # the strategy held its target
    assert any("SP500 has no bar on 2018-10-05" in m for m in r.messages)
    assert any("no close price on 2018-10-05 for SP500" in m and "position held" in m for m in r.messages)
    assert r.snapshot is not None and r.problems == []


def test_translator_and_simulated_venue_use_one_cost_model(tmp_path):
    """The translator's cash allowance equals what the venue charges only if both hold the same numbers."""
    from toolkit import params as P
    from toolkit.engine.costs import session_cost_model
    from toolkit.engine.venue import load_simulated_broker
    from toolkit.ledger import open_ledger

    p = P.validate("daily_dry_run", {"costs": {"fees_bps": 0.1234567, "slippage_bps": 1.2345678, "fixed_fee": 0.5}})
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        venue = load_simulated_broker(ledger, p)
    assert venue.costs == session_cost_model(p.costs)
    assert str(venue.costs.fee_bps) == "0.1234567"  # as typed, not rounded to the ledger's 6 places
