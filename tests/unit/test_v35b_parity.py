"""v3.5b on a realistic panel: missing rows, decide's cache, the golden run's invariants.

Parity on every bar, no look-ahead and the params round trip of this strategy (and its
variants: execution at the open, inverse hedge, double smoothing, ...) are checked by
the contract test over the registry (``test_strategy_contract.py``); what stays here is
specific to v3.5b.

The realistic panel: QQQ is the NASDAQ Composite sample shipped with ``arch``
(1999-2018); TQQQ (3x) and PSQ (-1x) are synthetic proxies derived from its daily
returns; TLT is the real 2004-2012 series from ``../shared/data`` (NaN elsewhere) and
TMF/TMV are 3x/-3x proxies of it. Without ``../shared`` the panel has no TLT.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from toolkit.strategies.hierarchical_adaptive_v3_5b import CONTEXT_DTYPES, HierarchicalAdaptiveV35b

ROOT = Path(__file__).resolve().parents[2]
TLT_CSV = ROOT.parent / "shared" / "data" / "daily" / "alphasim" / "vti_tlt_gld_closes_2004_2012.csv"
GOLDEN = yaml.safe_load((ROOT / "params" / "strategies" / "hierarchical_adaptive_v3_5b.yaml").read_text())


def _levered(close: np.ndarray, open_: np.ndarray, k: float, cost: float = 0.0001) -> pd.DataFrame:
    """OHLC of a k-times daily-return proxy (k x return minus a daily cost)."""
    ret = close[1:] / close[:-1] - 1.0
    c = np.empty_like(close)
    c[0] = 100.0
    c[1:] = 100.0 * np.cumprod(1.0 + k * ret - cost)
    o = np.empty_like(close)
    o[0] = 100.0
    o[1:] = c[:-1] * (1.0 + k * (open_[1:] / close[:-1] - 1.0))
    return pd.DataFrame({"open": o, "high": np.maximum(o, c), "low": np.minimum(o, c), "close": c,
                         "volume": 1e6})


def _segment_proxy(close: pd.Series, k: float) -> pd.DataFrame:
    """k-times proxy of a series with NaN gaps, restarted at 100 on its first value."""
    ret = close.pct_change(fill_method=None)
    c = (100.0 * (1.0 + k * ret).cumprod()).where(close.notna())
    c.iloc[close.first_valid_index() == close.index] = 100.0
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1e5})


@functools.cache
def nasdaq_panel() -> pd.DataFrame:
    """(symbol, field) panel, UTC midnight stamps, QQQ/TQQQ/PSQ (+TLT/TMF/TMV where known)."""
    import arch.data.nasdaq

    df = arch.data.nasdaq.load()
    idx = pd.DatetimeIndex(df.index).tz_localize("UTC").rename("timestamp")
    close, open_ = df["Close"].to_numpy(float), df["Open"].to_numpy(float)
    frames = {
        "QQQ": pd.DataFrame({"open": open_, "high": df["High"].to_numpy(float), "low": df["Low"].to_numpy(float),
                             "close": close, "volume": df["Volume"].to_numpy(float)}, index=idx),
        "TQQQ": _levered(close, open_, 3.0).set_index(idx),
        "PSQ": _levered(close, open_, -1.0).set_index(idx),
    }
    if TLT_CSV.is_file():
        raw = pd.read_csv(TLT_CSV, parse_dates=["dt"]).set_index("dt")["TLT"]
        raw.index = pd.DatetimeIndex(raw.index).tz_localize("UTC")
        tlt = raw.reindex(idx)  # NaN before 2004-11 and after 2012
        frames["TLT"] = pd.DataFrame({"open": tlt, "high": tlt, "low": tlt, "close": tlt, "volume": 0.0}, index=idx)
        frames["TMF"] = _segment_proxy(tlt, 3.0)
        frames["TMV"] = _segment_proxy(tlt, -3.0)
    return pd.concat(frames, axis=1)


def assert_same(a, b) -> None:
    """Weights and rebalance flags bit for bit; context values equal (NaN == NaN, None == NaN).

    ``decide_each`` (the base class) lets pandas infer context dtypes from the dicts, so
    both sides are cast to the strategy's fixed context dtypes before comparing.
    """
    assert list(a.weights.columns) == list(b.weights.columns)
    np.testing.assert_array_equal(a.weights.to_numpy(), b.weights.to_numpy())
    np.testing.assert_array_equal(a.rebalance.to_numpy(), b.rebalance.to_numpy())
    pd.testing.assert_frame_equal(a.context.astype(CONTEXT_DTYPES), b.context.astype(CONTEXT_DTYPES))


@functools.cache
def golden_decisions():
    return HierarchicalAdaptiveV35b(GOLDEN).decisions(nasdaq_panel())


def test_parity_with_missing_rows():
    """Signal NaN rows (no signal bar) and a TLT gap: carried targets, identical paths."""
    bars = nasdaq_panel().iloc[1400:2300].copy()
    rng = np.random.default_rng(99)
    holes = rng.choice(np.arange(300, 900), 8, replace=False)
    for h in holes:
        bars.iloc[h, bars.columns.get_loc(("QQQ", "close"))] = np.nan
    if ("TLT", "close") in bars.columns:
        bars.iloc[500:505, bars.columns.get_loc(("TLT", "close"))] = np.nan
    bars.iloc[:3] = np.nan  # nothing at all on the first rows
    s = HierarchicalAdaptiveV35b(GOLDEN)
    full = s.decisions(bars)
    assert_same(s.decide_each(bars), full)
    for h in holes:
        assert not full.rebalance.iloc[h] and not full.context["valid"].iloc[h]
        assert full.weights.iloc[h].equals(full.weights.iloc[h - 1])


def test_decide_cache_matches_fresh_instances():
    """Any call order gives what a fresh instance gives for the same history."""
    bars = nasdaq_panel()
    full = golden_decisions()
    s = HierarchicalAdaptiveV35b(GOLDEN)
    for n in (3000, 3001, 3002, 2500, 2501, 4000, 4000, 4002, 4003, 10, 11):
        d = s.decide(bars.iloc[:n])
        assert d.timestamp == bars.index[n - 1]
        assert list(d.target_weights.values()) == full.weights.iloc[n - 1].tolist(), n
        assert d.rebalance == full.rebalance.iloc[n - 1], n
        fresh = HierarchicalAdaptiveV35b(GOLDEN).decide(bars.iloc[:n])
        assert fresh.target_weights == d.target_weights and fresh.rebalance == d.rebalance
        assert fresh.context.keys() == d.context.keys()


def test_decide_rebuilds_when_the_previous_bar_was_revised():
    """A provisional last bar (e.g. an intraday quote) later replaced by the real bar."""
    bars = nasdaq_panel().iloc[:3200]
    s = HierarchicalAdaptiveV35b(GOLDEN)
    provisional = bars.iloc[:3100].copy()
    provisional.iloc[-1, provisional.columns.get_loc(("QQQ", "close"))] *= 0.9
    provisional.iloc[-1, provisional.columns.get_loc(("QQQ", "volume"))] = 0.0
    s.decide(provisional)
    got = s.decide(bars.iloc[:3101])
    want = HierarchicalAdaptiveV35b(GOLDEN).decide(bars.iloc[:3101])
    assert got.target_weights == want.target_weights and got.rebalance == want.rebalance
    assert got.context["t_norm"] == want.context["t_norm"]
    # A rolling window (first bar dropped) is a different history: rebuilt, not advanced.
    w = s.decide(bars.iloc[1:3102])
    assert w.context["t_norm"] == HierarchicalAdaptiveV35b(GOLDEN).decide(bars.iloc[1:3102]).context["t_norm"]


def test_golden_run_invariants():
    """On the real panel: weights follow §10's table, orders only on changes (§9)."""
    d = golden_decisions()
    ctx, w = d.context, d.weights
    valid = ctx["valid"].to_numpy(bool)
    first = int(np.argmax(valid))
    assert first == 220 and d.rebalance.iloc[first]
    assert (w.iloc[:first] == 0).all().all() and not d.rebalance.iloc[:first].any()
    # Weights change only on rebalance bars.
    changed = (w.diff().abs().sum(axis=1) > 0).to_numpy()
    assert not (changed & ~d.rebalance.to_numpy()).any()
    # Same cell and, in defensive cells, same bond trend -> never an order.
    cell, bond = ctx["cell"].to_numpy(), ctx["bond_trend"].fillna("none").to_numpy()
    same = (cell[1:] == cell[:-1]) & ((bond[1:] == bond[:-1]) | (cell[1:] <= 3))
    assert not (d.rebalance.to_numpy()[1:] & same & valid[1:]).any()
    # Issued targets match the golden table for the cell and the bond trend of that bar.
    table = {1: (0.6, 0.4, 0, 0, 0), 2: (0, 1, 0, 0, 0), 3: (0.2, 0.8, 0, 0, 0)}
    cols = ["TQQQ", "QQQ", "TMF", "TMV"]
    # An instrument without a price on a bar (TMF/TMV outside TLT's 2004-2012) keeps its
    # previous weight (the gap policy), and the others make room for it.
    panel = nasdaq_panel()
    priced = np.column_stack([panel[(s, "close")].notna().to_numpy() if (s, "close") in panel.columns
                              else np.zeros(len(panel), bool) for s in cols])
    for i in np.flatnonzero(d.rebalance.to_numpy()):
        c, b = int(cell[i]), bond[i]
        row = w.iloc[i][cols].to_numpy()
        if c in table:
            want = np.array([table[c][0], table[c][1], 0, 0])
        else:
            qqq, bw = (0.5, 0.2) if c == 5 else (0.0, 0.4)
            want = np.array([0, qqq, bw if b == "Bull" else 0, bw if b == "Bear" else 0])
        held = ~priced[i]
        if held.any():
            prev = w.iloc[i - 1][cols].to_numpy()
            np.testing.assert_array_equal(row[held], prev[held], err_msg=f"bar {i}: held weight")
            if prev[held].sum() > 0:  # the others were scaled to make room
                assert row.sum() <= 1.0 + 1e-12
                continue
            want[held] = prev[held]
        np.testing.assert_allclose(row, want, atol=1e-12, err_msg=f"bar {i} cell {c} bond {b}")
    assert set(np.unique(cell[valid])) == {1, 2, 3, 4, 5, 6}, "the sample visits every cell"
    if ("TLT", "close") in nasdaq_panel().columns:
        assert {"Bull", "Bear"} <= set(bond[valid])


def test_wide_panel_gives_the_same_decisions():
    """Extra symbols in the panel (read through the column-subset path) change nothing."""
    bars = nasdaq_panel().iloc[1300:1900]
    extra = {f"X{k}": bars["QQQ"] * (1 + k / 10) for k in range(12)}
    wide = pd.concat([bars, pd.concat(extra, axis=1)], axis=1)
    s = HierarchicalAdaptiveV35b(GOLDEN)
    narrow = s.decisions(bars)
    assert_same(s.decisions(wide), narrow)
    assert_same(s.decide_each(wide), narrow)


def test_bad_history_shapes():
    from toolkit.errors import DataError

    s = HierarchicalAdaptiveV35b(GOLDEN)
    with pytest.raises(DataError):
        s.decide(nasdaq_panel().iloc[:0])
    with pytest.raises(DataError, match="MultiIndex"):
        s.decisions(nasdaq_panel()["QQQ"])
