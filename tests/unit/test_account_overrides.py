"""An account's config overrides applied to its session: validated like a params file, or the session stops."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from toolkit import params as tkparams
from toolkit.engine.account_overrides import FIXED_KEYS, AppliedOverride, apply_account_overrides
from toolkit.engine.daily import run_daily
from toolkit.engine.result import SessionError
from toolkit.ledger import Ledger, open_ledger
from toolkit.report.overrides_note import overrides_note

T0 = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)

RAW: dict[str, Any] = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 10, "slow": 30},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2017-06-01", "end": "2018-12-31"},
    "account": "acct",
    "costs": {"fees_bps": 10, "slippage_bps": 0},
}
LIVE_RAW: dict[str, Any] = {**RAW, "account": "live-1", "mode": "paper", "execution_time": "5min_before_close"}


@pytest.fixture
def ledger(ledger_url: str) -> Ledger:
    with open_ledger(ledger_url, clock=lambda: T0) as led:  # SQLite and PostgreSQL (tests/conftest.py)
        yield led


def _params(**update: Any):
    return tkparams.validate("daily_dry_run", {**RAW, **update})


def test_no_override_hands_back_the_params_untouched(ledger: Ledger) -> None:
    p = _params()
    ledger.set_override("strategy_params.fast", 3, "another account's", account="other")
    ledger.set_override("strategy_params.fast", 4, "global: applied by no session")
    same, applied = apply_account_overrides("daily_dry_run", p, ledger)
    assert same is p and applied == ()


def test_overrides_are_applied_and_validated_with_the_files_value_beside_them(ledger: Ledger) -> None:
    p = _params()
    ledger.set_override("strategy_params.fast", 12, "faster signal", actor="ann", account="acct")
    ledger.set_override("guards.daily_loss_limit", 0.02, "tighter", actor="bob", account="acct")
    ledger.set_override("execution_time", "5min_before_close", "before the close", actor="bob", account="acct")
    q, applied = apply_account_overrides("daily_dry_run", p, ledger)
    assert q.strategy_params["fast"] == 12 and q.strategy_params["slow"] == 30
    assert q.guards.daily_loss_limit == 0.02 and q.execution_time == "5min_before_close"
    assert q == tkparams.validate("daily_dry_run", {**RAW, "strategy_params": {"fast": 12, "slow": 30},
                                                    "guards": {"daily_loss_limit": 0.02},
                                                    "execution_time": "5min_before_close"})
    assert applied == (
        AppliedOverride("strategy_params.fast", 12, 10, "ann", T0, "faster signal"),
        AppliedOverride("guards.daily_loss_limit", 0.02, p.guards.daily_loss_limit, "bob", T0, "tighter"),
        AppliedOverride("execution_time", "5min_before_close", "close", "bob", T0, "before the close"),
    )
    assert applied[0].to_dict() == {"key": "strategy_params.fast", "value": 12, "base": 10, "actor": "ann",
                                    "set_at": "2024-01-02T14:30:00+00:00", "reason": "faster signal"}


@pytest.mark.parametrize(("key", "value", "why"), [
    ("strategy_params.fast", 0, r"strategy_params.fast: got 0; allowed: a whole number from 1 to 1000"),
    ("strategy_params.fast", 50, r"fast .*slow|slow .*fast"),  # the strategy's cross-field rule
    ("strategy_params.fsat", 12, r"unknown"),
    ("guards.daily_loss_limit", "lots", r"guards.daily_loss_limit: got 'lots'"),
    # The dry run trades the simulated broker only: its params refuse any other mode.
    ("mode", "paper", r"mode: got 'paper'; allowed: offline_mock only"),
])
def test_an_override_the_params_refuse_stops_the_session_naming_key_value_and_why(ledger, key, value, why) -> None:
    ledger.set_override(key, value, "a bad idea", actor="ann", account="acct")
    with pytest.raises(SessionError) as info:
        apply_account_overrides("daily_dry_run", _params(), ledger)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"config override {key}={value!r} (set by ann at 2024-01-02T14:30:00+00:00: a bad idea)"
                          if isinstance(value, str) else
                          f"config override {key}={value} (set by ann at 2024-01-02T14:30:00+00:00: a bad idea)")
    assert "of account acct refused by the daily_dry_run params: " in msg
    assert "Nothing was sent" in msg and "toolkit config revert" in msg
    assert re.search(why, msg), msg


def test_the_culprit_is_named_among_several(ledger: Ledger) -> None:
    ledger.set_override("guards.daily_loss_limit", 0.02, "fine", account="acct")
    ledger.set_override("strategy_params.slow", 5, "too fast for fast=10", account="acct")
    with pytest.raises(SessionError, match=r"^config override strategy_params.slow=5 \(") as info:
        apply_account_overrides("daily_dry_run", _params(), ledger)
    assert "guards.daily_loss_limit" not in str(info.value)


@pytest.mark.parametrize("key", ["account", "db_url", "as_of", "strategy", "strategy_params_file", "data.symbols",
                                 "data"])
def test_keys_that_choose_what_runs_are_fixed(ledger: Ledger, key: str) -> None:
    assert any(key == k or key.startswith(k + ".") for k in FIXED_KEYS)
    ledger.set_override(key, "x", "try", account="acct")
    with pytest.raises(SessionError, match=f"{key} is fixed by the params file"):
        apply_account_overrides("daily_dry_run", _params(), ledger)


def test_online_live_through_an_override_needs_the_confirmation(ledger: Ledger) -> None:
    p = tkparams.validate("live", LIVE_RAW)
    ledger.confirm_live("live-1", actor="ann")
    ledger.set_override("mode", "online_live", "go live", actor="ann", account="live-1")
    ledger.set_override("confirm_live", "live-1", "go live", actor="ann", account="live-1")
    q, applied = apply_account_overrides("live", p, ledger)
    assert q.mode == "online_live" and [o.key for o in applied] == ["mode", "confirm_live"]
    with ledger.engine.begin() as conn:  # the confirmation gone (by hand): the session refuses
        conn.execute(sa.text("delete from system_state where key = 'live_confirmed:live-1'"))
    with pytest.raises(SessionError, match=r"^config override mode='online_live' .*needs the account's recorded "
                                           r"confirmation: `toolkit live confirm --account live-1`"):
        apply_account_overrides("live", p, ledger)


def test_online_live_without_confirm_live_is_the_params_models_refusal(ledger: Ledger) -> None:
    p = tkparams.validate("live", LIVE_RAW)
    ledger.confirm_live("live-1", actor="ann")
    ledger.set_override("mode", "online_live", "go live", actor="ann", account="live-1")
    with pytest.raises(SessionError, match=r"config override mode='online_live' .* refused by the live params: "
                                           r"confirm_live: got None"):
        apply_account_overrides("live", p, ledger)


def test_run_daily_decides_on_the_override_and_records_it(tmp_path: Path) -> None:
    """The dry run applies the override before it loads data or decides; the run summary keeps it."""
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    with open_ledger(url) as led:
        led.set_override("strategy_params.fast", 25, "slower signal", actor="ann", account="acct", at=T0)
    result = run_daily(_params(db_url=url, as_of="2018-06-01"))
    direct = run_daily(_params(db_url=f"sqlite:///{tmp_path / 'direct.sqlite'}", as_of="2018-06-01",
                               strategy_params={"fast": 25, "slow": 30}))
    plain = run_daily(_params(db_url=f"sqlite:///{tmp_path / 'plain.sqlite'}", as_of="2018-06-01"))
    assert result.status == direct.status == plain.status == "completed" and result.dataset is not None
    assert result.decision is not None and direct.decision is not None and plain.decision is not None
    assert result.decision.context == direct.decision.context != plain.decision.context
    assert result.decision.target_weights == direct.decision.target_weights
    assert [o.key for o in result.overrides] == ["strategy_params.fast"]
    with open_ledger(url) as led:
        run = led.get_run(result.run_key)
    assert run is not None
    assert run.summary["overrides"] == [{"key": "strategy_params.fast", "value": 25, "base": 10, "actor": "ann",
                                         "set_at": "2024-01-02T14:30:00+00:00", "reason": "slower signal"}]
    # Without overrides the summary is what it always was: no key at all.
    assert direct.overrides == () and "overrides" not in direct.summary()
    assert {k: v for k, v in result.summary().items() if k not in ("overrides", "run_key")} == {
        k: v for k, v in direct.summary().items() if k != "run_key"}


def test_a_refused_override_stops_run_daily_before_anything_is_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    with open_ledger(url) as led:
        led.set_override("strategy_params.fast", 0, "typo", account="acct")
    with pytest.raises(SessionError, match=r"^config override strategy_params.fast=0 "):
        run_daily(_params(db_url=url, as_of="2018-06-01"))
    with open_ledger(url) as led:
        assert led.runs().empty and led.order_records() == []


def test_the_report_note_lists_each_override_and_nothing_without_any() -> None:
    assert overrides_note(()) is None
    note = overrides_note((
        AppliedOverride("strategy_params.fast", 12, 20, "ann", T0, "faster | for the\nearnings week"),
        AppliedOverride("instruments.SPY.step_size", 0.5, None, "bob", T0, "fractional"),
    ))
    assert note is not None
    lines = note.splitlines()
    assert lines[0].startswith("> **Overrides in effect.** This session ran with 2 config override(s)")
    assert lines[2:] == [
        "| key | params file | override | who | when | why |",
        "|---|---|---|---|---|---|",
        "| `strategy_params.fast` | `20` | `12` | ann | 2024-01-02 14:30 UTC | faster \\| for the earnings week |",
        "| `instruments.SPY.step_size` | — | `0.5` | bob | 2024-01-02 14:30 UTC | fractional |",
    ]
