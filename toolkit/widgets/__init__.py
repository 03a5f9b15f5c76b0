"""ipywidgets for interactive control: the control panel and the research explorers.

Two kinds of widgets live here, and neither holds trading logic of its own:

* the **control panel** (``notebooks/control_panel.ipynb``, served as a web app by
  ``toolkit dashboard``): one account's mode, regime, allocation, positions, trades,
  equity, guards, audit log, kill switch, parameter editor and runs. It reads and
  writes only through the ledger and the runner, so every page (a fresh voila kernel)
  shows the same state, and a change made from the CLI shows up within a second;
* the **explorers** in ``backtest.ipynb`` and ``walk_forward.ipynb``: controls that
  re-run a backtest in place, or pick a fold and a grid point, when a person runs the
  notebook by hand. Under papermill (``output_dir`` set) they draw nothing, so the
  archived report is the static one.

:mod:`toolkit.widgets.dom` names the CSS classes the browser tests find elements by.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.widgets.panel import ControlPanel, control_panel

__all__ = ["ControlPanel", "control_panel"]


def __getattr__(name: str) -> Any:
    """``control_panel`` and ``ControlPanel`` on first use: ``import toolkit.widgets`` stays cheap
    (the panel pulls in ipywidgets, pandas and the ledger)."""
    if name in ("ControlPanel", "control_panel"):
        from toolkit.widgets import panel

        return getattr(panel, name)
    raise AttributeError(f"module 'toolkit.widgets' has no attribute {name!r}")
