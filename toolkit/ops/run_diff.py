"""``toolkit runs diff RUN_A RUN_B``: what differs between two archived runs, side by side.

"Why did this backtest's Sharpe drop?" is answered by what changed between two runs:
a parameter, the code (commit, uncommitted changes), the data (its fingerprint), a
package version, and what came out of it (the metrics, with the change). Each of those
is a section; a section with no difference says ``same``, so the eye goes straight to
what moved. Everything comes from the runs' ``manifest.json``, ``metrics.json`` and
(a session) ``snapshot.json``. The same comparison renders as text for the terminal and
as a self-contained HTML page (``--html FILE``) that opens offline.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ParamsError
from toolkit.ops.html_page import esc, page, write_page
from toolkit.ops.run_files import json_part, read_json_object

__all__ = [
    "ABSENT", "Change", "RunDiff", "RunSide", "Section", "check_html_target", "diff_html", "diff_runs", "diff_text",
    "write_diff_html",
]


class _Absent:
    """A key one run has and the other does not (distinct from a value of null)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()

#: The widest value shown in a terminal cell (the HTML page shows every character).
_TEXT_WIDTH = 66  # a 64-character data fingerprint fits whole


@dataclass(frozen=True)
class Change:
    key: str
    a: Any
    b: Any
    change: str = ""  # metrics: the difference b - a and, where it means something, relative


