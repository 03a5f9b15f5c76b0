"""End to end: papermill executes the backtest notebook and the run is archived."""

import json
import re

import nbformat
import yaml
import pandas as pd
import pytest

from toolkit.errors import ParamsError
from toolkit.params import repo_root
from toolkit.ops.runs import key_figures, outcome_line
from toolkit.runner import list_runs, run_notebook, run_summary

ROOT = repo_root()
PARAMS = ROOT / "params/backtest/sma_crossover.yaml"


@pytest.fixture(scope="module")
def completed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("outputs")
    rec = run_notebook("backtest", PARAMS, ["data.start=2010-01-04", "strategy_params.fast=10"], outputs_root=out)
    return out, rec


def test_archive_holds_every_artifact(completed_run):
    out, rec = completed_run
    assert rec.status == "completed", rec.error
    names = {p.name for p in rec.run_dir.iterdir()}
    assert {"notebook.ipynb", "report.html", "metrics.json", "trades.csv", "equity.csv", "decisions.csv", "manifest.json"} <= names
    assert rec.run_dir.parent == out / "backtest"


def test_manifest_records_provenance(completed_run):
    _, rec = completed_run
    m = json.loads((rec.run_dir / "manifest.json").read_text())
    assert m["run_id"] == rec.run_id and m["status"] == "completed" and m["error"] is None
    assert m["params"]["strategy_params"] == {"fast": 10, "slow": 100}
    assert m["params"]["data"]["start"] == "2010-01-04"
    assert len(m["params_hash"]) == 64 and len(m["data_fingerprint"]) == 64
    assert set(m["git"]) == {"commit", "dirty"}
    assert m["packages"]["vectorbt"] and m["python"].startswith("3.11")
    assert pd.Timestamp(m["ended_utc"]) >= pd.Timestamp(m["started_utc"]) and m["duration_s"] > 0


def test_outputs_agree_with_each_other(completed_run):
    _, rec = completed_run
    metrics = json.loads((rec.run_dir / "metrics.json").read_text())
    for key in ("total_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown",
                "max_drawdown_duration_days", "win_rate", "profit_factor", "exposure", "turnover", "n_trades", "final_equity"):
        assert key in metrics
    eq = pd.read_csv(rec.run_dir / "equity.csv", index_col=0, parse_dates=True)
    assert eq.index[0] >= pd.Timestamp("2010-01-04", tz="UTC")
    assert metrics["final_equity"] == pytest.approx(eq["equity"].iloc[-1])
    trades = pd.read_csv(rec.run_dir / "trades.csv")
    assert metrics["n_trades"] == len(trades)
    dec = pd.read_csv(rec.run_dir / "decisions.csv", index_col=0)
    assert "weight_NASDAQ" in dec.columns and len(dec) == len(eq)


def test_report_is_offline_html_without_code(completed_run):
    _, rec = completed_run
    html = (rec.run_dir / "report.html").read_text()
    assert "Cumulative returns" in html and "Monthly returns" in html and "Metric glossary" in html
    # plotly.js is embedded in the page (not fetched from a CDN), so charts work offline.
    assert re.search(r"plotly\.js v\d", html) and "Plotly.newPlot" in html
    assert not re.search(r"<script[^>]*src=[\"'][^\"']*plot\.ly", html)
    assert "run_backtest_job(p)" not in html  # code cells hidden


def test_same_inputs_give_same_results(completed_run, tmp_path):
    _, first = completed_run
    rec = run_notebook("backtest", PARAMS, ["data.start=2010-01-04", "strategy_params.fast=10"], outputs_root=tmp_path)
    for name in ("metrics.json", "trades.csv", "equity.csv", "decisions.csv"):
        assert (rec.run_dir / name).read_bytes() == (first.run_dir / name).read_bytes(), name


def test_runs_lists_newest_first(completed_run):
    out, rec = completed_run
    df = list_runs(out)
    assert df.iloc[0]["run_id"] == rec.run_id and df.iloc[0]["status"] == "completed"


