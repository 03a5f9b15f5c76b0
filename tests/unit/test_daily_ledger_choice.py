"""Issue 9 point 8: the dry-run notebook records its session in a ledger chosen explicitly.

Before: run by hand (no parameters injected), the notebook said "when None nothing is
written" and wrote its session into outputs/ledger.sqlite (or $TOOLKIT_DB_URL).
"""

from __future__ import annotations

from pathlib import Path

from toolkit import params as tkparams
from toolkit.engine.daily import choose_ledger, describe_ledger, throwaway_ledger_url
from toolkit.runner import notebook_parameters

RAW = {"strategy": "sma_crossover", "data": {"source": "sample", "symbols": ["NASDAQ"]}}


def test_by_hand_the_ledger_is_a_throwaway_one_unless_the_params_name_one() -> None:
    p = tkparams.validate("daily_dry_run", RAW)
    chosen = choose_ledger(p, "throwaway")
    assert chosen.db_url == throwaway_ledger_url() and "toolkit-throwaway-ledger-" in chosen.db_url
    assert choose_ledger(p, None).db_url == chosen.db_url  # one per process: every cell sees the same ledger
    assert "throwaway" in describe_ledger(chosen)
    named = tkparams.validate("daily_dry_run", {**RAW, "db_url": "sqlite:///mine.sqlite"})
    assert choose_ledger(named, "throwaway").db_url == "sqlite:///mine.sqlite"


def test_default_keeps_the_params_choice_and_a_url_is_used_as_given() -> None:
    p = tkparams.validate("daily_dry_run", RAW)
    assert choose_ledger(p, "default").db_url is None  # open_ledger: $TOOLKIT_DB_URL, else outputs/ledger.sqlite
    assert "default" in describe_ledger(choose_ledger(p, "default"))
    url = choose_ledger(p, "postgresql://user:secret@db/ledger").db_url
    assert url == "postgresql://user:secret@db/ledger"
    assert "secret" not in describe_ledger(choose_ledger(p, url))


def test_the_runner_passes_the_default_ledger_and_no_url(tmp_path: Path) -> None:
    p = tkparams.validate("daily_dry_run", RAW)
    resolved = p.model_dump(mode="json")
    assert notebook_parameters(p, resolved, tmp_path) == {"params": resolved, "output_dir": str(tmp_path),
                                                          "ledger": "default"}
    bt = tkparams.validate("backtest", {"strategy": "sma_crossover", "data": RAW["data"]})
    assert "ledger" not in notebook_parameters(bt, bt.model_dump(mode="json"), tmp_path)  # no ledger, no parameter
