"""``outputs/index.html``: every archived run on one page that opens from disk, offline.

The runner rewrites the page after every run (failed and interrupted runs too) and
``toolkit runs index`` rebuilds it by hand. One row per run: date, notebook, strategy,
status (with the error of a failed run), the figures that say how it went for its kind
of notebook (a backtest's CAGR, Sharpe, max drawdown and final equity; a walk-forward's
out-of-sample figures with its deflated Sharpe and probability of backtest overfitting;
a session's orders, equity and the day's P&L), and a relative link to its report, so the
page keeps working when ``outputs/`` is copied or zipped elsewhere.

A small inline script sorts by any column (click its header) and filters by text,
notebook and status; without it the page is still the full table, newest first. The
figures come from :func:`toolkit.runner.run_summary` (the same row ``toolkit runs``
prints), which reads only each run's small JSON files, never its notebook or report,
so a few hundred runs index in well under a second.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from toolkit.ops.html_page import esc, page, write_page

__all__ = ["COLUMNS", "INDEX_FILE", "index_rows", "refresh_index", "render_index", "write_index"]

INDEX_FILE = "index.html"


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _ratio(x: float) -> str:
    return f"{x:.2f}"


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _signed_money(x: float) -> str:
    return f"{x:+,.2f}"


def _count(x: float) -> str:
    return f"{int(x)}"


@dataclass(frozen=True)
class Column:
    """One figure column: the :func:`~toolkit.runner.run_summary` keys it reads (first present wins)."""

    label: str
    keys: tuple[str, ...]
    fmt: Callable[[float], str]
    title: str
    signed: bool = False  # colour gains green and losses red

    def value(self, row: dict[str, Any]) -> float | None:
        for key in self.keys:
            x = _num(row.get(key))
            if x is not None:
                return x
        return None


#: The figure columns, in page order. A notebook fills the ones that apply to it.
COLUMNS: tuple[Column, ...] = (
    Column("CAGR", ("cagr",), _pct, "compound annual growth rate (walk-forward: stitched out-of-sample)"),
    Column("Sharpe", ("sharpe",), _ratio, "annualised Sharpe ratio (walk-forward: out-of-sample)"),
    Column("Max DD", ("max_drawdown",), _pct, "maximum drawdown"),
    Column("Final equity", ("final_equity", "session_equity"), _money,
           "equity at the end (a session: the account's equity after it)"),
    Column("DSR", ("dsr",), _ratio, "walk-forward: deflated Sharpe ratio of the selection"),
    Column("PBO", ("pbo",), _ratio, "walk-forward: probability of backtest overfitting"),
    Column("Orders", ("orders",), _count, "session: orders sent"),
    Column("P&L", ("session_pnl",), _signed_money, "session: the day's profit or loss", signed=True),
)


def index_rows(outputs: Path) -> list[dict[str, Any]]:
    """One :func:`~toolkit.runner.run_summary` row per archived run, newest first (unreadable manifests skipped)."""
    from toolkit.runner import run_summary

    rows = []
    for mf in outputs.glob("*/*/manifest.json"):
        try:
            manifest = json.loads(mf.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(manifest, dict):
            rows.append(run_summary(mf.parent, manifest))
    rows.sort(key=lambda r: str(r.get("started_utc") or ""), reverse=True)
    return rows


def _href(outputs: Path, target: str | Path) -> str:
    """A link from ``outputs/index.html`` to ``target`` below it, relative and URL-quoted."""
    # Run folders come from outputs.glob(), so they already lie below outputs (no resolve(): it
    # costs more than reading the run's JSON).
    return quote(Path(target).relative_to(outputs).as_posix())


def _date_cell(started: Any) -> str:
    text = str(started or "")
    shown = text[:16].replace("T", " ") if text else "-"
    return f'<td data-sort="{esc(text)}" class="mono">{esc(shown)}</td>'


def _status_cell(row: dict[str, Any]) -> str:
    status = str(row.get("status") or "unknown")
    parts = [f'<span class="status s-{esc(status)}">{esc(status)}</span>']
    session = " ".join(str(x) for x in (row.get("session_date"), row.get("session_status")) if x)
    if session and row.get("notebook") in ("daily_dry_run", "live"):
        parts.append(f'<div class="meta">session {esc(session)}</div>')
    error = row.get("error")
    if error and status != "completed":
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        parts.append(f'<div class="err" title="{esc(error)}">{esc(first[:160])}</div>')
    return f'<td data-sort="{esc(status)}">{"".join(parts)}</td>'


def _figure_cell(column: Column, row: dict[str, Any]) -> str:
    x = column.value(row)
    if x is None:
        return '<td class="num" data-sort=""></td>'
    css = "num" + ((" up" if x > 0 else " down" if x < 0 else "") if column.signed else "")
    return f'<td class="{css}" data-sort="{x!r}">{esc(column.fmt(x))}</td>'


def _row_html(row: dict[str, Any], outputs: Path) -> str:
    notebook, status = str(row.get("notebook") or ""), str(row.get("status") or "unknown")
    run_dir = Path(row["run_dir"])
    report = (f'<a href="{_href(outputs, row["report"])}">report</a>' if row.get("report")
              else '<span class="absent">none</span>')
    cells = [
        _date_cell(row.get("started_utc")),
        f"<td>{esc(notebook)}</td>",
        f"<td>{esc(row.get('strategy') or '-')}</td>",
        f"<td>{esc(row.get('account') or '-')}</td>",
        _status_cell(row),
        *(_figure_cell(c, row) for c in COLUMNS),
        f'<td class="mono"><a href="{_href(outputs, run_dir)}/">{esc(row.get("run_id"))}</a></td>',
        f"<td>{report}</td>",
    ]
    return f'<tr data-notebook="{esc(notebook)}" data-status="{esc(status)}">{"".join(cells)}</tr>'


def _options(values: Iterable[str], everything: str) -> str:
    opts = [f'<option value="">{esc(everything)}</option>']
    opts += [f'<option value="{esc(v)}">{esc(v)}</option>' for v in sorted(set(values))]
    return "".join(opts)


_CSS = """
.controls { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-bottom: .75rem; }
.controls input { min-width: 18rem; padding: .25rem .4rem; }
th button { all: inherit; cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
tbody tr:hover { background: #f6f8fa; }
"""

#: Sorting (click a header; empty cells stay last), filtering, and hiding figure columns
#: no visible row fills (a backtest has no orders), in plain ES5 with no library.
_SCRIPT = """
(function () {
  var table = document.getElementById("runs"), body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var q = document.getElementById("q"), nb = document.getElementById("nb"), st = document.getElementById("st");
  function key(row, i, numeric) {
    var v = row.cells[i].getAttribute("data-sort");
    if (v === null) { v = row.cells[i].textContent; }
    if (v === "") { return null; }
    return numeric ? parseFloat(v) : v.toLowerCase();
  }
  heads.forEach(function (th, i) {
    th.querySelector("button").addEventListener("click", function () {
      var numeric = th.getAttribute("data-type") === "number";
      var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      rows.sort(function (a, b) {
        var x = key(a, i, numeric), y = key(b, i, numeric);
        if (x === null) { return y === null ? 0 : 1; }
        if (y === null) { return -1; }
        return x < y ? -dir : (x > y ? dir : 0);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  function filter() {
    var text = q.value.trim().toLowerCase(), shown = 0;
    rows.forEach(function (r) {
      var ok = (!nb.value || r.getAttribute("data-notebook") === nb.value) &&
               (!st.value || r.getAttribute("data-status") === st.value) &&
               (!text || r.textContent.toLowerCase().indexOf(text) >= 0);
      r.hidden = !ok;
      if (ok) { shown += 1; }
    });
    heads.forEach(function (th, i) {
      if (th.getAttribute("data-type") !== "number") { return; }
      var used = rows.some(function (r) { return !r.hidden && r.cells[i].getAttribute("data-sort") !== ""; });
      var display = used || shown === 0 ? "" : "none";
      th.style.display = display;
      rows.forEach(function (r) { r.cells[i].style.display = display; });
    });
    document.getElementById("count").textContent = shown + " of " + rows.length + " runs";
    document.getElementById("none").hidden = shown > 0;
  }
  [q, nb, st].forEach(function (el) {
    el.addEventListener("input", filter);
    el.addEventListener("change", filter);
  });
  filter();
})();
"""


def _head_cell(label: str, kind: str, title: str, *, newest_first: bool) -> str:
    attrs = [f'data-type="{kind}"']
    if kind == "number":
        attrs.append('class="num"')
    if title:
        attrs.append(f'title="{esc(title)}"')
    if newest_first:  # the rows come newest first
        attrs.append('aria-sort="descending"')
    return f'<th {" ".join(attrs)}><button type="button">{esc(label)}</button></th>'


def render_index(rows: list[dict[str, Any]], outputs: Path, *, generated: str | None = None) -> str:
    """The whole page for ``rows`` (from :func:`index_rows`), links relative to ``outputs``."""
    heads = [("Date", "date", "when the run started (UTC)"), ("Notebook", "text", ""), ("Strategy", "text", ""),
             ("Account", "text", "a session's account (research runs have none)"), ("Status", "text", ""),
             *((c.label, "number", c.title) for c in COLUMNS),
             ("Run", "text", "the run's folder"), ("Report", "text", "")]
    thead = "".join(_head_cell(label, kind, title, newest_first=i == 0) for i, (label, kind, title) in enumerate(heads))
    body_rows = "\n".join(_row_html(r, outputs) for r in rows)
    when = f", generated {esc(generated)}" if generated else ""
    body = f"""<h1>Archived runs</h1>
<p class="meta">{len(rows)} run{"" if len(rows) == 1 else "s"} under <code>{esc(outputs)}</code>{when}.
Click a column header to sort; <code>toolkit runs show RUN</code> and <code>toolkit runs diff A B</code> tell more.</p>
<div class="controls">
<input id="q" type="search" placeholder="filter: strategy, account, run id, session ..." aria-label="filter runs">
<select id="nb" aria-label="notebook">{_options((str(r.get("notebook")) for r in rows), "all notebooks")}</select>
<select id="st" aria-label="status">{_options((str(r.get("status")) for r in rows), "every status")}</select>
<span id="count" class="meta">{len(rows)} runs</span>
</div>
<table id="runs">
<thead><tr>{thead}</tr></thead>
<tbody>
{body_rows}
</tbody>
</table>
<p id="none" class="meta"{" hidden" if rows else ""}>No run matches.</p>"""
    return page("Archived runs", body, css=_CSS, script=_SCRIPT)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def write_index(outputs: Path | None = None, *, clock: Callable[[], datetime] = _utc_now) -> Path:
    """Rebuild ``<outputs>/index.html`` from every run's manifest and metrics (atomically)."""
    from toolkit.params import repo_root

    root = outputs if outputs is not None else repo_root() / "outputs"
    root.mkdir(parents=True, exist_ok=True)
    generated = clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return write_page(root / INDEX_FILE, render_index(index_rows(root), root, generated=generated))


def refresh_index(outputs: Path, log: Callable[[str], None]) -> Path | None:
    """:func:`write_index`, but a failure is a warning on ``log``, never the run's failure."""
    try:
        return write_index(outputs)
    except Exception as exc:  # a full disk or a bad manifest must not turn a finished run into a failed one
        log(f"warning: the run index {outputs / INDEX_FILE} was not updated ({type(exc).__name__}: {exc}); "
            "`toolkit runs index` rebuilds it")
        return None
