"""How the explorers write a metric: labels, kinds, missing values (toolkit.report.metric_format)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from toolkit.optimize.evaluate import METRICS
from toolkit.report.metric_format import (
    METRIC_FORMATS,
    MISSING,
    MetricFormat,
    format_metric,
    format_value,
    formatted_metrics,
    metric_format,
    objective_format,
)


def test_every_metric_the_backtest_computes_has_a_label_and_a_kind() -> None:
    assert list(METRIC_FORMATS) == list(METRICS)
    labels = [f.label for f in METRIC_FORMATS.values()]
    assert len(set(labels)) == len(labels)
    assert all("_" not in label and label[0].isupper() for label in labels)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("total_return", 1.4198, "141.98%"),
        ("total_return", 12.3456789, "1,234.57%"),
        ("max_drawdown", -0.3101, "-31.01%"),
        ("cagr", 0.0477, "4.77%"),
        ("volatility", 0.1334, "13.34%"),
        ("win_rate", 0.4722, "47.22%"),
        ("exposure", 0.633, "63.30%"),
        ("avg_gross_exposure", 1.0, "100.00%"),
        ("turnover", 1.8212, "182.12%"),
        ("sharpe", 0.41614, "0.42"),
        ("sortino", -1.005, "-1.00"),  # 2 decimals, as float arithmetic rounds -1.005
        ("calmar", 0.1538, "0.15"),
        ("profit_factor", 2.3024, "2.30"),
        ("n_trades", 36, "36"),
        ("n_trades", 36.0, "36"),
        ("n_trades", 1234.0, "1,234"),
        ("n_partial_exits", 0.0, "0"),
        ("max_drawdown_duration_days", 1189.0, "1,189"),
        ("max_drawdown_duration_days", 42.6, "43"),
        ("final_equity", 241981.6155, "241,981.62"),
        ("final_equity", 5.0, "5.00"),
        ("final_equity", -1234567.891, "-1,234,567.89"),
    ],
)
def test_each_kind_is_written_as_a_quant_reads_it(name: str, value: float, text: str) -> None:
    assert format_metric(name, value) == text


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, float("inf"), -np.inf, pd.NA, "n/a"])
@pytest.mark.parametrize("name", ["total_return", "sharpe", "n_trades", "max_drawdown_duration_days",
                                  "final_equity", "something_new"])
def test_a_missing_value_is_an_em_dash(name: str, missing: object) -> None:
    assert format_metric(name, missing) == MISSING == "\u2014"


def test_an_unknown_metric_reads_as_words_and_as_a_number() -> None:
    assert metric_format("mean_holding_bars") == MetricFormat("Mean holding bars", "number")
    assert format_value(0.0123456, "number") == "0.01235"
    assert format_value(123456.7, "number") == "123,457"
    assert format_value(3.0, "number") == "3"


def test_the_objective_row_is_written_as_its_metric_when_it_is_a_bare_one() -> None:
    assert objective_format("sharpe") == MetricFormat("Objective (sharpe)", "ratio")
    assert objective_format(" total_return ") == MetricFormat("Objective (total_return)", "percent")
    assert objective_format("sharpe - 0.5 * abs(max_drawdown)") == MetricFormat(
        "Objective (sharpe - 0.5 * abs(max_drawdown))", "number")


def test_a_table_is_labelled_and_written_row_by_row() -> None:
    table = pd.DataFrame(
        {"strategy": [1.4198, 36.0, 241981.6155, 0.4161], "buy & hold": [0.6062, None, np.nan, 0.225]},
        index=["total_return", "n_trades", "final_equity", "objective"],
    )
    shown = formatted_metrics(table, {"objective": objective_format("sharpe")})
    assert list(shown.index) == ["Total return", "Trades (round trips)", "Final equity", "Objective (sharpe)"]
    assert list(shown.columns) == ["strategy", "buy & hold"]
    assert shown["strategy"].tolist() == ["141.98%", "36", "241,981.62", "0.42"]
    assert shown["buy & hold"].tolist() == ["60.62%", MISSING, MISSING, "0.23"]
    assert not any(t in cell for cell in shown.to_numpy().ravel() for t in ("None", "nan", "0000"))
    assert math.isnan(table.loc["final_equity", "buy & hold"])  # the input is left alone


@pytest.mark.parametrize(("value", "kind", "text"), [
    (-0.00001, "percent", "0.00%"), (-1e-12, "ratio", "0.00"), (-0.004, "money", "0.00"), (-0.4, "count", "0"),
    (-0.0, "money", "0.00"), (-0.00005, "percent", "-0.01%"), (-0.006, "ratio", "-0.01"), (-1234.5, "money", "-1,234.50"),
])
def test_a_value_that_rounds_to_zero_has_no_sign(value: float, kind: str, text: str) -> None:
    """The review of issue 13: a flat fold's CAGR read "-0.00%", a zero position's holding P&L "-0.00"."""
    from toolkit.report.html_table import format_cell

    assert format_value(value, kind) == text  # type: ignore[arg-type]
    assert format_cell(value, kind) == text  # type: ignore[arg-type]  # every report table writes through it
