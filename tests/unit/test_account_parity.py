"""Live-vs-backtest parity of an account (toolkit.report.account_parity) on real sessions.

Every ledger here is written by real sessions (``run_session`` through the replay or
session by session) on the bundled NASDAQ sample, May to July 2018, when the SMA
crossover 10/30 buys, sells and buys again. A clean account must agree with the
backtest to a fraction of a basis point; an account whose broker filled one order
partially must show that trade's quantity, a growing equity gap and exit as a problem.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine.daily import session_clock
from toolkit.engine.market import MarketCursor
from toolkit.engine.replay import replay
from toolkit.engine.run_params import PARAMS_KEY, run_summary_params
from toolkit.engine.session import run_session
from toolkit.engine.venue import load_simulated_broker
from toolkit.errors import ParamsError
from toolkit.ledger import open_ledger
from toolkit.report.account_parity import DEFAULT_TOLERANCE_BP, account_parity
from toolkit.strategies import registry
from toolkit.time import sessions_in_range

RAW = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 10, "slow": 30},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2017-01-01", "end": "2018-12-31"},
    "account": "acct",
    "initial_cash": 100000,
    "costs": {"fees_bps": 10, "slippage_bps": 5},
    "guards": {"daily_loss_limit": None, "slippage_abort": None},
}
START, END = dt.date(2018, 5, 1), dt.date(2018, 7, 31)
#: The session whose buy the paper broker fills only in part (13 shares wanted).
PARTIAL_DAY = dt.date(2018, 7, 13)


@pytest.fixture(scope="module")
def params():
    return tkparams.validate("daily_dry_run", RAW)


@pytest.fixture(scope="module")
def dataset(params):
    return load_dataset(params.data, base_dir=Path.cwd())


@pytest.fixture(scope="module")
def replayed(tmp_path_factory, params, dataset):
    """A dry-run account replayed May-July 2018, recording its parameters with every session."""
    url = f"sqlite:///{tmp_path_factory.mktemp('parity') / 'ledger.sqlite'}"
    with open_ledger(url) as ledger:
        rp = replay(params, start=START, end=END, ledger=ledger, data=dataset, record_params=True)
    assert rp.problems == [] and len(rp.trades) == 3
    return url, rp


@pytest.fixture(scope="module")
def paper_partial(tmp_path_factory, params, dataset):
    """A paper account (simulated venue in paper mode) whose broker fills the 2018-07-13 buy only in part.

    Session by session through ``run_session``, as a paper session runs; on the
    partial day the venue caps the order at 5 shares of the bar's volume and cancels
    the rest at the end of the session (a real broker's partial fill then cancel).
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('paper') / 'ledger.sqlite'}"
    p = params.model_copy(update={"mode": "paper", "account": "paper-acct"})
    panel = dataset.panel
    market = MarketCursor(panel)
    strategy = registry.create(p.strategy, p.strategy_params, symbols=p.data.symbols)
    volume = float(panel.loc[pd.Timestamp(PARTIAL_DAY, tz="UTC"), ("NASDAQ", "volume")])
    with open_ledger(url) as ledger:
        for day in sessions_in_range(START, END):
            d = day.date()
            broker = load_simulated_broker(ledger, p)  # the venue as the last session left it (paper mode)
            session_params = p.model_copy(update={"as_of": d})
            if d == PARTIAL_DAY:
                broker.max_participation = 5.5 / volume
                session_params = session_params.model_copy(
                    update={"broker": p.broker.model_copy(update={"max_participation": 5.5 / volume})})
            else:
                broker.max_participation = None
            res = run_session(session_params, ledger=ledger, broker=broker, clock=session_clock(d, p.execution_time),
                              market=market, strategy=strategy)
            assert res.status == "completed", res.message
    return url


