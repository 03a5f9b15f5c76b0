"""What trading costs, defined once for the backtest, the walk-forward and the dry run.

:class:`Costs` holds the numbers every engine charges: a fee and slippage, in basis
points of the traded value, with one set of bounds and descriptions. Each engine adds
the one choice only it can honour:

* :class:`ResearchCosts` -- vectorised runs (backtest, walk-forward) also choose when a
  signal fills (``fill``: the signal bar's close or the next open);
* :class:`SessionCosts` -- the order-by-order session (dry run, replay) also charges a
  fixed fee per order (``fixed_fee``), as the simulated broker does.

Params files keep their spellings: the walk-forward and the dry run have a ``costs:``
block, the backtest its top-level ``fees_bps``, ``slippage_bps`` and ``fill`` (typed
with the same :data:`FeesBps`, :data:`SlippageBps` and :data:`Fill`, and gathered by
``BacktestParams.costs``). A key an engine cannot honour stays an unknown key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from toolkit.params.base import StrictModel

__all__ = ["Costs", "FeesBps", "Fill", "FixedFee", "ResearchCosts", "SessionCosts", "SlippageBps"]

FeesBps = Annotated[float, Field(ge=0, le=1000, description="fee per trade, basis points of traded value")]
SlippageBps = Annotated[float, Field(ge=0, le=1000, description="price slippage, basis points")]
FixedFee = Annotated[float, Field(ge=0, le=1000, description="per order, in account currency")]
Fill = Annotated[
    Literal["close", "next_open"], Field(description="fill at the signal bar's close or the next open")
]


class Costs(StrictModel):
    """Fees and slippage in basis points: the numbers every engine charges."""

    fees_bps: FeesBps = 10.0
    slippage_bps: SlippageBps = 0.0


class ResearchCosts(Costs):
    """Costs of a vectorised run (backtest, walk-forward): also when a signal fills."""

    fill: Fill = "close"


class SessionCosts(Costs):
    """Costs of the session loop (dry run, replay): also a fee per order, charged once per order."""

    fixed_fee: FixedFee = 0.0
