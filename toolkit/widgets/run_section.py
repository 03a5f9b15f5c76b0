"""'Run now' and the run history of the account, with links to the archived reports.

"Run now" starts the account's notebook through ``toolkit run`` in the background
(:class:`toolkit.widgets.run_now.BackgroundRun`); every poll of the refresh loop asks it
whether it ended, and then the status line links its report. The history lists the
account's ledger runs, newest first, each linked to the archived report of its run key.
"""

from __future__ import annotations

import html

import ipywidgets as w

from toolkit.widgets import dom, views
from toolkit.widgets.context import AccountView, Section
from toolkit.widgets.layout import card, flex_row, message
from toolkit.widgets.layout import html as html_widget
from toolkit.widgets.links import report_href
from toolkit.widgets.run_now import BackgroundRun, child_environment, run_command
from toolkit.widgets.tables import html_table

__all__ = ["RunControl"]


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href, quote=True)}" target="_blank" rel="noopener">{html.escape(text)}</a>'


class RunControl(Section):
    """The Run now button, its status line and the run history table."""

    parts = frozenset({"runs"})

    def __init__(self) -> None:
        self.button = w.Button(description="Run now", button_style="primary", icon="play",
                               layout=w.Layout(width="auto"))
        self.button.add_class(dom.RUN_NOW)
        self.button.on_click(lambda _: self.start())
        self.status = html_widget("", dom.RUN_STATUS)
        self.history = html_widget("", dom.RUN_HISTORY)
        self.run: BackgroundRun | None = None
        self._run_account: str | None = None
        self._view: AccountView | None = None
        head = flex_row(self.button, self.status)
        self.widget = card("Runs", head, self.history, basis="600px")

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
        command = run_command(account.notebook, account.params_file, view.archive.outputs_dir)
        try:
            self.run = BackgroundRun(command, cwd=view.project_root, env=child_environment(view.db_url, view.actor()),
                                     clock=view.clock)
        except OSError as exc:
            self.status.value = message(f"the run could not start: {exc}", error=True)
            return
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
