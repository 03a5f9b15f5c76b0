"""Layout helpers: cards that wrap onto the next line, so the panel fits a 768 px tablet.

Nothing has a fixed width: a row is a flex box that wraps, a card grows from a basis of
about 400 px (two side by side from ~850 px, one per line on a 768 px tablet), tables and charts take
100% of their card and scroll or scale inside it.

Layouts and styles are widgets of their own (a model each, sent to the page): one per
input would be three widgets per input. Widgets that look alike share one
(:func:`shared_layout`, :func:`html`), which makes the panel about three times cheaper to
build; nothing changes a shared layout after it is made.
"""

from __future__ import annotations

import html as html_text
from functools import cache

import ipywidgets as w
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_description import DescriptionStyle
from ipywidgets.widgets.widget_string import HTMLStyle, TextStyle

__all__ = ["PANEL_CSS", "card", "flex_row", "html", "message", "reason_field", "row", "section_title", "shared_layout",
           "shared_style"]


@cache
def _layout(items: tuple[tuple[str, str], ...]) -> w.Layout:
    return w.Layout(**dict(items))


def shared_layout(**properties: str) -> w.Layout:
    """One Layout per distinct set of ``properties``, shared by every widget that asks for it."""
    return _layout(tuple(sorted(properties.items())))


@cache
def _html_style() -> HTMLStyle:
    return HTMLStyle()


@cache
def shared_style(kind: str) -> w.Widget:
    """One style widget per kind, shared: ``description`` (number boxes, dropdowns, date
    pickers), ``text``, ``checkbox``."""
    styles: dict[str, type[w.Widget]] = {"description": DescriptionStyle, "text": TextStyle,
                                         "checkbox": CheckboxStyle}
    return styles[kind]()


def flex_row(*children: w.Widget) -> w.Box:
    """Controls on one line that wrap when the line is too narrow, centred vertically."""
    return w.Box(list(children), layout=shared_layout(display="flex", flex_flow="row wrap", align_items="center"))


def reason_field(placeholder: str, css_class: str) -> w.Text:
    """A free-text field (a reason) that takes the room left on its line, down to 200 px, then wraps."""
    field = w.Text(placeholder=placeholder, continuous_update=True, style=shared_style("text"),
                   layout=shared_layout(flex="1 1 220px", min_width="0", max_width="520px"))
    field.add_class(css_class)
    return field


#: CSS the panel adds once: ipywidgets gives an HTML widget's content a 28 px line height and
#: lets it grow to its content's width (a wide table would push the card off a tablet's
#: screen); here it may shrink, so the table's own box scrolls instead.
PANEL_CSS = """<style>
.tk-panel .widget-html, .tk-panel .widget-html-content { min-width: 0; }
.tk-panel .widget-html-content { line-height: 1.4; }
</style>"""


def html(value: str = "", css_class: str | None = None) -> w.HTML:
    """An HTML widget with a shared layout and style, and ``css_class`` when given.

    No width: in the panel's column boxes a child stretches to the box's width (a width
    of 100% plus the widget's margin would overflow it by a few pixels).
    """
    out = w.HTML(value, layout=shared_layout(min_width="0"), style=_html_style())
    if css_class:
        out.add_class(css_class)
    return out


def section_title(text: str) -> w.HTML:
    return html(f'<div style="font-weight:600;font-size:14px;margin:2px 0 4px">{html_text.escape(text)}</div>')


def card(title: str, *children: w.Widget, basis: str = "400px", css_class: str | None = None) -> w.VBox:
    """A titled box that grows from ``basis`` and shrinks to any width (min-width 0)."""
    box = w.VBox(
        [section_title(title), *children],
        layout=shared_layout(flex=f"1 1 {basis}", min_width="0", border="1px solid #e5e7eb", padding="6px 8px",
                             margin="4px", overflow="hidden"),
    )
    if css_class:
        box.add_class(css_class)
    return box


def row(*children: w.Widget) -> w.Box:
    """A full-width row whose children wrap onto the next line when it is too narrow."""
    return w.Box(list(children), layout=shared_layout(display="flex", flex_flow="row wrap", align_items="stretch"))


def message(text: str, *, error: bool = False) -> str:
    """One line for an HTML message widget: red for a refusal, green for a done change."""
    if not text:
        return ""
    colour = "#b91c1c" if error else "#166534"
    return f'<div style="color:{colour};font-size:12px">{html_text.escape(text)}</div>'
