"""v3.5b regime rules: the hand-checkable vectors of spec §13 and the §5-§9 arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from toolkit.errors import DataError
from toolkit.strategies.hierarchical_adaptive_v3_5b import (
    TMF,
    TMV,
    HierarchicalAdaptiveV35b,
    HierarchicalAdaptiveV35bParams,
    _Regime,
)

GOLDEN = dict(measurement_noise=3000.0, t_norm_bull_thresh=0.05, vol_baseline_window=200,
              execution_time="15min_after_open")
NAN = math.nan
ALL = (True,) * 5

# Inputs that produce each trend / vol state through the real comparisons.
TREND = {"BullStrong": (0.5, 2.0, 1.0), "Sideways": (0.0, 1.0, 1.0), "BearStrong": (-0.5, 1.0, 2.0)}
Z = {"High": 2.0, "Low": -1.0}


def regime(**overrides) -> _Regime:
    return _Regime(HierarchicalAdaptiveV35bParams(**(GOLDEN | overrides)))


def step(reg: _Regime, trend: str, vol: str | float, *, bond: int = 1, sigma: float = 0.2,
         sigma_past: float = NAN, avail: tuple[bool, ...] = ALL):
    t_norm, f, s = TREND[trend]
    z = Z[vol] if isinstance(vol, str) else vol
    return reg.step(t_norm, f, s, z, sigma, sigma_past, bond, avail)


def weights(trend: str, vol: str, bond: int = 1, **overrides) -> tuple[float, ...]:
    reg = regime(**overrides)
    w, _, cell, *_ = step(reg, trend, vol, bond=bond)
    return w


def panel(n: int, *, close=None, volume=1e6, symbols=("QQQ", "TQQQ"), tlt=None) -> pd.DataFrame:
    idx = pd.date_range("2010-01-04", periods=n, freq="B", tz="UTC", name="timestamp")
    c = np.full(n, 100.0) if close is None else np.asarray(close, dtype=float)
    frames = {}
    for sym in symbols:
        frames[sym] = pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": volume}, index=idx)
    if tlt is not None:
        t = np.asarray(tlt, dtype=float)
        frames["TLT"] = pd.DataFrame({"open": t, "high": t, "low": t, "close": t, "volume": 0.0}, index=idx)
    return pd.concat(frames, axis=1)


# ---------------------------------------------------------------- §13.1 flat market
def test_flat_market_is_cell_3():
    bars = panel(260)
    s = HierarchicalAdaptiveV35b(GOLDEN)
    d = s.decisions(bars)
    ctx = d.context
    assert not ctx["valid"].iloc[:220].any(), "first valid bar is the 221st (§1)"
    assert ctx["valid"].iloc[220:].all()
    valid = ctx.iloc[220:]
    assert (valid["cell"] == 3).all() and (valid["trend_state"] == "Sideways").all()
    assert (valid["vol_state"] == "Low").all() and (valid["z_score"] == 0.0).all()
    assert (valid["t_norm"] == 0.0).all() and not valid["vol_crush"].any()
    assert (valid["sma_fast"] == valid["sma_slow"]).all()
    w = d.weights.iloc[220:]
    assert (w["TQQQ"] == 0.2).all() and (w["QQQ"] == 0.8).all()
    assert (w[["TMF", "TMV"]] == 0.0).all().all()
    assert d.rebalance.iloc[220] and d.rebalance.sum() == 1, "only the forced initial allocation"


def test_before_warmup_weights_zero_and_default_regime():
    d = HierarchicalAdaptiveV35b(GOLDEN).decisions(panel(230))
    pre = d.context.iloc[:220]
    assert (d.weights.iloc[:220] == 0.0).all().all() and not d.rebalance.iloc[:220].any()
    assert (pre["cell"] == 3).all() and (pre["trend_state"] == "Sideways").all() and (pre["vol_state"] == "Low").all()
    assert pre["z_score"].isna().all() and not pre["valid"].any()
    assert pre["sma_slow"].iloc[:139].isna().all() and pre["sma_slow"].iloc[139:].notna().all()


# ---------------------------------------------------------------- §13.3 hysteresis
def test_hysteresis_sequence():
    reg = regime()
    states = []
    for z in (0.5, 1.1, 0.5, 0.3, 0.1, 0.9, 1.0):
        step(reg, "Sideways", z)
        states.append("High" if reg.vol_high else "Low")
    assert states == ["Low", "High", "High", "High", "Low", "Low", "Low"]


def test_hysteresis_strict_at_lower_threshold():
    reg = regime()
    step(reg, "Sideways", 1.5)
    step(reg, "Sideways", 0.2)  # exactly lower: dead band, stays High
    assert reg.vol_high


# ---------------------------------------------------------------- §13.4 vol-crush
def test_vol_crush_triggers():
    reg = regime()
    w, reb, cell, trend, crush, _ = step(reg, "BearStrong", "High", bond=-1, sigma=0.33, sigma_past=0.40)
    assert crush and cell == 3 and trend == "Sideways" and not reg.vol_high
    assert w[:2] == (0.2, 0.8)
    # The forced Low is latched: a dead-band z on the next bar stays Low.
    _, _, cell2, *_ = step(reg, "Sideways", 0.5)
    assert cell2 == 3 and not reg.vol_high


def test_vol_crush_does_not_trigger_at_minus_12_5_percent():
    reg = regime()
    w, _, cell, trend, crush, _ = step(reg, "BearStrong", "High", bond=-1, sigma=0.35, sigma_past=0.40)
    assert not crush and cell == 6 and trend == "BearStrong"
    assert w[TMV] == 0.4 and w[:3] == (0.0, 0.0, 0.0) and w[TMF] == 0.0  # bond .4 / cash .6


@pytest.mark.parametrize(("sigma_past", "expected"), [(0.0, False), (NAN, False)])
def test_vol_crush_needs_a_nonzero_past_sigma(sigma_past, expected):
    _, _, _, _, crush, _ = step(regime(), "BearStrong", "High", sigma=0.0, sigma_past=sigma_past)
    assert crush is expected


def test_vol_crush_maps_cells():
    """Crush: cells 5 and 6 -> 3, cell 2 -> 1, cell 4 -> 3."""
    for trend, vol, expected in [("BearStrong", "Low", 3), ("BearStrong", "High", 3),
                                 ("BullStrong", "High", 1), ("Sideways", "High", 3)]:
        _, _, cell, *_ = step(regime(), trend, vol, sigma=0.1, sigma_past=0.2)
        assert cell == expected, (trend, vol)


# ---------------------------------------------------------------- §5-§7 cells and overlay
GOLDEN_TABLE = {  # §10 golden final weights: (TQQQ, QQQ, PSQ, TMF, TMV) with TLT bull
    ("BullStrong", "Low"): (0.6, 0.4, 0.0, 0.0, 0.0),
    ("BullStrong", "High"): (0.0, 1.0, 0.0, 0.0, 0.0),
    ("Sideways", "Low"): (0.2, 0.8, 0.0, 0.0, 0.0),
    ("Sideways", "High"): (0.0, 0.0, 0.0, 0.4, 0.0),
    ("BearStrong", "Low"): (0.0, 0.5, 0.0, 0.2, 0.0),
    ("BearStrong", "High"): (0.0, 0.0, 0.0, 0.4, 0.0),
}


@pytest.mark.parametrize(("trend", "vol"), list(GOLDEN_TABLE))
def test_golden_cell_weights(trend, vol):
    assert weights(trend, vol, bond=1) == pytest.approx(GOLDEN_TABLE[(trend, vol)], abs=1e-12)


def test_overlay_and_scalar_arithmetic():
    # Cell 5, TLT SMA20 > SMA60, s = 1 -> QQQ 0.5, TMF 0.2, cash 0.3
    w = weights("BearStrong", "Low", bond=1)
    assert w == pytest.approx((0, 0.5, 0, 0.2, 0), abs=1e-12) and 1 - sum(w) == pytest.approx(0.3)
    # Same with s = 1.2 -> QQQ 0.5455, TMF 0.1818, cash 0.2727
    w = weights("BearStrong", "Low", bond=1, leverage_scalar=1.2)
    assert w[1] == pytest.approx(0.6 / 1.1, abs=1e-12) and round(w[1], 4) == 0.5455
    assert w[TMF] == pytest.approx(0.2 / 1.1, abs=1e-12) and round(w[TMF], 4) == 0.1818
    assert round(1 - sum(w), 4) == 0.2727
    # Cell 1 with any s -> TQQQ 0.6, QQQ 0.4
    for s in (0.5, 0.8, 1.0, 1.2, 1.5):
        assert weights("BullStrong", "Low", leverage_scalar=s) == pytest.approx((0.6, 0.4, 0, 0, 0), abs=1e-12)
    # Cell 4 with TLT SMA20 <= SMA60 -> TMV 0.4, cash 0.6
    assert weights("Sideways", "High", bond=-1) == pytest.approx((0, 0, 0, 0, 0.4), abs=1e-12)
    # Cell 4 with max_bond_weight 0.1 -> TMV 0.1, cash 0.9; with 1.0 -> still 0.4
    assert weights("Sideways", "High", bond=-1, max_bond_weight=0.1) == pytest.approx((0, 0, 0, 0, 0.1), abs=1e-12)
    assert weights("Sideways", "High", bond=-1, max_bond_weight=1.0) == pytest.approx((0, 0, 0, 0, 0.4), abs=1e-12)
    # max_bond_weight caps cell 5 only below 0.2
    assert weights("BearStrong", "Low", max_bond_weight=0.3) == pytest.approx((0, 0.5, 0, 0.2, 0), abs=1e-12)
    assert weights("BearStrong", "Low", max_bond_weight=0.1) == pytest.approx((0, 0.5, 0, 0.1, 0), abs=1e-12)
    # No bond trend (fewer than 60 TLT closes) -> cell 4 is 100% cash
    assert weights("Sideways", "High", bond=0) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert weights("BearStrong", "Low", bond=0) == pytest.approx((0, 0.5, 0, 0, 0), abs=1e-12)
    # Treasury off -> no bonds
    assert weights("Sideways", "High", bond=1, allow_treasury=False) == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_cell_4_and_6a_unaffected_by_scalar():
    for s in (0.5, 1.5):
        assert weights("Sideways", "High", leverage_scalar=s) == pytest.approx((0, 0, 0, 0.4, 0), abs=1e-12)
        assert weights("BearStrong", "High", leverage_scalar=s) == pytest.approx((0, 0, 0, 0.4, 0), abs=1e-12)


def test_cell_6b_inverse_hedge():
    """§5/§7: PSQ = min(0.5, w_PSQ_max), no bonds; with s: p*s / (p*s + 1 - p)."""
    w = weights("BearStrong", "High", use_inverse_hedge=True)
    assert w == pytest.approx((0, 0, 0.5, 0, 0), abs=1e-12)
    w = weights("BearStrong", "High", use_inverse_hedge=True, w_PSQ_max=0.3)
    assert w == pytest.approx((0, 0, 0.3, 0, 0), abs=1e-12)
    w = weights("BearStrong", "High", use_inverse_hedge=True, w_PSQ_max=1.0, leverage_scalar=1.2)
    assert w[2] == pytest.approx(0.6 / 1.1, abs=1e-12)
    # Cells 4 and 5 keep the overlay with PSQ on.
    assert weights("Sideways", "High", use_inverse_hedge=True) == pytest.approx((0, 0, 0, 0.4, 0), abs=1e-12)


def test_instrument_without_price_goes_to_cash():
    reg = regime()
    avail = (True, True, False, False, False)  # no TMF/TMV prices on this bar
    w, *_ = step(reg, "Sideways", "High", bond=1, avail=avail)
    assert w == (0.0, 0.0, 0.0, 0.0, 0.0)


# ---------------------------------------------------------------- §9 rebalancing
def test_rebalance_rule():
    reg = regime()
    w, reb, cell, *_ = step(reg, "BullStrong", "Low")
    assert reb and cell == 1, "forced initial allocation"
    for _ in range(5):  # same cell: no orders, whatever happens to prices
        w2, reb, cell, _, _, dev = step(reg, "BullStrong", "Low")
        assert not reb and dev == 0.0 and w2 == w
    w3, reb, cell, _, _, dev = step(reg, "Sideways", "Low")
    assert cell == 3 and dev == pytest.approx(0.8) and reb, "cell 1 -> 3: 0.4 + 0.4 > 0.025"
    assert w3 == pytest.approx((0.2, 0.8, 0, 0, 0))


def test_rebalance_below_threshold_keeps_last_issued_targets():
    reg = regime(rebalance_threshold=0.9)
    w1, reb, *_ = step(reg, "BullStrong", "Low")
    w2, reb2, cell, _, _, dev = step(reg, "Sideways", "Low")
    assert cell == 3 and dev == pytest.approx(0.8) and not reb2
    assert w2 == w1, "weights carry the last issued targets"


def test_first_valid_bar_forces_orders_even_when_all_cash():
    reg = regime()
    w, reb, cell, *_ = step(reg, "Sideways", "High", bond=0)
    assert cell == 4 and reb and w == (0.0,) * 5


def test_bond_flip_trades_only_in_defensive_cells():
    reg = regime()
    step(reg, "Sideways", "High", bond=1)
    _, reb, *_ = step(reg, "Sideways", "High", bond=-1)
    assert reb, "TMF -> TMV flip in cell 4"
    reg = regime()
    step(reg, "BullStrong", "Low", bond=1)
    _, reb, *_ = step(reg, "BullStrong", "Low", bond=-1)
    assert not reb, "the bond trend does not matter in cell 1"


# ---------------------------------------------------------------- TLT availability (§6.3)
def test_bond_trend_needs_bond_sma_slow_closes():
    n = 300
    tlt = np.full(n, np.nan)
    tlt[-59:] = np.linspace(100, 110, 59)  # 59 TLT closes: never enough
    d = HierarchicalAdaptiveV35b(GOLDEN).decisions(panel(n, tlt=tlt))
    assert d.context["bond_trend"].isna().all()
    tlt[-60:] = np.linspace(100, 110, 60)  # 60 closes on the last bar, rising -> Bull
    d = HierarchicalAdaptiveV35b(GOLDEN).decisions(panel(n, tlt=tlt))
    assert d.context["bond_trend"].iloc[:-1].isna().all() and d.context["bond_trend"].iloc[-1] == "Bull"
    assert d.context["bond_sma_fast"].iloc[-1] == pytest.approx(np.mean(tlt[-20:]))
    assert d.context["bond_sma_slow"].iloc[-1] == pytest.approx(np.mean(tlt[-60:]))
    tlt[-60:] = 100.0  # flat: SMA20 == SMA60 -> not strictly greater -> Bear (TMV)
    d = HierarchicalAdaptiveV35b(GOLDEN).decisions(panel(n, tlt=tlt))
    assert d.context["bond_trend"].iloc[-1] == "Bear"


def test_tlt_absent_or_treasury_off():
    d = HierarchicalAdaptiveV35b(GOLDEN).decisions(panel(230))
    assert d.context["bond_trend"].isna().all()
    tlt = np.linspace(90, 100, 230)
    d = HierarchicalAdaptiveV35b(GOLDEN | {"allow_treasury": False}).decisions(panel(230, tlt=tlt))
    assert d.context["bond_trend"].isna().all() and d.context["bond_sma_slow"].isna().all()
    assert list(d.weights.columns) == ["TQQQ", "QQQ"]


def test_missing_required_symbol_is_a_data_error():
    with pytest.raises(DataError, match="TQQQ"):
        HierarchicalAdaptiveV35b(GOLDEN).decisions(panel(10, symbols=("QQQ",)))
    with pytest.raises(DataError, match="PSQ"):
        HierarchicalAdaptiveV35b(GOLDEN | {"use_inverse_hedge": True}).decide(panel(10))


# ---------------------------------------------------------------- causal price (§8)
def test_open_mode_uses_todays_open_and_past_closes():
    rng = np.random.default_rng(11)
    n = 260
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    bars = panel(n, close=close)
    opens = close * (1 + rng.normal(0, 0.005, n))
    for sym in ("QQQ", "TQQQ"):
        bars[(sym, "open")] = opens
    s = HierarchicalAdaptiveV35b(GOLDEN | {"execution_time": "open"})
    d = s.decisions(bars)
    last = d.context.iloc[-1]
    assert last["price_source"] == "daily_open"
    assert last["sma_fast"] == pytest.approx((close[-40:-1].sum() + opens[-1]) / 40)
    # Today's close must not matter in open mode.
    changed = bars.copy()
    changed.loc[changed.index[-1], ("QQQ", "close")] *= 1.5
    d2 = s.decisions(changed)
    pd.testing.assert_frame_equal(d.context, d2.context)
    pd.testing.assert_frame_equal(d.weights, d2.weights)


def test_close_mode_sma_uses_todays_close():
    rng = np.random.default_rng(12)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 250)))
    d = HierarchicalAdaptiveV35b(GOLDEN | {"execution_time": "close"}).decisions(panel(250, close=close))
    assert d.context["sma_fast"].iloc[-1] == pytest.approx(close[-40:].mean())
    assert d.context["sma_slow"].iloc[-1] == pytest.approx(close[-140:].mean())
    r = np.diff(np.log(close))
    sig = pd.Series(r).rolling(21).std().to_numpy() * np.sqrt(252)
    base = sig[-200:]
    assert d.context["z_score"].iloc[-1] == pytest.approx((base[-1] - base.mean()) / base.std(ddof=1), rel=1e-9)
