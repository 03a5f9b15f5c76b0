"""Each notebook's archived report.html, opened from file:// in headless Chromium (issue 13, point 6).

A report is what a quant mails to a colleague: it must work offline, in a real browser,
with every chart drawn. One Chromium opens the reports of the session's archived runs
(``default_run`` for backtest and walk-forward, ``dry_run_archive`` for the daily dry
run; no notebook runs again here) and checks, per report:

* no SEVERE entry in the console (a JavaScript error, a failed load);
* every request the page made (DevTools performance log, ``Network.requestWillBeSent``)
  is to file:, data:, blob: or about: - nothing leaves the machine;
* every plotly div holds a drawn chart (its ``.main-svg``);
* a full-page screenshot in ``$TOOLKIT_TEST_ARTIFACTS`` (default ``test-artifacts/``).

The live report is the session's ``live_run_archive`` (one run against the Alpaca
stand-in, shared with tests/integration/test_live_run.py).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from support.archived_runs import DefaultRun, DryRunArchive, LiveRunArchive
from support.browser import BrowserLog, artifacts_dir, browser_missing, full_page_png, new_browser

#: URL schemes a self-contained page may load; anything else (http, https, ws, ...) is a request out.
OFFLINE_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:")
REPORTS = ("backtest", "walk_forward", "daily_dry_run", "live")

_COUNT_CHARTS_JS = """const divs = Array.from(document.querySelectorAll('div.plotly-graph-div'));
return [divs.length, divs.filter(d => d.querySelector('.plot-container .main-svg')).length];"""


@pytest.fixture(scope="module")
def report_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium (1280 px) for every report of the module."""
    if reason := browser_missing():
        pytest.skip(reason)
    driver = new_browser(1280, Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path_factory.mktemp("reports"))))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def report_path(request: pytest.FixtureRequest, default_run: Callable[[str], DefaultRun]) -> Path:
    """The notebook's archived report; the dry run's and the live run's archives are asked for only when needed."""
    notebook = request.param
    if notebook == "daily_dry_run":
        run_dir = cast(DryRunArchive, request.getfixturevalue("dry_run_archive")).run_dir
    elif notebook == "live":
        run_dir = cast(LiveRunArchive, request.getfixturevalue("live_run_archive")).run_dir
    else:
        run_dir = default_run(notebook).run_dir
    return run_dir / "report.html"


#: The computed text-align of every cell of the glossary section's first rows (definitions, formulas).
_GLOSSARY_ALIGN_JS = """const cells = Array.from(document.querySelectorAll('section.tk-glossary tbody td')).slice(0, 12);
return cells.map(c => getComputedStyle(c).textAlign);"""
#: The computed text-align of the first cell of every report table whose first column is text (a label, a symbol).
_TEXT_COLUMN_ALIGN_JS = """return Array.from(document.querySelectorAll('.tk-table table'))
  .filter(t => /^tk-al-l/.test(t.className)).map(t => t.querySelector('tbody td'))
  .filter(c => c).map(c => getComputedStyle(c).textAlign);"""


@dataclass
class PageCheck:
    """What one page did in the browser."""

    urls: list[str]  # every request, in order (the page itself first)
    severe: list[str]  # SEVERE console entries
    charts: int  # plotly divs
    drawn: int  # plotly divs holding a drawn chart

    @property
    def outside(self) -> list[str]:
        return [u for u in self.urls if not u.startswith(OFFLINE_SCHEMES)]


