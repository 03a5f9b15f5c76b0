"""Parameters of ``notebooks/live.ipynb``: a paper or real-money session at a real broker.

The live session is the daily dry run's session (:class:`DailyDryRunParams`: strategy,
data, account, execution time, costs, guards) against a real broker instead of the
simulator, so this model only adds what a broker needs and refuses what it cannot do:

* ``broker.name``: ``alpaca`` (paper or live) or ``schwab`` (live only: Schwab has no
  paper account, so every Schwab run is ``online_live``);
* ``mode``: ``paper`` or ``online_live``; ``online_live`` also needs ``confirm_live``
  equal to ``account`` AND a confirmation recorded with ``toolkit live confirm`` (the
  engine checks that one before any broker call);
* ``reconcile``: what a ledger-vs-broker mismatch at the start does (``stop``, the
  default, or ``adopt_broker``: the ledger takes the broker's state, audited);
* ``guards.max_data_age``: how old the quote a decision is made on may be (2 minutes
  when not given: a live decision on an old price is the stale-data failure);
* the execution time must be one at which the market is open (the opening and closing
  auctions need auction orders, which the session does not send yet).

Credentials are never params (promise 7): they come from the environment.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from toolkit.errors import ParamsError
from toolkit.params.daily_dry_run import BrokerParams, DailyDryRunParams

__all__ = ["LIVE_EXECUTION_TIMES", "LiveBrokerParams", "LiveParams"]

#: Execution times at which the market is open, so a market order trades at once.
LIVE_EXECUTION_TIMES = ("15min_after_open", "15min_before_close", "5min_before_close")
#: The quote age a live decision accepts when ``guards.max_data_age`` is not given.
DEFAULT_MAX_DATA_AGE = timedelta(minutes=2)


class LiveBrokerParams(BrokerParams):
    """Which broker, and how long the session follows its orders."""

    name: Literal["alpaca", "schwab"] = "alpaca"
    poll_seconds: float = Field(1.0, gt=0, le=60, description="how often open orders are asked about")
    order_timeout_seconds: float = Field(
        300.0, gt=0, le=6.5 * 3600,
        description="follow open orders this long (never past the session's close); then the remainder is cancelled",
    )
    cash_tolerance: float = Field(0.01, ge=0, description="ledger vs broker cash difference accepted as equal")
    cash_activity_limit: float = Field(
        0.01, ge=0, le=0.1,
        description="a larger cash difference, up to this fraction of equity with every position matched, is the "
                    "broker's own cash activity (dividends, fees, interest) and is booked (audited); beyond it the "
                    "session stops",
    )

    @field_validator("max_participation")
    @classmethod
    def _no_simulated_market(cls, v: float | None) -> float | None:
        if v is not None:
            raise ValueError("null: max_participation models the simulated market; a real broker fills as it fills")
        return v


class LiveParams(DailyDryRunParams):
    """Parameters of one paper or live session."""

    account: str = Field("alpaca-paper", min_length=1, max_length=64)
    mode: Literal["paper", "online_live"] = "paper"
    execution_time: Literal["15min_after_open", "15min_before_close", "5min_before_close"] = (
        "5min_before_close")
    broker: LiveBrokerParams = Field(default_factory=LiveBrokerParams)
    #: Must equal ``account`` for ``online_live`` (with a recorded ``toolkit live confirm``).
    confirm_live: str | None = None
    reconcile: Literal["stop", "adopt_broker"] = "stop"
    #: Real orders are never placed for a past session: a missed live session is recorded
    #: as missed (and alerted), whatever this says. ``last`` runs today's missed session
    #: late, only while the market is still open (the engine refuses it after the close).
    catch_up: Literal["none", "last"] = Field(
        "none",
        description="a missed live session: none = record it as missed; last = run today's session late while "
                    "the market is still open. A past session is never traded (recorded as missed)",
    )

    @field_validator("mode")
    @classmethod
    def _offline_only(cls, v: str) -> str:  # replaces the dry run's rule: a live run trades a broker
        return v

    @model_validator(mode="after")
    def _broker_and_mode(self) -> Self:
        if self.broker.name == "schwab" and self.mode != "online_live":
            raise ParamsError("mode", self.mode, "online_live with broker.name: schwab (Schwab has no paper account)")
        if self.mode == "online_live" and self.confirm_live != self.account:
            raise ParamsError("confirm_live", self.confirm_live,
                              f"{self.account!r} (the account label) for mode online_live (real money), and a "
                              f"confirmation recorded once with `toolkit live confirm --account {self.account}`")
        return self

    def resolve(self, base_dir: Path) -> Self:
        """The dry run's checks (strategy, data, as_of), with the live quote-age guard in force."""
        age = self.guards.max_data_age or DEFAULT_MAX_DATA_AGE
        plain = self.model_copy(update={"guards": self.guards.model_copy(update={"max_data_age": None})})
        resolved = DailyDryRunParams.resolve(plain, base_dir)
        return resolved.model_copy(update={"guards": resolved.guards.model_copy(update={"max_data_age": age})})
