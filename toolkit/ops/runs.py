"""The run index as a user reads it: ``toolkit run``'s outcome line and ``toolkit runs``.

Every archived run has one row (:func:`toolkit.runner.run_summary`); this module turns
rows into text: the key figures of a run in one phrase (a backtest's final equity and
Sharpe, a walk-forward's out-of-sample Sharpe and deflated Sharpe, a dry run's session
status and order count), the table of runs, the description of one run
(``toolkit runs show``) and its report, opened in a browser where there is one
(``toolkit runs open``).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import ParamsError
from toolkit.ops.run_files import read_json_object
from toolkit.params import repo_root
from toolkit.runner import list_runs, run_summary

__all__ = [
    "browser_available", "describe_run", "existing_outputs", "key_figures", "open_report", "outcome_line",
    "resolve_run", "runs_table",
]

#: The longest error text shown in a table cell or an outcome line (the manifest has all of it).
_ERROR_WIDTH = 70


def _num(value: Any) -> float | None:
    """A finite float, or None for a figure the run does not have (None, NaN, text)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _present(value: Any) -> bool:
    """Whether a row has this value (None and NaN, pandas' empty cell, are absent)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _short(text: Any, width: int = _ERROR_WIDTH) -> str:
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def key_figures(row: Mapping[str, Any]) -> str:
    """The figures that say how a run went, in one phrase ('' when it has none yet)."""
    if row.get("status") in ("failed", "locked"):
        return f"error: {_short(row.get('error'))}" if row.get("error") else str(row.get("status"))
    parts: list[str] = []
    notebook = row.get("notebook")
    equity, sharpe, mdd = _num(row.get("final_equity")), _num(row.get("sharpe")), _num(row.get("max_drawdown"))
    if notebook in ("daily_dry_run", "live"):
        orders = _num(row.get("orders"))
        session = " ".join(str(x) for x in ("session", row.get("session_date"), row.get("session_status"))
                           if _present(x))
        parts.append(session)
        if orders is not None:
            parts.append(f"{int(orders)} order" + ("" if int(orders) == 1 else "s"))
    elif notebook == "walk_forward":
        if sharpe is not None:
            parts.append(f"out-of-sample Sharpe {sharpe:.2f}")
        for name in ("dsr", "psr"):
            value = _num(row.get(name))
            if value is not None:
                parts.append(f"{name.upper()} {value:.2f}")
        if equity is not None:
            parts.append(f"final equity {equity:,.2f}")
    else:
        if equity is not None:
            parts.append(f"final equity {equity:,.2f}")
        if sharpe is not None:
            parts.append(f"Sharpe {sharpe:.2f}")
        if mdd is not None:
            parts.append(f"max drawdown {mdd:.1%}")
    return ", ".join(parts)


def outcome_line(row: Mapping[str, Any]) -> str:
    """``toolkit run``'s one-line outcome: notebook, strategy, status and key figures."""
    who = " ".join(str(x) for x in (row.get("notebook"), row.get("strategy")) if x)
    figures = key_figures(row)
    if row.get("status") == "locked":  # the holder is on the line above (stderr)
        return f"{who} locked: another run of this session holds its lock; this one did not start"
    if row.get("status") == "failed":  # the error itself is on the line above (stderr)
        took = _num(row.get("duration_s"))
        return f"{who} failed" + (f" after {took:.1f} s" if took is not None else "") + "; see manifest.json"
    return f"{who} {row.get('status')}" + (f": {figures}" if figures else "")


def _display_path(path: Any) -> str:
    """``path`` relative to the working directory when it lies below it, else as it is."""
    if not _present(path) or not path:
        return "-"
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def runs_table(outputs: Path | None = None, *, notebook: str | None = None, limit: int = 20) -> str:
    """``toolkit runs``: newest first, one line per run (id, notebook, strategy, status, figures, report)."""
    df = list_runs(outputs)
    if notebook:
        df = df[df["notebook"] == notebook]
    if df.empty:
        return "no archived runs under outputs/"
    headers = ["run_id", "notebook", "strategy", "status", "key figures", "report"]
    rows = [
        [str(r["run_id"]), str(r["notebook"]), str(r["strategy"] or "-"), str(r["status"]),
         key_figures(r) or "-", _display_path(r["report"])]
        for r in (dict(zip(df.columns, values, strict=True)) for values in df.head(limit).itertuples(index=False))
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
             for line in [headers, *rows]]
    return "\n".join(lines)


def existing_outputs(given: str | Path | None) -> Path:
    """The outputs folder ``runs index`` / ``runs prune`` work in: ``--outputs`` when given (it must exist:
    both write ``index.html`` into it, and a mistyped path must not become a new, empty archive),
    else the project's ``outputs/``."""
    if given is None:
        return repo_root() / "outputs"
    path = Path(given).expanduser()
    if not path.is_dir():
        raise ParamsError("--outputs", str(given), "an existing outputs folder (the one `toolkit run` archives into)")
    return path


