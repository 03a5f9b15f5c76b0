"""End to end: `toolkit run daily_dry_run` through papermill, then the ledger CLI.

The papermill run is ``dry_run_archive`` (a real ``toolkit run`` process, shared with
the smoke tests); the ledger commands and the replay run in process (``toolkit_cli``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from support.report_checks import assert_report_tables_clean, table_cells


def test_papermill_run_writes_the_outputs(dry_run_archive) -> None:
    run_dir = dry_run_archive.run_dir
    for name in ("orders.csv", "fills.csv", "snapshot.json", "report.html", "manifest.json", "notebook.ipynb"):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["data_fingerprint"]
    snap = json.loads((run_dir / "snapshot.json").read_text())
    assert snap["status"] == "completed" and snap["snapshot"]["mode"] == "offline_mock"


def test_the_report_opens_with_the_headline_and_shows_the_session_sections(dry_run_archive) -> None:
    """Issue 13: headline first (status, orders, P&L), the new sections, offline, day ticks on the history chart."""
    text = (dry_run_archive.run_dir / "report.html").read_text(encoding="utf-8")
    headings = [re.sub(r"<[^>]+>", "", t).replace("\u00b6", "").strip()
                for _, t in re.findall(r"<h([12])[^>]*>(.*?)</h\1>", text, flags=re.S)]
    assert headings == ["Daily dry run", "Regime and indicators", "Target vs current portfolio",
                        "Positions and cash before and after", "P&amp;L attribution", "Execution prices",
                        "Orders and fills", "Guard activations", "Last 30 sessions", "Appendix: parameters",
                        "Appendix: data", "Glossary"]
    headline = text.index('class="tk-headline"')
    assert headline < text.index("<table")
    assert "<b>completed</b>" in text[headline:text.index(">Regime and indicators")]
    assert "sent," in text[headline:] and "session P&amp;L" in text[headline:]
    tags = re.sub(r"<script[^>]*>.*?</script>", "<script></script>", text, flags=re.S)
    assert not re.findall(r'(?:src|href|data)="(?:https?:)?//', tags, flags=re.I)
    assert len(re.findall(r"\* plotly\.js v\d", text)) == 1
    # The one-session history chart ticks in days, never in microseconds.
    assert '"tickformat":"%Y-%m-%d"' in text and '"dtick":86400000' in text


def test_the_headline_names_the_session_and_the_ledger_used_and_the_appendix_its_parameters(dry_run_archive) -> None:
    """The review of issue 13 (findings 1, 2, 8): the title was the run key, the ledger line named only the rule,
    "1 fills", no parameters or data description, a glossary of parity figures the report never shows."""
    text = (dry_run_archive.run_dir / "report.html").read_text(encoding="utf-8")
    headline = text[text.index('class="tk-headline"'):text.index(">Regime and indicators")]
    assert "sma_crossover \u00b7 account dry-run \u00b7 session 2018-06-01 (close)" in headline
    assert "sma_crossover|dry-run" not in text
    assert "(1 fill)" in headline and "1 fills" not in text and "session(s)" not in text
    ledger_file = dry_run_archive.db.removeprefix("sqlite:///")
    assert f"Ledger: <code>sqlite:///{ledger_file}</code>" in text  # the ledger the session used
    appendix = text[text.index(">Appendix: parameters"):text.index(">Appendix: data")]
    groups = re.findall(r"<summary><b>([^<]+)</b> \((\d+) parameters", appendix)
    assert [g for g, _ in groups][:5] == ["run", "strategy_params", "data", "costs", "guards"]
    cells = table_cells(appendix)
    rows = dict(zip(cells[::2], cells[1::2], strict=False))
    assert rows["fast"] == "20" and rows["slow"] == "100" and "daily_loss_limit" in rows and "fees_bps" in rows
    data = text[text.index(">Appendix: data"):text.index('id="session-glossary"')]
    assert "<td>NASDAQ</td>" in data and "first bar" in data
    glossary = text[text.index('id="session-glossary"'):]
    assert "parity-" not in glossary and "Equity gap" not in glossary and "slippage" not in glossary.lower()
    assert "section.tk-glossary.tk-glossary table th,section.tk-glossary.tk-glossary table td" in glossary  # prose left-aligned
    assert "-0.00" not in "".join(table_cells(text))


def test_every_cell_of_the_report_is_formatted_and_every_glossary_link_resolves(dry_run_archive) -> None:
    """Issue 13 review: no raw frame (index ``0``, blank headers, 6-decimal floats, UTC offsets, cut text)."""
    text = (dry_run_archive.run_dir / "report.html").read_text(encoding="utf-8")
    assert_report_tables_clean(text, min_cells=80, links=(
        "session-daily-return", "session-cumulative-return", "session-drawdown", "session-holding-pnl",
        "session-trading-pnl", "session-fees", "session-equity", "session-weight", "session-pnl"))
    cells = table_cells(text)
    assert "dataframe" not in text  # no pandas table left
    assert any(re.fullmatch(r"\d+\.\d\d%", c) for c in cells)  # weights in percent
    assert any(c.endswith(" EDT") for c in cells)  # fill and price times in New York, zone written
    headline = text[text.index('class="tk-headline"'):text.index(">Regime and indicators")]
    # The engine's message (with its raw Decimal equity) stays out; the first session's P&L is against the cash.
    assert "completed:" not in headline and "against the initial cash (first session)" in headline
    assert "Guard audit log: none" in text


def test_the_decision_reads_weights_in_percent_and_indicators_at_four_digits(dry_run_archive) -> None:
    """The issue-13 audit: the decision table's weights read "0", its indicators at uneven precision."""
    text = (dry_run_archive.run_dir / "report.html").read_text(encoding="utf-8")
    section = text[text.index(">Regime and indicators"):text.index(">Target vs current portfolio")]
    cells = table_cells(section)
    rows = dict(zip(cells[2::2], cells[3::2], strict=True))
    assert cells[:2] == ["field", "value"] and "Decision on the bar of 2018-06-01." in section
    assert rows["target weight NASDAQ"] == "100.00%"  # the 2018-06-01 crossover buys: the whole book
    assert rows["rebalance"] == "yes (1 order sent)"  # what came of the rebalance, beside the orders table
    snap = json.loads((dry_run_archive.run_dir / "snapshot.json").read_text())
    for name, label in (("sma_fast_NASDAQ", "SMA fast NASDAQ"), ("sma_slow_NASDAQ", "SMA slow NASDAQ")):
        assert re.fullmatch(r"\d,\d{3}", rows[label]) and rows[label] == f"{snap['context'][name]:,.0f}"


