"""The parameter editor: one input per field of a strategy's params model, validated as one types.

Every rule shown comes from the strategy's own pydantic model, never from the panel: a
field's bounds and description are read from its ``Field(...)``, and each change runs the
whole model (``model_validate``), so a field rule (``fast >= 1``) shows under its field
(:func:`toolkit.widgets.dom.param_error`) and a cross-field rule (``fast < slow``, a
``model_validator``) under the form (:data:`toolkit.widgets.dom.PARAMS_FORM_ERROR`).
Inputs by type (:mod:`toolkit.widgets.param_fields`, shared with the explorers' form):
``bool`` a checkbox, ``Literal`` a dropdown, everything else a text box parsed by the
field's spec (a whole number, a number, text, JSON; ``none`` or empty for an optional
field's off). Number fields are text, not number boxes, so ``2.5`` typed into a
whole-number field is refused where it was typed rather than silently becoming ``25``.

The editor only collects and checks; :class:`ParamEditor` hands the changed fields to the
``on_save`` callback the panel gives it (which writes the ledger's overrides).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w
from pydantic import BaseModel, ValidationError

from toolkit.errors import ParamsError, field_bounds, plain_allowed
from toolkit.widgets import dom
from toolkit.widgets.layout import flex_row, reason_field, shared_layout, shared_style
from toolkit.widgets.layout import html as html_widget
from toolkit.widgets.param_fields import describe

__all__ = ["FieldEditor", "ParamEditor"]

_ERROR_STYLE = "color:#b91c1c;font-size:12px;min-height:0"
_HELP_STYLE = "color:#4b5563;font-size:11px;line-height:1.3"


class FieldEditor:
    """The input, inline help and inline error of one field."""

    def __init__(self, model: type[BaseModel], name: str, value: Any, *, locked: str | None = None) -> None:
        self.spec = describe(model, name)
        self.name = name
        self.kind = self.spec.kind
        layout = shared_layout(width="auto", max_width="260px")
        if self.kind == "bool":
            self.input: w.ValueWidget = w.Checkbox(value=bool(value), description="", indent=False, layout=layout,
                                                   style=shared_style("checkbox"))
        elif self.kind == "choice":
            self.input = w.Dropdown(options=[str(v) for v in self.spec.choices], value=str(value), layout=layout,
                                    style=shared_style("description"))
        else:
            self.input = w.Text(value=self.spec.text(value), continuous_update=True, layout=layout,
                                style=shared_style("text"))
        self.input.add_class(dom.param_input(name))
        self.input.disabled = locked is not None
        help_parts = [p for p in (self.spec.description, self.spec.allowed, locked) if p]
        self.help = html_widget(
            f'<div style="{_HELP_STYLE}"><b>{html.escape(name)}</b>'
            + "".join(f"<br>{html.escape(p)}" for p in help_parts) + "</div>"
        )
        self.error = html_widget("", dom.param_error(name))
        self.box = w.VBox([self.help, self.input, self.error],
                          layout=shared_layout(flex="1 1 220px", min_width="0", margin="2px 8px 6px 0",
                                               overflow="hidden"))

    def get(self) -> Any:
        """The typed value; ParamsError (``<name>: got ...; allowed: ...``) for text that is not of the field's type."""
        if self.kind == "bool":
            return self.input.value
        return self.spec.parse(str(self.input.value))

    def set(self, value: Any) -> None:
        self.input.value = value if self.kind == "bool" else self.spec.text(value)

    def show_error(self, message: str | None) -> None:
        self.error.value = "" if not message else f'<div style="{_ERROR_STYLE}">{html.escape(message)}</div>'


