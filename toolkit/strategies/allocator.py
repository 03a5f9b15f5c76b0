"""Combine several strategies' target weights into one portfolio.

:func:`allocate` takes each strategy's frame of instrument weights and splits the book
between the strategies by one of three rules:

* ``equal``: 1/K each;
* ``inverse_vol``: proportional to 1 / (volatility of the strategy's return stream
  over the trailing ``vol_window`` bars);
* ``rank``: strategies ranked by trailing Sharpe ratio (worst 1 ... best K, ties
  share the average rank), weights proportional to rank. Ranks, not Sharpe values,
  because trailing Sharpe ratios are noisy and sometimes negative.

The trailing statistics at bar ``t`` use returns up to ``t-1`` only, so an allocation
never peeks at the bar it trades on. A strategy without an estimate yet (too few
bars, or a flat stream with zero volatility) gets the neutral 1/K; if none of them
has one the row is equal-weighted.

Each strategy's share is capped (``cap``, a fraction of the total, default 40%) so one
strategy with a calm recent past cannot take the whole book; the excess is
water-filled to the uncapped strategies in proportion to their shares until no
share exceeds the cap. If every strategy is capped the remainder stays in cash.
Shares are finally scaled so they sum to ``gross``, and instrument weights are the
share-weighted sum of the strategies' weights.

Strategies whose returns correlate above 0.7 diversify little; :func:`allocate`
warns (:class:`CorrelationWarning`) naming both, and :func:`allocate_detailed`
returns the pairs with the correlation matrix.

:class:`MultiStrategy` (``multi_strategy``) wraps all this as a strategy, so an
allocated portfolio backtests, walks forward and trades like any other.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from toolkit.errors import ParamsError
from toolkit.strategies import registry
from toolkit.strategies.base import Decisions, Strategy, StrategyParams
from toolkit.strategies.indicators import hold_gaps, lagged, rolling_mean_std, seq_sum
from toolkit.strategies.registry import register
from toolkit.strategies.resumable import Chunk, ResumableStrategy, field_arrays

METHODS = ("equal", "inverse_vol", "rank")
Method = Literal["equal", "inverse_vol", "rank"]


class CorrelationWarning(UserWarning):
    """Two strategies' return streams are so correlated that combining them adds little."""


# --------------------------------------------------------------------------- core (numpy)


