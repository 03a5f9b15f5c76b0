"""The control panel of one account: :class:`ControlPanel` and :func:`control_panel`.

The panel holds no state of its own that matters: everything it shows is read from the
ledger and the run archive, and everything it changes is written through the ledger
(overrides, kill switch) or the runner (``toolkit run``). So each page of the served
panel (a fresh voila kernel) shows the same thing, and a change made anywhere else (the
CLI, another page, a scheduled run) appears within a refresh.

Layout, top to bottom: account, who acts, refresh status; mode and execution time beside
the kill switch; regime beside the allocation; positions and P&L beside the guard
activations; equity; trade history; the parameter editor beside the config history;
runs; audit log. Rows wrap, so on a 768 px tablet most cards take the full width.
"""

from __future__ import annotations

import getpass
import html
import os
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from toolkit.errors import ParamsError
from toolkit.widgets import dom
from toolkit.widgets.account_settings import SettingsControl
from toolkit.widgets.accounts import AccountInfo, discover_accounts
from toolkit.widgets.archive import RunArchive
from toolkit.widgets.context import AccountView, Section
from toolkit.widgets.displays import (
    AllocationDisplay,
    AuditDisplay,
    EquityDisplay,
    GuardsDisplay,
    PositionsDisplay,
    RegimeDisplay,
)
from toolkit.widgets.kill_switch import KillSwitchControl
from toolkit.widgets.layout import PANEL_CSS, flex_row, row
from toolkit.widgets.layout import html as html_widget
from toolkit.widgets.params_section import ConfigHistoryControl, ParamsControl
from toolkit.widgets.reader import AccountReader
from toolkit.widgets.refresh import RefreshLoop
from toolkit.widgets.run_section import RunControl
from toolkit.widgets.settings import effective_setting
from toolkit.widgets.trade_history import TradeHistory

if TYPE_CHECKING:
    from toolkit.ledger import Ledger

__all__ = ["ControlPanel", "control_panel", "default_actor"]

Clock = Callable[[], datetime]

#: The panel :func:`control_panel` built last in this kernel (weakly held): running the
#: notebook's cell again stops the previous panel's refresh, so one panel polls the ledger.
_NEWEST: dict[str, Callable[[], ControlPanel | None]] = {}


