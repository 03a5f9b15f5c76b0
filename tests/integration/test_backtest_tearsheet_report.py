"""The archived backtest report as a reader gets it: ``toolkit run backtest`` on the default params.

One real run (papermill + nbconvert, the session's shared ``default_run``, see
conftest.py), then its ``report.html`` read as text and through an HTML parser: the
headline comes before any other table, every tearsheet section is there in order, every
glossary link lands on an entry, nothing is fetched from another host, plotly.js is
embedded once, no table cell reads ``None`` or ``nan``, and the page stays under 6 MB.
A second run, a 2/3-bar crossover with 1,740 round trips, checks the page stays under
6 MB by paging its trade list (first and last rows shown, the rest in trades.csv, said).
"""

from __future__ import annotations

import html.parser
import re
from collections.abc import Callable
from pathlib import Path

import pytest

#: The report's h1 and h2 headings, in order.
SECTIONS = ["Backtest report", "Summary", "Cumulative returns", "Drawdowns", "Yearly returns", "Monthly returns",
            "Metrics", "Against the benchmark", "Rolling statistics", "Return distribution",
            "Exposure and holdings", "Trades", "Regime", "Decisions", "Appendix: parameters", "Appendix: data",
            "Metric glossary"]
#: "Under 6 MB" as a reader means it: decimal megabytes (6 MiB would let a 6.2 MB page pass).
MAX_BYTES = 6_000_000


@pytest.fixture(scope="module")
def report(default_run: Callable) -> tuple[Path, str]:
    run_dir = default_run("backtest").run_dir
    return run_dir, (run_dir / "report.html").read_text(encoding="utf-8")