def resolve_run(ref: str, outputs: Path | None = None, *, notebook: str | None = None) -> Path:
    """The run directory ``ref`` names: ``last``, a run id (or its unique prefix), or a run directory."""
    root = outputs or repo_root() / "outputs"
    allowed = "a run id listed by `toolkit runs` (or its first characters), a run directory, or last"
    if ref == "last":
        df = list_runs(root)
        if notebook:
            df = df[df["notebook"] == notebook]
        if df.empty:
            raise ParamsError("RUN", ref, f"an archived run; there is none under {root}")
        return Path(df.iloc[0]["run_dir"])
    given = Path(ref)
    if (given / "manifest.json").is_file():
        return given
    candidates = [mf.parent for mf in root.glob("*/*/manifest.json")
                  if (notebook is None or mf.parent.parent.name == notebook)
                  and (mf.parent.name.startswith(ref) or f"{mf.parent.parent.name}/{mf.parent.name}" == ref)]
    exact = [c for c in candidates if c.name == ref]
    if len(exact) == 1 or len(candidates) == 1:
        return (exact or candidates)[0]
    if candidates:
        names = ", ".join(sorted(f"{c.parent.name}/{c.name}" for c in candidates)[:5])
        raise ParamsError("RUN", ref, f"one run; it matches several ({names}): give more of the run id")
    raise ParamsError("RUN", ref, allowed)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            out.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return [(prefix, value)]


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"
    return str(value)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover - the loop returns


def describe_run(run_dir: Path) -> str:
    """``toolkit runs show``: the manifest in brief, the params as resolved, the metrics, the files."""
    manifest = read_json_object(run_dir / "manifest.json")
    row = run_summary(run_dir, manifest)
    git = manifest.get("git") or {}
    commit = (git.get("commit") or "-")[:12]
    dirty = {"True": " (uncommitted changes)", "False": " (clean)"}.get(str(git.get("dirty")), "")
    took = _num(manifest.get("duration_s"))
    summary = [
        ("run", row["run_id"]),
        ("notebook", row["notebook"]),
        ("strategy", row["strategy"] or "-"),
        ("status", row["status"]),
        ("outcome", key_figures(row) or "-"),
        ("started", f"{manifest.get('started_utc', '-')}" + (f", took {took:.1f} s" if took is not None else "")),
        ("params file", manifest.get("params_file") or "-"),
        ("params hash", manifest.get("params_hash") or "-"),
        ("git commit", f"{commit}{dirty}"),
        ("data", manifest.get("data_fingerprint") or "-"),
        ("error", manifest.get("error") or "-"),
        ("report", row["report"] or "- (no report.html)"),
        ("folder", str(run_dir)),
    ]
    width = max(len(k) for k, _ in summary)
    lines = [f"{k.ljust(width)}  {v}" for k, v in summary]
    params = manifest.get("params")
    if params:
        dumped = yaml.safe_dump(params, sort_keys=False, default_flow_style=False, width=100).rstrip()
        lines += ["", "params (as resolved):", *(f"  {line}" for line in dumped.splitlines())]
    metrics = _flatten(read_json_object(run_dir / "metrics.json"))
    if metrics:
        mwidth = max(len(k) for k, _ in metrics)
        lines += ["", "metrics:", *(f"  {k.ljust(mwidth)}  {_figure(v)}" for k, v in metrics)]
    files = sorted(p for p in run_dir.iterdir() if p.is_file())
    if files:
        fwidth = max(len(p.name) for p in files)
        lines += ["", "files:", *(f"  {p.name.ljust(fwidth)}  {_size(p.stat().st_size):>9}" for p in files)]
    return "\n".join(lines)


def browser_available(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a graphical browser can open here: ``$BROWSER`` set, macOS or Windows, or a display.

    On a Linux or BSD machine without a display, :mod:`webbrowser` would fall back to a
    text browser (lynx, w3m) and take over the terminal; a headless server just prints the path.
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if env.get("BROWSER"):
        return True
    if plat == "darwin" or plat.startswith("win"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def open_report(run_dir: Path, *, opener: Callable[[str], bool] | None = None) -> tuple[Path, str]:
    """The run's ``report.html`` and what happened to it (opened, or why not); never raises for a missing browser."""
    report = (run_dir / "report.html").resolve()
    if not report.is_file():
        status = read_json_object(run_dir / "manifest.json").get("status", "unknown")
        raise ParamsError("RUN", run_dir.name, f"a run with a report.html; this one has none (status {status})")
    if not browser_available():
        return report, "no browser here (no display): open the file above on a machine with one"
    if opener is None:
        import webbrowser

        opener = webbrowser.open
    try:
        opened = opener(report.as_uri())
    except Exception as exc:  # a broken browser setup must not turn a path lookup into a failure
        return report, f"could not open a browser ({type(exc).__name__}: {exc}): open the file above yourself"
    return report, "opened in the browser" if opened else "no browser found: open the file above yourself"
