"""'Run now' and the run history of the account, with links to the archived reports.

"Run now" starts the account's notebook through ``toolkit run`` in the background
(:class:`toolkit.widgets.run_now.BackgroundRun`); every poll of the refresh loop asks it
whether it ended, and then the status line links its report. The history lists the
account's ledger runs, newest first, each linked to the archived report of its run key.

A run can place orders, so every press that starts one is written to the ledger's audit
log first (``run_requested``: who, account, notebook, params file, mode): no run starts
that the audit log does not show. An account whose mode in force (params file or
override) is ``online_live`` trades real money, so its run starts only once the account's
name has been typed into the confirmation box; the typed text goes into the audit entry.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from toolkit.errors import ToolkitError
from toolkit.widgets import dom, views
from toolkit.widgets.context import AccountView, Section
from toolkit.widgets.layout import card, flex_row, message, reason_field
from toolkit.widgets.layout import html as html_widget
from toolkit.widgets.links import report_href
from toolkit.widgets.run_now import BackgroundRun, child_environment, run_command
from toolkit.widgets.settings import effective_setting
from toolkit.widgets.tables import html_table

__all__ = ["LIVE_MODE", "RUN_REQUESTED", "RunControl"]

#: The mode that trades real money: its runs need the typed confirmation.
LIVE_MODE = "online_live"
#: The audit action written when "Run now" starts a run.
RUN_REQUESTED = "run_requested"


def _shown_path(path: Path, root: Path) -> str:
    """``path`` relative to the project (as the params files are named elsewhere), else absolute."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href, quote=True)}" target="_blank" rel="noopener">{html.escape(text)}</a>'


class RunControl(Section):
    """The Run now button, its status line and the run history table."""

    parts = frozenset({"runs", "config"})  # config: an override of the mode (online_live)

    def __init__(self) -> None:
        self.button = w.Button(description="Run now", button_style="primary", icon="play",
                               layout=w.Layout(width="auto"))
        self.button.add_class(dom.RUN_NOW)
        self.button.on_click(lambda _: self.start())
        self.status = html_widget("", dom.RUN_STATUS)
        self.confirm = reason_field("type the account name to run it with real money", dom.RUN_CONFIRM)
        # A layout of its own: reason fields share one, and hiding this box must not hide theirs.
        self.confirm.layout = w.Layout(flex="1 1 220px", min_width="0", max_width="520px", display="none")
        self.history = html_widget("", dom.RUN_HISTORY)
        self.run: BackgroundRun | None = None
        self._run_account: str | None = None
        self._view: AccountView | None = None
        head = flex_row(self.confirm, self.button, self.status)
        self.widget = card("Runs", head, self.history, basis="600px")

    def live(self) -> bool:
        """Whether the shown account's next run trades real money (mode online_live, file or override)."""
        view = self._view
        return view is not None and effective_setting(view.account, view.reader.overrides(), "mode") == LIVE_MODE

    def update(self, view: AccountView) -> None:
        self._view = view
        self._draw_button()
        runs = view.reader.runs()
        reports = {key: report_href(path) for key, path in view.archive.reports_by_run_key().items()}
        rows = views.run_history_rows(runs, reports, limit=view.reader.RUNS_LIMIT)
        for r in rows:
            r["report"] = _link(r["report"], "report") if r["report"] else ""
        self.history.value = html_table(
            rows,
            [("session_date", "session", "date"), ("execution_time", "time", "text"), ("mode", "mode", "text"),
             ("status", "status", "text"), ("orders", "orders", "int"), ("fills", "fills", "int"),
             ("finished_at", "finished (UTC)", "time"), ("report", "report", "html")],
            max_height="260px", empty="no run recorded for this account yet",
            note=f"newest {view.reader.RUNS_LIMIT} runs at most",
        )

    def _draw_button(self) -> None:
        view = self._view
        running = self.run is not None and self.run.running
        editable = view is not None and view.account.editable
        self.button.disabled = running or not editable
        live = editable and self.live()
        self.confirm.layout.display = None if live else "none"
        self.button.description = "Run now (real money)" if live else "Run now"
        self.button.button_style = "danger" if live else "primary"
        if view is not None and not editable and not running:
            self.status.value = message("view-only account: no params file to run", error=True)

    def start(self) -> None:
        """Start ``toolkit run <notebook> --params <file>`` for the account (never waits for it)."""
        view = self._view
        if view is None or (self.run is not None and self.run.running):
            return
        account = view.account
        if account.notebook is None or account.params_file is None or not account.editable:
            self.status.value = message("view-only account: no params file to run", error=True)
            return
        mode = effective_setting(account, view.reader.overrides(), "mode")
        typed = str(self.confirm.value).strip()
        if mode == LIVE_MODE and typed != account.name:
            self.status.value = message(
                f"confirmation: got {typed!r}; allowed: the account name {account.name!r}, typed to run it with "
                f"real money (mode {LIVE_MODE}); nothing was started", error=True)
            return
        detail: dict[str, Any] = {
            "account": account.name, "notebook": account.notebook,
            "params_file": _shown_path(account.params_file, view.project_root), "mode": mode,
            "confirmation": typed if mode == LIVE_MODE else None,
        }
        try:
            actor = view.actor()
            view.ledger.audit(RUN_REQUESTED, detail, actor)  # before the start: no run the audit log misses
        except ToolkitError as exc:
            self.status.value = message(f"{exc}; nothing was started", error=True)
            return
        command = run_command(account.notebook, account.params_file, view.archive.outputs_dir)
        try:
            self.run = BackgroundRun(command, cwd=view.project_root, env=child_environment(view.db_url, actor),
                                     clock=view.clock)
        except OSError as exc:
            self.status.value = message(f"the run could not start: {exc}", error=True)
            return
        self.confirm.value = ""
        self._run_account = account.name
        self.status.value = message(f"running {account.notebook} for {account.name} since "
                                    f"{self.run.started_at:%H:%M:%S} UTC ...")
        self._draw_button()

    def tick(self, view: AccountView) -> None:
        """Show the end of a background run once (status and report link)."""
        run = self.run
        if run is None or not run.running:
            return
        outcome = run.poll()
        if outcome is None:
            return
        where = f" ({self._run_account})" if self._run_account != view.account.name else ""
        link = "" if outcome.report is None else " " + _link(report_href(outcome.report), "open the report")
        if outcome.ok:
            text = f"run finished{where}: exit 0, {outcome.run_dir.name if outcome.run_dir else 'no archive'}"
            colour = "#166534"
        else:
            text = f"run ended with exit status {outcome.returncode}{where}: {outcome.stderr_tail or 'see the archive'}"
            colour = "#b91c1c"
        self.status.value = f'<div style="color:{colour};font-size:12px">{html.escape(text)}{link}</div>'
        self._draw_button()
        self.update(view)  # the history links the new archive at once

    def stop(self) -> None:
        if self.run is not None:
            self.run.stop()
