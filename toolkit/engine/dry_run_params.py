"""Parameters of ``notebooks/daily_dry_run.ipynb`` (and of ``toolkit replay``).

One model for the dry run and the replay because both drive the same
:func:`toolkit.engine.session.run_session`: what differs between them is only the
clock and how many sessions are walked. Validation is complete before anything
runs (promise 6): an unknown strategy or symbol, an as_of outside the data or a
mode this notebook cannot trade stops with one :class:`~toolkit.errors.ParamsError`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from toolkit.engine.guards import GuardSettings
from toolkit.errors import ParamsError
from toolkit.model import ExecutionTimeName

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.params import DataParams

__all__ = ["DailyDryRunParams", "check_dry_run"]

ExecutionTime = ExecutionTimeName  # the five names, spelled once in toolkit.model


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CostParams(_Model):
    """Fees and slippage in basis points: the same numbers the backtest's cost model uses."""

    fees_bps: float = Field(10.0, ge=0, le=1000)
    slippage_bps: float = Field(0.0, ge=0, le=1000)
    fixed_fee: float = Field(0.0, ge=0, le=1000, description="per order, in account currency")


class InstrumentParams(_Model):
    """How a symbol trades: lot step (1 = whole shares) and minimum order value."""

    step_size: float = Field(1.0, gt=0, description="quantity step, e.g. 0.00001 for BTCUSDT")
    min_notional: float = Field(0.0, ge=0, description="smallest order value, e.g. 10 for BTCUSDT")

    def spec(self):
        from decimal import Decimal

        from toolkit.model import Instrument

        return Instrument(step_size=Decimal(str(self.step_size)), min_notional=Decimal(str(self.min_notional)))


class BrokerParams(_Model):
    """The simulated broker's market model."""

    max_participation: float | None = Field(
        None, gt=0, le=1,
        description="cap each order at this fraction of the session bar's volume; the rest is cancelled "
                    "at the end of the session (a partial fill). null = no cap",
    )


class GuardParams(_Model):
    """Risk guard limits (``null`` switches a guard off). Fractions are of equity."""

    max_order_notional: float | None = Field(None, gt=0)
    max_position_weight: float | None = Field(None, gt=0)
    max_gross_exposure: float | None = Field(None, gt=0)
    daily_loss_limit: float | None = Field(0.05, gt=0, lt=1)
    max_drawdown_limit: float | None = Field(None, gt=0, lt=1)
    stale_bar_check: bool = True
    slippage_abort: float | None = Field(0.01, gt=0)
    kill_switch: bool = Field(False, description="halt every order of this run (the ledger's kill switch also halts)")
    min_order_fraction: float = Field(0.0, ge=0, lt=1, description="skip orders smaller than this fraction of equity")

    def settings(self) -> GuardSettings:
        return GuardSettings(
            max_order_notional=self.max_order_notional,
            max_position_weight=self.max_position_weight,
            max_gross_exposure=self.max_gross_exposure,
            daily_loss_limit=self.daily_loss_limit,
            max_drawdown_limit=self.max_drawdown_limit,
            stale_bar_check=self.stale_bar_check,
            slippage_abort=self.slippage_abort,
            kill_switch=self.kill_switch,
        )