def test_the_stable_summary_line_stays_in_the_notebook_not_in_the_report(dry_run_archive) -> None:
    """The nbval summary print (run key and status) is a log line: the archived notebook keeps it, the report not."""
    import nbformat

    nb = nbformat.read(dry_run_archive.run_dir / "notebook.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# NBVAL_CHECK_OUTPUT"))
    printed = "".join(o.get("text", "") for o in cell.outputs).strip()
    assert printed.endswith(" completed") and "log-only" in cell.metadata["tags"]
    assert printed not in (dry_run_archive.run_dir / "report.html").read_text(encoding="utf-8")


def test_live_status_trades_export_and_killswitch(dry_run_archive, toolkit_cli, tmp_path: Path) -> None:
    db = dry_run_archive.db
    status = toolkit_cli(["live", "status"], db)
    assert status.returncode == 0 and "kill switch: off" in status.stdout and "position NASDAQ" in status.stdout
    trades = toolkit_cli(["live", "trades", "--limit", "5"], db)
    assert "NASDAQ" in trades.stdout and "buy" in trades.stdout
    out = tmp_path / "trades.csv"
    assert toolkit_cli(["live", "export", "--output", str(out)], db).returncode == 0
    assert out.read_text().count("\n") == 2
    assert toolkit_cli(["killswitch", "on", "--reason", " "], db).returncode == 2
    on = toolkit_cli(["killswitch", "on", "--reason", "integration test"], db)
    assert on.returncode == 0 and "ON" in on.stdout
    assert "kill switch: ON" in toolkit_cli(["live", "status"], db).stdout
    ks = toolkit_cli(["killswitch", "status"], db)
    assert ks.returncode == 0 and ks.stdout.startswith("kill switch: ON since ") and ks.stdout.count("\n") == 1
    assert ks.stdout.rstrip().endswith("by cli: integration test")
    assert toolkit_cli(["killswitch", "off", "--reason", "done"], db).returncode == 0
    assert toolkit_cli(["killswitch", "status"], db).stdout.startswith("kill switch: off (last change ")
    missing = toolkit_cli(["killswitch", "off"], db)  # no --reason: one line naming it, nothing changed
    assert missing.returncode == 2 and missing.stderr.startswith("error: --reason: ") and missing.stderr.count("\n") == 1
    assert "done" in toolkit_cli(["killswitch", "status"], db).stdout


def test_replay_cli(toolkit_cli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'replay.sqlite'}"
    done = toolkit_cli(["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
                        "--end", "2018-03-30", "--set", "strategy_params={fast: 10, slow: 30}"], db)
    assert done.returncode == 0, done.stderr
    assert "replay:" in done.stdout and "completed" in done.stdout
    again = toolkit_cli(["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
                         "--end", "2018-03-30", "--set", "strategy_params={fast: 10, slow: 30}"], db)
    assert "already_done" in again.stdout