def test_a_replay_records_its_parameters_only_when_asked(replayed, params, dataset, tmp_path) -> None:
    url, _ = replayed
    with open_ledger(url) as ledger:
        recorded = [run_summary_params(s) for s in ledger.runs(account="acct")["summary"]]
    assert all(r is not None for r in recorded)
    assert recorded[0]["strategy_params"]["fast"] == 10 and recorded[0]["costs"]["slippage_bps"] == 5
    assert "db_url" not in recorded[0] and "as_of" not in recorded[0]
    # The default for a dry run or a replay (offline_mock) records nothing: its ledger rows stay as they were.
    with open_ledger(f"sqlite:///{tmp_path / 'plain.sqlite'}") as ledger:
        replay(params, start=START, end=dt.date(2018, 5, 3), ledger=ledger, data=dataset)
        summaries = ledger.runs()["summary"]
    assert all(PARAMS_KEY not in s for s in summaries)


def test_a_clean_account_agrees_with_the_backtest_trade_by_trade(replayed, dataset) -> None:
    url, rp = replayed
    with open_ledger(url) as ledger:
        par = account_parity(ledger, account="acct", data=dataset)
    assert par.ok, par.problems
    assert (par.mode, par.strategy, par.start, par.end, par.first_session) == ("offline_mock", "sma_crossover",
                                                                                 START, END, START)
    assert par.params_source == "parameters: recorded with each of the 64 session(s)"
    t = par.trades
    assert list(zip(t["session_date"], t["side"], t["live_qty"], strict=True)) == [
        (dt.date(2018, 5, 1), "buy", 14.0), (dt.date(2018, 7, 3), "sell", 14.0), (dt.date(2018, 7, 13), "buy", 13.0)]
    assert (t["live_qty"] == t["backtest_qty"]).all() and (t["difference"] == "").all()
    assert (t["price_diff_bps"].abs() < 1e-6).all()
    # 5 bp of slippage against the decision price, on both sides, signed as a cost.
    assert t["live_slippage_bps"].round(6).tolist() == [5.0, 5.0, 5.0]
    assert t["backtest_slippage_bps"].round(6).tolist() == [5.0, 5.0, 5.0]
    assert t["live_target_weight"].tolist() == t["backtest_target_weight"].tolist() == [1.0, 0.0, 1.0]
    s = par.sessions
    assert len(s) == 64 and (s["live_status"] == "completed").all()
    assert s["gap_bps"].abs().max() < 0.01
    # The replay's own numbers: the ledger's equity is the live column.
    assert s["live_equity"].tolist() == [float(e) for e in rp.snapshots["equity"]]


def test_a_range_shows_its_sessions_but_the_backtest_starts_at_the_first(replayed, dataset) -> None:
    url, _ = replayed
    with open_ledger(url) as ledger:
        par = account_parity(ledger, account="acct", start=dt.date(2018, 7, 2), end=dt.date(2018, 7, 6),
                             data=dataset)
    assert par.first_session == START
    assert par.sessions["session_date"].tolist() == [dt.date(2018, 7, d) for d in (2, 3, 5, 6)]  # the 4th: holiday
    assert par.trades["session_date"].tolist() == [dt.date(2018, 7, 3)]
    assert par.ok


def test_a_partial_fill_shows_the_trade_the_gap_and_fails(paper_partial, dataset) -> None:
    with open_ledger(paper_partial) as ledger:
        par = account_parity(ledger, account="paper-acct", data=dataset)
    # A paper session records its parameters by default: no --params needed, mode from the ledger.
    assert par.mode == "paper" and par.params_source.startswith("parameters: recorded with each")
    row = par.trades[par.trades["session_date"] == PARTIAL_DAY].iloc[0]
    assert (row["side"], row["live_qty"], row["backtest_qty"], row["live_ordered"]) == ("buy", 5.0, 13.0, 13.0)
    assert row["difference"] == "quantity" and row["live_status"] == "cancelled"
    assert row["qty_diff_bps"] == pytest.approx((5 / 13 - 1) * 1e4)
    before = par.sessions[par.sessions["session_date"] < PARTIAL_DAY]
    after = par.sessions[par.sessions["session_date"] > PARTIAL_DAY]
    assert before["gap_bps"].abs().max() < 0.01  # identical until the partial fill
    assert after["gap_bps"].abs().max() > 10  # 8 shares of NASDAQ short of the backtest from then on
    assert not par.ok
    assert f"{PARTIAL_DAY} NASDAQ buy: quantity live 5 vs backtest 13 (-6153.8 bp)" in par.problems
    assert any(p.startswith("equity gap beyond 10 bp on ") for p in par.problems)
    # Within a tolerance wide enough for both, the same account passes.
    with open_ledger(paper_partial) as ledger:
        wide = account_parity(ledger, account="paper-acct", data=dataset, tolerance_bp=1e5)
    assert wide.ok, wide.problems