@dataclass(frozen=True)
class Section:
    title: str
    changes: tuple[Change, ...]
    compared: int  # keys in either run

    @property
    def same(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class RunSide:
    """Who a run is, for the heading of the comparison."""

    label: str  # A or B
    run_id: str
    notebook: str
    strategy: str
    status: str
    started: str
    run_dir: Path
    report: Path | None


@dataclass(frozen=True)
class RunDiff:
    a: RunSide
    b: RunSide
    sections: tuple[Section, ...]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (``strategy_params.fast``); lists stay whole values."""
    if isinstance(value, dict) and (value or not prefix):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _number(value: Any) -> float | None:
    """A metric as a number: ints and floats, and decimal text (a snapshot's equity is text)."""
    if isinstance(value, bool) or value is None or value is ABSENT:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _change(a: Any, b: Any) -> str:
    if a is ABSENT:
        return "added"
    if b is ABSENT:
        return "removed"
    x, y = _number(a), _number(b)
    if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
        return "changed"
    delta = y - x
    text = f"{delta:+,.6g}"
    if x != 0:
        text += f" ({delta / abs(x):+.1%})"
    return text


def _compare(title: str, a: dict[str, Any], b: dict[str, Any], *, with_change: bool = False) -> Section:
    keys = list(a) + [k for k in b if k not in a]
    pairs = [(k, a.get(k, ABSENT), b.get(k, ABSENT)) for k in keys]
    changes = tuple(Change(k, x, y, _change(x, y) if with_change else "") for k, x, y in pairs if x != y)
    return Section(title, changes, len(keys))


def _side(label: str, run_dir: Path, manifest: dict[str, Any]) -> RunSide:
    params = json_part(manifest, "params")
    report = run_dir / "report.html"
    return RunSide(label, str(manifest.get("run_id") or run_dir.name),
                   Path(str(manifest.get("notebook") or run_dir.parent.name)).stem, str(params.get("strategy") or "-"),
                   str(manifest.get("status") or "-"), str(manifest.get("started_utc") or "-"), run_dir,
                   report if report.is_file() else None)


def _code(manifest: dict[str, Any]) -> dict[str, Any]:
    git = json_part(manifest, "git")
    return {"git commit": git.get("commit"), "uncommitted changes (dirty)": git.get("dirty"),
            "python": manifest.get("python")}


def _results(run_dir: Path) -> dict[str, Any]:
    """metrics.json flattened, plus a session's snapshot.json under ``session.``."""
    out = flatten(read_json_object(run_dir / "metrics.json"))
    snapshot = read_json_object(run_dir / "snapshot.json")
    if snapshot:
        out.update(flatten(snapshot, "session"))
    return out


def diff_runs(run_a: Path, run_b: Path) -> RunDiff:
    """Compare two run directories (as :func:`toolkit.ops.runs.resolve_run` finds them)."""
    ma, mb = read_json_object(run_a / "manifest.json"), read_json_object(run_b / "manifest.json")
    sections = (
        _compare("params", flatten(json_part(ma, "params")), flatten(json_part(mb, "params"))),
        _compare("code version", _code(ma), _code(mb)),
        _compare("data fingerprint", {"data_fingerprint": ma.get("data_fingerprint")},
                 {"data_fingerprint": mb.get("data_fingerprint")}),
        _compare("package versions", json_part(ma, "packages"), json_part(mb, "packages")),
        _compare("metrics", _results(run_a), _results(run_b), with_change=True),
    )
    return RunDiff(_side("A", run_a, ma), _side("B", run_b, mb), sections)


def shown(value: Any) -> str:
    """A value as a person reads it: null, true/false, lists as JSON, floats in full."""
    if value is ABSENT:
        return "(absent)"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "), default=str)
    return str(value)


def _cut(text: str, width: int = _TEXT_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def diff_text(diff: RunDiff) -> str:
    """The comparison for the terminal: who A and B are, then each section (``same``, or its table)."""
    lines = [f"{s.label}  {s.notebook}/{s.run_id}  {s.strategy}  {s.status}  started {s.started}"
             for s in (diff.a, diff.b)]
    if diff.a.notebook != diff.b.notebook:
        lines.append(f"note: different notebooks ({diff.a.notebook}, {diff.b.notebook}); params and metrics differ "
                     "in kind")
    for sec in diff.sections:
        lines.append("")
        if sec.same:
            lines.append(f"{sec.title}: same")
            continue
        lines.append(f"{sec.title}: {len(sec.changes)} of {sec.compared} differ")
        head = ["key", "A", "B"] + (["change"] if any(c.change for c in sec.changes) else [])
        rows = [[c.key, _cut(shown(c.a)), _cut(shown(c.b))] + ([c.change] if len(head) == 4 else [])
                for c in sec.changes]
        lines += _table([head, *rows])
    return "\n".join(lines)


def _link(target: Path | None, page_dir: Path, text: str) -> str:
    if target is None:
        return '<span class="absent">none</span>'
    try:
        href = Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows): an absolute file URL
        href = target.resolve().as_uri()
    from urllib.parse import quote

    return f'<a href="{esc(quote(href, safe="/:."))}">{esc(text)}</a>'


_CSS = """
table.diff td:nth-child(2), table.diff td:nth-child(3) { font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: 12.5px; word-break: break-word; max-width: 32rem; }
table.diff td:nth-child(1) { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
p.same { color: #1a7f37; margin: .2rem 0; }
"""


def diff_html(diff: RunDiff, page_dir: Path) -> str:
    """The comparison as a self-contained page; links to the runs' reports relative to ``page_dir``."""
    who = "".join(
        f"<tr><th>{s.label}</th><td class=\"mono\">{esc(s.notebook)}/{esc(s.run_id)}</td><td>{esc(s.strategy)}</td>"
        f'<td><span class="status s-{esc(s.status)}">{esc(s.status)}</span></td><td class="mono">{esc(s.started)}</td>'
        f"<td>{_link(s.report, page_dir, 'report')}</td></tr>"
        for s in (diff.a, diff.b)
    )
    parts = [f"<h1>Run A against run B</h1>\n<table><thead><tr><th></th><th>run</th><th>strategy</th><th>status</th>"
             f"<th>started (UTC)</th><th>report</th></tr></thead><tbody>{who}</tbody></table>"]
    for sec in diff.sections:
        if sec.same:
            parts.append(f"<h2>{esc(sec.title)}</h2>\n<p class=\"same\">same ({sec.compared} compared)</p>")
            continue
        with_change = any(c.change for c in sec.changes)
        head = "<th>key</th><th>A</th><th>B</th>" + ('<th class="num">change</th>' if with_change else "")
        rows = []
        for c in sec.changes:
            cells = [esc(c.key), _value_html(c.a), _value_html(c.b)]
            row = "".join(f"<td>{x}</td>" for x in cells)
            if with_change:
                css = "num" + (" up" if c.change.startswith("+") else " down" if c.change.startswith("-") else "")
                row += f'<td class="{css}">{esc(c.change)}</td>'
            rows.append(f"<tr>{row}</tr>")
        parts.append(f"<h2>{esc(sec.title)}</h2>\n<p class=\"meta\">{len(sec.changes)} of {sec.compared} differ</p>\n"
                     f"<table class=\"diff\"><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return page(f"{diff.a.run_id} vs {diff.b.run_id}", "\n".join(parts), css=_CSS)


def _value_html(value: Any) -> str:
    return '<span class="absent">(absent)</span>' if value is ABSENT else esc(shown(value))


def check_html_target(value: str) -> Path:
    """``--html FILE``: a file in an existing folder (checked before any run is read)."""
    path = Path(value).expanduser()
    if path.is_dir() or not path.parent.is_dir():
        raise ParamsError("--html", value, "a file path in an existing folder (e.g. diff.html)")
    return path


def write_diff_html(diff: RunDiff, path: Path) -> Path:
    """Write :func:`diff_html` to ``path`` (atomically)."""
    return write_page(path, diff_html(diff, path.parent))