def test_rejected_mode_is_a_clear_error(toolkit_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TOOLKIT_COLD_KERNEL", "1")  # the backtest CLI test covers the warm kernel's shutdown
    done = toolkit_cli(["run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                        "--set", "mode=online_live", "--outputs", str(tmp_path)], f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert done.returncode == 2 and "mode" in done.stderr and "offline_mock only" in done.stderr


def test_a_halted_session_exits_3_and_the_next_one_returns_to_the_targets(toolkit_cli, tmp_path: Path) -> None:
    # Issue 9 point 6. Before: exit 0, the ledger said completed, and after `killswitch off`
    # the next session said "no rebalance today" with a 100% target and nothing held.
    db = f"sqlite:///{tmp_path / 'ks.sqlite'}"
    params = ["--params", "params/daily_dry_run/sma_crossover.yaml", "--outputs", str(tmp_path / "out")]
    assert toolkit_cli(["killswitch", "on", "--reason", "test halt"], db).returncode == 0
    halted = toolkit_cli(["run", "daily_dry_run", *params, "--set", "as_of=2018-06-01"], db)
    assert halted.returncode == 3, halted.stderr
    assert "session halted: kill_switch" in halted.stderr
    manifest = json.loads((Path(halted.stdout.strip().splitlines()[-1]) / "manifest.json").read_text())
    assert manifest["session"]["status"] == "halted"
    assert "status halted" in toolkit_cli(["live", "status"], db).stdout
    assert toolkit_cli(["killswitch", "off", "--reason", "resume"], db).returncode == 0
    after = toolkit_cli(["run", "daily_dry_run", *params, "--set", "as_of=2018-06-04"], db)
    assert after.returncode == 0, after.stderr
    snap = json.loads((Path(after.stdout.strip().splitlines()[-1]) / "snapshot.json").read_text())
    assert snap["status"] == "completed" and snap["orders"] == 1 and snap["fills"] == 1
    assert "position NASDAQ" in toolkit_cli(["live", "status"], db).stdout


def test_run_help_documents_the_exit_statuses(toolkit_cli) -> None:
    done = toolkit_cli(["run", "--help"])
    assert done.returncode == 0
    for line in ("exit status:", "  3    the dry-run session was halted", "130"):
        assert line in done.stdout


def test_replay_after_a_dry_run_uses_its_own_account(dry_run_archive, toolkit_cli, tmp_path: Path) -> None:
    # Issue 9 point 5. Before: the replay wrote its sessions into the dry run's account
    # 'dry-run', hundreds of them back-dated before the dry run's 2018-06-01, then failed.
    import shutil
    import sqlite3

    src = dry_run_archive.db.removeprefix("sqlite:///")
    copy = tmp_path / "copy.sqlite"
    shutil.copy(src, copy)  # the shared archive's ledger stays as it is
    db = f"sqlite:///{copy}"
    args = ["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
            "--end", "2018-03-29"]
    mixed = toolkit_cli([*args, "--account", "dry-run"], db)
    assert mixed.returncode == 2 and "already holds sessions up to 2018-06-01" in mixed.stderr
    assert len(mixed.stderr.strip().splitlines()) == 1
    done = toolkit_cli(args, db)
    assert done.returncode == 0, done.stderr
    assert "account dry-run-replay" in done.stdout and "trades equal" in done.stdout
    con = sqlite3.connect(copy)
    try:
        per_account = dict(con.execute("select account, count(*) from runs group by account").fetchall())
    finally:
        con.close()
    assert per_account == {"dry-run": 1, "dry-run-replay": 61}


def test_a_replay_whose_parity_check_fails_exits_1(toolkit_cli, tmp_path: Path) -> None:
    # A guard blocks the replay's buys, which the backtest makes: the parity check fails. Before: exit 0.
    done = toolkit_cli(["replay", "--params", "params/daily_dry_run/sma_crossover.yaml", "--start", "2018-01-02",
                        "--end", "2018-03-29", "--set", "guards.max_order_notional=1000"],
                       f"sqlite:///{tmp_path / 'p.sqlite'}")
    assert done.returncode == 1
    assert "trades DIFFERENT" in done.stdout and "parity check FAILED" in done.stderr


def test_the_notebook_run_by_hand_writes_no_default_ledger(tmp_path: Path, monkeypatch) -> None:
    # Issue 9 point 8: executed as a user runs it in Jupyter (no injected parameters), with
    # $TOOLKIT_DB_URL set as a scheduled setup would have it: neither that ledger nor
    # outputs/ledger.sqlite is written; the report names the throwaway ledger it used.
    import papermill as pm

    from toolkit.warm_kernel import kernel_name

    root = Path(__file__).resolve().parents[2]
    default = root / "outputs" / "ledger.sqlite"
    before = default.stat().st_mtime_ns if default.exists() else None
    env_ledger = tmp_path / "scheduled.sqlite"
    monkeypatch.setenv("TOOLKIT_DB_URL", f"sqlite:///{env_ledger}")
    nb = pm.execute_notebook(str(root / "notebooks" / "daily_dry_run.ipynb"), str(tmp_path / "out.ipynb"),
                             kernel_name=kernel_name(), cwd=str(root / "notebooks"), progress_bar=False,
                             log_output=False)
    assert not env_ledger.exists()
    assert (default.stat().st_mtime_ns if default.exists() else None) == before
    shown = json.dumps([o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])])
    assert "Ledger: a throwaway one" in shown and "completed" in shown