class DailyDryRunParams(_Model):
    """Parameters of one daily dry-run session (and of a replay over many)."""

    strategy: str = "sma_crossover"
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    strategy_params_file: str | None = None
    data: DataParams = Field(default_factory=lambda: _data_params())
    account: str = Field("dry-run", min_length=1, max_length=64)
    mode: Literal["offline_mock", "paper", "online_live"] = "offline_mock"
    #: The session traded; ``None`` = the last session of the data (2018-12-31 on the sample).
    as_of: dt.date | None = None
    execution_time: ExecutionTime = "close"
    initial_cash: float = Field(100_000.0, gt=0, le=1e12)
    costs: CostParams = Field(default_factory=CostParams)
    guards: GuardParams = Field(default_factory=GuardParams)
    broker: BrokerParams = Field(default_factory=BrokerParams)
    #: Per-symbol trading rules; symbols not listed trade in whole shares.
    instruments: dict[str, InstrumentParams] = Field(default_factory=dict)
    #: SQLAlchemy URL of the ledger; ``None`` = ``$TOOLKIT_DB_URL`` or outputs/ledger.sqlite.
    db_url: str | None = None
    check_consistency: bool = Field(True, description="re-derive the ledger after the session and fail loudly on drift")
    title: str | None = None

    @field_validator("mode")
    @classmethod
    def _offline_only(cls, v: str) -> str:
        if v != "offline_mock":
            raise ValueError(
                f"offline_mock only: the daily dry run trades the simulated broker; {v} (a broker account) "
                "is not available yet"
            )
        return v

    @field_validator("db_url")
    @classmethod
    def _no_password(cls, v: str | None) -> str | None:
        # Params are archived in every run's manifest: credentials belong in the
        # environment (TOOLKIT_DB_URL), never in a params file.
        if v and "://" in v and "@" in v.split("://", 1)[1].split("/", 1)[0]:
            netloc = v.split("://", 1)[1].split("/", 1)[0]
            if ":" in netloc.split("@", 1)[0]:
                raise ValueError("a URL without a password (put credentials in the TOOLKIT_DB_URL environment variable)")
        return v

    @field_validator("account")
    @classmethod
    def _no_separator(cls, v: str) -> str:
        if "|" in v:
            raise ValueError("an account label without '|' (it separates the parts of a run key)")
        return v


def check_dry_run(p: DailyDryRunParams, base_dir: Path) -> DailyDryRunParams:
    """Strategy params merged and validated, data checked, as_of resolved and checked."""
    from toolkit.backtest.dataset import check_data_params
    from toolkit.params import resolve_strategy_params

    cls, parsed = resolve_strategy_params(p.strategy, p.strategy_params, p.strategy_params_file, base_dir)
    if "execution_time" in cls.Params.model_fields and parsed.execution_time != p.execution_time:
        # One execution time per run: the strategy decides on the price of the moment the
        # session trades (deciding at 'open' on today's close would be look-ahead).
        parsed = cls.parse_params({**parsed.model_dump(), "execution_time": p.execution_time})
    probe = cls(parsed, symbols=p.data.symbols)
    try:
        instruments = probe.instruments()
    except ValueError as exc:
        raise ParamsError("data.symbols", p.data.symbols, str(exc)) from None
    optional = set(probe.optional_symbols()) | set(p.data.optional_symbols)
    missing = [s for s in instruments if s not in p.data.symbols and s not in optional]
    if missing:
        raise ParamsError("data.symbols", p.data.symbols, f"a list including the strategy's instruments {instruments}")
    check_data_params(p.data, base_dir=base_dir)
    update: dict[str, Any] = {"strategy_params": parsed.model_dump(mode="json")}
    if p.as_of is not None:
        from toolkit.errors import InvalidInput
        from toolkit.time import is_session

        try:
            is_session(p.as_of)
        except InvalidInput as exc:
            raise ParamsError("as_of", str(p.as_of), exc.allowed) from None
        if p.data.end is not None and p.as_of > p.data.end:
            raise ParamsError("as_of", str(p.as_of), f"a date on or before data.end ({p.data.end})")
        if p.data.start is not None and p.as_of < p.data.start:
            raise ParamsError("as_of", str(p.as_of), f"a date on or after data.start ({p.data.start})")
    return p.model_copy(update=update)


def _data_params() -> DataParams:
    return DataParams()


# Imported last: toolkit.params defines DataParams and loads this module lazily (MODEL_PATHS).
from toolkit.params import DataParams  # noqa: E402

DailyDryRunParams.model_rebuild()
