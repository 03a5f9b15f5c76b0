"""One control per field of a strategy's params model, with its bounds and inline errors.

The form knows nothing of any strategy: it reads the pydantic model
(``Strategy.Params``) field by field, so a strategy added to the registry gets its
controls without a line here. What is allowed is the model's to say: the form shows
each field's bounds beside its control and, on every change, validates the whole set
through :meth:`Strategy.parse_params`, the same check a params file gets. An error
about one field shows under that field; an error about the combination (a model
validator such as ``fast < slow``) shows under the form, in the model's own words.

Number fields are text boxes parsed by :mod:`toolkit.widgets.param_fields` (which the
control panel's editor shares), not bounded sliders or browser number boxes: a slider
would silently clamp an out-of-range value, a number box silently rewrites ``2.5`` or
``abc``, and the person would never learn what the model allows.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from toolkit.errors import ParamsError
from toolkit.strategies.base import Strategy, StrategyParams
from toolkit.widgets import dom
from toolkit.widgets.param_fields import FieldSpec, describe

__all__ = ["FieldControl", "StrategyForm"]

ERROR_STYLE = "color:#b00020"
HINT_STYLE = "color:#666;font-size:90%"


@dataclass
class FieldControl:
    """The widgets of one field: its input, the on/off box of an optional field, its error line."""

    spec: FieldSpec
    input: w.ValueWidget
    enabled: w.Checkbox | None
    error: w.HTML
    row: w.VBox

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    def value(self) -> Any:
        """The value as the person set it (None when an optional field is off).

        ParamsError naming the field (``strategy_params.<name>``) when the text is not of its type.
        """
        if self.enabled is not None and not self.enabled.value:
            return None
        v = self.input.value
        if self.kind in ("bool", "choice"):
            return v
        return self.spec.parse(str(v), prefix="strategy_params.")

    def set_value(self, value: Any) -> None:
        if self.enabled is not None:
            self.enabled.value = value is not None
            self.input.disabled = value is None
        if value is None:
            return
        self.input.value = value if self.kind in ("bool", "choice") else self.spec.text(value)

    def show_error(self, message: str | None) -> None:
        self.error.value = "" if not message else f'<span style="{ERROR_STYLE}">{html.escape(message)}</span>'


def _input(spec: FieldSpec) -> w.ValueWidget:
    layout = w.Layout(width="14em")
    if spec.kind == "bool":
        return w.Checkbox(indent=False)
    if spec.kind == "choice":
        return w.Dropdown(options=list(spec.choices), layout=layout)
    if spec.kind in ("int", "float", "text"):  # numbers too: text parsed by the spec, never a number box
        return w.Text(layout=layout, continuous_update=False)
    return w.Textarea(layout=w.Layout(width="40em", height="6em"), continuous_update=False)


class StrategyForm:
    """Controls for every field of ``strategy.Params``, filled with ``values``.

    ``on_change`` is called after any control changes (the form has already shown or
    cleared its errors by then). :meth:`check` validates what is set.
    """

    def __init__(
        self,
        strategy: type[Strategy[Any]],
        values: Mapping[str, Any],
        *,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.strategy = strategy
        self.on_change = on_change
        self.fields: dict[str, FieldControl] = {}
        self.form_error = w.HTML()
        self.form_error.add_class(dom.EXPLORER_FORM_ERROR)
        model = strategy.Params
        for name in model.model_fields:
            self.fields[name] = self._control(describe(model, name))
        for name, control in self.fields.items():
            control.set_value(values.get(name, model.model_fields[name].get_default(call_default_factory=True)))
        self.widget = w.VBox([c.row for c in self.fields.values()] + [self.form_error])
        for control in self.fields.values():
            control.input.observe(self._changed, names="value")
            if control.enabled is not None:
                control.enabled.observe(self._toggled(control), names="value")

    def _control(self, spec: FieldSpec) -> FieldControl:
        value = _input(spec)
        value.add_class(dom.explorer_input(spec.name))
        enabled = w.Checkbox(description="on", indent=False, layout=w.Layout(width="4em")) if spec.optional else None
        hint = w.HTML(f'<span style="{HINT_STYLE}">{html.escape(spec.allowed)}</span>')
        label = w.HTML(f"<code>{html.escape(spec.name)}</code>", layout=w.Layout(width="14em"),
                       tooltip=spec.description or None)
        error = w.HTML()
        error.add_class(dom.explorer_error(spec.name))
        parts: list[w.Widget] = [label, *([enabled] if enabled is not None else []), value, hint]
        row = w.VBox([w.HBox(parts, layout=w.Layout(align_items="center", flex_flow="row wrap")), error])
        return FieldControl(spec, value, enabled, error, row)

    def _toggled(self, control: FieldControl) -> Callable[[dict[str, Any]], None]:
        def toggled(change: dict[str, Any]) -> None:
            control.input.disabled = not change["new"]
            self._changed(change)

        return toggled

    def _changed(self, _change: dict[str, Any]) -> None:
        self.check()
        if self.on_change is not None:
            self.on_change()

    def values(self) -> dict[str, Any]:
        """Every field's value as set (ParamsError when a field's text is not of its type)."""
        return {name: control.value() for name, control in self.fields.items()}

    def check(self) -> StrategyParams | None:
        """The validated params, or None after showing the model's message where it belongs."""
        try:
            parsed = self.strategy.parse_params(self.values())
        except ParamsError as exc:
            self.show_error(exc)
            return None
        self.show_error(None)
        return parsed

    def show_error(self, exc: ParamsError | None) -> None:
        """Put ``exc`` under its field (``strategy_params.<name>...``) or under the form; clear the rest."""
        parts = exc.field.split(".") if exc is not None else []
        owner = parts[1] if len(parts) > 1 and parts[0] == "strategy_params" and parts[1] in self.fields else None
        for name, control in self.fields.items():
            control.show_error(str(exc) if exc is not None and name == owner else None)
        self.show_form_error(str(exc) if exc is not None and owner is None else None)

    def show_form_error(self, message: str | None) -> None:
        self.form_error.value = "" if not message else f'<span style="{ERROR_STYLE}">{html.escape(message)}</span>'
