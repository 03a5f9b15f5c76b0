"""The paper account of the Alpaca stand-in (see ``alpaca_standin.py``): orders, fills, positions, cash.

Alpaca's order rules as alpaca-py meets them (validation, unique client_order_id, buying
power, open/closed listing with exclusive after/until) and a deterministic fill model a
test steers (full, partial, none, reject, slippage). Its whole state is plain JSON, so the
server can write it after every change and a restarted server carries on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np

from support.alpaca_standin_market import (
    NY,
    ApiError,
    Market,
    dec,
    flag,
    invalid,
    num,
    parse_date,
    parse_time,
    price_of,
    stable_id,
    to_ns,
    utc_text,
    whole,
)

OPEN_STATUSES = frozenset({
    "new", "partially_filled", "accepted", "pending_new", "held", "accepted_for_bidding",
    "pending_cancel", "pending_replace", "calculated", "stopped", "suspended", "done_for_day",
})
ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIME_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
ACTIVITY_TYPES = frozenset({
    "FILL", "ACATC", "ACATS", "CFEE", "CIL", "CSD", "CSW", "DIV", "DIVCGL", "DIVCGS", "DIVNRA",
    "DIVROC", "DIVTXEX", "DIVWH", "EXTRD", "FEE", "FXTRD", "INT", "INTPNL", "JNLC", "JNLS", "MA",
    "MEM", "NC", "OCT", "OPASN", "OPCSH", "OPEXC", "OPEXP", "OPTRD", "PTC", "REORG", "SPIN", "SPLIT",
    "SWP", "VOF", "WH",
})
FILL_MODES = ("full", "partial", "none", "reject")
ACCOUNT_SETTINGS: dict[str, Any] = {
    "account_number": "PA0STANDIN01", "status": "ACTIVE", "crypto_status": "INACTIVE", "currency": "USD",
    "pattern_day_trader": False, "daytrade_count": 0, "multiplier": "1", "shorting_enabled": False,
    "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
    "trade_suspended_by_user": False,
}


def _fill_mode(body: dict[str, Any]) -> dict[str, Any]:
    mode = body.get("mode", "full")
    if mode not in FILL_MODES:
        raise ApiError(400, 40010001, f"fill_mode mode {mode!r}: one of {', '.join(FILL_MODES)}")
    fraction = float(body.get("fraction", 0.5))
    if mode == "partial" and not 0 < fraction < 1:
        raise ApiError(400, 40010001, f"fill_mode fraction {fraction}: between 0 and 1 (exclusive)")
    reply = body.get("post_reply", "before_fill")
    if reply not in ("before_fill", "after_fill"):
        raise ApiError(400, 40010001, f"fill_mode post_reply {reply!r}: before_fill or after_fill")
    return {"mode": mode, "fraction": fraction, "slippage_bps": float(body.get("slippage_bps", 0)),
            "post_reply": reply}


class PaperAccount:
    """Orders, fills, positions and cash of one paper account, on the stand-in's clock.

    Every method runs under the server's lock. Orders are Alpaca-shaped dicts (numbers as
    strings) with a few private ``_`` keys; the whole state is plain JSON (:meth:`to_dict`).
    """

    def __init__(self, market: Market, *, cash: Decimal = Decimal("100000"), now: datetime | None = None) -> None:
        self.market = market
        self.now_fixed = now
        self.last_stamp: datetime | None = None
        self.seq = 0
        self.cash = cash
        self.settings = dict(ACCOUNT_SETTINGS)
        self.positions: dict[str, dict[str, str]] = {}
        self.orders: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []
        self.post_counts: dict[str, int] = {}
        self.prices: dict[str, dict[str, str]] = {}
        self.fill_mode: dict[str, Any] = {"default": _fill_mode({}), "symbols": {}}
        self.bars_page_size = 10_000
        self._index()

    # ---------------------------------------------------------------- persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1, "now": utc_text(self.now_fixed) if self.now_fixed else None,
            "last_stamp": utc_text(self.last_stamp) if self.last_stamp else None, "seq": self.seq,
            "cash": num(self.cash), "settings": self.settings, "positions": self.positions,
            "orders": self.orders, "activities": self.activities, "post_counts": self.post_counts,
            "prices": self.prices, "fill_mode": self.fill_mode, "bars_page_size": self.bars_page_size,
        }

    @classmethod
    def from_dict(cls, market: Market, d: dict[str, Any]) -> PaperAccount:
        acc = cls(market, cash=Decimal(d["cash"]), now=parse_time(d["now"], "now") if d.get("now") else None)
        acc.last_stamp = parse_time(d["last_stamp"], "last_stamp") if d.get("last_stamp") else None
        acc.seq = int(d["seq"])
        acc.settings.update(d["settings"])
        acc.positions, acc.orders, acc.activities = d["positions"], d["orders"], d["activities"]
        acc.post_counts, acc.prices, acc.fill_mode = d["post_counts"], d["prices"], d["fill_mode"]
        acc.bars_page_size = int(d.get("bars_page_size", 10_000))
        acc._index()
        return acc

    def _index(self) -> None:
        self.by_id = {o["id"]: o for o in self.orders}
        self.by_cid = {o["client_order_id"]: o for o in self.orders}

    # ---------------------------------------------------------------- clock and prices

    def now(self) -> datetime:
        return self.now_fixed or datetime.now(UTC)

    def stamp(self) -> datetime:
        """Now, one microsecond past the previous stamp when the clock stands still.

        Alpaca's order times are unique in practice and clients page on them (``until`` is
        exclusive); a frozen test clock must not give two orders the same ``submitted_at``.
        """
        t = self.now()
        if self.last_stamp is not None and t <= self.last_stamp:
            t = self.last_stamp + timedelta(microseconds=1)
        self.last_stamp = t
        return t

    def next_id(self, kind: str) -> str:
        self.seq += 1
        return stable_id(kind, self.seq)

    @property
    def account_id(self) -> str:
        return stable_id("account", self.settings["account_number"])

    def trade(self, symbol: str) -> tuple[Decimal, int] | None:
        """The latest trade: a control price, else the market's last minute or daily close."""
        override = self.prices.get(symbol)
        if override is not None:
            return Decimal(override["p"]), to_ns(parse_time(override["t"], "t"))
        return self.market.last_trade(symbol, to_ns(self.now()))

    def mark(self, symbol: str, fallback: Decimal) -> Decimal:
        found = self.trade(symbol)
        return found[0] if found else fallback

    # ---------------------------------------------------------------- account and positions

    def _values(self) -> tuple[Decimal, Decimal]:
        long_mv = short_mv = Decimal(0)
        for sym, pos in self.positions.items():
            value = Decimal(pos["qty"]) * self.mark(sym, Decimal(pos["avg_entry_price"]))
            if value >= 0:
                long_mv += value
            else:
                short_mv += value
        return long_mv, short_mv

    def _reserved(self) -> Decimal:
        """Cash held for open buy orders (legs of brackets excepted), at their reference price."""
        held = Decimal(0)
        for o in self.orders:
            if o["status"] in OPEN_STATUSES and o["side"] == "buy" and not o.get("_parent"):
                if o["notional"] is not None:
                    held += Decimal(o["notional"]) - Decimal(o.get("_spent", "0"))
                else:
                    held += (Decimal(o["qty"]) - Decimal(o["filled_qty"])) * Decimal(o["_ref"])
        return held

    def buying_power(self) -> Decimal:
        long_mv, short_mv = self._values()
        equity = self.cash + long_mv + short_mv
        power = equity * Decimal(self.settings["multiplier"]) - long_mv + short_mv - self._reserved()
        return max(Decimal(0), power)

    def account_json(self) -> dict[str, Any]:
        long_mv, short_mv = self._values()
        equity = self.cash + long_mv + short_mv
        power = self.buying_power()
        last_equity = self.cash + sum(
            (Decimal(p["qty"]) * self._lastday(s, Decimal(p["avg_entry_price"])) for s, p in self.positions.items()),
            Decimal(0))
        s = self.settings
        return {
            "id": self.account_id, "account_number": s["account_number"], "status": s["status"],
            "crypto_status": s["crypto_status"], "currency": s["currency"], "buying_power": num(power),
            "regt_buying_power": num(power),
            "daytrading_buying_power": num(power if s["pattern_day_trader"] else Decimal(0)),
            "effective_buying_power": num(power), "non_marginable_buying_power": num(max(Decimal(0), self.cash
                                                                                         - self._reserved())),
            "options_buying_power": num(power), "bod_dtbp": "0", "cash": num(self.cash), "accrued_fees": "0",
            "pending_transfer_in": "0", "pending_transfer_out": "0", "portfolio_value": num(equity),
            "pattern_day_trader": s["pattern_day_trader"], "trading_blocked": s["trading_blocked"],
            "transfers_blocked": s["transfers_blocked"], "account_blocked": s["account_blocked"],
            "created_at": "2015-01-02T14:30:00.000000Z", "trade_suspended_by_user": s["trade_suspended_by_user"],
            "multiplier": str(s["multiplier"]), "shorting_enabled": s["shorting_enabled"], "equity": num(equity),
            "last_equity": num(last_equity), "long_market_value": num(long_mv), "short_market_value": num(short_mv),
            "position_market_value": num(long_mv - short_mv), "initial_margin": "0", "maintenance_margin": "0",
            "last_maintenance_margin": "0", "sma": "0", "daytrade_count": int(s["daytrade_count"]),
            "balance_asof": self.now().astimezone(NY).date().isoformat(), "crypto_tier": 0,
            "options_approved_level": 0, "options_trading_level": 0, "intraday_adjustments": "0",
            "pending_reg_taf_fees": "0",
        }

    def _lastday(self, symbol: str, fallback: Decimal) -> Decimal:
        """The previous session's close (from the daily bars), for ``lastday_price`` and ``last_equity``."""
        now = self.now()
        view = self.market.daily_view(symbol, "raw", to_ns(now))
        today = to_ns(datetime.combine(now.astimezone(NY).date(), time(), NY))
        before = int(np.searchsorted(view.t, today, side="left")) if view is not None else 0
        return price_of(view.c[before - 1]) if view is not None and before else self.mark(symbol, fallback)

    def position_json(self, symbol: str) -> dict[str, Any]:
        pos = self.positions[symbol]
        qty, avg = Decimal(pos["qty"]), Decimal(pos["avg_entry_price"])
        price, lastday = self.mark(symbol, avg), self._lastday(symbol, avg)
        cost, value = qty * avg, qty * price
        held = sum((Decimal(o["qty"]) - Decimal(o["filled_qty"]) for o in self.orders
                    if o["symbol"] == symbol and o["side"] == ("sell" if qty > 0 else "buy")
                    and o["status"] in OPEN_STATUSES and o["qty"] is not None), Decimal(0))
        return {
            "asset_id": stable_id("asset", symbol), "symbol": symbol, "exchange": "ARCA", "asset_class": "us_equity",
            "asset_marginable": True, "avg_entry_price": num(avg), "qty": num(qty),
            "side": "long" if qty > 0 else "short",
            "market_value": num(value), "cost_basis": num(cost), "unrealized_pl": num(value - cost),
            "unrealized_plpc": num(((value - cost) / abs(cost)).quantize(Decimal("1e-6")) if cost else Decimal(0)),
            "unrealized_intraday_pl": num(qty * (price - lastday)),
            "unrealized_intraday_plpc": num(((price - lastday) / lastday).quantize(Decimal("1e-6")) if lastday
                                            else Decimal(0)),
            "current_price": num(price), "lastday_price": num(lastday),
            "change_today": num(((price - lastday) / lastday).quantize(Decimal("1e-6")) if lastday else Decimal(0)),
            "qty_available": num(qty - held if qty > 0 else qty + held),
        }

    # ---------------------------------------------------------------- orders

    def order_json(self, order: dict[str, Any], *, nested: bool = True) -> dict[str, Any]:
        out = {k: v for k, v in order.items() if not k.startswith("_")}
        legs = order.get("_legs") or []
        out["legs"] = [self.order_json(self.by_id[i]) for i in legs] if legs and nested else None
        return out

    def submit(self, body: Any) -> dict[str, Any]:
        """``POST /v2/orders``: validate like Alpaca, create, then let the market work the order."""
        if not isinstance(body, dict):
            raise ApiError(400, 40010000, "request body format is invalid")
        symbol = str(body.get("symbol") or "").strip().upper()
        if not symbol:
            raise invalid("symbol is required")
        if not self.market.has(symbol) and symbol not in self.prices:
            raise invalid(f'asset "{symbol}" not found')
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise invalid(f'invalid side {side!r}, side must be "buy" or "sell"')
        kind = body.get("type") or body.get("order_type")
        if kind not in ORDER_TYPES:
            raise invalid(f"invalid order type {kind!r}, one of {', '.join(ORDER_TYPES)}")
        tif = body.get("time_in_force")
        if tif not in TIME_IN_FORCE:
            raise invalid(f"invalid time_in_force {tif!r}, one of {', '.join(TIME_IN_FORCE)}")
        order_class = body.get("order_class") or "simple"
        if order_class not in ("simple", "bracket"):
            raise invalid(f"order_class {order_class!r} is not served by the stand-in (simple, bracket)")
        qty = dec(body["qty"], "qty") if body.get("qty") is not None else None
        notional = dec(body["notional"], "notional") if body.get("notional") is not None else None
        if (qty is None) == (notional is None):
            raise invalid("qty or notional is required, not both")
        if (qty if qty is not None else notional) <= 0:  # type: ignore[operator]
            raise invalid("qty must be > 0" if qty is not None else "notional must be > 0")
        fractional = notional is not None or (qty is not None and qty != qty.to_integral_value())
        if fractional and (kind != "market" or tif != "day"):
            raise invalid("fractional orders must be market orders with time_in_force day")
        limit = dec(body["limit_price"], "limit_price") if body.get("limit_price") is not None else None
        stop = dec(body["stop_price"], "stop_price") if body.get("stop_price") is not None else None
        if kind in ("limit", "stop_limit") and limit is None:
            raise invalid("limit_price is required")
        if kind in ("stop", "stop_limit") and stop is None:
            raise invalid("stop_price is required")
        if kind == "trailing_stop" and (body.get("trail_price") is None) == (body.get("trail_percent") is None):
            raise invalid("one of trail_price or trail_percent is required")
        legs = self._bracket_terms(body, side) if order_class == "bracket" else None
        cid = body.get("client_order_id") or stable_id("client_order", self.seq + 1)
        if len(str(cid)) > 128:
            raise invalid("client_order_id must be no more than 128 characters")
        if cid in self.by_cid:
            raise invalid("client_order_id must be unique")
        if self.settings["trading_blocked"] or self.settings["account_blocked"]:
            raise ApiError(403, 40310000, "account is not allowed to trade")

        found = self.trade(symbol)
        ref = limit if limit is not None else stop if stop is not None else found[0] if found else Decimal(0)
        self._check_funds(symbol, side, qty, notional, ref)
        held = Decimal(self.positions.get(symbol, {}).get("qty", "0"))
        intent = ("buy_to_open" if held >= 0 else "buy_to_close") if side == "buy" else (
            "sell_to_close" if held > 0 else "sell_to_open")
        t = utc_text(self.stamp())
        order = self._new_order(cid, symbol, side, kind, tif, order_class, t, qty=qty, notional=notional,
                                limit=limit, stop=stop, intent=intent, ref=ref,
                                extended=bool(body.get("extended_hours")), trail_price=body.get("trail_price"),
                                trail_percent=body.get("trail_percent"))
        if legs is not None:
            for leg_kind, leg_limit, leg_stop in legs:
                leg = self._new_order(stable_id("leg", order["id"], leg_kind), symbol,
                                      "sell" if side == "buy" else "buy", leg_kind, tif, "bracket", t, qty=qty,
                                      limit=leg_limit, stop=leg_stop, intent="sell_to_close" if side == "buy"
                                      else "buy_to_close", ref=leg_limit or leg_stop or ref, parent=order["id"])
                leg["status"] = "held"
                order["_legs"].append(leg["id"])
        reply = self.order_json(order)
        self.work(order)
        mode = self.mode_for(symbol)
        return self.order_json(order) if mode["post_reply"] == "after_fill" else reply

    def _bracket_terms(self, body: dict[str, Any], side: str) -> list[tuple[str, Decimal | None, Decimal | None]]:
        take, loss = body.get("take_profit") or {}, body.get("stop_loss") or {}
        if take.get("limit_price") is None:
            raise invalid("bracket orders require take_profit.limit_price")
        if loss.get("stop_price") is None:
            raise invalid("bracket orders require stop_loss.stop_price")
        loss_limit = dec(loss["limit_price"], "stop_loss.limit_price") if loss.get("limit_price") is not None else None
        return [("limit", dec(take["limit_price"], "take_profit.limit_price"), None),
                ("stop_limit" if loss_limit is not None else "stop", loss_limit,
                 dec(loss["stop_price"], "stop_loss.stop_price"))]

    def _check_funds(self, symbol: str, side: str, qty: Decimal | None, notional: Decimal | None,
                     ref: Decimal) -> None:
        if side == "buy":
            cost = notional if notional is not None else qty * ref  # type: ignore[operator]
            if cost > self.buying_power():
                raise ApiError(403, 40310000, "insufficient buying power")
            return
        if self.settings["shorting_enabled"]:
            return
        held = Decimal(self.positions.get(symbol, {}).get("qty", "0"))
        selling = sum((Decimal(o["qty"]) - Decimal(o["filled_qty"]) for o in self.orders
                       if o["symbol"] == symbol and o["side"] == "sell" and o["status"] in OPEN_STATUSES
                       and not o.get("_parent") and o["qty"] is not None), Decimal(0))
        available = max(Decimal(0), held - selling)
        wanted = qty if qty is not None else (notional / ref if ref else Decimal(0))  # type: ignore[operator]
        if wanted > available:
            raise ApiError(403, 40310000, f"insufficient qty available for order (requested: {num(wanted)}, "
                                          f"available: {num(available)})")

    def _new_order(self, cid: str, symbol: str, side: str, kind: str, tif: str, order_class: str, t: str, *,
                   qty: Decimal | None, notional: Decimal | None = None, limit: Decimal | None, stop: Decimal | None,
                   intent: str, ref: Decimal, extended: bool = False, trail_price: Any = None,
                   trail_percent: Any = None, parent: str | None = None) -> dict[str, Any]:
        order: dict[str, Any] = {
            "id": self.next_id("order"), "client_order_id": cid, "created_at": t, "updated_at": t,
            "submitted_at": t, "filled_at": None, "expired_at": None, "expires_at": None, "canceled_at": None,
            "failed_at": None, "replaced_at": None, "replaced_by": None, "replaces": None,
            "asset_id": stable_id("asset", symbol), "symbol": symbol, "asset_class": "us_equity",
            "notional": num(notional), "qty": num(qty), "filled_qty": "0", "filled_avg_price": None,
            "order_class": order_class, "order_type": kind, "type": kind, "side": side, "position_intent": intent,
            "time_in_force": tif, "limit_price": num(limit), "stop_price": num(stop), "status": "accepted",
            "extended_hours": extended, "legs": None,
            "trail_percent": None if trail_percent is None else str(trail_percent),
            "trail_price": None if trail_price is None else str(trail_price), "hwm": None, "subtag": None,
            "source": None, "_hold": False, "_ref": num(ref), "_legs": [], "_parent": parent,
        }
        self.orders.append(order)
        self.by_id[order["id"]] = order
        self.by_cid[cid] = order
        return order

    def mode_for(self, symbol: str) -> dict[str, Any]:
        return self.fill_mode["symbols"].get(symbol, self.fill_mode["default"])

    def work(self, order: dict[str, Any]) -> None:
        """Let the market act on one open order at the current time and price (see the fill model)."""
        if order["status"] not in ("accepted", "new", "partially_filled") or order["_hold"]:
            return
        now_ns = to_ns(self.now())
        if not self.market.sessions.is_open(now_ns):
            return
        if order["status"] == "accepted":
            order["status"], order["updated_at"] = "new", utc_text(self.stamp())
        found = self.trade(order["symbol"])
        if found is None or not self._marketable(order, found[0]):
            return
        mode = self.mode_for(order["symbol"])
        if mode["mode"] == "none":
            order["_hold"] = True
            return
        if mode["mode"] == "reject":
            self.close(order, "rejected")
            return
        left = self._left(order, found[0])
        qty = left if mode["mode"] == "full" else self._part(left, Decimal(str(mode["fraction"])))
        if qty <= 0:
            order["_hold"] = True
            return
        bps = Decimal(str(mode["slippage_bps"])) / 10_000
        price = found[0] * (1 + bps if order["side"] == "buy" else 1 - bps)
        self.execute(order, qty, price.quantize(Decimal("0.0001")) if bps else price)
        if mode["mode"] == "partial":
            order["_hold"] = True

    def work_all(self) -> None:
        for order in list(self.orders):
            self.work(order)

    def _marketable(self, order: dict[str, Any], price: Decimal) -> bool:
        kind, buy = order["type"], order["side"] == "buy"
        limit = Decimal(order["limit_price"]) if order["limit_price"] is not None else None
        stop = Decimal(order["stop_price"]) if order["stop_price"] is not None else None
        if kind in ("stop", "stop_limit") and not order.get("_triggered"):
            if not (price >= stop if buy else price <= stop):  # type: ignore[operator]
                return False
            order["_triggered"] = True
        if kind in ("limit", "stop_limit"):
            return price <= limit if buy else price >= limit  # type: ignore[operator]
        return kind in ("market", "stop")

    def _left(self, order: dict[str, Any], price: Decimal) -> Decimal:
        """What is left to fill; a notional order's quantity is fixed at its first fill."""
        if order["qty"] is None:
            order["_target"] = order.get("_target") or num(
                (Decimal(order["notional"]) / price).quantize(Decimal("1e-9"), rounding=ROUND_DOWN))
            return Decimal(order["_target"]) - Decimal(order["filled_qty"])
        return Decimal(order["qty"]) - Decimal(order["filled_qty"])

    @staticmethod
    def _part(left: Decimal, fraction: Decimal) -> Decimal:
        step = Decimal(1) if left == left.to_integral_value() else Decimal("1e-9")
        return (left * fraction).quantize(step, rounding=ROUND_DOWN)

    def execute(self, order: dict[str, Any], qty: Decimal, price: Decimal) -> dict[str, Any]:
        """Book one fill: the order, cash, the position and a FILL activity, all at one stamp."""
        stamp = self.stamp()
        t = utc_text(stamp)
        before = Decimal(order["filled_qty"])
        avg_before = Decimal(order["filled_avg_price"] or "0")
        filled = before + qty
        total = Decimal(order["qty"]) if order["qty"] is not None else Decimal(order["_target"])
        leaves = total - filled
        order["filled_qty"] = num(filled)
        order["filled_avg_price"] = num(((avg_before * before + price * qty) / filled).quantize(Decimal("1e-6")))
        order["status"] = "filled" if leaves <= 0 else "partially_filled"
        order["updated_at"] = t
        if leaves <= 0:
            order["filled_at"] = t
        if order["notional"] is not None:
            order["_spent"] = num(Decimal(order.get("_spent", "0")) + qty * price)
        sign = 1 if order["side"] == "buy" else -1
        self.cash -= sign * qty * price
        self._move_position(order["symbol"], sign * qty, price)
        activity = {
            "id": f"{stamp:%Y%m%d%H%M%S}{stamp.microsecond // 1000:03d}::{self.next_id('activity')}",
            "account_id": self.account_id, "activity_type": "FILL", "transaction_time": t,
            "type": "fill" if leaves <= 0 else "partial_fill", "price": num(price), "qty": num(qty),
            "side": order["side"], "symbol": order["symbol"], "leaves_qty": num(max(leaves, Decimal(0))),
            "order_id": order["id"], "cum_qty": num(filled), "order_status": order["status"],
        }
        self.activities.append(activity)
        if leaves <= 0:
            for leg_id in order["_legs"]:  # a bracket's exits go live once the entry is filled
                leg = self.by_id[leg_id]
                if leg["status"] == "held":
                    leg["status"], leg["updated_at"] = "new", t
            for leg_id in order["_legs"]:
                self.work(self.by_id[leg_id])
            if order["_parent"]:  # one exit filled: the other is cancelled (one-cancels-other)
                for sibling in self.by_id[order["_parent"]]["_legs"]:
                    if sibling != order["id"] and self.by_id[sibling]["status"] in OPEN_STATUSES:
                        self.close(self.by_id[sibling], "canceled")
        return activity

    def _move_position(self, symbol: str, delta: Decimal, price: Decimal) -> None:
        pos = self.positions.get(symbol)
        old = Decimal(pos["qty"]) if pos else Decimal(0)
        avg = Decimal(pos["avg_entry_price"]) if pos else Decimal(0)
        new = old + delta
        if new == 0:
            self.positions.pop(symbol, None)
            return
        if old == 0 or (old > 0) == (delta > 0):
            avg = ((abs(old) * avg + abs(delta) * price) / abs(new)).quantize(Decimal("1e-6"))
        elif (old > 0) != (new > 0):
            avg = price
        self.positions[symbol] = {"qty": num(new) or "0", "avg_entry_price": num(avg) or "0"}

    def close(self, order: dict[str, Any], status: str) -> None:
        """End an open order (and its open legs) as canceled, expired or rejected."""
        t = utc_text(self.stamp())
        order["status"], order["updated_at"] = status, t
        stamp_field = {"canceled": "canceled_at", "expired": "expired_at", "rejected": "failed_at"}.get(status)
        if stamp_field:
            order[stamp_field] = t
        for leg_id in order["_legs"]:
            leg = self.by_id[leg_id]
            if leg["status"] in OPEN_STATUSES:
                self.close(leg, "canceled")

    def cancel(self, order_id: str) -> None:
        order = self.by_id.get(order_id)
        if order is None:
            raise ApiError(404, 40410000, "order not found")
        if order["status"] not in OPEN_STATUSES:
            raise ApiError(422, 42210000, f'order is already in "{order["status"]}" state')
        self.close(order, "canceled")

    def list_orders(self, q: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /v2/orders`` with Alpaca's semantics: newest first, ``limit`` of them, no page token."""
        status = q.get("status", "open") or "open"
        if status not in ("open", "closed", "all"):
            raise invalid(f"invalid status {status!r}, one of open, closed, all")
        limit = whole(q.get("limit") or 50, "limit", 1, 500)
        direction = q.get("direction", "desc") or "desc"
        if direction not in ("asc", "desc"):
            raise invalid(f"invalid direction {direction!r}, asc or desc")
        after = parse_time(q["after"], "after") if q.get("after") else None
        until = parse_time(q["until"], "until") if q.get("until") else None
        nested = flag(q.get("nested", "false"), "nested")
        symbols = {s.strip().upper() for s in q.get("symbols", "").split(",") if s.strip()}
        side = q.get("side")
        picked = []
        for o in self.orders:
            submitted = parse_time(o["submitted_at"], "submitted_at")
            if nested and o["_parent"]:
                continue
            if status != "all" and (o["status"] in OPEN_STATUSES) != (status == "open"):
                continue
            if (symbols and o["symbol"] not in symbols) or (side and o["side"] != side):
                continue
            if (after and submitted <= after) or (until and submitted >= until):
                continue
            picked.append(o)
        picked.sort(key=lambda o: o["submitted_at"], reverse=direction == "desc")
        return [self.order_json(o, nested=nested) for o in picked[:limit]]

    def list_fills(self, q: dict[str, str], types: Iterable[str]) -> list[dict[str, Any]]:
        """``GET /v2/account/activities``: FILL activities, paged by the id of the last one seen."""
        wanted = [t.strip().upper() for t in types if t.strip()]
        for kind in wanted:
            if kind not in ACTIVITY_TYPES:
                raise invalid(f"invalid activity type: {kind}")
        if wanted and "FILL" not in wanted:
            return []
        direction = q.get("direction", "desc") or "desc"
        if direction not in ("asc", "desc"):
            raise invalid(f"invalid direction {direction!r}, asc or desc")
        size = whole(q.get("page_size") or 100, "page_size", 1, 100)
        on = parse_date(q["date"], "date") if q.get("date") else None
        after = parse_time(q["after"], "after") if q.get("after") else None
        until = parse_time(q["until"], "until") if q.get("until") else None
        rows = []
        for a in self.activities:
            t = parse_time(a["transaction_time"], "transaction_time")
            if on and t.astimezone(NY).date() != on:
                continue
            if (after and t <= after) or (until and t >= until):
                continue
            rows.append(a)
        if direction == "desc":
            rows.reverse()
        token = q.get("page_token")
        if token:
            ids = [a["id"] for a in rows]
            if token not in ids:
                raise invalid(f"invalid page_token {token!r}")
            rows = rows[ids.index(token) + 1:]
        return rows[:size]

    # ---------------------------------------------------------------- controls

    def find(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self.by_id.get(body.get("order_id", "")) or self.by_cid.get(body.get("client_order_id", ""))
        if order is None:
            raise ApiError(404, 40410000, "order not found (give order_id or client_order_id of an existing order)")
        return order

    def control_fill(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self.find(body)
        if order["status"] not in OPEN_STATUSES:
            raise ApiError(422, 42210000, f'order is already in "{order["status"]}" state')
        found = self.trade(order["symbol"])
        price = dec(body["price"], "price") if body.get("price") is not None else found[0] if found else None
        if price is None:
            raise ApiError(422, 42210000, f"no price for {order['symbol']}: give price")
        left = self._left(order, price)
        qty = dec(body["qty"], "qty") if body.get("qty") is not None else left
        if not 0 < qty <= left:
            raise ApiError(422, 42210000, f"qty {num(qty)}: more than 0 and at most the {num(left)} left")
        if order["status"] in ("accepted", "held"):
            order["status"] = "new"
        self.execute(order, qty, price)
        return self.order_json(order)

    def control_status(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self.find(body)
        status = body.get("status")
        if status not in ("canceled", "expired", "rejected"):
            raise ApiError(400, 40010001, f"status {status!r}: canceled, expired or rejected")
        if order["status"] not in OPEN_STATUSES:
            raise ApiError(422, 42210000, f'order is already in "{order["status"]}" state')
        self.close(order, status)
        return self.order_json(order)

    def control_account(self, body: dict[str, Any]) -> dict[str, Any]:
        for key, value in body.items():
            if key == "cash":
                self.cash = dec(value, "cash")
            elif key in ACCOUNT_SETTINGS:
                self.settings[key] = value if key != "multiplier" else str(value)
            else:
                allowed = ", ".join(["cash", *ACCOUNT_SETTINGS])
                raise ApiError(400, 40010001, f"account field {key!r} is not settable; one of {allowed}")
        return self.account_json()

    def control_prices(self, body: dict[str, Any]) -> dict[str, Any]:
        t = utc_text(self.now())
        for sym, value in body.items():
            if value is None:
                self.prices.pop(sym.upper(), None)
            else:
                price = dec(value, sym)
                if price <= 0:
                    raise ApiError(400, 40010001, f"price of {sym} {value!r}: more than 0")
                self.prices[sym.upper()] = {"p": num(price) or "0", "t": t}
        self.work_all()
        return {"prices": self.prices}

    def control_fill_mode(self, body: dict[str, Any]) -> dict[str, Any]:
        symbols = body.get("symbols")
        mode = _fill_mode({k: v for k, v in body.items() if k != "symbols"})
        if symbols:
            for sym in symbols:
                self.fill_mode["symbols"][str(sym).upper()] = mode
        else:
            self.fill_mode = {"default": mode, "symbols": {}}
        return {"fill_mode": self.fill_mode}

    def state_json(self) -> dict[str, Any]:
        orders = []
        for o in self.orders:
            shown = self.order_json(o, nested=False)
            shown["post_count"] = self.post_counts.get(o["client_order_id"], 0)
            shown["held_by_fill_mode"] = bool(o["_hold"])
            orders.append(shown)
        return {
            "now": utc_text(self.now()), "cash": num(self.cash), "positions": self.positions, "orders": orders,
            "post_counts": self.post_counts, "fills": self.activities, "account": self.settings,
            "prices": self.prices, "fill_mode": self.fill_mode, "bars_page_size": self.bars_page_size,
        }