def default_actor() -> str:
    """Who acts when nobody typed a name: ``$TOOLKIT_USER``, else the login name."""
    name = os.environ.get("TOOLKIT_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "user"


class ControlPanel:
    """The panel over an open ledger; build it with :func:`control_panel`.

    ``widget`` is the root box (class :data:`dom.PANEL`, plus :data:`dom.READY` once the
    first read is drawn); :meth:`refresh` re-reads what changed; :meth:`select` shows
    another account; :meth:`stop` ends the live refresh.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        account: str | None = None,
        params_dir: Path,
        outputs_dir: Path,
        project_root: Path | None = None,
        refresh_seconds: float = 0.25,
        clock: Clock | None = None,
        owns_ledger: bool = False,
    ) -> None:
        self.ledger = ledger
        self.params_dir = params_dir
        if project_root is None:
            from toolkit.params import repo_root

            project_root = repo_root()
        #: Where ``toolkit run`` runs and relative paths of params files start (as for the CLI).
        self.project_root = project_root
        self.archive = RunArchive(outputs_dir)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._owns_ledger = owns_ledger
        #: Problems met while drawing or refreshing, newest last (also shown on the panel).
        self.errors: list[str] = []
        self.accounts: dict[str, AccountInfo] = self._discover()
        if account is not None and account not in self.accounts:
            raise ParamsError("account", account, "one of " + ", ".join(self.accounts) if self.accounts
                              else "an account of a params file or of the ledger's runs (none found)")

        self.account_choice = w.Dropdown(options=[(a.label, a.name) for a in self.accounts.values()],
                                         description="account", layout=w.Layout(width="auto", max_width="100%",
                                                                                flex="1 1 300px"))
        self.account_choice.add_class(dom.ACCOUNT)
        self.actor = w.Text(value=default_actor(), description="who", continuous_update=True,
                            layout=w.Layout(width="auto", flex="0 1 220px"))
        self.actor.add_class(dom.ACTOR)
        self.last_refresh = html_widget("", dom.LAST_REFRESH)
        self.problems = html_widget()
        self.header_note = html_widget()

        self.settings = SettingsControl()
        self.kill_switch = KillSwitchControl()
        self.regime = RegimeDisplay()
        self.allocation = AllocationDisplay()
        self.positions = PositionsDisplay()
        self.guards = GuardsDisplay()
        self.equity = EquityDisplay()
        self.trades = TradeHistory()
        self.params = ParamsControl()
        self.config_history = ConfigHistoryControl()
        self.runs = RunControl()
        self.audit = AuditDisplay()
        self.sections: list[Section] = [self.settings, self.kill_switch, self.regime, self.allocation,
                                        self.positions, self.guards, self.equity, self.trades, self.params,
                                        self.config_history, self.runs, self.audit]
        header = flex_row(self.account_choice, self.actor, self.last_refresh)
        self.widget = w.VBox(
            [html_widget(PANEL_CSS), header, self.header_note, self.problems,
             row(self.settings.widget, self.kill_switch.widget),
             row(self.regime.widget, self.allocation.widget),
             row(self.positions.widget, self.guards.widget),
             row(self.equity.widget),
             row(self.trades.widget),
             row(self.params.widget),
             row(self.config_history.widget),
             row(self.runs.widget),
             row(self.audit.widget)],
            layout=w.Layout(width="100%", max_width="1400px"),
        )
        self.widget.add_class(dom.PANEL)
        self._stamp: dict[str, Any] = {}
        self.view: AccountView | None = None
        self._shown_live = ""
        first = account or self._newest_account()
        if first is None:
            self.header_note.value = ('<div style="color:#6b7280">No account yet: no params file under '
                                      "params/daily_dry_run or params/live and no run in the ledger.</div>")
        else:
            self.account_choice.value = first
            self.select(first)
        self.account_choice.observe(lambda change: self.select(change["new"]), "value")
        self.widget.add_class(dom.READY)
        self.loop = RefreshLoop(self._poll, refresh_seconds, on_error=self._report)
        self.loop.start()

    def who(self) -> str:
        """The actor every write records: the "who" field as typed.

        Empty is refused here, naming the field the person sees ("who"), rather than by
        the ledger, whose message names its own column ("actor").
        """
        who = str(self.actor.value).strip()
        if not who:
            raise ParamsError("who", self.actor.value, "a non-empty name (who acts; it goes into the history)")
        return who

    # ----------------------------------------------------------------- accounts

    def _discover(self, known: dict[str, tuple[str, str]] | None = None) -> dict[str, AccountInfo]:
        """The params files' accounts and the ledger's (``known``: :meth:`Ledger.run_accounts`)."""
        runs = self.ledger.run_accounts() if known is None else known
        return {a.name: a for a in discover_accounts(self.params_dir, {n: s for n, (s, _) in runs.items()})}

    def _data_mode(
        self, account: AccountInfo, known: dict[str, tuple[str, str]], overrides: dict[str, Any]
    ) -> str | None:
        """The mode whose figures are shown: the newest run's, else the mode in force."""
        newest = known.get(account.name)
        if newest is not None:
            return newest[1]
        mode = effective_setting(account, overrides, "mode")
        return None if mode is None else str(mode)

    def _set_accounts(self, accounts: dict[str, AccountInfo]) -> None:
        self.accounts = accounts
        current = self.account_choice.value
        self.account_choice.options = [(a.label, a.name) for a in accounts.values()]
        if current in accounts:
            self.account_choice.value = current

    def select(self, name: str) -> None:
        """Show account ``name`` (every section redrawn)."""
        account = self.accounts[name]
        self._stamp = self.ledger.change_stamp()
        mode = self._data_mode(account, self.ledger.run_accounts(), dict(self.ledger.overrides(account=name)))
        reader = AccountReader(self.ledger, account.name, mode)
        self.view = AccountView(
            ledger=self.ledger, account=account, reader=reader, mode=mode, actor=self.who,
            refresh=self.refresh, clock=self.clock, archive=self.archive, project_root=self.project_root,
            db_url=self.ledger.url,
        )
        self.header_note.value = (f'<div style="color:#4b5563;font-size:12px">{html.escape(account.label)}; '
                                  f"figures of its {html.escape(str(mode))} sessions</div>")
        for section in self.sections:
            self._update(section)
        self._mark(set())

    # ----------------------------------------------------------------- refresh

    def _update(self, section: Section) -> None:
        assert self.view is not None
        try:
            section.update(self.view)
        except Exception as exc:  # one broken section must not blank the panel
            self._report(exc, type(section).__name__)

    def refresh(self) -> frozenset[str]:
        """Re-read the ledger now; redraw the sections whose parts changed. Returns the changed parts.

        A run of an account the panel did not know adds it to the chooser; the first run of
        the shown account in another mode switches its figures to that mode.
        """
        stamp = self.ledger.change_stamp()
        changed = frozenset(k for k, v in stamp.items() if self._stamp.get(k) != v)
        self._stamp = stamp
        view = self.view
        if view is not None and changed:
            view.reader.invalidate(changed)
        if changed & {"runs", "config"}:
            known = self.ledger.run_accounts()
            if set(known) - set(self.accounts):
                self._set_accounts(self._discover(known))
            if view is None:
                if self.accounts:
                    first = next(iter(self.accounts))
                    self.account_choice.value = first  # the chooser's observer shows it ...
                    if self.view is None:  # ... unless the value was already there
                        self.select(first)
                return changed
            if self._data_mode(view.account, known, view.reader.overrides()) != view.mode:
                self.select(view.account.name)
                return changed
        if view is None:
            return changed
        if changed:
            for section in self.sections:
                if section.parts & changed:
                    self._update(section)
        for section in self.sections:
            try:
                section.tick(view)
            except Exception as exc:
                self._report(exc, type(section).__name__)
        self._mark(changed)
        return changed

    def _poll(self) -> None:
        self.refresh()

    def _newest_account(self) -> str | None:
        """The account of the ledger's newest run (what a person opening the panel most likely
        watches), else the first account of the params files."""
        newest = self.ledger.runs(limit=1)
        if len(newest) and str(newest["account"].iloc[-1]) in self.accounts:
            return str(newest["account"].iloc[-1])
        return next(iter(self.accounts), None)

    def _mark(self, changed: set[str] | frozenset[str]) -> None:
        """Say when the panel last drew a change, and whether it is live.

        Written only when something changed (or the live state did): a line rewritten
        every second would keep the kernel busy, and voila's idle cull would never free
        the kernel of a tab that crashed without closing its page.
        """
        loop = getattr(self, "loop", None)
        live = f"live, checked every {loop.seconds:g} s" if loop is not None and loop.running else "refreshed on demand"
        if not changed and live == self._shown_live:
            return
        self._shown_live = live
        self.last_refresh.value = (f'<span style="color:#6b7280;font-size:11px">last change drawn at '
                                   f"{self.clock():%H:%M:%S} UTC ({live})</span>")

    def _report(self, exc: Exception, where: str = "refresh") -> None:
        line = f"{where}: {type(exc).__name__}: {exc}"
        self.errors.append(line)
        del self.errors[:-20]
        self.problems.value = "".join(f'<div style="color:#b91c1c;font-size:12px">{html.escape(e)}</div>'
                                      for e in self.errors[-3:])

    # ----------------------------------------------------------------- lifetime and display

    def stop(self) -> None:
        """End the live refresh (a background run, if any, goes on and is archived)."""
        self.loop.stop()

    def close(self) -> None:
        """Stop refreshing and release the ledger if the panel opened it."""
        self.stop()
        if self._owns_ledger:
            self.ledger.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def control_panel(
    db_url: str | None = None,
    account: str | None = None,
    *,
    params_dir: Path | None = None,
    refresh_seconds: float = 0.25,
    clock: Clock | None = None,
    outputs_dir: Path | None = None,
) -> ControlPanel:
    """Open the ledger and build the control panel of ``account`` (default: the first one).

    ``db_url``: the ledger (default ``$TOOLKIT_DB_URL``, else outputs/ledger.sqlite);
    ``params_dir``: where the accounts' params files are (default: the project's params/);
    ``outputs_dir``: the run archive (default: the project's outputs/); ``clock``: the
    time of the panel and of its ledger writes (tz-aware; default: now, UTC). Building a
    panel again in the same kernel (the cell ran again) stops the previous one's refresh.
    """
    from toolkit.ledger import open_ledger
    from toolkit.params import repo_root

    previous = _NEWEST.pop("panel", lambda: None)()
    if previous is not None:  # the cell ran again: one panel per kernel polls the ledger
        previous.close()
    root = repo_root()
    ledger = open_ledger(db_url, clock=clock)
    try:
        panel = ControlPanel(ledger, account=account, params_dir=params_dir or root / "params", project_root=root,
                             outputs_dir=outputs_dir or root / "outputs", refresh_seconds=refresh_seconds,
                             clock=clock, owns_ledger=True)
    except BaseException:
        ledger.close()
        raise
    _NEWEST["panel"] = weakref.ref(panel)
    return panel
