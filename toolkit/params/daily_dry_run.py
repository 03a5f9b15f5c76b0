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
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from toolkit.data.dataset import check_data_params
from toolkit.errors import ParamsError
from toolkit.model import ExecutionTimeName, TradingModeName
from toolkit.params.alerts import AlertSettings
from toolkit.params.base import StrictModel
from toolkit.params.costs import SessionCosts
from toolkit.params.data import DataParams
from toolkit.params.guards import GuardSettings
from toolkit.params.strategy import StrategyRunParams, resolve_strategy_params

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.model import Instrument

__all__ = ["SCHEDULE_FIELDS", "BrokerParams", "DailyDryRunParams", "InstrumentParams"]

#: Fields of the schedule (``toolkit schedule``, the run lock) left out of a dump at their defaults.
SCHEDULE_FIELDS = ("catch_up", "lock_wait_seconds")



class InstrumentParams(StrictModel):
    """How a symbol trades: lot step (1 = whole shares) and minimum order value."""

    step_size: float = Field(1.0, gt=0, description="quantity step, e.g. 0.00001 for BTCUSDT")
    min_notional: float = Field(0.0, ge=0, description="smallest order value, e.g. 10 for BTCUSDT")

    def spec(self) -> Instrument:
        from decimal import Decimal

        from toolkit.model import Instrument

        return Instrument(step_size=Decimal(str(self.step_size)), min_notional=Decimal(str(self.min_notional)))


class BrokerParams(StrictModel):
    """The simulated broker's market model."""

    max_participation: float | None = Field(
        None, gt=0, le=1,
        description="cap each order at this fraction of the session bar's volume; the rest is cancelled "
                    "at the end of the session (a partial fill). null = no cap",
    )


class DailyDryRunParams(StrategyRunParams):
    """Parameters of one daily dry-run session (and of a replay over many)."""

    data: DataParams = Field(default_factory=DataParams)
    account: str = Field("dry-run", min_length=1, max_length=64)
    mode: TradingModeName = "offline_mock"
    #: The session traded; ``None`` = the last session of the data (2018-12-31 on the sample).
    as_of: dt.date | None = None
    execution_time: ExecutionTimeName = "close"
    initial_cash: float = Field(100_000.0, gt=0, le=1e12)
    costs: SessionCosts = Field(default_factory=SessionCosts)
    guards: GuardSettings = Field(default_factory=GuardSettings)
    #: Which alerts the session's runs send and the early-warning thresholds (channels: the secret store).
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    broker: BrokerParams = Field(default_factory=BrokerParams)
    #: Per-symbol trading rules; symbols not listed trade in whole shares.
    instruments: dict[str, InstrumentParams] = Field(default_factory=dict)
    #: SQLAlchemy URL of the ledger; ``None`` = ``$TOOLKIT_DB_URL`` or outputs/ledger.sqlite.
    db_url: str | None = None
    check_consistency: bool = Field(True, description="re-derive the ledger after the session and fail loudly on drift")
    catch_up: Literal["none", "last", "all"] = Field(
        "last",
        description="sessions missed since the last run (machine off, crash), found by `toolkit schedule run-due`: "
                    "none = record them as missed; last = run the newest, record the others; all = run every one, "
                    "oldest first (a dry run replays a past session exactly, its clock at that session's time)",
    )
    lock_wait_seconds: float = Field(
        0.0, ge=0, le=6.5 * 3600,
        description="when another run of the same session holds its lock: wait this long for it, then stop "
                    "with a message naming the holder (0 = stop at once)",
    )
    title: str | None = None

    @model_serializer(mode="wrap")
    def _omit_defaults_added_later(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Dumps (manifests, params hashes, which name runs and sit in the ledger) list the
        # alerts block and the schedule fields (catch_up, lock_wait_seconds) only when they
        # say something: params files without them dump, and hash, exactly as before they existed.
        data: dict[str, Any] = handler(self)
        if self.alerts == AlertSettings():
            data.pop("alerts", None)
        for name in SCHEDULE_FIELDS:
            if name in data and getattr(self, name) == type(self).model_fields[name].default:
                del data[name]
        return data

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
                raise ValueError(
                    "a URL without a password (put credentials in the TOOLKIT_DB_URL environment variable)"
                )
        return v

    @field_validator("account")
    @classmethod
    def _no_separator(cls, v: str) -> str:
        if "|" in v:
            raise ValueError("an account label without '|' (it separates the parts of a run key)")
        return v

    def resolve(self, base_dir: Path) -> Self:
        """Strategy params merged and validated, data checked, as_of resolved and checked."""
        self._check_intraday(base_dir)
        cls, parsed = resolve_strategy_params(self.strategy, self.strategy_params, self.strategy_params_file, base_dir)
        chosen = parsed.model_dump()
        if "execution_time" in cls.Params.model_fields and chosen["execution_time"] != self.execution_time:
            # One execution time per run: the strategy decides on the price of the moment the
            # session trades (deciding at 'open' on today's close would be look-ahead).
            parsed = cls.parse_params({**chosen, "execution_time": self.execution_time})
        probe = cls(parsed, symbols=self.data.symbols)
        try:
            instruments = probe.instruments()
        except ValueError as exc:
            raise ParamsError("data.symbols", self.data.symbols, str(exc)) from None
        optional = set(probe.optional_symbols()) | set(self.data.optional_symbols)
        missing = [s for s in instruments if s not in self.data.symbols and s not in optional]
        if missing:
            raise ParamsError("data.symbols", self.data.symbols,
                              f"a list including the strategy's instruments {instruments}")
        check_data_params(self.data, base_dir=base_dir)
        update: dict[str, Any] = {"strategy_params": parsed.model_dump(mode="json")}
        if self.as_of is not None:
            self._check_as_of(self.as_of)
        return self.model_copy(update=update)

    def _check_intraday(self, base_dir: Path) -> None:
        """``data.intraday`` names readable minute bars; ``guards.max_data_age`` only ages them."""
        age = self.guards.max_data_age
        if age is not None:
            if self.data.intraday is None:
                raise ParamsError("guards.max_data_age", str(age),
                                  "null: the simulated market's daily bars carry no quote time to age "
                                  "(set data.intraday to price from minute bars, whose age it limits)")
            if not dt.timedelta(0) < age <= dt.timedelta(hours=7):
                raise ParamsError("guards.max_data_age", str(age),
                                  "a duration above zero and at most a session (7 hours), e.g. PT5M")
        spec = self.data.intraday
        if spec is not None and spec.path is not None:
            path = Path(spec.path) if Path(spec.path).is_absolute() else base_dir / spec.path
            if not path.exists():
                raise ParamsError("data.intraday.path", spec.path, "an existing CSV/Parquet file or folder of "
                                  "minute bars (a relative path is read from the project folder)")

    def _check_as_of(self, as_of: dt.date) -> None:
        # The exchange calendar loads only when a session is named.
        from toolkit.errors import InvalidInput
        from toolkit.time import is_session

        try:
            is_session(as_of)
        except InvalidInput as exc:
            raise ParamsError("as_of", str(as_of), exc.allowed) from None
        if self.data.end is not None and as_of > self.data.end:
            raise ParamsError("as_of", str(as_of), f"a date on or before data.end ({self.data.end})")
        if self.data.start is not None and as_of < self.data.start:
            raise ParamsError("as_of", str(as_of), f"a date on or after data.start ({self.data.start})")