def test_failed_run_is_archived(tmp_path, monkeypatch):
    # A kernel papermill starts itself (no warm kernel importing vectorbt ahead), failing in
    # the first cell after the parameters: how far the notebook got does not change the archive.
    monkeypatch.setenv("TOOLKIT_COLD_KERNEL", "1")
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nb = nbformat.read(ROOT / "notebooks/backtest.ipynb", as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell("raise RuntimeError('boom: injected failure')"))
    nbformat.write(nb, nb_dir / "backtest.ipynb")
    rec = run_notebook("backtest", PARAMS, ["data.start=2016-01-04"], outputs_root=tmp_path / "out", notebooks_dir=nb_dir)
    assert rec.status == "failed" and "boom: injected failure" in rec.error
    m = json.loads((rec.run_dir / "manifest.json").read_text())
    assert m["status"] == "failed" and "RuntimeError" in m["error"]
    executed = nbformat.read(rec.run_dir / "notebook.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
    # `toolkit runs` and the outcome line `toolkit run` prints say it failed, and why.
    row = run_summary(rec.run_dir)
    assert row["status"] == "failed" and key_figures(row).startswith("error: RuntimeError: boom: injected failure")
    assert outcome_line(row).startswith("backtest sma_crossover failed after ")


def test_bad_params_execute_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_COLD_KERNEL", "1")  # no kernel either (the CLI test covers the warm one)
    with pytest.raises(ParamsError):
        run_notebook("backtest", PARAMS, ["strategy_params.fast=200"], outputs_root=tmp_path)
    assert not any(tmp_path.iterdir())


def test_cli_exit_codes_and_last_line(toolkit_cli):
    bad = toolkit_cli(["run", "backtest", "--params", str(PARAMS), "--set", "data.symbols=[NOPE]"])
    assert bad.returncode == 2
    assert "data.symbols" in bad.stderr and "NOPE" in bad.stderr and "Traceback" not in bad.stderr


def test_runs_command_lists_the_archive(completed_run, toolkit_cli):
    out, rec = completed_run
    listed = toolkit_cli(["runs", "--outputs", str(out)])
    assert listed.returncode == 0
    header, first = listed.stdout.splitlines()[:2]
    assert "run_id" in header and "notebook" in header and "error" not in header
    assert rec.run_id in first and "backtest" in first and "completed" in first
    other = toolkit_cli(["runs", "--outputs", str(out), "--notebook", "walk_forward"])
    assert other.returncode == 0 and other.stdout.strip() == "no archived runs under outputs/"


def _figures(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    return f"final equity {m['final_equity']:,.2f}, Sharpe {m['sharpe']:.2f}, max drawdown {m['max_drawdown']:.1%}"


def test_runs_shows_strategy_status_key_figures_and_report(completed_run, toolkit_cli):
    out, rec = completed_run
    header, first = toolkit_cli(["runs", "--outputs", str(out)]).stdout.splitlines()[:2]
    assert header.split() == ["run_id", "notebook", "strategy", "status", "key", "figures", "report"]
    assert "sma_crossover" in first and _figures(rec.run_dir) in first
    assert first.endswith(str(rec.run_dir / "report.html"))  # outside the working directory: the full path
    df = list_runs(out)
    assert df.iloc[0]["strategy"] == "sma_crossover" and df.iloc[0]["report"] == str(rec.run_dir / "report.html")


def test_run_prints_its_outcome_then_the_run_directory(toolkit_cli, tmp_path):
    done = toolkit_cli(["run", "backtest", "--params", str(PARAMS), "--set", "data.start=2016-01-04",
                        "--outputs", str(tmp_path)])
    assert done.returncode == 0, done.stderr
    *_, outcome, last = done.stdout.splitlines()
    run_dir = tmp_path / "backtest" / last.rsplit("/", 1)[-1]
    assert last == str(run_dir) and run_dir.is_dir()  # the last line stays the run directory
    assert outcome == f"backtest sma_crossover completed: {_figures(run_dir)}"


def test_runs_show_describes_one_run(completed_run, toolkit_cli):
    out, rec = completed_run
    by_prefix = toolkit_cli(["runs", "show", rec.run_id[:18], "--outputs", str(out)])
    assert by_prefix.returncode == 0, by_prefix.stderr
    text = by_prefix.stdout
    assert text == toolkit_cli(["runs", "--outputs", str(out), "show", "last"]).stdout  # both spellings
    summary = dict(line.split(None, 1) for line in text.split("\n\n")[0].splitlines() if not line.startswith(
        ("params ", "git ")))
    assert summary["run"] == rec.run_id and summary["status"] == "completed" and summary["strategy"] == "sma_crossover"
    assert summary["outcome"] == _figures(rec.run_dir)
    params_block = text.split("params (as resolved):\n", 1)[1].split("\n\n", 1)[0]
    assert yaml.safe_load(params_block) == json.loads((rec.run_dir / "manifest.json").read_text())["params"]
    metrics = json.loads((rec.run_dir / "metrics.json").read_text())
    assert "  sharpe " in text and f"{metrics['sharpe']:,.6g}" in text and "benchmark.sharpe" in text
    files = text.split("files:\n", 1)[1].splitlines()
    assert {line.split()[0] for line in files} == {p.name for p in rec.run_dir.iterdir()}


def test_runs_open_prints_the_report_and_never_needs_a_browser(completed_run, toolkit_cli, monkeypatch):
    import webbrowser

    out, rec = completed_run
    report = str((rec.run_dir / "report.html").resolve())
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(var, raising=False)
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda uri: opened.append(uri) or True)
    headless = toolkit_cli(["runs", "open", "last", "--outputs", str(out)])
    assert headless.returncode == 0 and headless.stdout == report + "\n" and "no browser here" in headless.stderr
    assert opened == []  # nothing launched (no text browser taking over the terminal either)
    monkeypatch.setenv("DISPLAY", ":0")
    shown = toolkit_cli(["runs", "open", rec.run_id, "--outputs", str(out)])
    assert shown.returncode == 0 and shown.stdout == report + "\n" and "opened in the browser" in shown.stderr
    assert opened == [(rec.run_dir / "report.html").resolve().as_uri()]

    def broken(uri):
        raise webbrowser.Error("could not locate runnable browser")

    monkeypatch.setattr(webbrowser, "open", broken)
    fails = toolkit_cli(["runs", "open", "last", "--outputs", str(out)])
    assert fails.returncode == 0 and fails.stdout == report + "\n" and "could not open a browser" in fails.stderr


def test_runs_show_and_open_refuse_an_unknown_run_in_one_line(completed_run, toolkit_cli, tmp_path):
    out, _ = completed_run
    for args in (["runs", "show", "nope", "--outputs", str(out)], ["runs", "open", "nope", "--outputs", str(out)],
                 ["runs", "open", "last", "--outputs", str(tmp_path)]):
        done = toolkit_cli(args)
        assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, args
        assert done.stderr.startswith("error: RUN: got ") and "Traceback" not in done.stderr
