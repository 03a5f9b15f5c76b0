"""A deterministic in-process broker for the daily dry run and replays.

The caller decides the price: :meth:`SimulatedBroker.set_market` takes the prices at
the execution instant (close, open or mid of the bar: the caller's choice, so the
broker has no opinion about bar fields) and optionally the bar volumes. Orders fill
at that price moved by ``slippage_bps`` against the trader, and pay ``fee_bps`` of
the notional plus ``fixed_fee`` once per order, with exactly the formulas of
:class:`toolkit.model.CostModel`, so a translator given the same costs
never produces a buy this broker rejects for cash.

**Partial fills.** With ``max_participation`` set, an order fills at most that
fraction of the bar's volume per market update. The remainder stays open for the
rest of the session (a later ``set_market`` in the same New York session, such as a
second execution time, fills more) and is cancelled when the session ends: at
:meth:`end_session` or automatically when ``set_market`` moves to a later session.
Carrying remainders into the next session was rejected on purpose: the next
decision re-targets from the actual position, and a leftover order would trade the
same shortfall twice.

**Rejections** (order goes new -> rejected, with ``status_reason``): no market
set, unknown symbol (no price), non-positive quantity, quantity not a multiple of
the instrument's step, a buy that needs more cash than is free in a cash account
(or a sell whose fees exceed proceeds plus cash), a sell of more than is held (net
of open sells), an order in another trading mode.

**Accounting.** Positions are FIFO lots; realised PnL is booked per lot at the
slippage-adjusted fill price, fees are kept apart, so at all times

    cash + sum(qty x mark) == initial_cash - fees + realised + unrealised

holds exactly: the broker computes at 50 significant digits and never rounds.
Values can carry more digits than the default 28-digit Decimal context keeps, so
callers checking the identity on large books should do so in a wider context
(``decimal.localcontext(prec=50)``); the ledger rounds when it stores Numeric(18, 6). :meth:`to_dict` /
:meth:`from_dict` round-trip the whole state through JSON-safe values so a crashed
dry run resumes where it stopped.

**Settled history.** Final orders (in submission order, up to the first unfinished
one) and fills never change again. :meth:`settled_counts` says how many there are,
so storage can write them once instead of on every save (``to_dict(orders_from=,
fills_from=)`` leaves them out), and the work per order and per market update
looks only at the unsettled tail: a replay of thousands of sessions stays linear.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, localcontext
from typing import Any

import pandas as pd

from toolkit.brokers.base import OrderAck, SimulatedVenue
from toolkit.errors import InvalidInput
from toolkit.model import (
    DECIMAL_PREC,
    EQUITY,
    CostModel,
    Fill,
    Instrument,
    Lot,
    Order,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    TradingMode,
    money,
    new_york_date,
    qty_str,
    sell_fifo,
    to_decimal,
    to_utc,
)

__all__ = ["SimulatedBroker"]


class SimulatedBroker(SimulatedVenue):
    """Fills market (and simple limit) orders at the price handed to :meth:`set_market`."""

    name = "simulated"

    def __init__(
        self,
        *,
        initial_cash: Decimal | str | int | float = Decimal("100000"),
        slippage_bps: Decimal | str | int | float = 0,
        fee_bps: Decimal | str | int | float = 0,
        fixed_fee: Decimal | str | int | float = 0,
        max_participation: float | None = None,
        instruments: dict[str, Instrument] | None = None,
        cash_account: bool = True,
        mode: TradingMode | str = TradingMode.OFFLINE_MOCK,
    ) -> None:
        self.initial_cash = to_decimal(initial_cash, "initial_cash")
        if self.initial_cash < 0:
            raise InvalidInput("initial_cash", str(self.initial_cash), ">= 0")
        self.costs = CostModel(
            slippage_bps=to_decimal(slippage_bps, "slippage_bps"),
            fee_bps=to_decimal(fee_bps, "fee_bps"),
            fixed_fee=to_decimal(fixed_fee, "fixed_fee"),
        )
        if max_participation is not None and not (0 < float(max_participation) <= 1):
            raise InvalidInput("max_participation", max_participation, "a fraction in (0, 1] or None")
        self.max_participation = None if max_participation is None else float(max_participation)
        self.instruments: dict[str, Instrument] = dict(instruments or {})
        self.cash_account = bool(cash_account)
        self._mode = TradingMode(mode)
        self._cash = self.initial_cash
        self._lots: dict[str, list[Lot]] = {}
        self._realised: dict[str, Decimal] = {}
        self._fees = Decimal(0)
        self._orders: dict[str, Order] = {}  # insertion order = submission order
        self._order_seq: list[Order] = []  # the same orders by submission index
        self._settled = 0  # leading orders of _order_seq that are final (see settled_counts)
        self._fills: list[Fill] = []
        self._marks: dict[str, Decimal] = {}
        self._prices: dict[str, Decimal] | None = None
        self._volumes: dict[str, float] = {}
        self._at: pd.Timestamp | None = None
        self._session: pd.Timestamp | None = None
        self._seq = 0

    # -- Broker interface ------------------------------------------------------------
    @property
    def mode(self) -> TradingMode:
        return self._mode

    def submit_order(self, order: Order) -> OrderAck:
        existing = self._orders.get(order.client_order_id)
        if existing is not None:
            return self._ack(existing, duplicate=True)
        if order.status is not OrderStatus.NEW:
            raise InvalidInput("order.status", order.status.value, "'new' for an order not yet known to the broker")
        o = order.copy()
        self._seq += 1
        broker_id = f"SIM-{self._seq:06d}"
        if o.created_at is None:
            o.created_at = self._at
        self._orders[o.client_order_id] = o
        self._order_seq.append(o)
        reason = self._reject_reason(o)
        if reason is not None:
            o.apply(OrderRejected(o.client_order_id, reason, self._at, broker_id))
        else:
            o.apply(OrderAccepted(o.client_order_id, self._at, broker_id))
            self._match(o)
        return self._ack(o, duplicate=False)

    def get_order(self, client_order_id: str) -> Order | None:
        o = self._orders.get(client_order_id)
        return None if o is None else o.copy()

    def get_orders(self, *, open_only: bool = False) -> list[Order]:
        orders = self._unsettled() if open_only else self._order_seq
        return [o.copy() for o in orders if o.is_open or not open_only]

    def get_fills(self, client_order_id: str | None = None) -> list[Fill]:
        return [f for f in self._fills if client_order_id is None or f.client_order_id == client_order_id]

    def get_positions(self) -> dict[str, Decimal]:
        return {s: q for s in sorted(self._lots) if (q := self._held(s))}

    def get_cash(self) -> Decimal:
        return self._cash

    def cancel(self, client_order_id: str) -> Order:
        o = self._orders.get(client_order_id)
        if o is None:
            raise InvalidInput("client_order_id", client_order_id, "an id known to this broker")
        if o.is_open:
            o.apply(OrderCancelled(o.client_order_id, "cancelled on request", self._at))
        return o.copy()

    # -- market --------------------------------------------------------------------
    def set_market(self, prices: dict[str, Any], volumes: dict[str, float] | None = None, *, at: Any) -> list[Fill]:
        """Set the prices (and bar volumes) at instant ``at``; fill open orders; return new fills.

        ``at`` must be tz-aware and not earlier than the previous update. Moving into
        a later New York session first ends the current one (open orders cancelled).
        """
        at_utc = to_utc(at, field="at")
        if self._at is not None and at_utc < self._at:
            raise InvalidInput(
                "at", at_utc.isoformat(), f"a time at or after the last market update {self._at.isoformat()}"
            )
        parsed: dict[str, Decimal] = {}
        for sym, p in prices.items():
            d = to_decimal(p, f"prices[{sym}]")
            if d <= 0:
                raise InvalidInput(f"prices[{sym}]", str(d), "a price > 0")
            parsed[sym] = d
        vols: dict[str, float] = {}
        for sym, v in (volumes or {}).items():
            fv = float(v)
            if not fv >= 0:
                raise InvalidInput(f"volumes[{sym}]", v, "a volume >= 0")
            vols[sym] = fv
        new_session = new_york_date(at_utc)
        if self._session is not None and new_session != self._session:
            self.end_session()
        self._at, self._session = at_utc, new_session
        self._prices, self._volumes = parsed, vols
        self._marks.update(parsed)
        before = len(self._fills)
        for o in self._unsettled():
            if o.is_open:
                self._match(o)
        return self._fills[before:]

    def end_session(self) -> list[Order]:
        """Cancel every open order (the session is over); return the cancelled orders."""
        out = []
        for o in self._unsettled():
            if o.is_open:
                reason = f"end of session: remaining {qty_str(o.remaining_quantity)} cancelled"
                o.apply(OrderCancelled(o.client_order_id, reason, self._at))
                out.append(o.copy())
        return out

    # -- accounting views ----------------------------------------------------------
    @property
    def marks(self) -> dict[str, Decimal]:
        """The last price seen per symbol (what unrealised PnL is marked at)."""
        return dict(self._marks)

    def position(self, symbol: str) -> Position:
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            lots = self._lots.get(symbol, [])
            qty = sum((lot.quantity for lot in lots), Decimal(0))
            basis = sum((lot.quantity * lot.price for lot in lots), Decimal(0))
            mark = self._marks.get(symbol)
            mv = None if mark is None else qty * mark
            return Position(symbol, qty, basis, mark, mv, None if mv is None else mv - basis,
                                self._realised.get(symbol, Decimal(0)))

    def positions_frame(self) -> pd.DataFrame:
        syms = sorted(set(self._lots) | set(self._realised))
        rows = [vars(self.position(s)) for s in syms]
        return pd.DataFrame(rows, columns=["symbol", "quantity", "cost_basis", "mark", "market_value",
                                           "unrealised_pnl", "realised_pnl"])

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        return (f"<b>SimulatedBroker</b> cash {money(self._cash)}, fees {money(self._fees)}, "
                f"{len(self._orders)} orders" + self.positions_frame().to_html(index=False))

    # -- persistence ---------------------------------------------------------------
    def settled_counts(self) -> tuple[int, int]:
        """``(orders, fills)``: how many leading entries of :meth:`to_dict`'s lists never change again.

        Orders: the final ones (filled, cancelled, rejected) before the first unfinished
        one, in submission order. Fills: all of them (a fill is never changed).
        """
        return len(self._order_seq) - len(self._unsettled()), len(self._fills)

    def history_dicts(self, kind: str, start: int, stop: int) -> list[dict[str, Any]]:
        """Entries ``start:stop`` of :meth:`to_dict`'s ``orders`` or ``fills`` list (``kind``)."""
        if kind == "orders":
            return [o.to_dict() for o in self._order_seq[start:stop]]
        if kind == "fills":
            return [f.to_dict() for f in self._fills[start:stop]]
        raise InvalidInput("kind", kind, "'orders' or 'fills'")

    def to_dict(self, *, orders_from: int = 0, fills_from: int = 0) -> dict[str, Any]:
        """The full state as JSON-safe values (Decimals as strings, times as ISO).

        ``orders_from`` / ``fills_from`` leave out that many leading orders and fills,
        for storage that keeps the settled history apart (at most :meth:`settled_counts`).
        """
        settled_orders, n_fills = self.settled_counts()
        if not 0 <= orders_from <= settled_orders:
            raise InvalidInput("orders_from", orders_from, f"0 to {settled_orders} (the settled orders)")
        if not 0 <= fills_from <= n_fills:
            raise InvalidInput("fills_from", fills_from, f"0 to {n_fills} (the fills)")
        return {
            "version": 1,
            "config": {
                "initial_cash": str(self.initial_cash),
                "slippage_bps": str(self.costs.slippage_bps),
                "fee_bps": str(self.costs.fee_bps),
                "fixed_fee": str(self.costs.fixed_fee),
                "max_participation": self.max_participation,
                "instruments": {s: {"step_size": str(i.step_size), "min_notional": str(i.min_notional),
                                    "asset_class": i.asset_class} for s, i in sorted(self.instruments.items())},
                "cash_account": self.cash_account,
                "mode": self._mode.value,
            },
            "cash": str(self._cash),
            "fees": str(self._fees),
            "lots": {s: [lot.to_dict() for lot in lots] for s, lots in sorted(self._lots.items())},
            "realised": {s: str(v) for s, v in sorted(self._realised.items())},
            "orders": [o.to_dict() for o in self._order_seq[orders_from:]],
            "fills": [f.to_dict() for f in self._fills[fills_from:]],
            "marks": {s: str(v) for s, v in sorted(self._marks.items())},
            "market": None if self._prices is None else {
                "prices": {s: str(v) for s, v in self._prices.items()},
                "volumes": dict(self._volumes),
            },
            "at": None if self._at is None else self._at.isoformat(),
            "session": None if self._session is None else self._session.date().isoformat(),
            "seq": self._seq,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SimulatedBroker:
        """Rebuild a broker saved with :meth:`to_dict`."""
        if d.get("version") != 1:
            raise InvalidInput("version", d.get("version"), "1")
        c = d["config"]
        b = cls(
            initial_cash=Decimal(c["initial_cash"]),
            slippage_bps=Decimal(c["slippage_bps"]),
            fee_bps=Decimal(c["fee_bps"]),
            fixed_fee=Decimal(c["fixed_fee"]),
            max_participation=c["max_participation"],
            instruments={s: Instrument(step_size=Decimal(i["step_size"]), min_notional=Decimal(i["min_notional"]),
                                           asset_class=i["asset_class"]) for s, i in c["instruments"].items()},
            cash_account=c["cash_account"],
            mode=c["mode"],
        )
        b._cash = Decimal(d["cash"])
        b._fees = Decimal(d["fees"])
        b._lots = {s: [Lot.from_dict(x) for x in lots] for s, lots in d["lots"].items()}
        b._realised = {s: Decimal(v) for s, v in d["realised"].items()}
        b._fills = [Fill.from_dict(f) for f in d["fills"]]
        fills_of: dict[str, list[Fill]] = defaultdict(list)
        for f in b._fills:
            fills_of[f.client_order_id].append(f)
        b._orders = {o["client_order_id"]: Order.from_dict(o, fills_of[o["client_order_id"]]) for o in d["orders"]}
        b._order_seq = list(b._orders.values())
        b._marks = {s: Decimal(v) for s, v in d["marks"].items()}
        if d["market"] is not None:
            b._prices = {s: Decimal(v) for s, v in d["market"]["prices"].items()}
            b._volumes = {s: float(v) for s, v in d["market"]["volumes"].items()}
        b._at = None if d["at"] is None else pd.Timestamp(d["at"])
        b._session = None if d["session"] is None else pd.Timestamp(d["session"])
        b._seq = int(d["seq"])
        return b

    # -- internals -----------------------------------------------------------------
    def _ack(self, o: Order, *, duplicate: bool) -> OrderAck:
        return OrderAck(
            client_order_id=o.client_order_id,
            status=o.status,
            accepted=o.status is not OrderStatus.REJECTED,
            duplicate=duplicate,
            order=o.copy(),
            reason=o.status_reason,
            broker_order_id=o.broker_order_id,
        )

    def _unsettled(self) -> list[Order]:
        """The orders after the leading run of final ones, in submission order (every open order is here)."""
        seq = self._order_seq
        while self._settled < len(seq) and seq[self._settled].is_terminal:
            self._settled += 1
        return seq[self._settled:]

    def _spec(self, symbol: str) -> Instrument:
        return self.instruments.get(symbol, EQUITY)

    def _held(self, symbol: str) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            return sum((lot.quantity for lot in self._lots.get(symbol, [])), Decimal(0))

    def _marks_for(self, marks: dict[str, Decimal] | None) -> dict[str, Decimal]:
        m = dict(self._marks)
        m.update({s: to_decimal(v, f"marks[{s}]") for s, v in (marks or {}).items()})
        for s in self._lots:
            if self._lots[s] and s not in m:
                raise InvalidInput(f"marks[{s}]", None, f"a price for held {s}")
        return m

    def _open_others(self, o: Order, side: OrderSide) -> list[Order]:
        return [x for x in self._unsettled() if x is not o and x.is_open and x.side is side]

    def _reject_reason(self, o: Order) -> str | None:
        if o.mode is not self._mode:
            return f"order mode {o.mode.value} does not match broker mode {self._mode.value}"
        if self._prices is None:
            return "no market data: call set_market before submitting"
        if o.symbol not in self._prices:
            return f"unknown symbol {o.symbol}: no price at {self._at.isoformat() if self._at else '?'}"
        if o.quantity <= 0:
            return f"quantity must be > 0, got {o.quantity}"
        spec = self._spec(o.symbol)
        if not spec.is_multiple(o.quantity):
            return f"quantity {qty_str(o.quantity)} {o.symbol} is not a multiple of step {qty_str(spec.step_size)}"
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            price = self._prices[o.symbol]
            if o.side is OrderSide.SELL:
                reserved = sum((x.remaining_quantity for x in self._open_others(o, OrderSide.SELL)
                                if x.symbol == o.symbol), Decimal(0))
                free = self._held(o.symbol) - reserved
                if o.quantity > free:
                    return f"selling {qty_str(o.quantity)} {o.symbol} but only {qty_str(free)} held (net of open sells)"
                proceeds = self.costs.sell_proceeds(o.quantity, price)
                if self.cash_account and self._cash + proceeds < 0:
                    return (f"insufficient cash: fees on selling {qty_str(o.quantity)} {o.symbol} exceed "
                            f"proceeds by {money(-proceeds)}, {money(self._cash)} free")
            elif self.cash_account:
                reserved = sum((self.costs.buy_cost(x.remaining_quantity, self._prices.get(x.symbol, price))
                                for x in self._open_others(o, OrderSide.BUY)), Decimal(0))
                need = self.costs.buy_cost(o.quantity, price)
                free = self._cash - reserved
                if need > free:
                    return (f"insufficient cash: buying {qty_str(o.quantity)} {o.symbol} needs {money(need)} "
                            f"with fees, {money(free)} free")
        return None

    def _match(self, o: Order) -> None:
        """Fill as much of open order ``o`` as the current market allows."""
        assert self._prices is not None and self._at is not None  # set together by set_market
        price = self._prices.get(o.symbol)
        if price is None:
            return
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            fill_price = self.costs.fill_price(o.side, price)
            if o.order_type is OrderType.LIMIT and o.limit_price is not None:
                crosses = fill_price <= o.limit_price if o.side is OrderSide.BUY else fill_price >= o.limit_price
                if not crosses:
                    return
            qty = o.remaining_quantity
            if self.max_participation is not None and o.symbol in self._volumes:
                cap = self._spec(o.symbol).floor(to_decimal(self.max_participation * self._volumes[o.symbol], "cap"))
                qty = min(qty, cap)
            if qty <= 0:
                return
            notional = qty * fill_price
            first = o.filled_quantity == 0
            fee = self.costs.fee(notional) if first else self.costs.variable_fee(notional)
            if o.side is OrderSide.BUY:
                if self.cash_account and notional + fee > self._cash:
                    o.apply(OrderCancelled(o.client_order_id, f"insufficient cash for the remaining "
                                           f"{qty_str(o.remaining_quantity)} {o.symbol}", self._at))
                    return
            elif qty > self._held(o.symbol):
                o.apply(OrderCancelled(o.client_order_id, f"position in {o.symbol} smaller than the remaining "
                                       f"{qty_str(qty)}", self._at))
                return
            elif self.cash_account and self._cash + notional - fee < 0:
                o.apply(OrderCancelled(o.client_order_id, f"insufficient cash for the fee on the remaining "
                                       f"{qty_str(o.remaining_quantity)} {o.symbol}", self._at))
                return
            n = sum(1 for e in o.events if isinstance(e, OrderFilled)) + 1  # this order's fills so far, plus one
            fill = Fill(
                fill_id=f"{o.client_order_id}-F{n}",
                client_order_id=o.client_order_id,
                symbol=o.symbol,
                side=o.side,
                quantity=qty,
                price=fill_price,
                fee=fee,
                timestamp=self._at,
                mode=self._mode,
            )
            o.apply(OrderFilled(fill))
            self._book(fill)

    def _book(self, fill: Fill) -> None:
        """Update cash, fees, FIFO lots and realised PnL for one fill."""
        self._fills.append(fill)
        self._fees += fill.fee
        self._cash += fill.cash_flow
        lots = self._lots.setdefault(fill.symbol, [])
        if fill.side is OrderSide.BUY:
            lots.append(Lot(fill.quantity, fill.price, fill.timestamp, fill.client_order_id))
            return
        realised = self._realised.get(fill.symbol, Decimal(0))
        self._realised[fill.symbol], _ = sell_fifo(lots, fill.quantity, fill.price, realised)
        if not lots:
            del self._lots[fill.symbol]
