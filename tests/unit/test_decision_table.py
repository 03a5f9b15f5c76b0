"""A strategy's decisions written as a person reads them (toolkit/report/decision_table.py, issue 13 audit).

The audit found the decisions table printing ``0`` for target weights, indicators at
uneven precision (``-0.106`` beside ``-0.1808``, ``313.5`` beside ``332``) and ``7090``
without a separator. The rules are checked on hand-picked values, then on the decisions
of real backtests of the bundled data: an allocator of three strategies (weights,
shares, sub-returns) and v3.5b (a regime cell, flags, indicators of several scales).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit
from toolkit.report import decision_table as D
from toolkit.report.metric_format import MISSING
from toolkit.strategies.base import Decision

ROOT = Path(__file__).resolve().parents[2]


def test_weights_read_as_percentages_and_counts_as_integers() -> None:
    assert D.format_decision_value(1 / 3, "weight") == "33.33%"  # 2 decimals, as every other table (issue 13)
    assert D.format_decision_value(0.0, "weight") == "0.00%"
    assert D.format_decision_value(-0.5, "weight") == "-50.00%"
    assert D.format_decision_value(-1e-9, "weight") == "0.00%"  # never "-0.00%"
    assert D.format_decision_value(1234, "count") == "1,234"
    assert D.format_decision_value(np.bool_(True), "flag") == "yes" and D.format_decision_value(False, "flag") == "no"
    assert D.format_decision_value(None, "indicator") == MISSING and D.format_decision_value(float("nan"), "weight") == MISSING


@pytest.mark.parametrize(("values", "expected"), [
    ([7090.123, 7598.4], ["7,090", "7,598"]),  # 4 significant digits of the largest: whole numbers, separated
    ([313.52, 332.0], ["313.5", "332.0"]),  # the same decimals down the column
    ([-0.106, -0.18084, 0.0], ["-0.1060", "-0.1808", "0.0000"]),
    ([1.4581, 2.3], ["1.458", "2.300"]),
    ([123456.7], ["123,457"]),
    ([0.000123, -0.00005], ["1.230e-04", "-5.000e-05"]),  # below 0.001: scientific, never a run of zeros
    ([-1e-9, 0.5], ["0.0000", "0.5000"]),  # no "-0.0000"
])
def test_an_indicator_column_shares_its_decimals(values, expected) -> None:
    decimals = D.indicator_decimals(values)
    assert [D.format_indicator(v, decimals) for v in values] == expected


def test_kinds_come_from_what_a_column_holds() -> None:
    assert D.decision_kind("weight_SPY", pd.Series([0.0, 0.5])) == "weight"
    assert D.decision_kind("share_trend", pd.Series([0.25])) == "weight"
    assert D.decision_kind("return_trend", pd.Series([0.01])) == "return"
    assert D.decision_kind("cell", pd.Series([3, 4], dtype="int64")) == "count"
    assert D.decision_kind("rebalance", pd.Series([True, False])) == "flag"
    assert D.decision_kind("t_norm", pd.Series([0.1, np.nan])) == "indicator"
    assert D.decision_kind("trend_state", pd.Series(["Sideways", None], dtype="string")) == "text"
    assert D.decision_kind("cell", [3]) == "count" and D.decision_kind("valid", [True]) == "flag"


def _column(shown: pd.DataFrame, name: str) -> list[str]:
    return [str(v) for v in shown[name]]


def test_v35b_decisions_weights_in_percent_flags_as_words_indicators_at_one_precision() -> None:
    run = toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/hierarchical_adaptive_v3_5b.yaml"))
    table = run.decisions_table()
    shown, cols = D.decisions_display(table)
    kinds = {c.key: c.kind for c in cols}
    weights = [c for c in table.columns if str(c).startswith("weight_")]
    assert len(weights) >= 2
    for name in weights:
        col = _column(shown, name)
        assert all(re.fullmatch(r"\d{1,3}\.\d\d%", v) for v in col), col[:5]
        expected = [f"{x * 100:.2f}%".replace("-0.00%", "0.00%") for x in table[name]]
        assert col == expected
    assert any(v not in ("0.00%", "100.00%") for name in weights for v in _column(shown, name))  # 60.00%...
    labels = {c.key: c.label for c in cols}  # headers read as words: "weight QQQ", "SMA fast", "t norm"
    assert all(labels[name] == "weight " + name.removeprefix("weight_") for name in weights)
    assert labels["sma_fast"] == "SMA fast" and labels["t_norm"] == "t norm" and labels["cell"] == "cell"
    assert set(_column(shown, "rebalance")) == {"yes", "no"} and set(_column(shown, "valid")) <= {"yes", "no"}
    assert set(_column(shown, "cell")) <= {"1", "2", "3", "4", "5", "6"}
    for name in ("t_norm", "z_score", "sma_fast", "sma_slow", "deviation"):
        written = [v for v in _column(shown, name) if v != MISSING]
        decimals = {len(v.split(".")[1]) if "." in v else 0 for v in written}
        assert len(decimals) == 1, (name, decimals)  # one precision down the column
        assert kinds[name] == "figure"
    assert kinds["trend_state"] == "text"
    # sma_fast of QQQ reaches ~ 300: one decimal, 4 significant digits
    assert all(re.fullmatch(r"\d{1,3}\.\d", v) for v in _column(shown, "sma_fast") if v != MISSING)


def test_allocator_decisions_write_shares_and_returns_in_percent() -> None:
    run = toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/multi_strategy.yaml"))
    table = run.decisions_table()
    shown, _ = D.decisions_display(table)
    shares = [c for c in table.columns if str(c).startswith("share_")]
    returns = [c for c in table.columns if str(c).startswith("return_")]
    assert shares and returns
    for name in shares:
        assert all(v == MISSING or re.fullmatch(r"-?\d{1,3}\.\d\d%", v) for v in _column(shown, name))
    for name in returns:
        assert all(v == MISSING or re.fullmatch(r"-?\d+\.\d\d%", v) for v in _column(shown, name))


def test_one_decision_lists_its_weights_then_its_context() -> None:
    d = Decision(pd.Timestamp("2018-06-01", tz="UTC"), {"SPY": 1 / 3, "AGG": 0.0}, False,
                 {"cell": 3, "t_norm": -0.10600, "sma_fast": 7090.123, "vol_crush": False, "bond_trend": None,
                  "trend_state": "Sideways"})
    text = D.decision_html(d)
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", text)]
    assert cells == ["target weight SPY", "33.33%", "target weight AGG", "0.00%", "rebalance",
                     "no", "cell", "3", "t norm", "-0.1060", "SMA fast", "7,090", "vol crush", "no", "bond trend",
                     MISSING, "trend state", "Sideways"]
