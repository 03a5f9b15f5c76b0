"""`toolkit run live` through papermill, and the broker commands, against the Alpaca stand-in.

The stand-in runs in this process; ``toolkit`` runs as a real process (and its papermill
kernel as another) with dummy keys in the environment. Besides the session's own
checks: the archive holds the live report's tables, and no archived file (notebook,
HTML, manifest, CSV, JSON, logs) contains the keys (promise 7).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from support.alpaca_standin import StandIn
from support.archived_runs import LIVE_NOW, LIVE_PARAMS, LIVE_PRICES, LiveRunArchive
from support.report_checks import assert_report_tables_clean, dangling_anchors, table_cells

NOW = LIVE_NOW
PRICES = LIVE_PRICES
PARAMS = LIVE_PARAMS


@pytest.fixture
def standin(shared_data: Path):
    with StandIn.start(bars=[shared_data / "daily" / "qstrader"], symbols=["SPY", "AGG"], now=NOW) as running:
        running.set_prices(PRICES)
        yield running


@pytest.fixture
def broker_env(standin: StandIn, alpaca_env: dict[str, str], cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> dict[str, str]:
    env = {**alpaca_env, "APCA_API_BASE_URL": standin.base_url, "APCA_API_DATA_URL": standin.base_url,
           "TOOLKIT_CACHE_DIR": str(cache_dir)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def test_toolkit_run_live_archives_the_report_and_no_secret(live_run_archive: LiveRunArchive):
    """The session's live run (tests/support/archived_runs.py; the browser test opens the same report)."""
    res = live_run_archive
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = res.run_dir
    names = {p.name for p in run_dir.iterdir()}
    assert {"report.html", "notebook.ipynb", "manifest.json", "reconciliation.csv", "decision_prices.csv",
            "fills.csv", "orders.csv", "account.json"} <= names
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["session"]["status"] == "completed"
    with (run_dir / "fills.csv").open() as fh:
        fills = list(csv.DictReader(fh))
    assert fills and all(f["broker_order_id"] and f["slippage_bps"] != "" for f in fills)
    assert set(res.post_counts.values()) == {1}
    html = (run_dir / "report.html").read_text()
    for section in ("Reconciliation", "Decision prices", "Account monitor", "slippage (bps)", "Live vs backtest parity",
                    "Positions and cash before and after", "P&amp;L attribution", "Last 30 sessions", "Glossary"):
        assert section in html, section
    assert html.index('class="tk-headline"') < html.index("<table")  # issue 13: the headline comes first
    assert "<b>completed</b>" in html and '"tickformat":"%Y-%m-%d"' in html
    # Issue 13 review: a readable title, the ledger used, the parameters and data in an appendix.
    assert re.search(r"<h3[^>]*>sma_crossover \u00b7 account alpaca-paper \u00b7 session 2015-12-01 \(", html)
    assert f"Ledger: <code>sqlite:///{res.ledger}</code>" in html
    appendix = html[html.index(">Appendix: parameters"):html.index(">Appendix: data")]
    groups = [g for g in re.findall(r"<summary><b>([^<]+)</b>", appendix)]
    assert {"run", "strategy_params", "data", "guards"} <= set(groups)
    assert "<td>SPY</td>" in html[html.index(">Appendix: data"):html.index('id="session-glossary"')]
    # Issue 13 review: every cell of the session's sections formatted (the parity section is its own module's),
    # every glossary link resolving.
    own = html[:html.index(">Live vs backtest parity")] + html[html.index('id="session-glossary"'):]
    assert_report_tables_clean(own, min_cells=80, links=("session-slippage-bps", "session-equity", "session-weight",
                                                         "session-holding-pnl", "session-daily-return"))
    assert not dangling_anchors(html)
    # Issue 13 audit: the parity section had a blank ``difference`` cell (and raw floats): every cell of the page,
    # the parity section's included, is written now; a trade where live and backtest agree says "none".
    assert_report_tables_clean(html, min_cells=120, links=("parity-difference", "parity-gap-bps"))
    parity = html[html.index(">Live vs backtest parity"):html.index('id="session-glossary"')]
    trade = next(r for r in re.findall(r"<tr>(.*?)</tr>", parity, flags=re.S) if "<td>SPY</td>" in r)
    trade_cells = table_cells(f"<table><tr>{trade}</tr></table>")
    assert trade_cells[-1] == "none" and trade_cells[9:11] == ["50.00%", "50.00%"] and trade_cells[3] == "237"
    assert 'href="parity_trades.csv"' in parity and "100,000.00" in parity
    # The nbval summary print stays in the archived notebook, not in the report.
    assert "alpaca-paper paper completed" not in html
    cells = table_cells(own)
    assert "yes" in cells or "no" in cells  # account flags as words
    assert any(c.endswith(" EST") or c.endswith(" EDT") for c in cells)  # times in New York, zone written
    # promise 7: the keys are in no archived file
    secrets = list(res.env[k] for k in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"))
    written = [p for p in run_dir.rglob("*") if p.is_file()]
    written += [res.ledger, *(p for p in res.cache_dir.rglob("*") if p.is_file())]
    assert len(written) > 10
    for path in written:  # the archive, the ledger database and the bar cache
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert not any(s in text for s in secrets), f"a key leaked into {path.name}"
    assert not any(s in res.stdout + res.stderr for s in secrets)


def test_broker_check_prints_every_check_and_places_no_order(standin, broker_env, toolkit_cli):
    standin.set_account(daytrade_count=3, cash="20000")
    res = toolkit_cli(["broker", "check", "--broker", "alpaca"])
    assert res.returncode == 0, res.stderr
    for row in ("credentials", "account", "buying power", "day trading", "market clock"):
        assert row in res.stdout
    assert "WARN  day trading" in res.stdout and "a 4th day trade under $25,000" in res.stdout
    assert "no order was placed" in res.stdout
    assert standin.state()["post_counts"] == {}


def test_broker_check_with_params_and_without_keys(tmp_path, standin, broker_env, toolkit_cli, monkeypatch):
    from toolkit.ledger import open_ledger

    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    res = toolkit_cli(["broker", "check", "--params", PARAMS], db=db)
    assert res.returncode == 0, res.stderr
    assert "OK    latest trades" in res.stdout and "SPY 210.679993" in res.stdout
    with open_ledger(db) as ledger:  # the credential lookups are in the params' ledger, without the values
        reads = ledger.audit_log(action="secret_read")
    assert {"name": "APCA_API_SECRET_KEY", "backend": "env", "found": True} in list(reads["detail"])
    assert not any(broker_env[k] in reads.to_json() for k in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"))
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    res = toolkit_cli(["broker", "check", "--broker", "alpaca"])
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        res.stderr.strip().splitlines()[0]] and "APCA_API_SECRET_KEY" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host", "https://"])
def test_a_broker_url_without_a_scheme_is_one_line(broker_env, toolkit_cli, monkeypatch, url):
    monkeypatch.setenv("APCA_API_BASE_URL", url)
    res = toolkit_cli(["broker", "check", "--broker", "alpaca"])
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == (f"error: APCA_API_BASE_URL: got {url!r}; allowed: a URL like "
                                  "https://paper-api.alpaca.markets or http://127.0.0.1:8080 (the address only, "
                                  "without /v2)")


def test_broker_reconcile_reports_a_difference_and_adopts_it(tmp_path, standin, broker_env, toolkit_cli):
    from alpaca.trading.client import TradingClient
    from alpaca.trading.requests import MarketOrderRequest

    TradingClient("k", "s", url_override=standin.base_url).submit_order(MarketOrderRequest(
        symbol="AGG", qty=5, side="buy", time_in_force="day", client_order_id="manual-agg"))
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    res = toolkit_cli(["broker", "reconcile", "--params", PARAMS], db=db)
    assert res.returncode == 1
    assert "missing_local" in res.stdout and "mismatch: position AGG: missing_local (ledger -, broker 5)" in res.stderr
    res = toolkit_cli(["broker", "reconcile", "--params", PARAMS, "--adopt"], db=db)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "adopted: position AGG: buy 5" in res.stdout and "matched" in res.stdout


def test_live_confirm_records_who_and_when_only_after_the_typed_words(tmp_path, toolkit_cli, monkeypatch):
    import io

    from toolkit.ledger import open_ledger

    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    res = toolkit_cli(["live", "confirm", "--account", "schwab-live"], db=db)
    assert res.returncode == 2 and 'the words "I understand"; nothing was recorded' in res.stderr
    monkeypatch.setattr("sys.stdin", io.StringIO("I understand\n"))
    res = toolkit_cli(["live", "confirm", "--account", "schwab-live"], db=db)
    assert res.returncode == 0 and "live trading confirmed for schwab-live" in res.stdout
    with open_ledger(db) as ledger:
        confirmed = ledger.live_confirmation("schwab-live")
        assert confirmed is not None and confirmed["user"]
        assert list(ledger.audit_log(action="live_confirmed")["actor"]) == [confirmed["user"]]
        assert ledger.live_confirmation("other") is None
