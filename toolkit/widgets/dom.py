"""CSS classes the control panel puts on its widgets (``widget.add_class``).

One place for them, because the browser tests find elements by these names: a
renamed class would otherwise break a test far from the change. ipywidgets puts a
class on the widget's outer element; an input sits inside it (``.tk-kill-reason input``).
"""

from __future__ import annotations

from typing import Final

# The research explorers (toolkit.widgets.explorers): backtest.ipynb and walk_forward.ipynb.
#: The backtest explorer's root box; its strategy dropdown, Run button, auto-run checkbox,
#: status line, form-level error line, equity/drawdown figure and metrics table.
EXPLORER: Final = "tk-explorer"
EXPLORER_STRATEGY: Final = "tk-explorer-strategy"
EXPLORER_RUN: Final = "tk-explorer-run"
EXPLORER_AUTO_RUN: Final = "tk-explorer-auto-run"
EXPLORER_STATUS: Final = "tk-explorer-status"
EXPLORER_FORM_ERROR: Final = "tk-explorer-form-error"
EXPLORER_EQUITY: Final = "tk-explorer-equity"
EXPLORER_METRICS: Final = "tk-explorer-metrics"
#: The walk-forward explorer's root box, fold dropdown, figure (heatmap over curves), metrics
#: and status.
WF_EXPLORER: Final = "tk-wf-explorer"
WF_FOLD: Final = "tk-wf-fold"
WF_FIGURE: Final = "tk-wf-figure"
WF_METRICS: Final = "tk-wf-metrics"
WF_STATUS: Final = "tk-wf-status"

#: The panel's root box; READY is added once the first ledger read has been drawn.
PANEL: Final = "tk-panel"
READY: Final = "tk-panel-ready"
ACCOUNT: Final = "tk-account"
MODE: Final = "tk-mode"
EXECUTION_TIME: Final = "tk-execution-time"
SETTINGS_MESSAGE: Final = "tk-settings-message"
SETTINGS_REASON: Final = "tk-settings-reason"
SETTINGS_SAVE: Final = "tk-settings-save"
#: Who acts: the actor text field every write of the panel records.
ACTOR: Final = "tk-actor"
REGIME: Final = "tk-regime"
ALLOCATION: Final = "tk-allocation"
POSITIONS: Final = "tk-positions"
TRADES: Final = "tk-trades"
TRADES_SYMBOL: Final = "tk-trades-symbol"
TRADES_SIDE: Final = "tk-trades-side"
TRADES_FROM: Final = "tk-trades-from"
TRADES_TO: Final = "tk-trades-to"
TRADES_EXPORT: Final = "tk-trades-export"
EQUITY: Final = "tk-equity"
GUARDS: Final = "tk-guards"
AUDIT: Final = "tk-audit"
KILL_STATE: Final = "tk-kill-state"
KILL_REASON: Final = "tk-kill-reason"
KILL_BUTTON: Final = "tk-kill-button"
KILL_MESSAGE: Final = "tk-kill-message"
RUN_NOW: Final = "tk-run-now"
RUN_STATUS: Final = "tk-run-status"
#: The box where the account's name is typed to run an account trading real money (online_live).
RUN_CONFIRM: Final = "tk-run-confirm"
RUN_HISTORY: Final = "tk-run-history"
PARAMS_FORM: Final = "tk-params"
PARAMS_FORM_ERROR: Final = "tk-params-form-error"
PARAMS_REASON: Final = "tk-params-reason"
PARAMS_SAVE: Final = "tk-params-save"
PARAMS_MESSAGE: Final = "tk-params-message"
CONFIG_HISTORY: Final = "tk-config-history"
CONFIG_REVERT: Final = "tk-config-revert"
CONFIG_REVERT_CHOICE: Final = "tk-config-revert-choice"
CONFIG_REVERT_REASON: Final = "tk-config-revert-reason"
CONFIG_MESSAGE: Final = "tk-config-message"
LAST_REFRESH: Final = "tk-last-refresh"


def param_input(name: str) -> str:
    """The class of the editor's input for strategy parameter ``name``."""
    return f"tk-param-{name}"


def param_error(name: str) -> str:
    """The class of the inline error line under strategy parameter ``name``."""
    return f"tk-param-error-{name}"


def mode_option(mode: str) -> str:
    """The class of the button that switches the account to ``mode`` (disabled when it cannot trade it)."""
    return f"tk-mode-{mode}"


def explorer_input(name: str) -> str:
    """The class of the backtest explorer's control for strategy parameter ``name``."""
    return f"tk-explorer-param-{name}"


def explorer_error(name: str) -> str:
    """The class of the inline error line under the explorer's control for ``name``."""
    return f"tk-explorer-param-error-{name}"


def wf_axis(name: str) -> str:
    """The class of the walk-forward explorer's dropdown for grid parameter ``name``."""
    return f"tk-wf-axis-{name}"
