"""The frame of the toolkit's own self-contained HTML pages (the run index, a run diff).

Both pages are opened from disk, often on a machine with no network, so they carry
their style (and any script) inline and reference nothing outside themselves: no CDN,
no web font, no image. Values from manifests (strategy names, error texts, params)
are user text, so every one goes through :func:`esc` before it reaches the page.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

__all__ = ["esc", "page", "write_page"]

#: Shared look: system fonts, a compact table, status colours (no external resource).
BASE_CSS = """
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --head: #f6f8fa; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 1.5rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .4rem; }
.meta { color: var(--muted); margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.status { font-weight: 600; white-space: nowrap; }
.s-completed { color: #1a7f37; } .s-failed { color: #cf222e; } .s-running { color: #0969da; }
.s-interrupted, .s-died { color: #9a6700; }
.err { color: #cf222e; font-weight: normal; font-size: 12px; max-width: 28rem; }
.up { color: #1a7f37; } .down { color: #cf222e; }
.absent { color: var(--muted); font-style: italic; }
"""


def esc(value: object) -> str:
    """``value`` as HTML text (quotes escaped too, so it is safe inside an attribute)."""
    return html.escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, css: str = "", script: str = "") -> str:
    """A whole HTML document: ``body`` (already HTML) with the base style, ``css`` and an inline ``script``."""
    tail = f"<script>{script}</script>\n" if script else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{BASE_CSS}{css}</style>\n</head>\n<body>\n{body}\n{tail}</body>\n</html>\n"
    )


def write_page(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader never sees half a page."""
    # (toolkit.data.cache.atomic_write does the same, but importing the data package costs
    # a second at the end of every run; this module stays on the standard library.)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
