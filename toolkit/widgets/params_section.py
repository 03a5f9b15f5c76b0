"""The strategy parameters of the account: the editor, the history of changes and their revert.

What the editor shows is what the next session will use: the account's params file
(``strategy_params`` over ``strategy_params_file``, validated by the strategy's model),
with the account's ``strategy_params.<field>`` overrides on top. Saving writes one
override per changed field (:func:`toolkit.widgets.override_writes.write_overrides`); the
history lists every config change of the account with its old -> new values, and any
change can be reverted with a reason (:meth:`toolkit.ledger.Ledger.revert_change`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as w

from toolkit.engine.override_commands import revert_checked
from toolkit.errors import ToolkitError
from toolkit.widgets import dom, views
from toolkit.widgets.context import AccountView, Section
from toolkit.widgets.layout import card, flex_row, message, reason_field
from toolkit.widgets.layout import html as html_widget
from toolkit.widgets.override_writes import session_check, write_overrides
from toolkit.widgets.param_editor import ParamEditor
from toolkit.widgets.tables import html_table

__all__ = ["PARAM_PREFIX", "ConfigHistoryControl", "ParamsControl", "strategy_form"]

#: Dotted prefix of the overrides of strategy parameters.
PARAM_PREFIX = "strategy_params."
_FROM_FILE = "(params file)"


def strategy_form(view: AccountView) -> tuple[type[Any] | None, dict[str, Any], dict[str, Any], str]:
    """(params model, values of the params file, values in force, note) of the account's strategy.

    The model is None (and the note says why) for a view-only account or a strategy or
    params file that cannot be read.
    """
    account = view.account
    if not account.editable or account.strategy is None:
        why = account.problem or "view-only: no params file under params/daily_dry_run or params/live names it"
        return None, {}, {}, why
    from toolkit.params.overrides import apply_overrides
    from toolkit.strategies import registry

    raw = account.raw
    overrides = view.reader.overrides()
    try:
        cls = registry.get(account.strategy)
        base = _strategy_values(cls, raw, view.project_root, account.strategy)
        # The values in force are the params file with the account's overrides applied the
        # way the session applies them (a whole ``strategy_params`` mapping included).
        values = _strategy_values(cls, apply_overrides(dict(raw), overrides), view.project_root, account.strategy)
    except ToolkitError as exc:
        return None, {}, {}, f"the strategy parameters of {account.params_file} cannot be read: {exc}"
    source = f"{account.strategy} parameters from {account.params_file.name if account.params_file else '?'}"
    overridden = sorted(k.removeprefix(PARAM_PREFIX) for k in overrides
                        if k.startswith(PARAM_PREFIX) or k == PARAM_PREFIX.rstrip("."))
    note = source + (f"; overridden in the ledger: {', '.join(overridden)}" if overridden else "")
    return cls.Params, base, values, note


def _strategy_values(cls: Any, raw: Mapping[str, Any], root: Path, strategy: str) -> dict[str, Any]:
    from toolkit.params.strategy import merge_strategy_params

    merged = merge_strategy_params(dict(raw.get("strategy_params") or {}), raw.get("strategy_params_file"),
                                   root, strategy)
    return dict(cls.parse_params(merged).model_dump(mode="json"))


class ParamsControl(Section):
    """The editor of the account's strategy parameters."""

    parts = frozenset({"config", "audit"})

    def __init__(self) -> None:
        self.editor = ParamEditor(self._save)
        self._view: AccountView | None = None
        self._base: dict[str, Any] = {}
        self.widget = card("Strategy parameters", self.editor.widget, basis="600px")

    def update(self, view: AccountView) -> None:
        self._view = view
        model, base, values, note = strategy_form(view)
        self._base = base
        if model is None:
            self.editor.clear(note)
            return
        locked: dict[str, str] = {}
        if "execution_time" in model.model_fields:
            locked["execution_time"] = "follows the account's execution time (set it above)"
        self.editor.load(model, values, locked=locked, note=note)

    def _save(self, changes: dict[str, Any], reason: str) -> str:
        view = self._view
        if view is None:
            raise ToolkitError("no account is shown")
        keys = {PARAM_PREFIX + k: v for k, v in changes.items()}
        base = {PARAM_PREFIX + k: v for k, v in self._base.items()}
        done = write_overrides(view.ledger, view.account.name, keys, base=base, active=view.reader.overrides(),
                               reason=reason, actor=view.actor(),
                               check=session_check(view.account, view.ledger, view.project_root))
        view.refresh()
        return "saved for the next session: " + "; ".join(done)


def _shown(value: Any) -> str:
    return _FROM_FILE if value is None else json.dumps(value, sort_keys=True, default=str)


def _diff(old: Any, new: Any) -> str:
    return (f'<span style="color:#b91c1c">{html.escape(_shown(old))}</span> &rarr; '
            f'<span style="color:#166534;font-weight:600">{html.escape(_shown(new))}</span>')


class ConfigHistoryControl(Section):
    """Every config change of the account (old -> new, who, when, why) and revert."""

    parts = frozenset({"config", "audit"})

    def __init__(self) -> None:
        self.table = html_widget("", dom.CONFIG_HISTORY)
        self.choice = w.Dropdown(options=[], description="change",
                                 layout=w.Layout(width="auto", min_width="0", flex="1 1 260px"))
        self.choice.add_class(dom.CONFIG_REVERT_CHOICE)
        self.reason = reason_field("reason for the revert (required)", dom.CONFIG_REVERT_REASON)
        self.button = w.Button(description="Revert", button_style="warning", layout=w.Layout(width="auto"))
        self.button.add_class(dom.CONFIG_REVERT)
        self.button.on_click(lambda _: self.revert())
        self.message = html_widget("", dom.CONFIG_MESSAGE)
        self._view: AccountView | None = None
        controls = flex_row(self.choice, self.reason, self.button)
        self.widget = card("Config history (overrides of this account)", self.table, controls, self.message,
                           basis="600px")

    def update(self, view: AccountView) -> None:
        self._view = view
        history = view.reader.config_history()
        rows = views.records(history)[::-1]
        for r in rows:
            r["change"] = _diff(r["old"], r["new"])
        self.table.value = html_table(rows, [("id", "#", "int"), ("at", "at (UTC)", "time"), ("actor", "who", "text"),
                                             ("key", "key", "text"), ("change", "old → new", "html"),
                                             ("reason", "reason", "text")],
                                      max_height="240px", empty="no override was ever set for this account")
        options = [(f"#{r['id']} {r['key']}: {_shown(r['old'])} → {_shown(r['new'])}", int(r["id"])) for r in rows]
        keep = self.choice.value if self.choice.value in {v for _, v in options} else None
        self.choice.options = options
        self.choice.value = keep if keep is not None else (options[0][1] if options else None)
        self.button.disabled = not options or not view.account.editable

    def revert(self) -> None:
        """Put the chosen change's key back to its old value (refused without a reason)."""
        view = self._view
        if view is None:
            return
        change = self.choice.value
        if change is None:
            self.message.value = message("no change to revert", error=True)
            return
        reason = self.reason.value.strip()
        if not reason:
            self.message.value = message(f"reason: required to revert change #{change}; nothing was written",
                                         error=True)
            return
        try:
            revert_checked(view.ledger, int(change), reason, actor=view.actor(),
                           check=session_check(view.account, view.ledger, view.project_root))
        except ToolkitError as exc:
            self.message.value = message(str(exc), error=True)
            return
        self.reason.value = ""
        self.message.value = message(f"change #{change} reverted")
        view.refresh()
