"""End to end: papermill executes the walk-forward notebook and the run is archived."""

import json
import re

import nbformat
import pandas as pd
import pytest
import yaml

from toolkit.errors import ParamsError
from toolkit.params import repo_root
from toolkit.runner import run_notebook

ROOT = repo_root()
PARAMS = ROOT / "params/walk_forward/sma_crossover.yaml"


@pytest.fixture(scope="module")
def run(walk_forward_archive):
    """The session's small walk-forward (tests/support/archived_runs.py: WALK_FORWARD_SMALL)."""
    return walk_forward_archive


def test_archive_holds_every_file(run):
    assert run.status == "completed", run.error
    names = {p.name for p in run.run_dir.iterdir()}
    assert {
        "notebook.ipynb", "report.html", "manifest.json", "folds.csv", "oos_equity.csv", "trials.parquet",
        "trials.csv", "metrics.json", "recommended_params.yaml",
    } <= names
    assert "run_info.json" not in names  # merged into the manifest by the runner
    assert run.run_dir.parent.name == "walk_forward"


def test_manifest_and_results(run):
    m = json.loads((run.run_dir / "manifest.json").read_text())
    assert m["status"] == "completed" and len(m["data_fingerprint"]) == 64
    assert m["params"]["grid"] == {"fast": [5, 10, 20], "slow": [20, 50]} and m["executor"] == "local"
    folds = pd.read_csv(run.run_dir / "folds.csv")
    assert len(folds) == 7 and {"is_start", "oos_end", "fast", "slow", "is_sharpe", "oos_sharpe"} <= set(folds.columns)
    trials = pd.read_parquet(run.run_dir / "trials.parquet")
    assert len(trials) == 7 * 5 and trials.groupby("fold")["chosen"].sum().le(1).all()
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert {"total_return", "sharpe", "max_drawdown", "benchmark", "deflated_sharpe", "pbo"} <= set(metrics)
    assert 0 <= metrics["pbo"]["pbo"] <= 1 and metrics["deflated_sharpe"]["reading"].startswith("DSR")
    # Issue 13 audit: the stored readings quoted the per-bar Sharpe; now annualised, like metrics["sharpe"].
    for block in ("deflated_sharpe", "probabilistic_sharpe"):
        reading = metrics[block]["reading"]
        assert "per bar" not in reading and f"({metrics['sharpe']:.2f} annualised)" in reading
        assert metrics[block]["sharpe_annualised"] == pytest.approx(metrics["sharpe"], rel=1e-9)
        assert metrics[block]["sharpe_per_bar"] == pytest.approx(metrics["sharpe"] / 252 ** 0.5, rel=1e-9)
    eq = pd.read_csv(run.run_dir / "oos_equity.csv", index_col=0, parse_dates=True)
    assert eq["equity"].iloc[-1] == pytest.approx(metrics["final_equity"])
    rec = yaml.safe_load((run.run_dir / "recommended_params.yaml").read_text())
    assert rec["walk_forward_run_id"] == run.run_id == run.run_dir.name
    last = folds.iloc[-1]
    assert rec["strategy"] == "sma_crossover" and rec["strategy_params"] == {"fast": int(last["fast"]), "slow": int(last["slow"])}


def test_progress_is_logged_as_text_in_the_executed_notebook(run):
    nb = nbformat.read(run.run_dir / "notebook.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream")
    assert "folds: 100%" in text and "in-sample combinations: 100%" in text and "35/35" in text
    assert "\r" not in text


def test_report_reads_like_a_report(run):
    html = (run.run_dir / "report.html").read_text()
    for heading in ("Walk-forward report", "Folds", "Stitched out-of-sample equity", "Parameter stability",
                    "In-sample vs out-of-sample", "Objective heatmap", "Overfitting diagnostics", "Recommended parameters"):
        assert heading in html, heading
    assert "DSR " in html and "PBO " in html
    assert "run_walk_forward(" not in html  # code cells hidden


#: The report's h1 and h2 headings, in order.
SECTIONS = ["Walk-forward report", "Summary", "Stitched out-of-sample equity",
            "Degradation: in-sample vs out-of-sample Sharpe", "Against hindsight: the full-sample optimum", "Folds",
            "Parameter stability", "In-sample vs out-of-sample", "Objective heatmap", "Overfitting diagnostics",
            "Recommended parameters", "Trials", "Appendix: parameters", "Appendix: data", "Metric glossary"]


