"""The fused kernels decide exactly what the strategies decide (issue 14, point 2).

For ema_breakout, mean_reversion and atr_momentum, seeded random spreads of
combinations (each exit rule on in about half of them) on real panels (one symbol;
several symbols with a later start and missing days; close-only ETFs; crypto pairs
listed at different dates): every weight and rebalance flag the kernel's
``fill_decisions`` writes equals ``Strategy.grid_decisions`` bit for bit. The test
also checks that the spread means something: most combinations hold positions, and
every exit rule (and the plain signal exit) closes positions somewhere.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from support import kernel_grids

from toolkit.optimize.kernels import atr_momentum, ema_breakout, mean_reversion
from toolkit.strategies import registry

KERNELS: dict[str, ModuleType] = {
    "ema_breakout": ema_breakout,
    "mean_reversion": mean_reversion,
    "atr_momentum": atr_momentum,
}
CASES = [
    (strategy, panel)
    for strategy in KERNELS
    for panel in ("nasdaq", "spy_aapl_agg_gaps", "etf_closes", "crypto_listings")
    if strategy != "ema_breakout" or panel in kernel_grids.WITH_VOLUME
]
N_COMBOS = 24


@pytest.fixture(scope="module")
def panels(request: pytest.FixtureRequest) -> dict:
    return {}


def _panel(panels: dict, name: str, request: pytest.FixtureRequest):
    if name not in panels:
        shared = None if name == "nasdaq" else request.getfixturevalue("shared_data")
        panels[name] = kernel_grids.load_panel(name, shared)
    return panels[name]


def _exit_reasons(cls, params, bars, symbols) -> set[str]:
    """Exit reasons the strategy itself reports over the combinations that have an exit rule."""
    seen: set[str] = set()
    for p in params:
        if p.exit_rules().any:
            ctx = cls(p, symbols=symbols).decisions(bars).context
            for col in ctx.columns[ctx.columns.str.startswith("exit_reason_")]:
                seen.update(ctx[col].unique())
    return seen - {""}


@pytest.mark.parametrize(("strategy", "panel_name"), CASES)
def test_kernel_decisions_equal_grid_decisions(
    strategy: str, panel_name: str, panels: dict, request: pytest.FixtureRequest
) -> None:
    bars, symbols = _panel(panels, panel_name, request)
    cls = registry.get(strategy)
    seed = 1400 + CASES.index((strategy, panel_name))
    params = [cls.parse_params(d) for d in kernel_grids.spread(strategy, N_COMBOS, seed)]

    ref = cls.grid_decisions(params, bars, symbols=symbols)
    prepared = KERNELS[strategy].prepare(params, bars, symbols)
    got = prepared.decide(KERNELS[strategy].fill_decisions)

    assert got.instruments == ref.instruments
    np.testing.assert_array_equal(got.rebalance, ref.rebalance)
    np.testing.assert_array_equal(got.weights, ref.weights)
    trading = (ref.weights > 0).any(axis=(0, 2))
    assert trading.mean() >= 0.5, f"only {trading.sum()} of {len(params)} combinations ever hold a position"
    reasons = _exit_reasons(cls, params, bars, symbols)
    assert {"stop_loss", "take_profit", "trailing_stop", "signal"} <= reasons, reasons


def test_a_value_shared_by_combinations_is_computed_once(panels: dict, request: pytest.FixtureRequest) -> None:
    """Tables hold one slice per distinct parameter value, not one per combination."""
    bars, symbols = _panel(panels, "nasdaq", request)
    params = [registry.get("atr_momentum").parse_params(d) for d in kernel_grids.spread("atr_momentum", 40, 3)]
    prepared = atr_momentum.prepare(params, bars, symbols)
    atr_tab, roc_tab = prepared.arrays[1], prepared.arrays[2]
    assert atr_tab.shape == (len({p.atr_period for p in params}), 1, len(bars))
    assert roc_tab.shape == (len({p.lookback for p in params}), 1, len(bars))
