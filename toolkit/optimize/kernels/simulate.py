"""One combination's portfolio and every metric, in one compiled pass over its bars.

Why: the vectorbt path (:func:`toolkit.optimize.evaluate.simulate` then
:func:`~toolkit.optimize.evaluate.portfolio_metrics`) builds order records, position
records and several ``(bars, columns)`` arrays per chunk before reducing them to
sixteen numbers per combination. This kernel walks the bars once, keeps only the
state of the portfolio (cash, positions, the open trade of each instrument) and the
per-bar series the metrics reduce (equity, gross exposure, returns: three rows of
``n`` floats reused by one thread for all its combinations), and writes one metrics
row. The arithmetic is vectorbt's, operation for operation
(``vectorbt/portfolio/nb.py``: ``simulate_from_orders_nb``, ``execute_order_nb``,
``buy_nb``, ``sell_nb``, ``approx_order_value_nb`` with ``insert_argsort_nb`` for
``call_seq="auto"``, then ``asset_flow_nb``/``assets_nb``, ``cash_flow_nb``/
``cash_grouped_nb``, ``value_nb``, ``get_exit_trades_nb``, ``get_positions_nb``), and
the metrics are :func:`~toolkit.optimize.evaluate.metrics_from_arrays` with numpy's
pairwise sums (:mod:`.floats`), so the two paths agree to the last bits except where
vectorbt sums position P&Ls column by column (a few ulps).

The contract (stable: other strategies' kernels call it)::

    simulate_combo(
        weights,      # (T, S) float64: GridDecisions.weights[:, c, :] over the decision window
        rebalance,    # (T,) bool: GridDecisions.rebalance[:, c]
        trade_start,  # int: row of the window where trading starts (task.start - task.decide_start)
        market,       # tuple from SimInputs.market (below), the n = T - trade_start traded bars:
                      #   val_close (n, S) float64  close.ffill().bfill(): valuation at the close
                      #   price     (n, S) float64  fill price (close or open), NaN filled by val_close
                      #   have_close (n, S) bool    a close exists (no order without one)
                      #   have_open (n, S) bool     an open exists (next_open fills only)
                      #   ts_ns     (n,) int64      bar timestamps, ns since the epoch (UTC)
        costs,        # tuple of float64 from SimInputs.costs:
                      #   (fees, slippage, init_cash, risk_free_rate, next_open 0.0/1.0)
        scratch,      # (N_SCRATCH, n) float64, reused across combinations by one thread
        metrics_out,  # (N_METRICS,) float64: one row, columns in evaluate.METRICS order
        returns_out,  # (n,) float64 to receive the daily returns, or a (0,) array for none
    ) -> None

Orders are the vectorbt path's: on traded bar ``j`` (window row ``t = trade_start + j``)
the target weights of row ``t`` are ordered when ``rebalance[t]`` or ``j == 0``, not for
an instrument without a close that bar; with ``next_open`` they are sent one bar later
at the open (not for an instrument without an open then). Sizing is vectorbt's
``targetpercent``, long only, proportional fees and slippage, ``min_size`` 1e-8,
one cash pool per combination, sells before buys (``call_seq="auto"``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from toolkit.optimize.kernels.floats import (
    ABS_TOL,
    add,
    is_close,
    is_close_or_less,
    is_less,
    row_mean,
    row_std_about,
    snap0,
)

#: Metrics written per combination, in ``toolkit.optimize.evaluate.METRICS`` order (a test checks).
METRIC_NAMES: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration_days",
    "win_rate",
    "profit_factor",
    "n_trades",
    "n_partial_exits",
    "exposure",
    "avg_gross_exposure",
    "turnover",
    "final_equity",
)
N_METRICS = len(METRIC_NAMES)
#: Rows of per-thread scratch the core needs (equity, gross exposure, returns, work).
N_SCRATCH = 4

TRADING_DAYS = 252
#: vectorbt's default ``min_size`` (``vbt.settings.portfolio["min_size"]``), which the
#: vectorbt path leaves in force: a smaller buy or sell is rejected.
MIN_SIZE = 1e-8
_SQRT_DAYS = math.sqrt(TRADING_DAYS)
_BUY = 0
_SELL = 1
_LONG = 0
_SHORT = 1


@njit(cache=True, error_model="numpy")
def _trade_pnl(
    size: float, entry_price: float, entry_fees: float, exit_price: float, exit_fees: float, direction: int
) -> float:
    """vectorbt ``get_trade_stats_nb`` (P&L only)."""
    entry_val = size * entry_price
    exit_val = size * exit_price
    val_diff = add(exit_val, -entry_val)
    if val_diff != 0 and direction == _SHORT:
        val_diff *= -1
    return val_diff - entry_fees - exit_fees


@njit(cache=True, error_model="numpy")
def _argsort_insert(values: np.ndarray, order: np.ndarray, k: int) -> None:
    """vectorbt ``insert_argsort_nb`` on the first ``k`` values (NaN sorts last)."""
    for j in range(1, k):
        a_j = values[j]
        i_j = order[j]
        i = j - 1
        while i >= 0 and (values[i] > a_j or np.isnan(values[i])):
            values[i + 1] = values[i]
            order[i + 1] = order[i]
            i = i - 1
        values[i + 1] = a_j
        order[i + 1] = i_j


@njit(cache=True, error_model="numpy")
def simulate_combo(
    weights: np.ndarray,
    rebalance: np.ndarray,
    trade_start: int,
    market: tuple,
    costs: tuple,
    scratch: np.ndarray,
    metrics_out: np.ndarray,
    returns_out: np.ndarray,
) -> None:
    """Simulate one combination and write its metrics row (see the module doc for the contract)."""
    val_close, price, have_close, have_open, ts_ns = market
    fees, slippage, init_cash, risk_free_rate, next_open_flag = costs
    next_open = next_open_flag != 0.0
    n, n_inst = val_close.shape
    grouped = n_inst > 1

    equity = scratch[0]
    gross = scratch[1]
    work = scratch[3]
    keep_returns = returns_out.shape[0] == n
    r = returns_out if keep_returns else scratch[2]

    # --- simulation state (vectorbt simulate_from_orders_nb)
    cash = float(init_cash)
    position = np.zeros(n_inst)
    last_val_price = np.full(n_inst, np.nan)
    order_price = np.empty(n_inst)
    size_now = np.empty(n_inst)
    order_value = np.empty(n_inst)
    call_seq = np.arange(n_inst)  # instrument order; re-sorted on each order bar of a group
    # --- post-simulation state (assets_nb, cash_nb / cash_grouped_nb)
    assets = np.zeros(n_inst)
    flow = np.zeros(n_inst)  # cash flow of each instrument this bar (0 unless it filled)
    pcash = float(init_cash)
    traded = 0.0
    # --- exit trades and positions of each instrument (get_exit_trades_nb, get_positions_nb)
    in_pos = np.zeros(n_inst, dtype=np.bool_)
    direction = np.zeros(n_inst, dtype=np.int64)
    e_size = np.zeros(n_inst)
    e_gross = np.zeros(n_inst)
    e_fees = np.zeros(n_inst)
    p_rec = np.zeros(n_inst, dtype=np.int64)  # exit trades of the current position
    p_size = np.zeros(n_inst)
    p_size_entry = np.zeros(n_inst)
    p_entry_fees = np.zeros(n_inst)
    p_size_exit = np.zeros(n_inst)
    p_exit_fees = np.zeros(n_inst)
    p_first_pnl = np.zeros(n_inst)
    p_status_closed = np.zeros(n_inst, dtype=np.bool_)
    n_positions = 0
    n_exit_trades = 0
    n_closed = 0
    n_wins = 0
    gross_profit = 0.0
    neg_pnl = 0.0
    n_exposed = 0
    # P&L of closed positions per instrument, summed at the end column by column as
    # vectorbt's bincount over its position records (ordered by column) does.
    cap = n // 2 + 2 if grouped else 0
    pnl_by_col = np.empty((n_inst, cap))
    n_pnl = np.zeros(n_inst, dtype=np.int64)

    for j in range(n):
        t = trade_start + j
        # Order sizes of this bar (evaluate.decide_weights + simulate's masks).
        any_order = False
        for s in range(n_inst):
            sz = np.nan
            if next_open:
                if j > 0 and have_open[j, s] and have_close[j - 1, s]:
                    tp = t - 1
                    if j - 1 == 0 or rebalance[tp]:
                        sz = weights[tp, s]
            elif have_close[j, s] and (j == 0 or rebalance[t]):
                sz = weights[t, s]
            size_now[s] = sz
            if not np.isnan(sz):
                any_order = True
            p = price[j, s]
            order_price[s] = p
            if not np.isnan(p):
                last_val_price[s] = p

        any_fill = False
        if not any_order:
            # No order this bar: vectorbt still passes every instrument through
            # execute_order_nb, whose only lasting effect is the snapping of cash and positions.
            cash = snap0(cash)
            for s in range(n_inst):
                position[s] = snap0(position[s])
        value_now = cash
        if grouped and any_order:
            for s in range(n_inst):
                call_seq[s] = s
                if position[s] != 0:
                    value_now += position[s] * last_val_price[s]
            for s in range(n_inst):
                order_value[s] = size_now[s] * value_now - position[s] * last_val_price[s]
            _argsort_insert(order_value, call_seq, n_inst)

        for k in range(n_inst if any_order else 0):
            col = call_seq[k]
            pos = position[col]
            vp = last_val_price[col]
            if not grouped:
                value_now = cash
                if pos != 0:
                    value_now += pos * vp
            # execute_order_nb: snap near-zero state, then size the target percent.
            cash = snap0(cash)
            pos = snap0(pos)
            vp = snap0(vp)
            value = snap0(value_now)
            position[col] = pos
            sz = size_now[col]
            op = order_price[col]
            if np.isnan(sz) or np.isnan(op) or np.isnan(value) or value <= 0 or np.isnan(vp):
                continue
            target = sz * value
            target /= vp
            target -= pos
            filled = False
            f_size = 0.0
            f_price = 0.0
            f_fees = 0.0
            side = _BUY
            if target > 0:
                # buy_nb
                adj_price = op * (1 + slippage)
                cash_limit = min(cash, cash)
                if cash_limit == 0:
                    continue
                adj_size = target
                req_cash = adj_size * adj_price
                req_fees = req_cash * fees + 0.0
                total_req_cash = req_cash + req_fees
                if is_close_or_less(total_req_cash, cash_limit):
                    final_size = adj_size
                    fees_paid = req_fees
                    final_req_cash = total_req_cash
                else:
                    max_req_cash = add(cash_limit, -0.0) / (1 + fees)
                    if max_req_cash <= 0:
                        continue
                    final_size = max_req_cash / adj_price
                    fees_paid = cash_limit - max_req_cash
                    final_req_cash = cash_limit
                if is_close(adj_size, 0.0):
                    continue
                if is_less(final_size, MIN_SIZE):
                    continue
                cash = add(cash, -final_req_cash)
                position[col] = add(pos, final_size)
                filled = True
                f_size = final_size
                f_price = adj_price
                f_fees = fees_paid
                side = _BUY
            else:
                # sell_nb (long only)
                adj_price = op * (1 - slippage)
                size_limit = min(pos, -target)
                if pos == 0:
                    continue
                if is_close(size_limit, 0.0):
                    continue
                if is_less(size_limit, MIN_SIZE):
                    continue
                acq_cash = size_limit * adj_price
                fees_paid = acq_cash * fees + 0.0
                final_acq_cash = add(acq_cash, -fees_paid)
                if final_acq_cash < 0:
                    continue
                cash = cash + final_acq_cash
                position[col] = add(pos, -size_limit)
                filled = True
                f_size = size_limit
                f_price = adj_price
                f_fees = fees_paid
                side = _SELL
            if not filled:
                continue
            any_fill = True

            # --- order record effects: traded value, cash flow, assets
            traded += abs(f_size * f_price)
            signed = f_size if side == _BUY else -f_size
            flow[col] = add(0.0, -signed * f_price - f_fees)
            assets[col] = add(assets[col], add(0.0, signed))

            # --- exit trades and positions (long or short trades, as vectorbt builds them)
            if not in_pos[col]:
                in_pos[col] = True
                direction[col] = _LONG if side == _BUY else _SHORT
                e_size[col] = 0.0
                e_gross[col] = 0.0
                e_fees[col] = 0.0
                p_rec[col] = 0
                p_size[col] = 0.0
                p_size_entry[col] = 0.0
                p_entry_fees[col] = 0.0
                p_size_exit[col] = 0.0
                p_exit_fees[col] = 0.0
                n_positions += 1
            d = direction[col]
            if (d == _LONG and side == _BUY) or (d == _SHORT and side == _SELL):
                e_size[col] += f_size
                e_gross[col] += f_size * f_price
                e_fees[col] += f_fees
            elif is_close_or_less(f_size, e_size[col]):
                exit_size = e_size[col] if is_close(f_size, e_size[col]) else f_size
                entry_price = e_gross[col] / e_size[col]
                entry_fees = (exit_size / e_size[col]) * e_fees[col]
                pnl = _trade_pnl(exit_size, entry_price, entry_fees, f_price, f_fees, d)
                n_exit_trades += 1
                if p_rec[col] == 0:
                    p_first_pnl[col] = pnl
                p_rec[col] += 1
                p_size[col] += exit_size
                p_size_entry[col] += exit_size * entry_price
                p_entry_fees[col] += entry_fees
                p_size_exit[col] += exit_size * f_price
                p_exit_fees[col] += f_fees
                p_status_closed[col] = True
                if is_close(f_size, e_size[col]):
                    in_pos[col] = False
                    # The position is complete: count it (positions_nb over its exit trades).
                    if p_rec[col] == 1:
                        ppnl = p_first_pnl[col]
                    else:
                        ps = p_size[col]
                        ppnl = _trade_pnl(
                            ps, p_size_entry[col] / ps, p_entry_fees[col], p_size_exit[col] / ps, p_exit_fees[col], d
                        )
                    n_closed += 1
                    if ppnl > 0:
                        n_wins += 1
                    if n_pnl[col] < cap:
                        pnl_by_col[col, n_pnl[col]] = ppnl
                        n_pnl[col] += 1
                    elif ppnl > 0:
                        gross_profit += ppnl
                    elif ppnl < 0:
                        neg_pnl += ppnl
                else:
                    frac = (e_size[col] - f_size) / e_size[col]
                    e_size[col] *= frac
                    e_gross[col] *= frac
                    e_fees[col] *= frac
            else:
                # Reversal (cannot happen long only; kept so the bookkeeping stays vectorbt's).
                cl_size = e_size[col]
                cl_fees = cl_size / f_size * f_fees
                entry_price = e_gross[col] / e_size[col]
                entry_fees = (cl_size / e_size[col]) * e_fees[col]
                pnl = _trade_pnl(cl_size, entry_price, entry_fees, f_price, cl_fees, d)
                n_exit_trades += 1
                if p_rec[col] == 0:
                    p_first_pnl[col] = pnl
                p_rec[col] += 1
                p_size[col] += cl_size
                p_size_entry[col] += cl_size * entry_price
                p_entry_fees[col] += entry_fees
                p_size_exit[col] += cl_size * f_price
                p_exit_fees[col] += cl_fees
                if p_rec[col] == 1:
                    ppnl = p_first_pnl[col]
                else:
                    ps = p_size[col]
                    ppnl = _trade_pnl(
                        ps, p_size_entry[col] / ps, p_entry_fees[col], p_size_exit[col] / ps, p_exit_fees[col], d
                    )
                n_closed += 1
                if ppnl > 0:
                    n_wins += 1
                if n_pnl[col] < cap:
                    pnl_by_col[col, n_pnl[col]] = ppnl
                    n_pnl[col] += 1
                elif ppnl > 0:
                    gross_profit += ppnl
                elif ppnl < 0:
                    neg_pnl += ppnl
                e_size[col] = f_size - cl_size
                e_gross[col] = e_size[col] * f_price
                e_fees[col] = f_fees - cl_fees
                direction[col] = _SHORT if d == _LONG else _LONG
                p_rec[col] = 0
                p_size[col] = 0.0
                p_size_entry[col] = 0.0
                p_entry_fees[col] = 0.0
                p_size_exit[col] = 0.0
                p_exit_fees[col] = 0.0
                n_positions += 1

        # --- end of bar: cash, equity and exposure as the portfolio reports them
        bar_flow = 0.0
        if any_fill:
            for s in range(n_inst):
                bar_flow += flow[s]
                flow[s] = 0.0
        pcash = add(pcash, bar_flow)
        asset_value = 0.0
        holdings = 0.0
        exposed = 0.0
        for s in range(n_inst):
            a = assets[s]
            if abs(a) <= ABS_TOL:
                # assets_nb adds every bar's flow (0 without an order) with add_nb, which
                # snaps a holding of at most 1e-12 to 0
                a = 0.0
                assets[s] = 0.0
            v = 0.0 if a == 0 else val_close[j, s] * a
            asset_value += v
            holdings += abs(v)
            exposed += abs(a)
        eq = pcash + asset_value
        equity[j] = eq
        gross[j] = holdings / eq
        if exposed > 0:
            n_exposed += 1

    # --- open trades at the end are valued at the last close (status Open: not a round trip won or lost)
    for s in range(n_inst):
        if in_pos[s] and is_less(-e_size[s], 0.0):
            n_exit_trades += 1
        elif in_pos[s] and p_rec[s] > 0 and p_status_closed[s]:
            # Every exit trade of this position is closed, though its entry size did not
            # quite reach zero: vectorbt's position takes its last trade's status (Closed).
            if p_rec[s] == 1:
                ppnl = p_first_pnl[s]
            else:
                ps = p_size[s]
                ppnl = _trade_pnl(
                    ps, p_size_entry[s] / ps, p_entry_fees[s], p_size_exit[s] / ps, p_exit_fees[s], direction[s]
                )
            n_closed += 1
            if ppnl > 0:
                n_wins += 1
            if n_pnl[s] < cap:
                pnl_by_col[s, n_pnl[s]] = ppnl
                n_pnl[s] += 1
            elif ppnl > 0:
                gross_profit += ppnl
            elif ppnl < 0:
                neg_pnl += ppnl
    if grouped:
        gp = 0.0
        nl = 0.0
        for s in range(n_inst):
            for i in range(n_pnl[s]):
                v = pnl_by_col[s, i]
                if v > 0:
                    gp += v
                elif v < 0:
                    nl += v
        gross_profit += gp
        neg_pnl += nl

    counts = (n_positions, n_exit_trades, n_closed, n_wins, n_exposed)
    _write_metrics(
        equity, gross, r, work, n, init_cash, risk_free_rate, ts_ns, traded, counts, gross_profit, neg_pnl, metrics_out
    )


@njit(cache=True, error_model="numpy")
def _finite(x: float) -> float:
    return x if np.isfinite(x) else np.nan


@njit(cache=True, error_model="numpy")
def _write_metrics(
    equity: np.ndarray,
    gross: np.ndarray,
    r: np.ndarray,
    work: np.ndarray,
    n: int,
    init_cash: float,
    risk_free_rate: float,
    ts_ns: np.ndarray,
    traded: float,
    counts: tuple,
    gross_profit: float,
    neg_pnl: float,
    out: np.ndarray,
) -> None:
    """evaluate.metrics_from_arrays for one row, with numpy's reductions (pairwise sums).

    ``counts``: positions (round trips), exit trades, closed positions, winning closed
    positions, bars with a position.
    """
    n_positions, n_exit_trades, n_closed, n_wins, n_exposed = counts
    rf = (1.0 + risk_free_rate) ** (1.0 / TRADING_DAYS) - 1.0
    # Without a risk-free rate the excess returns ARE the returns (x - 0.0 == x for every
    # float, -0.0 and NaN included): one series, one mean and one deviation serve both
    # the volatility and the Sharpe ratio, bit for bit what two computations give.
    no_rf = rf == 0.0
    ex = r if no_rf else work
    prev = init_cash
    for j in range(n):
        rj = equity[j] / prev - 1.0
        r[j] = rj
        if not no_rf:
            ex[j] = rj - rf
        prev = equity[j]
    last = equity[n - 1]
    total = last / init_cash - 1.0
    cagr = (max(last, 0.0) / init_cash) ** (TRADING_DAYS / n) - 1.0 if last > 0 else -1.0
    mean = row_mean(ex, n)
    # std of r needs scratch for its squared deviations: ``gross``'s row after its mean
    gross_mean = row_mean(gross, n)
    r_std = row_std_about(r, n, mean if no_rf else row_mean(r, n), 1, gross)
    vol = r_std * _SQRT_DAYS
    std = r_std if no_rf else row_std_about(ex, n, mean, 1, gross)
    sharpe = mean / std * _SQRT_DAYS if std > 0 else np.nan
    for j in range(n):
        x = ex[j]
        m = x if (x < 0.0 or np.isnan(x)) else 0.0
        gross[j] = m * m
    downside = np.sqrt(row_mean(gross, n)) * _SQRT_DAYS
    sortino = mean * TRADING_DAYS / downside if downside > 0 else np.nan
    # drawdown and its longest span (evaluate._drawdown_duration_days)
    running = equity[0]
    mdd = np.inf
    longest = 0
    last_peak = 0
    under_prev = False
    for j in range(n):
        e = equity[j]
        running = max(running, e) if not np.isnan(e) else e
        peak = max(running, init_cash)
        dd = e / peak - 1.0
        if dd < mdd or np.isnan(dd):
            mdd = dd
        under = e < peak
        if j > 0 and (under or under_prev):
            span = ts_ns[j] - ts_ns[last_peak]
            longest = max(longest, span)
        if not under:
            last_peak = j
        under_prev = under
    duration = longest / 86_400e9 if n >= 2 else 0.0
    calmar = cagr / abs(mdd) if mdd < 0 else np.nan
    win_rate = n_wins / n_closed if n_closed > 0 else np.nan
    gross_loss = -neg_pnl
    profit_factor = gross_profit / gross_loss if gross_loss > 0 else np.nan
    years = n / TRADING_DAYS
    turnover = traded / 2.0 / row_mean(equity, n) / years
    out[0] = _finite(total)
    out[1] = _finite(cagr)
    out[2] = _finite(vol)
    out[3] = _finite(sharpe)
    out[4] = _finite(sortino)
    out[5] = _finite(calmar)
    out[6] = _finite(mdd)
    out[7] = _finite(duration)
    out[8] = _finite(win_rate)
    out[9] = _finite(profit_factor)
    out[10] = float(n_positions)
    out[11] = float(n_exit_trades - n_positions)
    out[12] = n_exposed / n
    out[13] = _finite(gross_mean)
    out[14] = _finite(turnover)
    out[15] = _finite(last)