def _error_text(model: type[BaseModel], err: Mapping[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    allowed = plain_allowed(err, field_bounds(model, loc) if loc else None)
    if str(err.get("type")) in ("value_error", "assertion_error"):
        return allowed  # the model's own sentence, which names its fields
    if not loc:
        return f"got {err.get('input')!r}; allowed: {allowed}"
    return str(ParamsError(".".join(str(p) for p in loc), err.get("input"), allowed))


class ParamEditor:
    """A form over one params model: inputs, inline errors, reason, Save.

    ``on_save(changes, reason)``: called with ``{field: new value}`` (JSON values as the
    model dumps them) of the fields that differ from the values loaded; it writes them
    and returns a message, or raises with a message to show.
    """

    def __init__(self, on_save: Callable[[dict[str, Any], str], str]) -> None:
        self._on_save = on_save
        self.model: type[BaseModel] | None = None
        self.fields: dict[str, FieldEditor] = {}
        self._loaded: dict[str, Any] = {}
        self._loading = False
        self.valid = False
        self.note = html_widget()
        self.grid = w.Box(layout=shared_layout(display="flex", flex_flow="row wrap"))
        self.form_error = html_widget("", dom.PARAMS_FORM_ERROR)
        self.reason = reason_field("reason for this change (required)", dom.PARAMS_REASON)
        self.save = w.Button(description="Save parameters", button_style="primary", disabled=True,
                             layout=w.Layout(width="auto"))
        self.save.add_class(dom.PARAMS_SAVE)
        self.message = html_widget("", dom.PARAMS_MESSAGE)
        self.reason.observe(lambda _: self.validate(), "value")
        self.save.on_click(lambda _: self._save())
        self.widget = w.VBox(
            [self.note, self.grid, self.form_error,
             flex_row(self.reason, self.save), self.message],
            layout=shared_layout(min_width="0"),
        )
        self.widget.add_class(dom.PARAMS_FORM)

    # ----------------------------------------------------------------- loading

    def clear(self, note: str) -> None:
        """No form (a view-only account, a strategy the registry does not know): ``note`` says why."""
        self.model = None
        self.fields = {}
        self._loaded = {}
        self.grid.children = ()
        self.note.value = f'<div style="color:#6b7280;font-size:12px">{html.escape(note)}</div>'
        self.form_error.value = ""
        self.validate()

    def load(self, model: type[BaseModel], values: Mapping[str, Any], *, locked: Mapping[str, str] | None = None,
             note: str = "") -> None:
        """Show ``values`` (the parameters in force) in a form of ``model``.

        Loading the same model again (the ledger changed under the form) keeps what the
        person has typed in fields they edited and updates the others.
        """
        locked = dict(locked or {})
        self._loading = True
        try:
            if model is self.model and set(values) == set(self.fields):
                for name, editor in self.fields.items():
                    try:
                        untouched = editor.get() == self._loaded.get(name)
                    except ParamsError:
                        untouched = False
                    if untouched:
                        editor.set(values[name])
            else:
                self.model = model
                self.fields = {name: FieldEditor(model, name, values[name], locked=locked.get(name))
                               for name in model.model_fields}
                for editor in self.fields.values():
                    editor.input.observe(lambda _: self.validate(), "value")
                self.grid.children = tuple(e.box for e in self.fields.values())
            self._loaded = dict(values)
        finally:
            self._loading = False
        self.note.value = f'<div style="color:#4b5563;font-size:12px">{html.escape(note)}</div>' if note else ""
        self.validate()

    # ----------------------------------------------------------------- checking

    def values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(typed values, parse errors by field); a field that does not parse keeps its loaded value."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, editor in self.fields.items():
            try:
                values[name] = editor.get()
            except ParamsError as exc:
                errors[name] = str(exc)
                values[name] = self._loaded.get(name)
        return values, errors

    def check(self) -> tuple[dict[str, Any] | None, dict[str, str], list[str]]:
        """(the model's JSON dump when valid, field errors, form errors)."""
        if self.model is None:
            return None, {}, []
        values, field_errors = self.values()
        form_errors: list[str] = []
        dumped: dict[str, Any] | None = None
        try:
            dumped = self.model.model_validate(values).model_dump(mode="json")
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err.get("loc", ()))
                if loc and str(loc[0]) in self.fields:
                    field_errors.setdefault(str(loc[0]), _error_text(self.model, err))
                else:
                    form_errors.append(_error_text(self.model, err))
        if field_errors or form_errors:
            dumped = None
        return dumped, field_errors, form_errors

    def changes(self) -> dict[str, Any]:
        """Fields whose (valid) value differs from the one loaded; empty when the form is invalid."""
        dumped, _, _ = self.check()
        if dumped is None:
            return {}
        return {k: v for k, v in dumped.items() if k in self.fields and v != self._loaded.get(k)}

    def validate(self) -> bool:
        """Show the errors of the current inputs; enable Save only for a valid change with a reason."""
        if self._loading:
            return self.valid
        dumped, field_errors, form_errors = self.check()
        for name, editor in self.fields.items():
            editor.show_error(field_errors.get(name))
        self.form_error.value = "".join(f'<div style="{_ERROR_STYLE}">{html.escape(e)}</div>' for e in form_errors)
        self.valid = dumped is not None
        changed = bool(self.changes()) if self.valid else False
        self.save.disabled = not (self.valid and changed and self.reason.value.strip())
        return self.valid

    # ----------------------------------------------------------------- saving

    def _save(self) -> None:
        if not self.validate():
            self.show_message("fix the errors shown above first; nothing was saved", error=True)
            return
        reason = self.reason.value.strip()
        if not reason:
            self.show_message("reason: required; say why the parameters change (it goes into the history)",
                              error=True)
            return
        changes = self.changes()
        if not changes:
            self.show_message("no parameter differs from the ones in force; nothing was saved", error=True)
            return
        try:
            message = self._on_save(changes, reason)
        except Exception as exc:  # a refused write is shown where the person clicked
            self.show_message(str(exc), error=True)
            return
        self.reason.value = ""
        self.show_message(message)

    def show_message(self, text: str, *, error: bool = False) -> None:
        colour = "#b91c1c" if error else "#166534"
        self.message.value = f'<div style="color:{colour};font-size:12px">{html.escape(text)}</div>'
