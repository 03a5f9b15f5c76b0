"""Mode and execution time of the account, changed as the account's config overrides.

The modes come from :func:`toolkit.widgets.settings.mode_choices`: one button each, the
ones the account's notebook cannot trade disabled with the one-line reason underneath
(``online_live`` also needs the account's recorded live confirmation). A change is
written only with a reason, as ``mode`` / ``execution_time`` overrides of this account,
which the account's next session applies.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as w

from toolkit.errors import ToolkitError
from toolkit.widgets import dom
from toolkit.widgets.context import AccountView, Section
from toolkit.widgets.layout import card, flex_row, message, reason_field
from toolkit.widgets.layout import html as html_widget
from toolkit.widgets.override_writes import session_check, write_overrides
from toolkit.widgets.settings import MODES, effective_setting, execution_time_choices, mode_choices

__all__ = ["SettingsControl"]


def _in_force(key: str, value: Any, overrides: Mapping[str, Any]) -> str:
    """``<b>value</b> (override|params file)``; ``unknown (no params file)`` for a view-only account."""
    if key in overrides:
        return f"<b>{html.escape(str(value))}</b> (override)"
    if value is None:
        return "<b>unknown</b> (no params file)"
    return f"<b>{html.escape(str(value))}</b> (params file)"


class SettingsControl(Section):
    """Mode buttons, execution time, reason, Save, and what is in force."""

    parts = frozenset({"config", "audit", "state", "runs"})

    def __init__(self) -> None:
        self.mode_buttons = {m: w.Button(description=m, layout=w.Layout(width="auto")) for m in MODES}
        for mode, button in self.mode_buttons.items():
            button.add_class(dom.mode_option(mode))
            button.on_click(lambda _, m=mode: self.choose_mode(m))
        self.modes = flex_row(*self.mode_buttons.values())
        self.modes.add_class(dom.MODE)
        self.why = html_widget()
        self.execution_time = w.Dropdown(options=[], description="execution time",
                                         style={"description_width": "initial"},
                                         layout=w.Layout(width="auto", max_width="360px"))
        self.execution_time.add_class(dom.EXECUTION_TIME)
        self.execution_time.observe(lambda _: self._show_pending(), "value")
        self.reason = reason_field("reason for this change (required)", dom.SETTINGS_REASON)
        self.save = w.Button(description="Save settings", button_style="primary", layout=w.Layout(width="auto"))
        self.save.add_class(dom.SETTINGS_SAVE)
        self.save.on_click(lambda _: self.apply())
        self.in_force = html_widget()
        self.message = html_widget("", dom.SETTINGS_MESSAGE)
        self._view: AccountView | None = None
        self._mode: str | None = None  # pending choice
        self._allowed: set[str] = set()
        # What update() last showed as in force: a pending choice equal to it follows the ledger.
        self._shown_mode: Any = None
        self._shown_time: Any = None
        controls = flex_row(self.reason, self.save)
        self.widget = card("Mode and execution time", self.in_force, self.modes, self.why, self.execution_time,
                           controls, self.message)

    def _current(self) -> tuple[Any, Any]:
        assert self._view is not None
        overrides = self._view.reader.overrides()
        account = self._view.account
        return effective_setting(account, overrides, "mode"), effective_setting(account, overrides, "execution_time")

    def update(self, view: AccountView) -> None:
        account_changed = self._view is None or self._view.account != view.account
        self._view = view
        account = view.account
        mode, execution_time = self._current()
        confirmed = view.reader.live_confirmation() is not None
        choices = mode_choices(account, live_confirmed=confirmed)
        self._allowed = {c.mode for c in choices if c.allowed}
        for choice in choices:
            button = self.mode_buttons[choice.mode]
            button.disabled = not choice.allowed
            button.tooltip = choice.why or f"switch {account.name} to {choice.mode}"
        self.why.value = "".join(
            f'<div style="color:#6b7280;font-size:11px;margin:2px 0">{html.escape(c.mode)}: '
            f"{html.escape(c.why)}</div>"
            for c in choices if not c.allowed and c.why
        )
        times = list(execution_time_choices(account))
        if execution_time is not None and execution_time not in times:
            times.append(str(execution_time))
        if list(self.execution_time.options) != times or account_changed:
            self.execution_time.options = times
            self.execution_time.value = execution_time if execution_time in times else None
        elif self.execution_time.value == self._shown_time:
            self.execution_time.value = execution_time
        self._shown_time = execution_time
        if account_changed or self._mode == self._shown_mode:
            self._mode = mode
        self._shown_mode = mode
        self.execution_time.disabled = not account.editable
        self.save.disabled = not account.editable
        self.reason.disabled = not account.editable
        overrides = view.reader.overrides()
        self.in_force.value = (
            f'<div style="font-size:12px">in force for the next session: '
            f"mode {_in_force('mode', mode, overrides)}, "
            f"execution time {_in_force('execution_time', execution_time, overrides)}</div>"
        )
        self._show_pending()

    def choose_mode(self, mode: str) -> None:
        """Select ``mode`` to be saved (only a mode the account can trade)."""
        if mode in self._allowed:
            self._mode = mode
        self._show_pending()

    def _show_pending(self) -> None:
        for mode, button in self.mode_buttons.items():
            button.button_style = "info" if mode == self._mode else ""

    def pending(self) -> dict[str, Any]:
        """The settings chosen that differ from those in force."""
        if self._view is None:
            return {}
        mode, execution_time = self._current()
        out: dict[str, Any] = {}
        if self._mode is not None and self._mode != mode:
            out["mode"] = self._mode
        if self.execution_time.value is not None and self.execution_time.value != execution_time:
            out["execution_time"] = self.execution_time.value
        return out

    def apply(self) -> None:
        """Write the pending settings as overrides (refused without a reason or without a change)."""
        view = self._view
        if view is None:
            return
        if not view.account.editable:
            self.message.value = message("view-only account: nothing to change", error=True)
            return
        changes = self.pending()
        if not changes:
            self.message.value = message("nothing changed: pick another mode or execution time first", error=True)
            return
        reason = self.reason.value.strip()
        if not reason:
            self.message.value = message("reason: required to change the mode or execution time; nothing was written",
                                         error=True)
            return
        base = {"mode": view.account.mode, "execution_time": view.account.execution_time}
        try:
            done = write_overrides(view.ledger, view.account.name, changes, base=base,
                                   active=view.reader.overrides(), reason=reason, actor=view.actor(),
                                   check=session_check(view.account, view.ledger, view.project_root))
        except ToolkitError as exc:
            self.message.value = message(str(exc), error=True)
            return
        self.reason.value = ""
        self.message.value = message("saved for the next session: " + "; ".join(done))
        view.refresh()
