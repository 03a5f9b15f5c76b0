"""Layout helpers: cards that wrap onto the next line, so the panel fits a 768 px tablet.

Nothing has a fixed width: a row is a flex box that wraps, a card grows from a basis of
about 340 px (two side by side from ~700 px, one per line below), tables and charts take
100% of their card and scroll or scale inside it.
"""

from __future__ import annotations

import html

import ipywidgets as w

__all__ = ["card", "message", "row", "section_title"]


def section_title(text: str) -> w.HTML:
    return w.HTML(f'<div style="font-weight:600;font-size:14px;margin:2px 0 4px">{html.escape(text)}</div>')


def card(title: str, *children: w.Widget, basis: str = "340px", css_class: str | None = None) -> w.VBox:
    """A titled box that grows from ``basis`` and shrinks to any width (min-width 0)."""
    box = w.VBox(
        [section_title(title), *children],
        layout=w.Layout(flex=f"1 1 {basis}", min_width="0", border="1px solid #e5e7eb", padding="6px 8px",
                        margin="4px", overflow="hidden"),
    )
    if css_class:
        box.add_class(css_class)
    return box


def row(*children: w.Widget) -> w.Box:
    """A full-width row whose children wrap onto the next line when it is too narrow."""
    return w.Box(list(children), layout=w.Layout(display="flex", flex_flow="row wrap", width="100%",
                                                 align_items="stretch"))


def message(text: str, *, error: bool = False) -> str:
    """One line for an HTML message widget: red for a refusal, green for a done change."""
    if not text:
        return ""
    colour = "#b91c1c" if error else "#166534"
    return f'<div style="color:{colour};font-size:12px">{html.escape(text)}</div>'