def test_the_parity_section_writes_every_cell_and_none_where_nothing_differs(replayed, paper_partial,
                                                                           dataset) -> None:
    """The audit: the live report's parity trades showed a blank ``difference`` cell (and raw floats)."""
    from support.report_checks import bad_cells, table_cells

    from toolkit.report.parity_tables import NO_DIFFERENCE, parity_html
    from toolkit.report.session_report import SESSION_GLOSSARY, session_anchor

    url, _ = replayed
    with open_ledger(url) as ledger:
        clean = account_parity(ledger, account="acct", data=dataset)
    with open_ledger(paper_partial) as ledger:
        partial = account_parity(ledger, account="paper-acct", data=dataset)
    for par in (clean, partial):
        text = parity_html(par, archived=True)
        cells = table_cells(text)
        assert len(cells) > 9 * len(par.sessions) and not bad_cells(text), bad_cells(text)[:10]
        assert 'href="parity_trades.csv"' in text and 'href="parity_sessions.csv"' in text
        assert f'href="#{session_anchor("parity.difference")}"' in text
    trades = [r for r in _rows(parity_html(clean)) if len(r) == 12]
    assert [r[-1] for r in trades[1:]] == [NO_DIFFERENCE] * 3  # agreeing trades: "none", never a blank cell
    assert [r[9] for r in trades[1:]] == ["100.00%", "0.00%", "100.00%"]  # target weights in percent
    assert [r[3] for r in trades[1:]] == ["14", "14", "13"]  # quantities as written
    partial_rows = {r[0]: r for r in _rows(parity_html(partial)) if len(r) == 12}
    assert partial_rows[f"{PARTIAL_DAY}"][-1] == "quantity"
    assert "parity.difference" in SESSION_GLOSSARY and NO_DIFFERENCE in SESSION_GLOSSARY["parity.difference"].definition


def _rows(text: str) -> list[list[str]]:
    import html
    import re

    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r)]
            for r in re.findall(r"<tr>(.*?)</tr>", text, flags=re.S)]


def test_bad_input_names_the_option(replayed, dataset, tmp_path) -> None:
    url, _ = replayed
    cases = [
        (dict(account="nobody"), "--account: got 'nobody'; allowed: one of acct in ledger"),
        (dict(account="acct", start=dt.date(2018, 7, 2), end=dt.date(2018, 7, 1)),
         "--end: got '2018-07-01'; allowed: a date on or after --start (2018-07-02)"),
        (dict(account="acct", start=dt.date(2019, 1, 2), end=dt.date(2019, 1, 31)),
         "--start/--end: got '2019-01-02..2019-01-31'; allowed: a range holding sessions of 'acct'"),
        (dict(account="acct", mode="paper"), "--mode: got 'paper'; allowed: one of offline_mock"),
        (dict(account="acct", tolerance_bp=-1), "--tolerance-bp: got -1"),
    ]
    with open_ledger(url) as ledger:
        for kwargs, message in cases:
            with pytest.raises(ParamsError) as info:
                account_parity(ledger, data=dataset, **kwargs)
            assert str(info.value).startswith(message), str(info.value)