def open_page(driver: Any, path: Path, *, chart_timeout: float = 60) -> PageCheck:
    """Open ``path`` from file://, wait till every plotly chart is drawn (``chart_timeout`` s at most), read logs."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drain what an earlier page left
    driver.get_log("performance")
    driver.get(path.resolve().as_uri())

    def all_drawn(d: Any) -> bool:
        charts, drawn = d.execute_script(_COUNT_CHARTS_JS)
        return bool(charts == drawn)

    with contextlib.suppress(TimeoutException):  # an undrawn chart is reported by the counts below
        WebDriverWait(driver, chart_timeout).until(all_drawn)
    charts, drawn = driver.execute_script(_COUNT_CHARTS_JS)
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(str(msg["params"]["request"]["url"]))
    log = BrowserLog().collect(driver)  # console only: the performance log is drained above
    return PageCheck(urls, log.severe + log.known, int(charts), int(drawn))


@pytest.mark.parametrize("report_path", REPORTS, indirect=True)
def test_report_renders_offline_with_every_chart_and_no_console_error(report_browser: Any, report_path: Path,
                                                                       request: pytest.FixtureRequest) -> None:
    notebook = request.node.callspec.params["report_path"]
    page = open_page(report_browser, report_path)
    shot = artifacts_dir() / f"report-{notebook}.png"
    shot.write_bytes(full_page_png(report_browser))

    assert page.urls and page.urls[0] == report_path.resolve().as_uri(), page.urls[:3]
    assert not page.outside, f"{notebook} report requested URLs off the machine: {page.outside}"
    assert not page.severe, "SEVERE console entries:\n" + "\n".join(page.severe)
    assert page.charts > 0, f"{notebook} report has no plotly chart"
    assert page.drawn == page.charts, f"{notebook} report: {page.drawn} of {page.charts} plotly charts drawn"
    assert shot.stat().st_size > 10_000
    # The glossary's prose reads left-aligned in the browser (the review of issue 13 found it right-aligned:
    # JupyterLab's export right-aligns every td), the metric glossary's heading one of the page's own h2.
    aligned = report_browser.execute_script(_GLOSSARY_ALIGN_JS)
    assert aligned and set(aligned) == {"left"}, aligned
    if notebook in ("backtest", "walk_forward"):
        assert report_browser.execute_script("return !!document.querySelector('h2#Metric-glossary');")
    text_cells = report_browser.execute_script(_TEXT_COLUMN_ALIGN_JS)  # and a table's text columns too
    assert text_cells and set(text_cells) == {"left"}, text_cells


def test_the_checks_catch_an_error_a_request_out_and_an_undrawn_chart(report_browser: Any, tmp_path: Path) -> None:
    """The same checks on a page that breaks all three rules: each is reported."""
    page_path = tmp_path / "broken.html"
    page_path.write_text('<html><body><div class="plotly-graph-div"></div>'
                         '<script src="https://cdn.example.invalid/plotly.min.js"></script>'
                         '<script>throw new Error("report-test-boom")</script></body></html>')
    page = open_page(report_browser, page_path, chart_timeout=1)
    assert page.outside == ["https://cdn.example.invalid/plotly.min.js"]
    assert any("report-test-boom" in m for m in page.severe), page.severe
    assert (page.charts, page.drawn) == (1, 0)


#: Zoom the first log axis of the page to [low, high] (data units) and return its tick labels, bottom to top.
_ZOOM_LOG_AXIS_JS = """const [low, high, done] = arguments;
const gd = Array.from(document.querySelectorAll('div.plotly-graph-div'))
  .find(d => d.layout && d.layout.yaxis && d.layout.yaxis.type === 'log');
const labels = () => Array.from(gd.querySelectorAll('g.ytick text'))
  .map(t => [t.getBoundingClientRect().top, t.textContent]).sort((a, b) => b[0] - a[0]).map(p => p[1]);
if (low === null) { done(labels()); return; }
Plotly.relayout(gd, {'yaxis.range': [Math.log10(low), Math.log10(high)]}).then(() => done(labels()));"""

_SI = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


def _label_values(labels: list[str]) -> list[float]:
    """``50k`` -> 50000.0; a label that is not a whole number with an SI suffix fails the test."""
    import re

    values = []
    for text in labels:
        match = re.fullmatch(r"(\d+(?:\.\d+)?)([kMG]?)", text)
        assert match, f"unreadable tick label {text!r} in {labels}"
        values.append(float(match.group(1)) * _SI[match.group(2)])
    return values


@pytest.mark.parametrize("report_path", ["backtest"], indirect=True)
def test_the_log_equity_axis_ticks_follow_a_zoom_and_stay_readable(report_browser: Any, report_path: Path) -> None:
    """The equity axis (log) as drawn: full labels (never "2, 100k, 9, 8"), ascending, inside the view, at every zoom.

    Zooms by plotly's own relayout, as a drag in the browser does: to less than a decade
    (round linear steps), about one and two decades (1-2-5 values) and five decades
    (powers of ten). Fixed tickvals would leave the narrow view with no tick at all.
    """
    page = open_page(report_browser, report_path)
    assert page.drawn == page.charts > 0
    views = {"as drawn": (None, None), "110k-190k": (110e3, 190e3), "30k-300k": (30e3, 300e3),
             "20k-2M": (20e3, 2e6), "1k-100M": (1e3, 1e8)}
    drawn = {}
    for name, (low, high) in views.items():
        labels = report_browser.execute_async_script(_ZOOM_LOG_AXIS_JS, low, high)
        values = _label_values(labels)
        assert len(values) >= 3, f"{name}: {labels}"
        assert values == sorted(set(values)), f"{name}: {labels}"  # ascending up the axis
        if low is not None:
            assert low * 0.999 <= values[0] and values[-1] <= high * 1.001, f"{name}: {labels}"
        drawn[name] = labels
    assert drawn["as drawn"] == ["50k", "100k", "150k", "200k"]  # the default run: 27k..196k
    assert drawn["110k-190k"] == ["120k", "140k", "160k", "180k"]
    assert drawn["30k-300k"] == ["50k", "100k", "200k"]
    assert drawn["20k-2M"] == ["20k", "50k", "100k", "200k", "500k", "1M", "2M"]
    assert drawn["1k-100M"] == ["10k", "1M", "100M"]  # every second power of ten
