"""A paper session at Alpaca end to end: the real adapter (alpaca-py) against the local stand-in.

The stand-in (``tests/support/alpaca_standin.py``) speaks Alpaca's trading and data
APIs over real HTTP and serves real SPY and AGG daily bars (../shared/data/daily/qstrader);
its clock is 2015-12-01 15:55 New York. Each test runs :func:`toolkit.engine.live.run_live`
with the environment's credentials (dummy keys) and a real SQLite ledger, then asks the
stand-in what it received: every order exactly once, the ledger equal to the broker.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from toolkit.engine.live import run_live
from toolkit.engine.result import SessionError
from toolkit.ledger import open_ledger
from toolkit.params import notebooks
from toolkit.time import FixedClock

from support.alpaca_standin import StandIn

NOW = "2015-12-01T20:55:00Z"  # 15:55 New York (EST): 5min_before_close
#: The latest trades the stand-in reports at 15:55 (SPY: its real close that day; AGG: 23 bp under it).
PRICES = {"SPY": 210.679993, "AGG": 108.57}


@pytest.fixture
def standin(shared_data: Path):
    with StandIn.start(bars=[shared_data / "daily" / "qstrader"], symbols=["SPY", "AGG"], now=NOW) as running:
        running.set_prices(PRICES)
        yield running


@pytest.fixture
def env(standin: StandIn, alpaca_env: dict[str, str], cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("APCA_API_BASE_URL", standin.base_url)
    monkeypatch.setenv("APCA_API_DATA_URL", standin.base_url)
    return {**alpaca_env, "APCA_API_BASE_URL": standin.base_url, "APCA_API_DATA_URL": standin.base_url}


def live_params(tmp_path: Path, **extra: Any):
    raw: dict[str, Any] = {
        "strategy": "sma_crossover", "strategy_params": {"fast": 5, "slow": 20},
        "data": {"source": "alpaca", "symbols": ["SPY", "AGG"], "start": "2015-06-01"},
        "account": "paper-test", "mode": "paper", "execution_time": "5min_before_close",
        "broker": {"name": "alpaca", "poll_seconds": 1, "order_timeout_seconds": 30},
        "costs": {"fees_bps": 0, "slippage_bps": 0},
        "db_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
    }
    for key, value in extra.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) and isinstance(raw.get(key), dict) else value
    return notebooks.validate("live", raw)


class SteppingClock(FixedClock):
    """The session's clock; waiting moves it (and the stand-in's) forward instead of sleeping."""

    def __init__(self, standin: StandIn) -> None:
        super().__init__(NOW)
        self.standin = standin
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.standin.set_now(self.advance(pd.Timedelta(seconds=seconds)).isoformat())


def run(params, standin: StandIn, env: dict[str, str], **kw: Any):
    clock = SteppingClock(standin)
    return run_live(params, environ=env, clock=clock, sleep=clock.sleep, **kw), clock


def posts(standin: StandIn) -> dict[str, int]:
    return dict(standin.state()["post_counts"])


def broker_positions(standin: StandIn) -> dict[str, Decimal]:
    return {s: Decimal(p["qty"]) for s, p in standin.state()["positions"].items() if Decimal(p["qty"])}


def test_paper_session_trades_once_and_the_ledger_equals_the_broker(tmp_path, standin, env):
    params = live_params(tmp_path)
    result, _ = run(params, standin, env)
    assert result.stopped is None, result.stopped
    session = result.session
    assert session is not None and session.status == "completed", session.messages
    assert session.orders, "the first session of the account buys its targets"
    # every order went to Alpaca exactly once, under its deterministic id, and filled at the quote
    assert posts(standin) == {o.client_order_id: 1 for o in session.orders}
    assert all(o.broker_order_id for o in session.orders)
    assert {f.symbol: f.price for f in session.fills} == {
        s: Decimal(str(p)).quantize(Decimal("0.000001")) for s, p in PRICES.items() if s in {f.symbol for f in session.fills}}
    # the decision prices are the broker's latest trades, with their time and source
    assert set(result.quotes) == {"SPY", "AGG"}
    assert all(q.source == "alpaca:latest_trade:iex at 15:55:00 America/New_York" for q in result.quotes.values())
    assert any("decision price SPY" in m for m in session.messages)
    assert result.reconciliation is not None and result.reconciliation.ok
    assert result.reconciliation.funded is not None  # a new account is funded with the broker's cash (audited)
    with open_ledger(params.db_url) as ledger:
        held = {s: p.quantity for s, p in ledger.positions("paper-test", "paper").items() if p.quantity}
        assert held == broker_positions(standin)
        assert ledger.check_consistency("paper-test", "paper", {s: Decimal(str(p)) for s, p in PRICES.items()}) == []
        audit = ledger.audit_log(action="decision_prices")
        assert len(audit) == 1 and set(audit["detail"].iloc[0]["prices"]) == {"SPY", "AGG"}
    # the account monitor read the account before and after
    assert result.account_before is not None and result.account_after is not None
    assert result.account_after.cash < result.account_before.cash

    # the same session again: already done, nothing sent again
    again, _ = run(params, standin, env)
    assert again.session is not None and again.session.status == "already_done"
    assert posts(standin) == {o.client_order_id: 1 for o in session.orders}


def test_a_position_the_ledger_does_not_know_stops_the_session_before_any_order(tmp_path, standin, env):
    from alpaca.trading.client import TradingClient
    from alpaca.trading.requests import MarketOrderRequest

    TradingClient("k", "s", url_override=standin.base_url).submit_order(MarketOrderRequest(
        symbol="SPY", qty=3, side="buy", time_in_force="day", client_order_id="by-hand-1"))
    params = live_params(tmp_path)
    result, _ = run(params, standin, env)
    assert result.stopped is not None and "ledger and broker disagree" in result.stopped
    assert "position SPY: missing_local (ledger -, broker 3)" in result.stopped
    assert posts(standin) == {"by-hand-1": 1}  # nothing of ours was sent
    with pytest.raises(SessionError):
        result.raise_if_stopped()
    table = result.reconciliation.table()
    assert table.loc[table["key"] == "SPY", "status"].item() == "missing_local"
    with open_ledger(params.db_url) as ledger:
        run_row = ledger.runs(account="paper-test")
        assert list(run_row["status"]) == ["failed"]

    # adopt_broker: the ledger takes the broker's position (audited), then the session trades
    adopted, _ = run(live_params(tmp_path, reconcile="adopt_broker"), standin, env)
    assert adopted.stopped is None, adopted.stopped
    assert adopted.reconciliation.ok and any("position SPY: buy 3" in a for a in adopted.reconciliation.adopted)
    assert adopted.session is not None and adopted.session.status == "completed"
    with open_ledger(params.db_url) as ledger:
        held = {s: p.quantity for s, p in ledger.positions("paper-test", "paper").items() if p.quantity}
        assert held == broker_positions(standin)
        assert len(ledger.audit_log(action="adopt_broker")) == 1
    assert all(n == 1 for n in posts(standin).values())


def test_a_stale_quote_blocks_the_session(tmp_path, standin, env):
    standin.set_prices({"SPY": None})  # SPY's latest trade is then its daily bar: midnight, hours old
    params = live_params(tmp_path)
    result, _ = run(params, standin, env)
    assert result.stopped is not None and result.stopped.startswith("stale quote: SPY's latest trade at or before "
                                                                    "15:55 America/New_York on 2015-12-01 is 00:00")
    assert "more than the 2 min allowed by guards.max_data_age" in result.stopped
    assert posts(standin) == {}


def test_real_money_without_a_recorded_confirmation_calls_no_broker(tmp_path, standin, env):
    params = live_params(tmp_path, mode="online_live", confirm_live="paper-test")
    before = dict(standin.state()["request_counts"])
    with pytest.raises(SessionError, match=r"toolkit live confirm --account paper-test"):
        run(params, standin, env)
    after = {k: v for k, v in standin.state()["request_counts"].items() if not k.startswith("GET /_control")}
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}


def test_the_accounts_config_override_is_used_and_recorded(tmp_path, standin, env, shared_data, monkeypatch):
    params = live_params(tmp_path)
    with open_ledger(params.db_url) as ledger:
        ledger.set_override("strategy_params.fast", 10, "slower signal", actor="ann", account="paper-test")
        ledger.set_override("strategy_params.fast", 2, "another account's", account="someone-else")
    result, _ = run(params, standin, env)
    # The same session with fast: 10 written in the params, at a broker of its own (same bars, same prices).
    with StandIn.start(bars=[shared_data / "daily" / "qstrader"], symbols=["SPY", "AGG"], now=NOW) as other:
        other.set_prices(PRICES)
        monkeypatch.setenv("APCA_API_BASE_URL", other.base_url)
        monkeypatch.setenv("APCA_API_DATA_URL", other.base_url)
        direct, _ = run(live_params(tmp_path / "direct", strategy_params={"fast": 10}), other,
                        {**env, "APCA_API_BASE_URL": other.base_url, "APCA_API_DATA_URL": other.base_url})
    assert result.session is not None and direct.session is not None and result.stopped is None
    assert result.params is not None and result.params.strategy_params["fast"] == 10
    assert [(o.key, o.value, o.base, o.actor) for o in result.overrides] == [("strategy_params.fast", 10, 5, "ann")]
    assert result.session.overrides == result.overrides and direct.overrides == ()
    assert result.session.decision is not None and direct.session.decision is not None
    assert result.session.decision.context == direct.session.decision.context
    assert [(o.symbol, o.side, o.quantity) for o in result.session.orders] == [
        (o.symbol, o.side, o.quantity) for o in direct.session.orders]
    with open_ledger(params.db_url) as ledger:
        run_row = ledger.get_run(result.session.run_key)
    assert run_row is not None and run_row.summary["overrides"][0]["reason"] == "slower signal"
    assert "overrides" not in direct.session.summary()


def test_online_live_through_an_override_is_refused_before_any_broker_call(tmp_path, standin, env):
    params = live_params(tmp_path)
    with open_ledger(params.db_url) as ledger:
        ledger.confirm_live("paper-test", actor="ann")
        ledger.set_override("mode", "online_live", "go live", actor="ann", account="paper-test")
    before = dict(standin.state()["request_counts"])
    # The live params need confirm_live: <account> for real money; the override alone does not say it.
    with pytest.raises(SessionError, match=r"^config override mode='online_live' .* refused by the live params: "
                                           r"confirm_live: got None"):
        run(params, standin, env)
    after = {k: v for k, v in standin.state()["request_counts"].items() if not k.startswith("GET /_control")}
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}


def test_a_partial_fill_is_followed_and_the_remainder_cancelled_at_the_timeout(tmp_path, standin, env):
    standin.set_fill_mode("partial", fraction=0.5)
    params = live_params(tmp_path, broker={"order_timeout_seconds": 5, "poll_seconds": 1})
    result, clock = run(params, standin, env)
    session = result.session
    assert session is not None and session.status == "completed", result.stopped
    assert clock.slept, "the session waited for the remainder"
    buys = [o for o in session.orders if o.side == "buy"]
    assert buys and all(o.status == "cancelled" and 0 < o.filled_quantity < o.quantity for o in buys)
    assert any("the remainder was cancelled" in m for m in session.messages)
    with open_ledger(params.db_url) as ledger:
        held = {s: p.quantity for s, p in ledger.positions("paper-test", "paper").items() if p.quantity}
    assert held == broker_positions(standin)
    assert all(n == 1 for n in posts(standin).values())


def test_a_500_after_the_order_was_placed_is_looked_up_not_resent(tmp_path, standin, env):
    standin.add_faults({"method": "POST", "path": "/v2/orders", "status": 500, "after_processing": True})
    params = live_params(tmp_path)
    result, _ = run(params, standin, env)
    assert result.session is not None and result.session.status == "completed", result.stopped
    assert all(n == 1 for n in posts(standin).values()) and posts(standin)
    with open_ledger(params.db_url) as ledger:
        held = {s: p.quantity for s, p in ledger.positions("paper-test", "paper").items() if p.quantity}
    assert held == broker_positions(standin)


def test_before_the_execution_time_nothing_is_sent(tmp_path, standin, env):
    standin.set_now("2015-12-01T15:00:00Z")  # 10:00 New York
    params = live_params(tmp_path)
    clock = FixedClock("2015-12-01T15:00:00Z")
    with pytest.raises(SessionError, match="the market is not at the execution time"):
        run_live(params, environ=env, clock=clock, sleep=lambda s: None)
    assert posts(standin) == {}


def _next_day(standin: StandIn) -> None:
    standin.set_now("2015-12-02T20:55:00Z")
    standin.set_prices({"SPY": 208.5, "AGG": 108.6})


def next_day_run(params, standin: StandIn, env: dict[str, str]):
    clock = SteppingClock(standin)
    clock.advance_to("2015-12-02T20:55:00Z")
    return run_live(params, environ=env, clock=clock, sleep=clock.sleep)


def test_a_dividend_sized_cash_difference_is_booked_a_large_one_stops(tmp_path, standin, env):
    params = live_params(tmp_path)
    first, _ = run(params, standin, env)
    assert first.session is not None and first.session.status == "completed"
    cash = Decimal(standin.state()["cash"])
    standin.set_account(cash=str(cash + Decimal("123.45")))  # a dividend paid by the broker
    _next_day(standin)
    second = next_day_run(params, standin, env)
    assert second.stopped is None, second.stopped
    row = second.reconciliation.table().set_index("kind").loc["cash"]
    assert row["status"] == "booked" and row["difference"] == "123.45"
    with open_ledger(params.db_url) as ledger:
        booked = ledger.audit_log(action="adopt_broker_cash")
        assert "broker cash activity" in booked["detail"].iloc[-1]["reason"]
    # a withdrawal of 5% of equity is not cash activity: the next session stops on it
    standin.set_account(cash=str(Decimal(standin.state()["cash"]) - Decimal(5000)))
    standin.set_now("2015-12-03T20:55:00Z")
    clock = SteppingClock(standin)
    clock.advance_to("2015-12-03T20:55:00Z")
    third = run_live(params, environ=env, clock=clock, sleep=clock.sleep)
    assert third.stopped is not None and "cash USD: quantity_mismatch" in third.stopped


def test_the_4th_day_trade_warning_is_given_before_any_order(tmp_path, standin, env):
    standin.set_account(daytrade_count=3, cash="20000")
    result, _ = run(live_params(tmp_path), standin, env)
    before = [w for w in result.warnings if w.startswith("before the session")]
    assert before and "a 4th day trade flags the account as a pattern day trader" in before[0]


def test_a_quote_that_moved_past_the_slippage_limit_before_the_submit_sends_nothing(tmp_path, standin, env):
    """The decision is made on one latest trade; just before the POST the broker's price is asked again."""
    from toolkit.brokers.alpaca import AlpacaBroker

    class MovingMarket(AlpacaBroker):  # the real adapter; the stand-in's price moves after the decision
        calls = 0

        def latest_trades(self, symbols):  # type: ignore[no-untyped-def]
            MovingMarket.calls += 1
            if MovingMarket.calls == 2:
                standin.set_prices({s: p * 1.03 for s, p in PRICES.items()})
            return super().latest_trades(symbols)

    broker = MovingMarket.from_env(paper=True, environ=env)
    result, _ = run(live_params(tmp_path), standin, env, broker=broker)
    session = result.session
    assert session is not None and session.orders
    assert all(o.status == "cancelled" for o in session.orders)
    assert posts(standin) == {}
    with open_ledger(live_params(tmp_path).db_url) as ledger:
        detail = ledger.audit_log(action="guard_block")["detail"].iloc[-1]
        assert "slippage_abort" in detail["reason"]
        # Named by run and account, so the panel lists it under the account's guard activations.
        assert detail["run_key"] == session.orders[0].run_key
        assert detail["account"] == live_params(tmp_path).account
        from toolkit.widgets.views import guard_rows
        rows = guard_rows(ledger.audit_log(), live_params(tmp_path).account)
        assert [r["guard"] for r in rows if r["action"] == "guard_block"] == ["slippage_abort"] * len(session.orders)


