"""Objective expressions, constraints and the choice of the best combination (no simulation)."""

import numpy as np
import pytest

from toolkit.errors import ParamsError
from toolkit.optimize.evaluate import CONSTRAINT_RULES, METRICS, constraint_mask, parse_objective, select_best

M = {
    "sharpe": np.array([1.0, 2.0, -0.5, np.nan]),
    "sortino": np.array([1.5, 1.0, 0.5, 2.0]),
    "max_drawdown": np.array([-0.2, -0.6, -0.1, -0.3]),
    "cagr": np.array([0.1, 0.2, 0.0, 0.05]),
    "n_trades": np.array([5.0, 2.0, 10.0, 4.0]),
    "calmar": np.array([0.5, 0.33, 0.0, 0.16]),
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sharpe", M["sharpe"]),
        ("  cagr ", M["cagr"]),
        ("sharpe - 0.5 * abs(max_drawdown)", M["sharpe"] - 0.5 * np.abs(M["max_drawdown"])),
        ("-max_drawdown", -M["max_drawdown"]),
        ("+calmar", M["calmar"]),
        ("min(sharpe, sortino)", np.minimum(M["sharpe"], M["sortino"])),
        ("max(cagr, 0.05, calmar / 10)", np.maximum(np.maximum(M["cagr"], 0.05), M["calmar"] / 10)),
        ("(sharpe + sortino) / 2", (M["sharpe"] + M["sortino"]) / 2),
        ("cagr / abs(max_drawdown) + 1e-3 * n_trades", M["cagr"] / np.abs(M["max_drawdown"]) + 1e-3 * M["n_trades"]),
        ("2", np.full(4, 2.0)),
    ],
)
def test_allowed_expressions_evaluate_like_numpy(text, expected):
    obj = parse_objective(text)
    np.testing.assert_array_equal(obj(M), expected)


def test_objective_records_the_metrics_it_uses():
    assert parse_objective("sharpe - 0.5 * abs(max_drawdown) + sharpe").names == ("sharpe", "max_drawdown")


def test_division_by_zero_gives_a_non_finite_value_not_an_error():
    out = parse_objective("cagr / calmar")(M)
    assert not np.isfinite(out[2])


@pytest.mark.parametrize(
    "text, hint",
    [
        ("sharp", "'sharp' is not one"),
        ("sharpe + volatilty", "'volatilty' is not one"),
        ("__import__('os').system('echo hi')", "only the functions abs, min and max"),
        ("open('/etc/passwd')", "only the functions"),
        ("sharpe ** 2", "power (**)"),
        ("sharpe // 2", "floor division"),
        ("sharpe % 2", "modulo"),
        ("sharpe.real", "attribute access"),
        ("sharpe[0]", "indexing"),
        ("sharpe > 1", "comparisons"),
        ("sharpe and cagr", "and/or"),
        ("sharpe if cagr else 0", "if/else"),
        ("lambda: 1", "lambda"),
        ("abs(sharpe, cagr)", "exactly 1 argument"),
        ("min(sharpe)", "at least 2 arguments"),
        ("abs(x=sharpe)", "plain positional arguments"),
        ("max(*sharpe)", "plain positional arguments"),
        ("True", "the constant True"),
        ("'sharpe'", "the constant 'sharpe'"),
        ("sharpe +", "a valid expression"),
        ("", "a metric name"),
        ("x" * 600, "at most 500 characters"),
    ],
)
def test_rejected_expressions_name_the_field(text, hint):
    with pytest.raises(ParamsError) as ei:
        parse_objective(text)
    assert ei.value.field == "objective"
    assert hint in ei.value.allowed


def test_rejected_expression_lists_the_allowed_metric_names():
    with pytest.raises(ParamsError) as ei:
        parse_objective("sharp")
    assert all(name in ei.value.allowed for name in METRICS)


def test_non_string_objective_is_rejected():
    with pytest.raises(ParamsError):
        parse_objective(3)


def test_constraints_keep_only_combinations_meeting_every_rule():
    metrics = {k: np.zeros(4) for k in METRICS}
    metrics.update(
        n_trades=np.array([5.0, 2.0, 10.0, 4.0]),
        max_drawdown=np.array([-0.2, -0.6, -0.1, np.nan]),
        sharpe=np.array([1.0, 2.0, -0.5, 0.3]),
    )
    assert constraint_mask(metrics, {}).all()
    np.testing.assert_array_equal(constraint_mask(metrics, {"min_trades": 3}), [True, False, True, True])
    # A drawdown floor: -0.3 rejects the -60% drawdown, and a NaN metric fails its rule.
    np.testing.assert_array_equal(constraint_mask(metrics, {"max_drawdown": -0.3}), [True, False, True, False])
    np.testing.assert_array_equal(
        constraint_mask(metrics, {"min_trades": 3, "max_drawdown": -0.3, "min_sharpe": 0.0, "min_exposure": None}),
        [True, False, False, False],
    )
    with pytest.raises(ParamsError):
        constraint_mask(metrics, {"min_sortino": 1})


def test_every_constraint_reads_a_known_metric():
    assert all(metric in METRICS for metric, _ in CONSTRAINT_RULES.values())


def test_select_best_takes_the_best_valid_and_the_first_on_ties():
    obj = np.array([1.0, 3.0, 3.0, 5.0, np.nan])
    valid = np.array([True, True, True, False, True])
    assert select_best(obj, valid) == 1  # 5.0 is invalid; 3.0 ties go to grid order
    assert select_best(obj, np.ones(5, dtype=bool)) == 3
    assert select_best(np.array([np.nan, np.inf, 2.0]), np.ones(3, dtype=bool)) == 2  # non-finite never wins
    assert select_best(obj, np.zeros(5, dtype=bool)) is None
