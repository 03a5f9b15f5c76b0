"""outputs/index.html (toolkit.ops.run_index) on hand-made archives: per-kind figures, relative
links that resolve, nothing external, user text escaped, and a failure that only warns.

The real runner writing the page after real runs is in tests/integration/test_run_archive_ops.py."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from toolkit.ops.run_index import COLUMNS, INDEX_FILE, index_rows, refresh_index, render_index, write_index


def _run(root: Path, notebook: str, run_id: str, started: str, *, status: str = "completed", strategy: str = "sma",
         report: bool = True, error: str | None = None, session: dict | None = None, account: str | None = None,
         **files: dict) -> Path:
    run_dir = root / notebook / run_id
    run_dir.mkdir(parents=True)
    manifest = {"run_id": run_id, "notebook": f"notebooks/{notebook}.ipynb", "status": status, "error": error,
                "started_utc": started, "params": {"strategy": strategy, **({"account": account} if account else {})}}
    if session is not None:
        manifest["session"] = session
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    for name, content in files.items():
        (run_dir / f"{name}.json").write_text(json.dumps(content))
    if report:
        (run_dir / "report.html").write_text("<html><body>report</body></html>")
    return run_dir


class _Page(HTMLParser):
    """Every tag with its attributes, the text of each table row, and the inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[str]] = []
        self.scripts: list[str] = []
        self._cell: list[str] | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_script:
            self.scripts[-1] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _archive(root: Path) -> None:
    _run(root, "backtest", "20260105T210000Z-aaaa0001", "2026-01-05T21:00:00+00:00",
         metrics={"cagr": 0.1349, "sharpe": 1.126, "max_drawdown": -0.0971, "final_equity": 146045.834})
    _run(root, "walk_forward", "20260106T210000Z-bbbb0002", "2026-01-06T21:00:00+00:00",
         metrics={"cagr": 0.05, "sharpe": 0.61, "max_drawdown": -0.2, "final_equity": 120000.0,
                  "deflated_sharpe": {"dsr": 0.42, "psr": 0.9}, "pbo": {"pbo": 0.25, "n_splits": 8}})
    _run(root, "daily_dry_run", "20260107T210000Z-cccc0003", "2026-01-07T21:00:00+00:00", account="team-a",
         session={"run_key": "sma|dry-run|2018-06-01|close", "status": "completed", "mode": "offline_mock"},
         snapshot={"session_date": "2018-06-01", "orders": 1, "status": "completed",
                   "snapshot": {"equity": "99901.793709", "daily_return": -0.00098206291}})
    _run(root, "backtest", "20260108T210000Z-dddd0004", "2026-01-08T21:00:00+00:00", status="failed", report=False,
         strategy="<script>alert(1)</script>", error="ValueError: <b>bad</b> window\ntraceback line")


def test_every_run_is_a_row_newest_first_with_its_kinds_figures(tmp_path: Path) -> None:
    _archive(tmp_path)
    path = write_index(tmp_path)
    assert path == tmp_path / INDEX_FILE
    page = _parse(path.read_text())
    header, *rows = page.rows
    assert header == ["Date", "Notebook", "Strategy", "Account", "Status", *(c.label for c in COLUMNS), "Run", "Report"]
    by_notebook = {r[1]: dict(zip(header, r, strict=True)) for r in rows}
    assert [r[1] for r in rows] == ["backtest", "daily_dry_run", "walk_forward", "backtest"]  # newest first
    failed, dry, wf, bt = rows[0], by_notebook["daily_dry_run"], by_notebook["walk_forward"], rows[3]
    bt_cells = dict(zip(header, bt, strict=True))
    assert (bt_cells["CAGR"], bt_cells["Sharpe"], bt_cells["Max DD"], bt_cells["Final equity"]) == (
        "13.5%", "1.13", "-9.7%", "146,045.83")
    assert bt_cells["Orders"] == bt_cells["P&L"] == bt_cells["DSR"] == ""  # not a backtest's figures
    assert (wf["DSR"], wf["PBO"], wf["Sharpe"]) == ("0.42", "0.25", "0.61")
    # The day's P&L: the ledger's daily return is equity / previous equity - 1 (100,000 before).
    assert (dry["Orders"], dry["P&L"], dry["Final equity"]) == ("1", "-98.21", "99,901.79")
    assert dry["Status"] == "completed session 2018-06-01 completed"
    assert (dry["Account"], bt_cells["Account"]) == ("team-a", "-")  # research runs have no account
    failed_cells = dict(zip(header, failed, strict=True))
    assert failed_cells["Status"] == "failed ValueError: <b>bad</b> window"  # the error's first line, as text
    assert failed_cells["Report"] == "none" and failed_cells["Strategy"] == "<script>alert(1)</script>"
    assert len(page.scripts) == 1  # the strategy name did not become a script