def test_real_money_stays_on_the_broker_account_it_was_confirmed_for(tmp_path, standin, env):
    params = live_params(tmp_path, mode="online_live", confirm_live="paper-test")
    with open_ledger(params.db_url) as ledger:
        ledger.confirm_live("paper-test", actor="tester")
    first, _ = run(params, standin, env)
    assert first.stopped is None and first.session is not None and first.session.status == "completed"
    standin.set_account(account_number="PA0OTHERACCT")  # the keys now reach another real account
    _next_day(standin)
    second = next_day_run(params, standin, env)
    assert second.stopped is not None and "the credentials now reach PA0OTHERACCT" in second.stopped
    assert len(standin.state()["post_counts"]) == len(first.session.orders)


def test_with_minute_bars_the_session_decides_and_trades_on_the_last_minute_at_1555(tmp_path, shared_data, alpaca_env,
                                                                                     cache_dir):
    """data.intraday in live params: the price of the moment is the minute bar at 15:55, as in a replay."""
    import warnings

    minutes = {}
    daily = tmp_path / "daily"
    daily.mkdir()
    for sym in ("SPY", "TLT"):
        m = pd.read_csv(shared_data / "minute" / "intraday" / f"{sym}.csv").dropna(subset=["Close"])
        m = m.groupby("Datetime", sort=False).first()
        m.index = pd.DatetimeIndex(pd.to_datetime(m.index, utc=True)).tz_convert("America/New_York")
        minutes[sym] = m = m.sort_index()
        g = m[m.index < pd.Timestamp("2019-12-20", tz="America/New_York")].groupby(
            m[m.index < pd.Timestamp("2019-12-20", tz="America/New_York")].index.date)
        d = pd.DataFrame({"open": g["Open"].first(), "high": g["High"].max(), "low": g["Low"].min(),
                          "close": g["Close"].last(), "volume": g["Volume"].sum()})
        d.index.name = "date"
        d.to_csv(daily / f"{sym}.csv")
    expected = {s: m.loc["2019-12-20 15:55", "Close"].iloc[0] if isinstance(m.loc["2019-12-20 15:55", "Close"],
                pd.Series) else m.loc["2019-12-20 15:55", "Close"] for s, m in minutes.items()}
    with StandIn.start(bars=[shared_data / "minute" / "intraday"], symbols=["SPY", "TLT"],
                       now="2019-12-20T20:55:30Z") as market:
        env = {**alpaca_env, "APCA_API_BASE_URL": market.base_url, "APCA_API_DATA_URL": market.base_url}
        params = notebooks.validate("live", {
            "strategy": "sma_crossover", "strategy_params": {"fast": 1, "slow": 2},
            "data": {"source": "csv", "path": str(daily), "symbols": ["SPY", "TLT"],
                     "intraday": {"path": str(shared_data / "minute" / "intraday")}},
            "account": "minute-paper", "mode": "paper", "execution_time": "5min_before_close",
            "broker": {"name": "alpaca", "order_timeout_seconds": 5}, "guards": {"slippage_abort": None},
            "db_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}"})
        clock = FixedClock("2019-12-20T20:55:30Z")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SPY's duplicate minute rows are announced by the loader
            result = run_live(params, environ=env, clock=clock, sleep=lambda s: None)
        assert result.stopped is None, result.stopped
        assert {s: float(q.price) for s, q in result.quotes.items()} == pytest.approx(expected)
        assert all("minute bar 15:55 America/New_York" in q.source for q in result.quotes.values())
        session = result.session
        assert session is not None and session.status == "completed" and session.orders
        assert {o.symbol: float(o.decision_price) for o in session.orders} == pytest.approx(
            {o.symbol: expected[o.symbol] for o in session.orders})
        assert session.decision is not None and session.decision.timestamp.date() == dt.date(2019, 12, 20)
