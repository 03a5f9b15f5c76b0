"""Panels and seeded random parameter spreads for the fused grid kernels' tests.

Panels are real bars: the bundled NASDAQ sample (one symbol, 1999-2018); SPY, AAPL
and AGG from ``../shared/data/daily/qstrader`` (AGG starts in 2006, so NaN before its
first bar) with seeded days removed from AAPL and AGG, exactly as a day missing from
a file shows up in a panel (a NaN row of that symbol); five ETFs' closes (close-only
files: high = low = close, no volume); four crypto pairs listed at different dates.

A spread draws lengths from short lists (so indicator tables are shared between
combinations, as in a real grid) and thresholds uniformly; each exit rule is on in
about half the combinations.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset

SHARED_PANELS: dict[str, dict[str, Any]] = {
    "spy_aapl_agg_gaps": dict(
        path="daily/qstrader", symbols=["SPY", "AAPL", "AGG"], start="2004-06-01", end="2015-12-31",
        drop={"AAPL": 25, "AGG": 10},
    ),
    "etf_closes": dict(path="daily/lean-tests/etf_closes_2008_2016.csv", symbols=["SPY", "TLT", "EEM", "XLE", "FXI"]),
    "crypto_listings": dict(
        path="daily/alphasim/crypto_closes_2019_2022.csv", symbols=["BTCUSDT", "SOLUSDT", "DOTUSDT", "MATICUSDT"]
    ),
}

#: Panels with a real volume column (ema_breakout needs one).
WITH_VOLUME = ("nasdaq", "spy_aapl_agg_gaps")


def load_panel(name: str, shared_data: Path | None) -> tuple[pd.DataFrame, list[str]]:
    """The panel ``name`` and its symbols (``shared_data`` unused for the bundled sample)."""
    if name == "nasdaq":
        data: dict[str, Any] = {"source": "sample", "symbols": ["NASDAQ"]}
        spec: dict[str, Any] = {"symbols": ["NASDAQ"]}
    else:
        assert shared_data is not None
        spec = SHARED_PANELS[name]
        data = {"source": "csv", "path": str(shared_data / spec["path"]), "symbols": spec["symbols"]}
        data.update({k: spec[k] for k in ("start", "end") if k in spec})
    with warnings.catch_warnings():  # the crypto file's two empty columns are reported, not wanted
        warnings.simplefilter("ignore", UserWarning)
        p = tkparams.validate("backtest", {"data": data})
        panel = load_dataset(p.data, base_dir=Path.cwd()).panel.copy()
    rng = np.random.default_rng(14)
    for sym, n in spec.get("drop", {}).items():
        have = np.flatnonzero(panel[(sym, "close")].notna().to_numpy())
        days = rng.choice(have[1:-1], n, replace=False)  # a day missing from the symbol's file
        panel.loc[panel.index[days], sym] = np.nan
    return panel, list(spec["symbols"])


def _exits(rng: np.random.Generator, d: dict[str, Any]) -> dict[str, Any]:
    d.setdefault("atr_period", int(rng.choice([5, 14, 22])))  # every set names it: a grid needs one column
    if rng.random() < 0.5:
        d["stop_loss"] = float(rng.uniform(0.01, 0.15))
    if rng.random() < 0.5:
        d["take_profit"] = float(rng.uniform(0.02, 0.4))
    if rng.random() < 0.5:
        d["trailing_atr_k"] = float(rng.uniform(0.5, 4.0))
    return d


def ema_breakout(rng: np.random.Generator) -> dict[str, Any]:
    fast = int(rng.choice([2, 5, 10, 20]))
    return _exits(rng, {
        "fast": fast,
        "slow": fast + int(rng.choice([1, 10, 30, 80])),
        "breakout_lookback": int(rng.choice([3, 10, 20, 55])),
        "volume_lookback": int(rng.choice([1, 10, 20])),
        "volume_mult": float(rng.uniform(0.5, 1.6)),
    })


def mean_reversion(rng: np.random.Generator) -> dict[str, Any]:
    oversold = float(rng.uniform(15.0, 45.0))
    return _exits(rng, {
        "rsi_period": int(rng.choice([2, 3, 7, 14])),
        "oversold": oversold,
        "exit_rsi": oversold + float(rng.uniform(1.0, 40.0)),
        "bb_period": int(rng.choice([5, 10, 20, 40])),
        "bb_std": float(rng.uniform(0.2, 2.5)),
    })


def atr_momentum(rng: np.random.Generator) -> dict[str, Any]:
    return _exits(rng, {
        "lookback": int(rng.choice([5, 20, 63, 126])),
        "threshold": float(rng.uniform(-0.05, 0.1)),
        "atr_period": int(rng.choice([5, 14, 20])),
        "atr_mult": float(rng.uniform(0.5, 4.0)),
        "risk_per_trade": float(rng.uniform(0.002, 0.2)),
        "max_weight": float(rng.uniform(0.1, 1.0)),
        "rebalance_every": int(rng.choice([1, 5, 21, 63])),
    })


SPREADS = {"ema_breakout": ema_breakout, "mean_reversion": mean_reversion, "atr_momentum": atr_momentum}


def spread(strategy: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` seeded random parameter sets of ``strategy`` (plain dicts, valid by construction)."""
    rng = np.random.default_rng(seed)
    return [SPREADS[strategy](rng) for _ in range(n)]


def grid_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Parameter sets as a grid's combinations table; an exit rule that is off is None (null)."""
    frame = pd.DataFrame(records)
    for col in frame.columns:
        if frame[col].isna().any():
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    frame.index = pd.RangeIndex(len(frame), name="combination")
    return frame
