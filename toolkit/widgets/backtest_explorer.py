"""The backtest explorer: change the strategy or its parameters and see the backtest again.

It runs nothing of its own: a re-run is the notebook's own job
(:func:`toolkit.backtest.job.run_backtest_job`) on the notebook's params with the
strategy and its parameters replaced, validated first by
:func:`toolkit.params.validate` exactly as a params file is, so what the explorer
shows is what ``toolkit run backtest --set ...`` would archive. The charts and the
metrics table are the static report's own (:mod:`toolkit.report`), poured into
widgets that stay on the page.

Building it costs no backtest: it opens on the report the notebook already has, and
runs only when the person presses Run (or, with auto-run on, changes a valid value).
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as w

from toolkit import params as tkparams
from toolkit.backtest.job import BacktestReport, run_backtest_job
from toolkit.errors import ParamsError, ToolkitError
from toolkit.params.backtest import BacktestParams
from toolkit.report import backtest as backtest_report
from toolkit.report import plots
from toolkit.strategies import registry
from toolkit.widgets import dom
from toolkit.widgets.figures import figure_widget, metrics_html, readable_log_axis, redraw
from toolkit.widgets.strategy_form import ERROR_STYLE, StrategyForm

__all__ = ["BacktestExplorer", "equity_figure"]


def equity_figure(report: BacktestReport) -> Any:
    """The report's equity and drawdown chart, titled with the strategy and its parameters, its log
    equity axis labelled ``50k, 100k, 200k`` (the static report's chart keeps plotly's own ticks)."""
    shown = ", ".join(f"{k}={v}" for k, v in report.params.strategy_params.items() if not isinstance(v, list | dict))
    figure = plots.equity_drawdown(
        report.result.equity,
        report.benchmark_equity.rename(f"buy & hold {report.benchmark_symbol}"),
        title=f"Equity and drawdown: {report.params.strategy}" + (f" ({shown})" if shown else ""),
    )
    return readable_log_axis(figure, report.result.equity, report.benchmark_equity, row=1, col=1)


class BacktestExplorer:
    """Strategy and parameter controls over the equity, drawdown and metrics of a backtest.

    ``params`` and ``report`` are the notebook's (``p`` and ``report``). ``.widget`` is
    the root box; a bare explorer at the end of a cell shows it. ``.report`` is the
    backtest on screen.
    """

    def __init__(self, params: BacktestParams, report: BacktestReport) -> None:
        self.params = params
        self.report = report
        self.strategy = w.Dropdown(options=list(registry.available()), value=params.strategy,
                                   description="strategy", layout=w.Layout(width="24em"))
        self.strategy.add_class(dom.EXPLORER_STRATEGY)
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.run_button.add_class(dom.EXPLORER_RUN)
        self.auto_run = w.Checkbox(value=False, description="auto-run on every valid change", indent=False)
        self.auto_run.add_class(dom.EXPLORER_AUTO_RUN)
        self.status = w.HTML()
        self.status.add_class(dom.EXPLORER_STATUS)
        self.form = self._form(params.strategy)
        self.form_box = w.VBox([self.form.widget])
        self.figure = figure_widget(equity_figure(report))
        self.figure.add_class(dom.EXPLORER_EQUITY)
        self.metrics = w.HTML(metrics_html(backtest_report.metrics_table(report)))
        self.metrics.add_class(dom.EXPLORER_METRICS)
        self._say(f"Showing the notebook's backtest: {report.summary_line()}.")
        self.widget = w.VBox([
            w.HTML("<b>Backtest explorer</b>: change the strategy or its parameters, then Run."),
            self.strategy,
            self.form_box,
            w.HBox([self.run_button, self.auto_run], layout=w.Layout(align_items="center")),
            self.status,
            self.figure,
            self.metrics,
        ])
        self.widget.add_class(dom.EXPLORER)
        self.strategy.observe(self._strategy_changed, names="value")
        self.run_button.on_click(lambda _button: self.run())

    # ------------------------------------------------------------------ controls

    def _form(self, strategy: str) -> StrategyForm:
        """A form for ``strategy``: the notebook's values for its own strategy, the model's defaults otherwise."""
        cls = registry.get(strategy)
        values = self.params.strategy_params if strategy == self.params.strategy else {}
        return StrategyForm(cls, values, on_change=self._changed)

    def _strategy_changed(self, change: dict[str, Any]) -> None:
        self.form = self._form(change["new"])
        self.form_box.children = [self.form.widget]
        self._changed()

    def _changed(self) -> None:
        if self.auto_run.value:
            self.run()

    def _say(self, text: str, *, error: bool = False) -> None:
        body = html.escape(text)
        self.status.value = f'<span style="{ERROR_STYLE}">{body}</span>' if error else body

    # ------------------------------------------------------------------ running

    def candidate(self) -> BacktestParams | None:
        """The notebook's params with the chosen strategy and parameters, validated; None (and the
        message shown inline) when the form or the whole params refuse them."""
        if self.form.check() is None:
            self._say("Not run: fix the parameter above.", error=True)
            return None
        raw = self.params.model_dump(mode="json")
        raw.update(strategy=self.strategy.value, strategy_params=self.form.values(), strategy_params_file=None)
        try:
            return tkparams.validate("backtest", raw)
        except ParamsError as exc:
            self.form.show_error(exc)
            self._say("Not run: fix the parameter above.", error=True)
            return None

    def run(self) -> BacktestReport | None:
        """Validate, backtest and redraw; the new report, or None when nothing ran."""
        candidate = self.candidate()
        if candidate is None:
            return None
        self._say("Running ...")
        self.run_button.disabled = True
        t0 = time.perf_counter()
        try:
            report = run_backtest_job(candidate)
        except ToolkitError as exc:
            self.form.show_form_error(str(exc))
            self._say("Not run: see the message above.", error=True)
            return None
        finally:
            self.run_button.disabled = False
        self.report = report
        redraw(self.figure, equity_figure(report))
        self.metrics.value = metrics_html(backtest_report.metrics_table(report))
        self._say(f"Ran in {time.perf_counter() - t0:.1f} s: {report.summary_line()}.")
        return report

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