def _headings(text):
    found = re.findall(r"<h([12])[^>]*>(.*?)</h\1>", text, flags=re.S)
    return [re.sub(r"<[^>]+>", "", t).replace("\u00b6", "").strip() for _, t in found]


def test_report_sections_headline_glossary_offline_and_no_progress_text(run):
    text = (run.run_dir / "report.html").read_text(encoding="utf-8")
    assert _headings(text) == SECTIONS
    headline = text.index('class="tk-headline"')
    assert headline < text.index("<table") < text.index(">Stitched out-of-sample equity")
    summary = text[headline:text.index(">Stitched out-of-sample equity")]
    for label in ("Final equity", "CAGR", "Sharpe ratio", "Max drawdown", "buy &amp; hold NASDAQ", "DSR", "PBO",
                  "annualised"):
        assert label in summary, label
    ids = set(re.findall(r'\sid="([^"]+)"', text))
    links = set(re.findall(r'href="#(metric-[^"]+)"', text))
    assert len(links) >= 10 and links <= ids
    tags = re.sub(r"<script[^>]*>.*?</script>", "<script></script>", text, flags=re.S)  # plotly.js's own strings
    assert not re.findall(r'(?:src|href|data)="(?:https?:)?//', tags, flags=re.I)
    assert len(re.findall(r"\* plotly\.js v\d", text)) == 1
    assert "it/s" not in tags and "%|" not in tags and "in-sample combinations:" not in tags
    assert 'href="folds.csv"' in text


def test_notebook_follows_the_house_pattern():
    nb = nbformat.read(ROOT / "notebooks/walk_forward.ipynb", as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first_code.metadata.get("tags", [])
    assert 'params_file = "../params/walk_forward/sma_crossover.yaml"' in first_code.source
    assert "params = None" in first_code.source and "output_dir = None" in first_code.source
    assert nb.metadata["kernelspec"]["name"] == "toolkit"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_bad_params_execute_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_COLD_KERNEL", "1")  # no kernel either
    with pytest.raises(ParamsError) as ei:
        run_notebook("walk_forward", PARAMS, {"objective": "sharpe + magic"}, outputs_root=tmp_path)
    assert ei.value.field == "objective"
    assert not any(tmp_path.iterdir())


def test_hand_off_feeds_the_daily_dry_run(run):
    """recommended_params.yaml is a strategy params file the dry run accepts as it is."""
    from toolkit import params as tkparams

    handoff = run.run_dir / "recommended_params.yaml"
    rec = yaml.safe_load(handoff.read_text())
    p = tkparams.load("daily_dry_run", ROOT / "params/daily_dry_run/sma_crossover.yaml",
                      {"strategy_params_file": str(handoff), "strategy_params": {}})
    assert p.strategy_params == rec["strategy_params"]
    assert p.strategy_params_file == str(handoff)  # the run id travels in the path to the manifest
    with pytest.raises(ParamsError) as ei:
        tkparams.load("daily_dry_run", ROOT / "params/daily_dry_run/hierarchical_adaptive_v3_5b.yaml",
                      {"strategy_params_file": str(handoff), "strategy_params": {}})
    assert ei.value.field == "strategy_params_file" and "sma_crossover" in ei.value.allowed


def test_outcome_and_runs_show_out_of_sample_sharpe_and_dsr(run, toolkit_cli):
    """What `toolkit run walk_forward` prints before the run directory, and its row in `toolkit runs`."""
    from toolkit.ops.runs import outcome_line
    from toolkit.runner import run_summary

    m = json.loads((run.run_dir / "metrics.json").read_text())
    figures = f"out-of-sample Sharpe {m['sharpe']:.2f}, DSR {m['deflated_sharpe']['dsr']:.2f}"
    assert outcome_line(run_summary(run.run_dir, run.manifest)).startswith(f"walk_forward sma_crossover completed: {figures}")
    listed = toolkit_cli(["runs", "--outputs", str(run.run_dir.parents[1])]).stdout.splitlines()
    assert figures in listed[1] and listed[1].startswith(run.run_id)


def test_the_trials_table_shows_every_trial_of_every_fold_and_links_the_csv(run):
    """Issue 13 audit: the table showed the last fold's top 20 only; now all 35 trials of the 7 folds."""
    text = (run.run_dir / "report.html").read_text(encoding="utf-8")
    section = text[text.index(">Trials<"):text.index(">Appendix: parameters")]
    csv = pd.read_csv(run.run_dir / "trials.csv")
    assert len(csv) == 7 * 5 and sorted(csv["fold"].unique()) == list(range(1, 8))
    rows = re.findall(r"<tr><td>(\d+)</td>", section)
    assert [int(f) for f in rows] == list(csv["fold"])  # every trial, in the CSV's order
    assert 'href="trials.csv"' in section and "35 trials, 7 folds x 5 combinations" in section
    assert "paged:" not in section and "not shown" not in section  # short enough to show whole


def test_the_default_trials_table_is_paged_and_says_so(default_run):
    """The default walk-forward has 1,424 trials (16 folds x 89): the page shows the first and last 100, says so."""
    run_dir = default_run("walk_forward").run_dir
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    section = text[text.index(">Trials<"):text.index(">Appendix: parameters")]
    n = len(pd.read_csv(run_dir / "trials.csv"))
    assert n == 16 * 89
    assert "paged: the first and last 100 rows are shown here" in section
    assert f"rows 1–100 and {n - 99:,}–{n:,} of {n:,} trials shown; all in trials.csv" in section
    assert f"rows 101–{n - 100:,} not shown: all {n:,} trials are in trials.csv" in section
    folds = [int(f) for f in re.findall(r"<tr><td>(\d+)</td>", section)]
    assert len(folds) == 200 and folds[0] == 1 and folds[-1] == 16
    # The raw summary print is not in the report; the DSR reading and the kurtosis say their convention.
    assert "walk-forward on NASDAQ:" not in text and not re.search(r"\d per bar", text)
    assert ">excess kurtosis<" in text and "3 = normal kurtosis" not in text


def _bad_cells(html_text: str) -> list[str]:
    """Every table cell of the page that reads blank, None, nan/NaN/NaT or ends cut with '...'.

    No cell of the report is meant to be empty (a missing figure is an em dash), so a
    blank one is a bad one too: a pandas index-name row, a row of a table that lost its
    value.
    """
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html_text, flags=re.S)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh](?:\s[^>]*)?>(.*?)</t[dh]>", body, flags=re.S)]
    return [c for c in cells if c in ("", "None", "nan", "NaN", "NaT") or c.endswith(("...", "\u2026"))]


