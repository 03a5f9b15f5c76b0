"""The flagship through the backtest job: synthetic proxies, the bond leg on and off."""

import numpy as np
import pytest

from toolkit.backtest.job import run_backtest_job
from toolkit.params import load, repo_root

ROOT = repo_root()


def test_sample_run_switches_bond_leg_off_with_a_note():
    p = load("backtest", ROOT / "params/backtest/hierarchical_adaptive_v3_5b.yaml", ["data.start=2010-01-04"])
    rep = run_backtest_job(p)
    assert any("TLT is not in the data" in n for n in rep.notes)
    assert any("TQQQ is a synthetic proxy" in n for n in rep.notes)
    w = rep.decisions.weights
    assert (w[["TMF", "TMV"]] == 0).all().all()
    # Cells 4 and 6 hold only cash without the bond leg.
    ctx = rep.decisions.context
    defensive = ctx["cell"].isin([4, 6]) & ctx["valid"].astype(bool)
    assert defensive.any() and (w.loc[defensive].sum(axis=1) == 0).all()
    table = rep.decisions_table()
    for col in ("weight_TQQQ", "weight_QQQ", "cell", "trend_state", "vol_state", "t_norm", "z_score", "sma_fast", "sma_slow", "vol_crush", "bond_trend"):
        assert col in table.columns


def test_real_tlt_turns_the_bond_leg_on(shared_data):
    p = load("backtest", ROOT / "params/backtest/hierarchical_adaptive_v3_5b_with_tlt.yaml")
    rep = run_backtest_job(p)
    w, ctx = rep.decisions.weights, rep.decisions.context
    bond = w["TMF"] + w["TMV"]
    assert (bond > 0).any()
    # Bonds only in the defensive cells, TMF exactly when the TLT trend is Bull.
    assert set(ctx.loc[bond > 0, "cell"].unique()) <= {4, 5, 6}
    tmf = w["TMF"] > 0
    assert (ctx.loc[tmf, "bond_trend"] == "Bull").all()
    traded = set(rep.result.orders["symbol"])
    assert {"TMF", "TQQQ", "QQQ"} <= traded
    assert np.isfinite(rep.result.equity).all()