def raw_shares(method: str, returns: np.ndarray, *, vol_window: int, start: int = 0) -> np.ndarray:
    """Uncapped strategy shares (rows ``start..T-1``, each row sums to 1).

    ``returns`` is ``(bars, strategies)``; row ``t`` of the result uses rows
    ``t - vol_window .. t-1``.
    """
    T, K = returns.shape
    rows = T - start
    equal = np.full((rows, K), 1.0 / K)
    if method == "equal":
        return equal
    mean, sd = rolling_mean_std(returns, vol_window, start=start, lag=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "inverse_vol":
            valid = np.isfinite(sd) & (sd > 0)
            inv = np.where(valid, 1.0 / sd, 0.0)
            share_of_valid = valid.sum(axis=1) / K
            scale = share_of_valid / seq_sum(inv)
            return np.where(valid, inv * scale[:, None], 1.0 / K)
        if method == "rank":
            row_ok = np.isfinite(sd).all(axis=1)
            sharpe = np.where(sd > 0, mean / sd, 0.0)
            lower = (sharpe[:, None, :] < sharpe[:, :, None]).sum(axis=2)
            ties = (sharpe[:, None, :] == sharpe[:, :, None]).sum(axis=2) - 1
            rank = 1.0 + lower + 0.5 * ties
            return np.where(row_ok[:, None], rank / (K * (K + 1) / 2.0), equal)
    raise ParamsError("method", method, "one of " + ", ".join(METHODS))


def water_fill(shares: np.ndarray, cap: float) -> np.ndarray:
    """Cap each share at ``cap`` and hand the excess to the uncapped, pro rata.

    Repeats until nothing exceeds the cap (at most K rounds). A row is only
    recomputed in a round where it gains a capped strategy, so every row's result
    depends on that row alone (the live path computes one row at a time).
    """
    out = shares.copy()
    capped = np.zeros(shares.shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(shares.shape[1]):
            over = ~capped & (out > cap)
            active = over.any(axis=1)
            if not active.any():
                break
            capped |= over
            base = np.where(capped, 0.0, shares)
            total = seq_sum(base)
            free = 1.0 - cap * capped.sum(axis=1)
            spread = np.where((total > 0)[:, None], base * (free / total)[:, None], 0.0)
            out = np.where(np.asarray(active)[:, None], np.where(capped, cap, spread), out)
    return out


def strategy_shares(
    method: str, returns: np.ndarray, *, vol_window: int, cap: float, gross: float, start: int = 0
) -> np.ndarray:
    """Final strategy shares for rows ``start..T-1``: raw, capped, scaled to ``gross``."""
    return water_fill(raw_shares(method, returns, vol_window=vol_window, start=start), cap) * gross


def combine(shares: np.ndarray, weights: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Instrument weights ``sum_k shares[:, k] * weights[k]`` (strategies added in order).

    ``shares``: ``(bars, K)``; ``weights``: K arrays ``(bars, instruments)``.
    """
    out = shares[:, 0, None] * weights[0]
    tmp = np.empty_like(out)
    for k in range(1, len(weights)):
        np.multiply(shares[:, k, None], weights[k], out=tmp)
        out += tmp
    return out


def high_correlations(
    returns: pd.DataFrame, threshold: float = 0.7
) -> tuple[pd.DataFrame, list[tuple[str, str, float]]]:
    """Correlation matrix of the return streams and the pairs strictly above ``threshold``."""
    corr = returns.corr()
    names = list(corr.columns)
    pairs = []
    values = corr.to_numpy()
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if values[i, j] > threshold:
                pairs.append((str(names[i]), str(names[j]), float(values[i, j])))
    return corr, pairs


def warn_correlated(pairs: list[tuple[str, str, float]], threshold: float) -> None:
    """One :class:`CorrelationWarning` per pair, naming both strategies."""
    for a, b, rho in pairs:
        warnings.warn(
            f"strategies {a!r} and {b!r} have return correlation {rho:.2f} > {threshold:.2f}: "
            "combining them diversifies little",
            CorrelationWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- frame API


@dataclass(frozen=True)
class Allocation:
    """An allocation with its diagnostics.

    ``weights``: combined instrument weights. ``strategy_weights``: each strategy's
    share per bar (sums to ``gross`` unless every strategy is capped).
    ``correlation``: correlation matrix of the strategies' returns (None without
    returns). ``high_correlation``: pairs above the threshold, as (a, b, rho).
    """

    weights: pd.DataFrame
    strategy_weights: pd.DataFrame
    correlation: pd.DataFrame | None = None
    high_correlation: list[tuple[str, str, float]] = field(default_factory=list)

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        pairs = "".join(f"<li>{a} / {b}: {rho:.2f}</li>" for a, b, rho in self.high_correlation) or "<li>none</li>"
        return (
            f"<b>Allocation</b> over {len(self.weights)} bars, {self.strategy_weights.shape[1]} strategies, "
            f"{self.weights.shape[1]} instruments<br>Mean strategy weights:"
            f"{self.strategy_weights.mean().to_frame('mean weight').to_html()}"
            f"Highly correlated pairs:<ul>{pairs}</ul>"
        )


def _check_options(method: str, cap: float, gross: float, vol_window: int) -> None:
    if method not in METHODS:
        raise ParamsError("method", method, "one of " + ", ".join(METHODS))
    if not 0 < cap <= 1:
        raise ParamsError("cap", cap, "a fraction in (0, 1]")
    if not 0 < gross <= 10:
        raise ParamsError("gross", gross, "a number in (0, 10]")
    if int(vol_window) != vol_window or vol_window < 2:
        raise ParamsError("vol_window", vol_window, "an integer >= 2")


def _align(weights: dict[str, pd.DataFrame]) -> tuple[list[str], pd.Index, list[str], list[np.ndarray]]:
    """Strategy names, union index, union instruments and one ``(bars, instruments)``
    array per strategy.

    Targets carry forward over bars a strategy has no row for; before its first row,
    and in instruments it does not trade, it holds nothing.
    """
    if not weights:
        raise ParamsError("weights", weights, "at least one strategy's weight frame")
    names = [str(n) for n in weights]
    frames = list(weights.values())
    index = frames[0].index
    instruments: list[str] = list(frames[0].columns)
    seen = set(instruments)
    for f in frames[1:]:
        if not f.index.equals(index):
            index = index.union(f.index)
        for c in f.columns:
            if c not in seen:
                seen.add(c)
                instruments.append(c)
    arrays = []
    for frame in frames:
        f = frame if frame.index.equals(index) else frame.reindex(index).ffill()
        if list(f.columns) != instruments:
            f = f.reindex(columns=instruments)
        a = f.to_numpy(dtype=float)
        if np.isnan(a).any():
            a = np.where(np.isnan(a), 0.0, a)
        arrays.append(a)
    return names, index, instruments, arrays


def _columns(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """``frame[names]`` as an array (a positional take: label lookups are slow here)."""
    pos = {str(c): i for i, c in enumerate(frame.columns.tolist())}
    return frame.to_numpy(dtype=float)[:, [pos[n] for n in names]]


def strategy_returns(weights: dict[str, pd.DataFrame], instrument_returns: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's return stream: weights held from the previous bar times the
    instruments' returns on this bar (no costs). Feed it to ``allocate(returns=...)``.
    """
    names, index, instruments, arrays = _align(weights)
    ret = instrument_returns.reindex(index=index, columns=instruments).to_numpy(dtype=float)
    ret = np.where(np.isfinite(ret), ret, 0.0)
    out = np.full((len(index), len(names)), np.nan)
    for k, a in enumerate(arrays):
        out[1:, k] = seq_sum(a[:-1] * ret[1:])
    return pd.DataFrame(out, index=index, columns=names)


def allocate_detailed(
    weights: dict[str, pd.DataFrame],
    *,
    method: Method = "equal",
    returns: pd.DataFrame | None = None,
    cap: float = 0.4,
    gross: float = 1.0,
    vol_window: int = 63,
    corr_threshold: float = 0.7,
) -> Allocation:
    """:func:`allocate` with the strategy shares and correlation diagnostics."""
    _check_options(method, cap, gross, vol_window)
    names, index, instruments, arrays = _align(weights)
    K = len(names)
    if returns is None and method != "equal":
        raise ParamsError(
            "returns", None, f"a frame of each strategy's returns (one column per strategy) for method {method!r}"
        )
    corr: pd.DataFrame | None = None
    pairs: list[tuple[str, str, float]] = []
    if returns is not None:
        missing = [n for n in names if n not in returns.columns]
        if missing:
            raise ParamsError("returns", missing, "one column per strategy: " + ", ".join(names))
        r = returns if returns.index.equals(index) else returns.reindex(index)
        r_arr = _columns(r, names)
        corr, pairs = high_correlations(pd.DataFrame(r_arr, columns=names), corr_threshold)
        warn_correlated(pairs, corr_threshold)
    else:
        r_arr = np.zeros((len(index), K))
    shares = strategy_shares(method, r_arr, vol_window=vol_window, cap=cap, gross=gross)
    return Allocation(
        weights=pd.DataFrame(combine(shares, arrays), index=index, columns=instruments),
        strategy_weights=pd.DataFrame(shares, index=index, columns=names),
        correlation=corr,
        high_correlation=pairs,
    )


def allocate(
    weights: dict[str, pd.DataFrame],
    *,
    method: Method = "equal",
    returns: pd.DataFrame | None = None,
    cap: float = 0.4,
    gross: float = 1.0,
    vol_window: int = 63,
    corr_threshold: float = 0.7,
) -> pd.DataFrame:
    """Combined instrument weights of several strategies (see the module docstring).

    ``weights``: strategy name -> frame of instrument weights (bars x instruments).
    ``returns``: strategy name -> return stream (bars x strategies), required for
    ``inverse_vol`` and ``rank`` (see :func:`strategy_returns`). The highly correlated
    pairs are also left in ``result.attrs["high_correlation"]``.
    """
    alloc = allocate_detailed(
        weights, method=method, returns=returns, cap=cap, gross=gross, vol_window=vol_window,
        corr_threshold=corr_threshold,
    )
    out = alloc.weights
    out.attrs["high_correlation"] = alloc.high_correlation
    return out


# --------------------------------------------------------------------------- strategy


class SubStrategy(BaseModel):
    """One strategy of a multi-strategy portfolio: registry name, its params, a label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    @model_validator(mode="after")
    def _known_and_valid(self) -> SubStrategy:
        try:
            registry.get(self.name).parse_params(self.params)
        except ParamsError as exc:
            where = exc.field.replace("strategy_params", "params", 1) if exc.field != "strategy" else "name"
            raise ValueError(f"{self.name}: {where}: got {exc.value!r}; allowed: {exc.allowed}") from None
        return self


def _default_subs() -> list[SubStrategy]:
    return [SubStrategy(name=n) for n in ("sma_crossover", "ema_breakout", "mean_reversion")]


class MultiStrategyParams(StrategyParams):
    strategies: list[SubStrategy] = Field(
        default_factory=_default_subs, min_length=1, max_length=50, description="sub-strategies with their params"
    )
    method: Method = Field("equal", description="how the book is split between strategies")
    cap: float = Field(0.4, gt=0, le=1, description="largest share of one strategy (fraction of gross)")
    gross: float = Field(1.0, gt=0, le=10, description="sum of the strategy shares")
    vol_window: int = Field(63, ge=2, le=5000, description="trailing bars of the volatility / Sharpe estimates")
    rebalance_every: int | None = Field(
        21, ge=1, le=5000, description="bars between rebalances when no sub-strategy trades (null = only then)"
    )

    @model_validator(mode="after")
    def _unique_labels(self) -> MultiStrategyParams:
        explicit = [s.label for s in self.strategies if s.label is not None]
        if len(set(explicit)) != len(explicit):
            raise ValueError(f"strategies: labels must be unique, got {explicit}")
        return self

    def labels(self) -> list[str]:
        """Label of each sub-strategy: its ``label``, else its name (suffixed by position if repeated)."""
        names = [s.name for s in self.strategies]
        return [
            s.label if s.label is not None else (s.name if names.count(s.name) == 1 else f"{s.name}_{i}")
            for i, s in enumerate(self.strategies)
        ]


@dataclass(frozen=True)
class _State:
    last_weights: np.ndarray  # (K, N) sub-strategy weights on the last bar
    returns: np.ndarray  # (T, K) sub-strategy return streams so far
    since: int
    carried: np.ndarray


@register
class MultiStrategy(ResumableStrategy[MultiStrategyParams]):
    """Several registered strategies in one book, split by :func:`strategy_shares`.

    Each sub-strategy's return stream is its weights held from the previous bar times
    the instruments' close-to-close returns (before costs). Orders go out when any
    sub-strategy trades and otherwise every ``rebalance_every`` bars (to refresh the
    shares); targets are held in between. An instrument's return after a missing bar
    runs from its last close, and on a bar it lacks its weight is held (the gap policy
    of ``toolkit/strategies/base.py``; the sub-strategies follow it too).
    """

    name = "multi_strategy"
    Params = MultiStrategyParams
    description = "Several strategies in one portfolio: equal, inverse-volatility or Sharpe-rank shares, capped."
    fields = ("close",)

    def __init__(
        self, params: MultiStrategyParams | dict[str, Any] | None = None, *, symbols: list[str] | None = None
    ) -> None:
        self.subs: list[Strategy[Any]] = []  # reset() (called by the base __init__) resets them
        super().__init__(params, symbols=symbols)
        self.labels = self.params.labels()
        self.subs = [registry.create(s.name, s.params, symbols=self.symbols) for s in self.params.strategies]

    def reset(self) -> None:
        super().reset()
        for sub in self.subs:
            sub.reset()

    @staticmethod
    def _union(lists: list[list[str]]) -> list[str]:
        out: list[str] = []
        for lst in lists:
            out += [s for s in lst if s not in out]
        return out

    def instruments(self) -> list[str]:
        return self._union([sub.instruments() for sub in self.subs])

    def required_symbols(self) -> list[str]:
        return self._union([sub.required_symbols() for sub in self.subs])

    def optional_symbols(self) -> list[str]:
        return self._union([sub.optional_symbols() for sub in self.subs])

    @property
    def warmup(self) -> int:
        base = max(sub.warmup for sub in self.subs)
        return base + (self.params.vol_window + 1 if self.params.method != "equal" else 0)

    def _inputs(self, history: pd.DataFrame) -> dict[str, np.ndarray]:
        # Sub-strategies may read any column, so the cache compares the whole panel.
        arrays = field_arrays(history, self.instruments(), ("close",))
        arrays["panel"] = history.to_numpy(dtype=float)
        return arrays

    def _sub_rows(self, bars: pd.DataFrame, start: int, inst: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sub-strategy weights ``(K, rows, N)`` and rebalance flags ``(K, rows)``."""
        if start == 0:
            outs = [sub.decisions(bars) for sub in self.subs]
            w = np.stack([d.weights.reindex(columns=inst, fill_value=0.0).to_numpy(dtype=float) for d in outs])
            return w, np.stack([d.rebalance.to_numpy(dtype=bool) for d in outs])
        T, K, N = len(bars), len(self.subs), len(inst)
        pos = {s: j for j, s in enumerate(inst)}
        w = np.zeros((K, T - start, N))
        reb = np.zeros((K, T - start), dtype=bool)
        for i in range(start, T):
            window = bars if i == T - 1 else bars.iloc[: i + 1]
            for k, sub in enumerate(self.subs):
                d = sub.decide(window)
                for s, x in d.target_weights.items():
                    w[k, i - start, pos[s]] = x
                reb[k, i - start] = d.rebalance
        return w, reb

    def _compute(self, bars: pd.DataFrame, arrays: dict[str, np.ndarray], start: int, state: Any) -> Chunk:
        p = self.params
        st: _State | None = state
        inst = self.instruments()
        close = arrays["close"]
        T, K, N = len(close), len(self.subs), len(inst)
        sub_w, sub_reb = self._sub_rows(bars, start, inst)

        # Strategy returns: weights held from the previous bar x close-to-close returns.
        with np.errstate(invalid="ignore", divide="ignore"):
            inst_ret = close[start:] / lagged(close, 1, start) - 1.0
        inst_ret = np.where(np.isfinite(inst_ret), inst_ret, 0.0)
        last = st.last_weights if st else np.full((K, N), np.nan)
        held = np.concatenate([last[:, None, :], sub_w[:, :-1, :]], axis=1)
        new_returns = seq_sum(held * inst_ret[None]).T  # (rows, K)
        returns = np.concatenate([st.returns, new_returns]) if st else new_returns

        shares = strategy_shares(
            p.method, returns, vol_window=p.vol_window, cap=p.cap, gross=p.gross, start=start
        )
        target = combine(shares, sub_w)

        rows = T - start
        rebalance = np.zeros(rows, dtype=bool)
        since = st.since if st else 0
        trade: list[bool] = np.asarray(sub_reb.any(axis=0), dtype=bool).tolist()
        for t in range(rows):
            since += 1
            if (st is None and t == 0) or trade[t] or (p.rebalance_every is not None and since >= p.rebalance_every):
                rebalance[t] = True
                since = 0
        src = np.where(rebalance, np.arange(rows), -1)
        np.maximum.accumulate(src, out=src)
        carried0 = st.carried if st else np.zeros(N)
        weights = np.where((src >= 0)[:, None], target[np.maximum(src, 0)], carried0)
        # Gap policy (strategies/base.py): an instrument without a bar keeps its weight.
        weights = hold_gaps(weights, np.isnan(close[start:]), carried0)

        ctx: dict[str, np.ndarray] = {}
        for k, label in enumerate(self.labels):
            ctx[f"share_{label}"] = shares[:, k]
            ctx[f"return_{label}"] = new_returns[:, k]
        state_out = _State(sub_w[:, -1, :].copy(), returns, since, weights[-1].copy()) if rows else st
        return Chunk(weights, rebalance, ctx, state_out)

    def decisions(self, bars: pd.DataFrame) -> Decisions:
        """Vectorised path; also warns when two sub-strategies' returns correlate above 0.7."""
        out = super().decisions(bars)
        rets = out.context[[f"return_{label}" for label in self.labels]]
        rets.columns = self.labels
        warn_correlated(high_correlations(rets)[1], 0.7)
        return out
