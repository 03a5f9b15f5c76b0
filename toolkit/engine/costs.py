"""The session's cost model, built once from the params for the translator and the simulated venue.

The translator sizes buys so that cash never goes negative after the fees and slippage
the venue will charge; that holds only if both use the very same numbers. Building the
:class:`~toolkit.model.CostModel` in one place (from the exact decimal the user typed)
is what keeps the estimate and the charge equal to the last digit.
"""

from __future__ import annotations

from toolkit.model import CostModel, to_decimal
from toolkit.params.costs import SessionCosts

__all__ = ["session_cost_model"]


def session_cost_model(costs: SessionCosts) -> CostModel:
    """``costs`` of a dry run or replay as the model's exact cost model."""
    return CostModel(
        slippage_bps=to_decimal(costs.slippage_bps, "costs.slippage_bps"),
        fee_bps=to_decimal(costs.fees_bps, "costs.fees_bps"),
        fixed_fee=to_decimal(costs.fixed_fee, "costs.fixed_fee"),
    )