def test_sessions_without_recorded_parameters_need_a_params_file(tmp_path, params, dataset) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        replay(params, start=START, end=END, ledger=ledger, data=dataset)
        with pytest.raises(ParamsError, match=r"^--params: 64 of the 64 session\(s\) of 'acct' .* carry no recorded"):
            account_parity(ledger, account="acct", data=dataset)
        import yaml

        path = tmp_path / "p.yaml"
        path.write_text(yaml.safe_dump(RAW))
        par = account_parity(ledger, account="acct", params_file=path, data=dataset)
        assert par.ok and par.params_source.startswith(f"parameters: from --params {path} (the 64 session(s)")
        # A file that differs in what decides the trades is refused, naming the change.
        # Later sessions that recorded other strategy parameters than the file's: one backtest cannot replay both.
        p = tkparams.validate("daily_dry_run", {**RAW, "strategy_params": {"fast": 20, "slow": 30}})
        replay(p, start=dt.date(2018, 8, 1), end=dt.date(2018, 8, 3), ledger=ledger, data=dataset,
               record_params=True)
        with pytest.raises(ParamsError) as info:
            account_parity(ledger, account="acct", params_file=path, data=dataset)
        assert str(info.value).startswith("--params: the parameters of 'acct' change on 2018-08-01 "
                                          "(strategy_params.fast: 10 -> 20); one parameter set")
        # The range before the change still compares (the backtest stops at its last session).
        assert account_parity(ledger, account="acct", params_file=path, end=END, data=dataset).ok


def test_the_command_default_tolerance_is_the_module_default() -> None:
    from toolkit.cli import build_parser

    args = build_parser().parse_args(["parity", "--account", "a"])
    assert args.tolerance_bp == DEFAULT_TOLERANCE_BP


def test_the_notebook_section_shows_the_parity_or_says_why_not(replayed, dataset, tmp_path) -> None:
    from toolkit.report.account_parity import parity_section

    url, _ = replayed
    section = parity_section("acct", db_url=url, data=dataset, output_dir=tmp_path)
    assert section.parity is not None and section.parity.ok and section.note is None
    assert (tmp_path / "parity_trades.csv").is_file() and (tmp_path / "parity_sessions.csv").is_file()
    assert "Live vs backtest parity" in section._repr_html_() and "2018-07-13" in section._repr_html_()
    # No session yet (a first live run that stopped early): a note, not an exception that fails the notebook.
    missing = parity_section("nobody", db_url=url, data=dataset)
    assert missing.parity is None and missing.note.startswith("not available: --account: got 'nobody'")
    assert "not available" in missing._repr_html_()


def test_an_account_with_sessions_in_two_modes_must_name_one(params, dataset, tmp_path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        replay(params, start=START, end=dt.date(2018, 5, 3), ledger=ledger, data=dataset, record_params=True)
        paper = params.model_copy(update={"mode": "paper", "as_of": dt.date(2018, 5, 4)})
        run_session(paper, ledger=ledger, broker=load_simulated_broker(ledger, paper),
                    clock=session_clock(paper.as_of, paper.execution_time), market=MarketCursor(dataset.panel))
        with pytest.raises(ParamsError) as info:
            account_parity(ledger, account="acct", data=dataset)
        assert str(info.value) == ("--mode: account 'acct' has sessions in more than one mode; "
                                   "give one of offline_mock, paper")
        assert account_parity(ledger, account="acct", mode="paper", data=dataset).sessions["session_date"].tolist() \
            == [dt.date(2018, 5, 4)]


def test_a_session_the_schedule_missed_is_a_problem(params, dataset, tmp_path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        replay(params, start=START, end=dt.date(2018, 5, 3), ledger=ledger, data=dataset, record_params=True)
        replay(params, start=dt.date(2018, 5, 7), end=dt.date(2018, 5, 9), ledger=ledger, data=dataset,
               record_params=True)  # Friday 2018-05-04 never ran
        par = account_parity(ledger, account="acct", data=dataset)
    assert par.sessions.set_index("session_date").at[dt.date(2018, 5, 4), "live_status"] == "missing"
    assert par.problems == ["2018-05-04: no live session recorded (the backtest trades every session)"]
    assert par.sessions["gap_bps"].abs().max() < 0.01  # nothing to trade that day: the equity still agrees