def test_the_bad_cell_check_catches_blank_none_nan_and_cut_cells():
    page = ("<table><tr><th></th><td>None</td><td>nan</td><td>ab...</td><td> </td></tr>"
            "<tr><td>1.00%</td><td>\u2014</td></tr></table><script>'<td></td>'</script>")
    assert _bad_cells(page) == ["", "None", "nan", "ab...", ""]


def test_report_cells_read_no_none_and_the_parameters_are_grouped(run):
    text = (run.run_dir / "report.html").read_text(encoding="utf-8")
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", text, flags=re.S)
    assert len(re.findall(r"<t[dh][^>]*>", body)) > 200
    assert _bad_cells(text) == []
    assert "<summary><b>grid</b>" in body and "Not set (their defaults apply)" in body


def test_every_glossary_link_of_the_report_reaches_an_entry_of_its_glossary(run):
    text = (run.run_dir / "report.html").read_text(encoding="utf-8")
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", text, flags=re.S)
    linked = set(re.findall(r'href="#(metric-[^"]+)"', body))
    ids = set(re.findall(r'id="(metric-[^"]+)"', body))
    assert {"metric-sortino", "metric-calmar", "metric-volatility", "metric-win-rate", "metric-profit-factor",
            "metric-exposure", "metric-turnover", "metric-max-drawdown-duration-days",
            "metric-n-partial-exits"} <= linked
    assert linked - ids == set()


def test_the_default_report_stays_under_6_mb_with_plotly_once(default_run):
    """The review of issue 13 (finding 7): no size check covered the walk-forward report (5.91 MB then)."""
    run_dir = default_run("walk_forward").run_dir
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    assert (run_dir / "report.html").stat().st_size < 6_000_000  # decimal MB, as a reader means it
    assert len(re.findall(r"\* plotly\.js v\d", text)) == 1 and text.count("window.PlotlyConfig") == 1
    # One format for probabilities and Sharpe ratios (finding 6), the folds said as they are (finding 10).
    assert "16 folds of 252 bars (the last 243)" in text
    over = text[text.index(">Overfitting diagnostics"):text.index(">Distribution of the CSCV logits")]
    assert not re.search(r"\b0\.\d{3,4}\b", re.sub(r"<(script|style)[^>]*>.*?</\1>", "", over, flags=re.S))
    assert re.search(r"DSR \d+\.\d\d%: ", text) and re.search(r"PBO \d+\.\d\d%: ", text)
    assert re.search(r'<h2 id="Metric-glossary">', text)
