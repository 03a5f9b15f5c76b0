"""Risk guard limits: the ``guards:`` block of a params file IS what the risk engine takes.

One model for both, so a limit cannot be added to one and forgotten in the other:
:class:`~toolkit.engine.guards.RiskEngine` reads the limits and the session loop reads
``min_order_fraction`` (it drops tiny orders before they reach the guards). It lives
with the params because engine may import params, and params must not import engine.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from toolkit.params.base import StrictModel

__all__ = ["GuardSettings"]


class GuardSettings(StrictModel):
    """Risk limits; ``None`` switches a guard off. Fractions are of equity (0.05 = 5%)."""

    model_config = ConfigDict(frozen=True)

    max_order_notional: float | None = Field(None, gt=0, description="largest single order value")
    max_position_weight: float | None = Field(None, gt=0, description="largest position / equity after a buy")
    max_gross_exposure: float | None = Field(None, gt=0, description="sum of position values / equity after buys")
    daily_loss_limit: float | None = Field(
        0.05, gt=0, lt=1, description="halt when equity is this far below the start of the day"
    )
    max_drawdown_limit: float | None = Field(
        None, gt=0, lt=1, description="halt when equity is this far below its peak"
    )
    stale_bar_check: bool = Field(
        True, description="halt when a traded symbol's last bar is older than the execution time needs"
    )
    slippage_abort: float | None = Field(
        0.01, gt=0, description="abort an order whose quote moved this far from the decision price"
    )
    kill_switch: bool = Field(False, description="halt every order of this run (the ledger's kill switch also halts)")
    min_order_fraction: float = Field(0.0, ge=0, lt=1, description="skip orders smaller than this fraction of equity")
    max_data_age: timedelta | None = Field(
        None, description="halt when market data is older than this at decision time (needs quotes with a time)"
    )

    @model_serializer(mode="wrap")
    def _omit_unused_data_age(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Dumps (manifests, params tables, params hashes) list max_data_age only when it is
        # in force: the dry run's bars carry no quote time, so it never is there.
        out = handler(self)
        if self.max_data_age is None:
            out.pop("max_data_age", None)
        return out