class _Page(html.parser.HTMLParser):
    """Tags' attributes (script bodies are not parsed as tags) and the text of every table cell."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str]] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("src", "href", "data"):
            if a.get(key):
                self.links.append((tag, key, a[key]))
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _page(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    return p


def _headings(text: str) -> list[str]:
    found = re.findall(r"<h([12])[^>]*>(.*?)</h\1>", text, flags=re.S)
    return [re.sub(r"<[^>]+>", "", t).replace("¶", "").strip() for _, t in found]


def test_every_section_in_order(report) -> None:
    _, text = report
    assert _headings(text) == SECTIONS


def test_headline_comes_before_any_other_table(report) -> None:
    _, text = report
    headline = text.index('class="tk-headline"')
    first_table = text.index("<table")
    cumulative = text.index(">Cumulative returns")
    assert headline < first_table < cumulative  # the first table is the headline's own summary
    summary = text[headline:cumulative]
    for label in ("Final equity", "CAGR", "Sharpe ratio", "Max drawdown", "buy &amp; hold NASDAQ", "172,111.46"):
        assert label in summary
    # The parameters and the data description are in the appendix, after every tearsheet section.
    assert text.index(">Appendix: parameters") > text.index(">Decisions")


def test_every_glossary_link_resolves(report) -> None:
    _, text = report
    page = _page(text)
    metric_links = {v[1:] for _, key, v in page.links if key == "href" and v.startswith("#metric-")}
    assert len(metric_links) > 30
    assert metric_links <= page.ids


def test_nothing_is_fetched_from_another_host(report) -> None:
    run_dir, text = report
    external = [link for link in _page(text).links if re.match(r"(https?:)?//", link[2], flags=re.I)]
    assert external == []
    # Relative links point at files the run archived beside the report.
    files = {v for tag, key, v in _page(text).links if key == "href" and not v.startswith("#")}
    assert files == {"trades.csv", "decisions.csv"} and all((run_dir / f).is_file() for f in files)


def test_plotly_js_is_embedded_once_and_the_page_is_small(report) -> None:
    run_dir, text = report
    assert len(re.findall(r"\* plotly\.js v\d", text)) == 1
    assert text.count("Plotly.newPlot(") == 8
    assert (run_dir / "report.html").stat().st_size < MAX_BYTES


def test_no_table_cell_reads_none_or_nan(report) -> None:
    _, text = report
    cells = _page(text).cells
    assert len(cells) > 500
    assert not [c for c in cells if c in ("None", "nan", "NaN", "NaT", "")]
    assert "rows \u00d7" not in text and "rows x 1 columns" not in text


@pytest.fixture(scope="module")
def high_turnover(tmp_path_factory: pytest.TempPathFactory, toolkit_process: Callable) -> tuple[Path, str]:
    """A 2/3-bar SMA crossover on two indices, 1999-2018: 1,740 round trips (the review's 6.44 MB report)."""
    tmp = tmp_path_factory.mktemp("high-turnover")
    done = toolkit_process(["run", "backtest", "--params", "params/backtest/sma_crossover.yaml",
                            "--set", "strategy_params.fast=2", "--set", "strategy_params.slow=3",
                            "--set", "data.symbols=[NASDAQ,SP500]", "--outputs", str(tmp / "out")],
                           f"sqlite:///{tmp / 'ledger.sqlite'}")
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    return run_dir, (run_dir / "report.html").read_text(encoding="utf-8")


def test_a_high_turnover_report_pages_its_trades_and_stays_under_6_mb(high_turnover) -> None:
    run_dir, text = high_turnover
    n_trades = sum(1 for _ in (run_dir / "trades.csv").open()) - 1
    assert n_trades > 1000  # far past the rows the report shows
    assert (run_dir / "report.html").stat().st_size < MAX_BYTES
    shown = f"rows 1–250 and {n_trades - 249:,}–{n_trades:,} of {n_trades:,} round trips shown; all in trades.csv"
    assert shown in text and f"all {n_trades:,} round trips are in trades.csv" in text
    assert 'full table: <a href="trades.csv">trades.csv</a>' in text
    numbered = [int(n.replace(",", "")) for n in re.findall(r"<tr><td>([\d,]+)</td><td>(?:NASDAQ|SP500)</td>", text)]
    assert numbered == [*range(1, 251), *range(n_trades - 249, n_trades + 1)]  # first and last 250, in order


def test_no_raw_summary_line_between_the_headline_and_the_first_section(report) -> None:
    """The audit: ``print(report.summary_line())`` (the nbval check) showed as a raw line under the headline.

    It stays in the archived notebook (tagged log-only), not in the report.
    """
    import nbformat

    run_dir, text = report
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# NBVAL_CHECK_OUTPUT"))
    printed = "".join(o.get("text", "") for o in cell.outputs).strip()
    assert printed.startswith("sma_crossover on NASDAQ:") and "log-only" in cell.metadata["tags"]
    assert printed not in text and "4779 bars" not in text
    between = text[text.index('class="tk-headline"'):text.index(">Cumulative returns")]
    assert "<pre>" not in between


def test_the_decisions_table_writes_weights_in_percent_and_indicators_with_separators(report) -> None:
    """The audit: target weights read "0", indicators "7090" (no separator, uneven precision)."""
    run_dir, text = report
    section = text[text.index(">Decisions<"):text.index(">Appendix: parameters")]
    cells = _page(section).cells
    header = cells[:5]
    assert header == ["bar", "weight NASDAQ", "rebalance", "SMA fast NASDAQ", "SMA slow NASDAQ"]  # words, not keys
    rows = [cells[i:i + 5] for i in range(5, len(cells), 5)]
    assert len(rows) == 10
    import pandas as pd

    tail = pd.read_csv(run_dir / "decisions.csv").tail(10)
    assert [r[1] for r in rows] == [f"{w * 100:.2f}%" for w in tail["weight_NASDAQ"]]  # 2 decimals, as elsewhere
    assert [r[2] for r in rows] == ["yes" if b else "no" for b in tail["rebalance"]]
    for i, name in ((3, "sma_fast_NASDAQ"), (4, "sma_slow_NASDAQ")):
        assert [r[i] for r in rows] == [f"{x:,.0f}" for x in tail[name]]  # ~7,000: 4 significant digits
        assert all(re.fullmatch(r"\d,\d{3}", r[i]) for r in rows)


def test_the_trade_list_is_complete(report) -> None:
    run_dir, text = report
    n_trades = sum(1 for _ in (run_dir / "trades.csv").open()) - 1
    assert f"{n_trades} round trips, all shown" in text or n_trades <= 20
    assert 'href="trades.csv"' in text


def test_the_glossary_heading_is_a_page_heading_and_its_prose_reads_left(report) -> None:
    """The review of issue 13 (finding 11): a raw, smaller heading missing from the page's anchors; prose right-aligned."""
    _, text = report
    assert re.search(r'<h2 id="Metric-glossary">Metric glossary<a class="anchor-link" href="#Metric-glossary">', text)
    glossary = text[text.index('id="metric-glossary"'):]
    assert "<h2>" not in glossary[:2000]  # one heading: the page's own
    assert "section.tk-glossary.tk-glossary table th,section.tk-glossary.tk-glossary table td" in glossary and "text-align:left" in glossary


def test_capture_rows_say_which_capture_they_are(report) -> None:
    """The review of issue 13 (finding 9): "Capture ratio 1.15" beside up 0.20 / down 0.78 read as up/down."""
    _, text = report
    section = text[text.index(">Against the benchmark"):text.index(">Rolling statistics")]
    cells = _page(section).cells
    row = {cells[i]: cells[i + 1] for i in range(len(cells) - 1)}
    assert "Capture ratio" not in cells and "Return capture (CAGR ratio)" in row
    up, down = float(row["Up capture"]), float(row["Down capture"])
    assert float(row["Up/down capture ratio"]) == pytest.approx(up / down, abs=0.02)
    assert 'href="#metric-up-down-capture"' in section and 'id="metric-up-down-capture"' in text


def test_the_equity_chart_reaches_the_lowest_equity(report) -> None:
    """The review of issue 13 (finding 4): the weekly equity trace's trough was shallower than the table's."""
    import pandas as pd
    from support.report_checks import plotly_figures

    run_dir, text = report
    eq = pd.read_csv(run_dir / "equity.csv", index_col=0)["equity"]
    fig = next(f for f in plotly_figures(text) if f["layout"].get("yaxis", {}).get("type") == "log")
    strat = next(t for t in fig["data"] if t.get("name") == "strategy")
    assert len(strat["y"]) < len(eq)  # decimated, so the page stays small
    assert min(strat["y"]) == pytest.approx(eq.min(), rel=1e-6) and max(strat["y"]) == pytest.approx(eq.max(), rel=1e-6)
    cumulative = [t for t in fig["data"] if t.get("name") == "strategy"][1]
    assert min(cumulative["y"]) == pytest.approx(eq.min() / 100_000 - 1, abs=1e-6)
