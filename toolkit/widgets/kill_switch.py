"""The kill switch: its state, and turning it on or off with a required reason.

The switch is global: while it is on, every session of every account halts before any
order (the engine's guard), until someone turns it off with a reason. The panel writes it
only through :meth:`toolkit.ledger.Ledger.set_kill_switch`, which stores the state and its
audit entry (who, why) in one transaction. An empty reason writes nothing: the refusal is
shown next to the button. A change sends the ``kill_switch_changed`` alert (recorded in the
ledger whether a channel took it or not; its outcome is shown next to the button).
"""

from __future__ import annotations

import html

import ipywidgets as w

from toolkit.errors import ToolkitError
from toolkit.ledger import KillSwitch, LedgerError
from toolkit.ops.alert_commands import announce_kill_switch
from toolkit.widgets import dom
from toolkit.widgets.context import AccountView, Section
from toolkit.widgets.layout import card, flex_row, message, reason_field
from toolkit.widgets.layout import html as html_widget

__all__ = ["KillSwitchControl", "kill_switch_text"]


def kill_switch_text(state: KillSwitch) -> str:
    """One line: on/off, since when, by whom, why."""
    if not state.on:
        if state.at is None:
            return "OFF (never set): sessions run"
        return f"OFF since {state.at:%Y-%m-%d %H:%M:%S} UTC by {state.actor}: {state.reason}"
    return (f"ON since {state.at:%Y-%m-%d %H:%M:%S} UTC by {state.actor}: {state.reason} "
            "(every session of every account halts before any order)")


class KillSwitchControl(Section):
    """State line, reason field, one button that flips the switch, a message line."""

    parts = frozenset({"state", "audit"})

    def __init__(self) -> None:
        self.state = html_widget("", dom.KILL_STATE)
        self.reason = reason_field("reason (required, goes into the audit log)", dom.KILL_REASON)
        self.button = w.Button(description="Turn kill switch ON", button_style="danger",
                               layout=w.Layout(width="auto"))
        self.button.add_class(dom.KILL_BUTTON)
        self.message = html_widget("", dom.KILL_MESSAGE)
        self._view: AccountView | None = None
        self._on = False
        self.button.on_click(lambda _: self.flip())
        controls = flex_row(self.reason, self.button)
        self.widget = card("Kill switch", self.state, controls, self.message)

    def update(self, view: AccountView) -> None:
        self._view = view
        state = view.reader.kill_switch()
        self._on = state.on
        colour = "#b91c1c" if state.on else "#166534"
        self.state.value = (f'<div style="color:{colour};font-weight:600;font-size:13px">'
                            f"{html.escape(kill_switch_text(state))}</div>")
        self.button.description = "Turn kill switch OFF (resume)" if state.on else "Turn kill switch ON"
        self.button.button_style = "success" if state.on else "danger"

    def flip(self) -> None:
        """Turn the switch to the other state with the typed reason (refused without one)."""
        if self._view is None:
            return
        target = not self._on
        reason = self.reason.value.strip()
        word = "on" if target else "off"
        if not reason:
            self.message.value = message(f"reason: required to turn the kill switch {word}; nothing was written",
                                         error=True)
            return
        try:
            self._view.ledger.set_kill_switch(target, reason, self._view.actor())
        except (LedgerError, ToolkitError) as exc:
            self.message.value = message(str(exc), error=True)
            return
        self.reason.value = ""
        self.message.value = message(f"kill switch turned {word} by {self._view.actor()}; "
                                     f"{announce_kill_switch(self._view.ledger)}")
        self._view.refresh()
