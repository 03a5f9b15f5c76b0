"""The walk-forward explorer: pick a fold and a point of its heatmap, see that combination's curves.

A walk-forward keeps every combination's in-sample metrics but trades only each
fold's choice. This explorer shows a fold's own in-sample surface (the heatmap of a
plotly FigureWidget: click a cell) with a dropdown per searched parameter as the
keyboard way to the same point, and draws the picked combination's in-sample and
out-of-sample curves (below the heatmap, in the same figure) and metrics beside the
fold's choice. The curves come from
:func:`toolkit.optimize.fold_replay.replay_fold`, which re-runs the combination with
the walk-forward's own steps: for the fold's choice they are the figures of the fold
table.

Building it costs no backtest: it opens on the last fold with its choice selected
and computes curves only when the person picks something (or presses Show).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np

from toolkit.errors import ParamsError
from toolkit.optimize.fold_replay import FoldReplay, chosen_combinations, replay_fold
from toolkit.optimize.grid import combination
from toolkit.optimize.walk_forward import WalkForwardReport
from toolkit.params.walk_forward import WalkForwardParams
from toolkit.report.metric_format import format_value, objective_format
from toolkit.report.walk_forward_folds import describe_params, fold_figure, fold_label, fold_metrics_table
from toolkit.widgets import dom
from toolkit.widgets.figures import figure_widget, metrics_html, redraw
from toolkit.widgets.strategy_form import ERROR_STYLE

__all__ = ["WalkForwardExplorer"]


class WalkForwardExplorer:
    """Fold dropdown, one dropdown per searched parameter, heatmap over curves, and metrics.

    ``params`` and ``report`` are the notebook's (``p`` and ``report``). ``.widget`` is
    the root box; a bare explorer at the end of a cell shows it. ``.replay`` is what is
    drawn (None before the first pick).
    """

    def __init__(self, params: WalkForwardParams, report: WalkForwardReport) -> None:
        self.params = params
        self.report = report
        self.replay: FoldReplay | None = None
        self._quiet = False
        grid = report.grid.grid
        self.searched = [c for c in report.grid_params if grid[c].nunique() > 1] or report.grid_params[:1]
        hp = report.heatmap_params()
        # The heatmap's axes need a dropdown each (a keyboard way to every cell).
        self.axes: tuple[str, str] | None = (hp[0], hp[1]) if hp and set(hp) <= set(self.searched) else None
        self.chosen = chosen_combinations(report)
        self.objective = objective_format(str(report.objective))  # how its figures are written

        folds = [f.number for f in report.folds]
        self.fold = w.Dropdown(options=[(fold_label(report, n) + self._choice_note(n), n) for n in folds],
                               value=folds[-1], description="fold", layout=w.Layout(width="60em"))
        self.fold.add_class(dom.WF_FOLD)
        self.choosers: dict[str, w.Dropdown] = {}
        for name in self.searched:
            values = sorted(grid[name].unique().tolist())
            chooser = w.Dropdown(options=[(str(v), v) for v in values], description=name,
                                 layout=w.Layout(width="16em"))
            chooser.add_class(dom.wf_axis(name))
            self.choosers[name] = chooser
        self._set_choosers(self.chosen[self.fold.value])
        self.show_button = w.Button(description="Show", icon="line-chart")
        self.status = w.HTML()
        self.status.add_class(dom.WF_STATUS)
        # One FigureWidget, heatmap over curves (see fold_figure for why not two).
        self.figure = figure_widget(self._figure())
        self.figure.add_class(dom.WF_FIGURE)
        if self.axes is not None:
            for trace in self.figure.data[:3]:  # the heatmap and its two markers
                trace.on_click(self._clicked)
        self.metrics = w.HTML()
        self.metrics.add_class(dom.WF_METRICS)
        self._say("Click a cell of the heatmap, or choose values and press Show, to draw that combination's "
                  "in-sample and out-of-sample curves.")
        self.widget = w.VBox([
            w.HTML("<b>Walk-forward explorer</b>: one fold's in-sample surface and any of its combinations."),
            self.fold,
            w.HBox([*self.choosers.values(), self.show_button], layout=w.Layout(flex_flow="row wrap")),
            self.status,
            self.figure,
            self.metrics,
        ])
        self.widget.add_class(dom.WF_EXPLORER)
        self.fold.observe(self._fold_changed, names="value")
        for chooser in self.choosers.values():
            chooser.observe(self._chooser_changed, names="value")
        self.show_button.on_click(lambda _button: self.show())

    # ------------------------------------------------------------------ state

    def _choice_note(self, fold: int) -> str:
        combo = self.chosen[fold]
        if combo is None:
            return " (no combination met the constraints)"
        return f" (chose {describe_params(self._searched_values(combo))})"

    def _searched_values(self, combo: int) -> dict[str, Any]:
        values = combination(self.report.grid.grid, combo)
        return {k: _plain(values[k]) for k in self.searched}

    def selected_values(self) -> dict[str, Any]:
        """The searched parameters' values as the dropdowns hold them."""
        return {name: chooser.value for name, chooser in self.choosers.items()}

    def selected_combination(self) -> int | None:
        """The grid's number of the selected values (None when the strategy dropped them)."""
        grid = self.report.grid.grid
        mask = np.ones(len(grid), dtype=bool)
        for name, value in self.selected_values().items():
            mask &= grid[name].to_numpy() == value
        hits = grid.index[mask]
        return int(hits[0]) if len(hits) else None

    def _set_choosers(self, combo: int | None) -> None:
        if combo is None:
            return
        self._quiet = True
        try:
            for name, value in self._searched_values(combo).items():
                self.choosers[name].value = value
        finally:
            self._quiet = False

    def _figure(self) -> Any:
        values = self.selected_values()
        others = {k: v for k, v in values.items() if k not in (self.axes or ())}
        return fold_figure(self.report, self.fold.value, self.axes, others, values, self.replay)

    def _say(self, text: str, *, error: bool = False) -> None:
        body = html.escape(text)
        self.status.value = f'<span style="{ERROR_STYLE}">{body}</span>' if error else body

    # ------------------------------------------------------------------ events

    def _fold_changed(self, _change: dict[str, Any]) -> None:
        self._set_choosers(self.chosen[self.fold.value])
        self.show()

    def _chooser_changed(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self.show()

    def _clicked(self, _trace: Any, points: Any, _state: Any) -> None:
        """A click on the heatmap: the cell's two values into the dropdowns, then show."""
        if not points.xs or self.axes is None:
            return
        y_name, x_name = self.axes
        self.pick(**{y_name: _from_label(self.choosers[y_name], points.ys[0]),
                     x_name: _from_label(self.choosers[x_name], points.xs[0])})

    def pick(self, **values: Any) -> FoldReplay | None:
        """Select ``values`` of searched parameters (the rest unchanged) and show that combination."""
        for name, value in values.items():
            if name not in self.choosers:
                raise ParamsError(name, value, "a searched parameter: " + ", ".join(self.choosers))
        self._quiet = True
        try:
            for name, value in values.items():
                self.choosers[name].value = value
        finally:
            self._quiet = False
        return self.show()

    def show(self) -> FoldReplay | None:
        """Re-run the selected combination in the selected fold and draw it; None when it is not in the grid."""
        fold = self.fold.value
        combo = self.selected_combination()
        if combo is None:
            self.replay = None
            redraw(self.figure, self._figure())
            self.metrics.value = ""
            self._say(f"{describe_params(self.selected_values())} is not in the grid: {self.report.grid.reading()}.",
                      error=True)
            return None
        self._say(f"Running fold {fold}, {describe_params(self.selected_values())} ...")
        replay = replay_fold(self.report, fold, combo)
        self.replay = replay
        redraw(self.figure, self._figure())
        self.metrics.value = metrics_html(fold_metrics_table(self.report, replay),
                                          {"objective": self.objective})
        which = "the fold's choice" if combo == self.chosen[fold] else "not the fold's choice"
        is_value, oos_value = (format_value(m["objective"], self.objective.kind)
                               for m in (replay.in_sample_metrics, replay.out_of_sample_metrics))
        self._say(f"Fold {fold}, {describe_params(self.selected_values())} ({which}): in-sample "
                  f"{self.report.objective} {is_value}, out-of-sample {oos_value}.")
        return replay

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value a dropdown holds."""
    return value.item() if isinstance(value, np.generic) else value


def _from_label(chooser: w.Dropdown, label: Any) -> Any:
    """The dropdown value whose label is ``label`` (the heatmap's axes are category labels)."""
    for text, value in chooser.options:
        if text == str(label):
            return value
    raise ParamsError(chooser.description, label, "one of " + ", ".join(t for t, _ in chooser.options))

