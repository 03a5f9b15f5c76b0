"""``data.intraday`` and ``guards.max_data_age``: strict, one-line errors, nothing changes without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit import params as P
from toolkit.errors import ParamsError

MINUTES = "../shared/data/minute/intraday"


def refused(raw: dict, notebook: str = "daily_dry_run") -> ParamsError:
    with pytest.raises(ParamsError) as ei:
        P.validate(notebook, raw)
    assert "\n" not in str(ei.value)
    return ei.value


def test_a_folder_of_minute_files_is_accepted(shared_data: Path) -> None:
    p = P.validate("daily_dry_run", {"data": {"intraday": {"path": MINUTES}}, "guards": {"max_data_age": "PT2M"},
                                     "execution_time": "5min_before_close"})
    assert p.data.intraday is not None and (p.data.intraday.source, p.data.intraday.path) == ("csv", MINUTES)
    assert p.model_dump(mode="json")["data"]["intraday"] == {"source": "csv", "path": MINUTES, "feed": None}
    alpaca = P.validate("daily_dry_run", {"data": {"intraday": {"source": "alpaca"}}})
    assert alpaca.data.intraday is not None and alpaca.data.intraday.feed == "iex"  # the free feed by default
    sip = P.validate("daily_dry_run", {"data": {"intraday": {"source": "alpaca", "feed": "sip"}}})
    assert sip.data.intraday is not None and sip.data.intraday.feed == "sip"


def test_bad_intraday_settings_name_the_field() -> None:
    err = refused({"data": {"intraday": {"source": "alpaca", "path": MINUTES}}})
    assert err.field == "data.intraday.path" and "it does not read files" in err.allowed
    err = refused({"data": {"intraday": {"source": "alpaca", "feed": "otc"}}})
    assert err.field == "data.intraday.feed" and err.allowed.startswith("one of iex, sip")
    err = refused({"data": {"intraday": {"path": MINUTES, "feed": "iex"}}})
    assert err.field == "data.intraday.feed" and "no feed with data.intraday.source: csv" in err.allowed
    err = refused({"data": {"intraday": {}}})
    assert err.field == "data.intraday.path" and "required when data.intraday.source is csv" in err.allowed
    err = refused({"data": {"intraday": {"path": MINUTES, "adjusted": True}}})
    assert err.field == "data.intraday.adjusted" and "feed, path, source" in err.allowed
    err = refused({"data": {"intraday": {"source": "polygon"}}})
    assert err.field == "data.intraday.source" and err.allowed == "csv, alpaca"
    err = refused({"data": {"intraday": {"path": "no/such/minutes"}}})
    assert err.field == "data.intraday.path" and err.value == "no/such/minutes"


def test_max_data_age_ages_minute_bars_only(shared_data: Path) -> None:
    err = refused({"guards": {"max_data_age": "PT5M"}})
    assert err.field == "guards.max_data_age" and "set data.intraday" in err.allowed
    for bad in ("-PT5M", "PT0S", "PT8H"):
        err = refused({"data": {"intraday": {"path": MINUTES}}, "guards": {"max_data_age": bad}})
        assert err.field == "guards.max_data_age" and "above zero" in err.allowed


def test_research_runs_refuse_minute_bars(shared_data: Path) -> None:
    err = refused({"data": {"intraday": {"path": MINUTES}}}, "backtest")
    assert err.field == "data.intraday" and "the backtest prices on daily bars" in err.allowed


def test_params_without_intraday_dump_as_before() -> None:
    """No ``intraday`` key in dumps (manifests, params hashes) when it is not set."""
    p = P.validate("daily_dry_run", {})
    assert "intraday" not in p.model_dump()["data"] and "intraday" not in p.model_dump(mode="json")["data"]


def test_v35b_context_names_the_minute_price_source() -> None:
    """The provisional row's attrs reach v3.5b's context; without them its daily-bar label stays."""
    from toolkit.data.dataset import load_dataset
    from toolkit.params import repo_root
    from toolkit.strategies import registry

    p = P.load("daily_dry_run", repo_root() / "params/daily_dry_run/hierarchical_adaptive_v3_5b.yaml")
    p = p.model_copy(update={"execution_time": "5min_before_close"})
    strat = registry.create(p.strategy, {**p.strategy_params, "execution_time": "5min_before_close"},
                            symbols=p.data.symbols)
    history = load_dataset(p.data, base_dir=repo_root()).panel.loc[:"2018-06-01"]
    assert strat.decide(history).context["price_source"] == "daily_close_fallback"
    marked = history.copy()
    marked.attrs["execution_price_source"] = "minute_bar"
    fresh = registry.create(p.strategy, {**p.strategy_params, "execution_time": "5min_before_close"},
                            symbols=p.data.symbols)
    d = fresh.decide(marked)
    assert d.context["price_source"] == "minute_bar"
    assert d.target_weights == strat.decide(history).target_weights  # the label only, same decision