def test_links_are_relative_and_resolve_and_nothing_is_external(tmp_path: Path) -> None:
    _archive(tmp_path)
    text = write_index(tmp_path).read_text()
    page = _parse(text)
    hrefs = [a["href"] for tag, a in page.tags if tag == "a"]
    assert len(hrefs) == 4 + 3  # a folder link per run, a report link per run that has one
    for href in hrefs:
        assert href and not re.match(r"^[a-z]+:|^/", href), href  # relative: the page survives a copy of outputs/
        assert (tmp_path / unquote(href)).exists(), href
    assert sum(h.endswith("/report.html") for h in hrefs) == 3
    # Self-contained: no stylesheet, script, image or font from anywhere else.
    assert not [t for t, a in page.tags if t in ("link", "img", "iframe", "object", "embed")]
    assert not [a for t, a in page.tags if "src" in a]
    assert "http://" not in text and "https://" not in text and "url(" not in text and "@import" not in text
    script = page.scripts[0]
    for hook in ('getElementById("q")', 'getElementById("nb")', 'getElementById("st")', "aria-sort", "data-sort"):
        assert hook in script
    selects = {a.get("id"): [] for t, a in page.tags if t == "select"}
    assert set(selects) == {"nb", "st"}
    options = [a["value"] for t, a in page.tags if t == "option"]
    assert options == ["", "backtest", "daily_dry_run", "walk_forward", "", "completed", "failed"]
    rows = [a for t, a in page.tags if t == "tr" and "data-notebook" in a]
    assert [r["data-status"] for r in rows] == ["failed", "completed", "completed", "completed"]


def test_empty_archive_and_unreadable_manifests(tmp_path: Path) -> None:
    (tmp_path / "backtest" / "junk").mkdir(parents=True)
    (tmp_path / "backtest" / "junk" / "manifest.json").write_text("{not json")
    assert index_rows(tmp_path) == []
    page = _parse(write_index(tmp_path).read_text())
    assert len(page.rows) == 1  # the header only
    assert ("p", {"id": "none", "class": "meta"}) in page.tags  # "No run matches." shown (not hidden)


def test_rewrite_is_atomic_and_a_failure_only_warns(tmp_path: Path) -> None:
    _archive(tmp_path)
    write_index(tmp_path)
    _run(tmp_path, "backtest", "20260109T210000Z-eeee0005", "2026-01-09T21:00:00+00:00", metrics={"sharpe": 2.0})
    write_index(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backtest", "daily_dry_run", INDEX_FILE, "walk_forward"]
    assert "20260109T210000Z-eeee0005" in (tmp_path / INDEX_FILE).read_text()
    # outputs/index.html that is a folder cannot be replaced: the caller gets a warning, not an exception.
    blocked = tmp_path / "other"
    (blocked / INDEX_FILE).mkdir(parents=True)
    warnings: list[str] = []
    assert refresh_index(blocked, warnings.append) is None
    assert len(warnings) == 1 and warnings[0].startswith("warning: the run index ") and "runs index" in warnings[0]
    assert not [p for p in blocked.iterdir() if p.name != INDEX_FILE]  # no temporary file left behind


def test_hundreds_of_runs(tmp_path: Path) -> None:
    for i in range(400):
        _run(tmp_path, "backtest", f"2026{i:06d}", f"2026-02-01T{i // 60:02d}:{i % 60:02d}:00+00:00",
             metrics={"sharpe": i / 100, "cagr": 0.01, "max_drawdown": -0.1, "final_equity": 1e5 + i})
    page = _parse(render_index(index_rows(tmp_path), tmp_path))
    assert len(page.rows) == 401
    assert page.rows[1][-2] == "2026000399"  # newest first


@pytest.mark.parametrize("command", [["index"], ["prune", "--keep-days", "1"],
                                     ["prune", "--keep-days", "1", "--dry-run"]])
def test_a_missing_outputs_folder_is_refused_and_not_created(toolkit_cli, tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nonexistent"
    done = toolkit_cli(["runs", "--outputs", str(missing), *command])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"error: --outputs: got {str(missing)!r}; allowed: an existing outputs folder "
                           "(the one `toolkit run` archives into)\n")
    assert not missing.exists()
