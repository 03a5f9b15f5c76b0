"""Parameters of ``notebooks/backtest.ipynb``: the :class:`BacktestParams` model."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field

from toolkit.data.dataset import check_data_params
from toolkit.errors import ParamsError
from toolkit.params.costs import FeesBps, Fill, ResearchCosts, SlippageBps
from toolkit.params.data import DataParams
from toolkit.params.strategy import StrategyRunParams, resolve_strategy_params

__all__ = ["BacktestParams"]


class BacktestParams(StrategyRunParams):
    """Parameters of ``notebooks/backtest.ipynb``.

    The costs sit at the top level of a backtest's params file (``fees_bps``,
    ``slippage_bps``, ``fill``), as they always have; :attr:`costs` gathers them into the
    cost model the walk-forward and the dry run share.
    """

    data: DataParams = Field(default_factory=DataParams)
    initial_cash: float = Field(100_000.0, gt=0, le=1e12)
    fees_bps: FeesBps = 10.0
    slippage_bps: SlippageBps = 0.0
    fill: Fill = "close"
    whole_shares: bool = False
    risk_free_rate: float = Field(0.0, ge=-0.1, le=0.5, description="annual, for Sharpe and Sortino")
    benchmark: str | None = Field(None, description="symbol for buy and hold (default: the first symbol)")
    title: str | None = None

    @property
    def costs(self) -> ResearchCosts:
        """Fees, slippage and fill as the shared cost model."""
        return ResearchCosts(fees_bps=self.fees_bps, slippage_bps=self.slippage_bps, fill=self.fill)

    def resolve(self, base_dir: Path) -> Self:
        """Strategy params merged and validated against the strategy's model, data checked."""
        _, parsed = resolve_strategy_params(self.strategy, self.strategy_params, self.strategy_params_file, base_dir)
        resolved = self.model_copy(update={"strategy_params": parsed.model_dump(mode="json")})
        if self.benchmark is not None and self.benchmark not in self.data.symbols:
            # Bought and held from the panel's bars: only a symbol of the run has them.
            raise ParamsError("benchmark", self.benchmark, "one of data.symbols: " + ", ".join(self.data.symbols))
        resolved.data.refuse_intraday("backtest")
        check_data_params(resolved.data, base_dir=base_dir)
        return resolved
