"""A small Binance Spot (Testnet) stand-in for end-to-end tests: real HTTP on 127.0.0.1, signatures checked.

It speaks the REST endpoints the desk uses (time, exchangeInfo, ticker/price, account, order POST/GET/DELETE,
openOrders, allOrders, myTrades) and the public market data the gateway relays (ticker/24hr, ticker/bookTicker,
depth, klines: a book a tick wide around the price, candles and 24-hour figures from the prices set and the
trades) with Binance's shapes, codes and messages, keeps orders and balances in memory and matches simply: MARKET
fills at the symbol's price, a marketable LIMIT fills at that price, anything else rests until
:meth:`StandIn.set_price` reaches it. Every SIGNED request must carry the configured API key and an HMAC-SHA256
signature over the exact query string (+ body) sent, and a timestamp inside its recvWindow.

Order lists: POST orderList/oco, orderList/oto and orderList/otoco, DELETE orderList, GET orderList and
openOrderList, with Binance's answer shapes. An OCO's legs hold the funds once; the first leg reached (filled, or a
stop triggered) expires the other; an OTO / OTOCO's pending legs are PENDING_NEW until the working order has
filled, then NEW (holding their funds, an OTOCO's pair once, as an OCO); cancelling a leg cancels its list.

Test hooks: ``set_price`` (matches resting orders), ``fill(order_id)``, ``add_external_order(...)``,
``reset()`` (the monthly testnet wipe), ``requests`` (method, path, params of every call), ``weight_used``,
``before[(method, path)]`` (called with the params just before such a request is handled, under the lock: to
make the market move while a request is on its way), ``fail_after[(method, path)]`` (an HTTP status to answer
instead, once, after the request was carried out: an answer lost on its way back).

    with StandIn(api_key=KEY, secret=SECRET) as standin:
        settings.BINANCE_TESTNET_BASE_URL = standin.base_url

or, for testnet mode on it with credentials and timeouts set, ``standin_in_testnet_mode(settings, monkeypatch, ...)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

EXCHANGE_INFO = Path(__file__).resolve().parent.parent / "data" / "exchange_info.json"
DEFAULT_PRICES = {
    "BTCUSDT": "68000.00",
    "ETHUSDT": "3500.00",
    "BNBUSDT": "600.00",
    "SOLUSDT": "150.00",
    "XRPUSDT": "0.5000",
}
DEFAULT_BALANCES = {"BTC": "1", "ETH": "10", "BNB": "10", "SOL": "100", "XRP": "10000", "USDT": "100000"}
EIGHT = Decimal("0.00000001")

WEIGHTS = {
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("POST", "/api/v3/orderList/oco"): 1,
    ("POST", "/api/v3/orderList/oto"): 1,
    ("POST", "/api/v3/orderList/otoco"): 1,
    ("GET", "/api/v3/orderList"): 4,
    ("DELETE", "/api/v3/orderList"): 1,
    ("GET", "/api/v3/openOrderList"): 6,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/klines"): 2,
}
# Kline intervals in milliseconds (Binance's weeks open on Monday; 1970-01-01 was a Thursday).
INTERVALS_MS = {
    name: seconds * 1000
    for name, seconds in {
        "1s": 1,
        "1m": 60,
        "3m": 180,
        "5m": 300,
        "15m": 900,
        "30m": 1800,
        "1h": 3600,
        "2h": 7200,
        "4h": 14400,
        "6h": 21600,
        "8h": 28800,
        "12h": 43200,
        "1d": 86400,
        "3d": 259200,
        "1w": 604800,
    }.items()
}
WEEK_OFFSET_MS = 4 * 86400 * 1000
DEPTH_LEVELS = 50  # the stand-in's book is this deep on each side
SIGNED = {
    "/api/v3/account",
    "/api/v3/order",
    "/api/v3/openOrders",
    "/api/v3/allOrders",
    "/api/v3/myTrades",
    "/api/v3/orderList/oco",
    "/api/v3/orderList/oto",
    "/api/v3/orderList/otoco",
    "/api/v3/orderList",
    "/api/v3/openOrderList",
}
# What `fail_after` answers: the request was carried out, but the exchange cannot say so (REFERENCE.md §7.1).
LOST_ANSWER = {
    "code": -1006,
    "msg": "An unexpected response was received from the message bus. Execution status unknown.",
}
LIMIT_TYPES = ("LIMIT", "LIMIT_MAKER")
# A stop reached becomes a MARKET order (filled at the market) or, for the _LIMIT kinds, fills at its limit.
STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
# The leg types of an OCO (REFERENCE.md §4): one of each group.
OCO_LIMIT_LEGS = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
OCO_STOP_LEGS = ("STOP_LOSS", "STOP_LOSS_LIMIT")


class ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def fmt(value: Decimal) -> str:
    return str(value.quantize(EIGHT))


@dataclass
class Order:
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal
    stop_price: Decimal
    time_in_force: str
    created: int
    status: str = "NEW"
    executed: Decimal = Decimal("0")
    quote: Decimal = Decimal("0")
    updated: int = 0
    locked_asset: str = ""
    locked: Decimal = Decimal("0")
    fills: list[dict] = field(default_factory=list)
    order_list_id: int = -1

    @property
    def is_open(self) -> bool:
        """On the book (a pending leg of a list waiting for its working order is not)."""
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def is_on_book_type(self) -> bool:
        """A type that works as soon as it is placed (a stop works only once triggered)."""
        return self.type in ("LIMIT", "LIMIT_MAKER", "MARKET")

    @property
    def is_live(self) -> bool:
        """Not finished: on the book, or a pending leg waiting for its list's working order."""
        return self.is_open or self.status == "PENDING_NEW"

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": self.order_list_id,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.quantity),
            "executedQty": fmt(self.executed),
            "cummulativeQuoteQty": fmt(self.quote),
            "status": self.status,
            "timeInForce": self.time_in_force or "GTC",
            "type": self.type,
            "side": self.side,
            "stopPrice": fmt(self.stop_price),
            "icebergQty": fmt(Decimal("0")),
            "time": self.created,
            "updateTime": self.updated or self.created,
            "isWorking": self.is_on_book_type and self.status != "PENDING_NEW",
            "workingTime": self.created if self.is_on_book_type and self.status != "PENDING_NEW" else -1,
            "origQuoteOrderQty": fmt(Decimal("0")),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }


@dataclass
class OrderListRecord:
    """An order list: its legs by role. `pair` is the OCO pair (an OCO's two legs, an OTOCO's pending pair),
    `working` the working order of an OTO / OTOCO, `pending` what waits for it."""

    order_list_id: int
    contingency_type: str
    list_client_order_id: str
    symbol: str
    created: int
    order_ids: list[int]
    pair: list[int] = field(default_factory=list)
    working: int | None = None
    pending: list[int] = field(default_factory=list)
    list_status_type: str = "EXEC_STARTED"
    list_order_status: str = "EXECUTING"

    def as_dict(self, orders: dict[int, Order]) -> dict[str, Any]:
        return {
            "orderListId": self.order_list_id,
            "contingencyType": self.contingency_type,
            "listStatusType": self.list_status_type,
            "listOrderStatus": self.list_order_status,
            "listClientOrderId": self.list_client_order_id,
            "transactionTime": self.created,
            "symbol": self.symbol,
            "orders": [
                {"symbol": self.symbol, "orderId": pk, "clientOrderId": orders[pk].client_order_id}
                for pk in self.order_ids
            ],
        }


class StandIn:
    """The in-memory exchange plus its HTTP server (start/stop, or use as a context manager)."""

    def __init__(
        self,
        *,
        api_key: str,
        secret: str,
        prices: dict[str, str] | None = None,
        balances: dict[str, str] | None = None,
        clock_offset_ms: int = 0,
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.clock_offset_ms = clock_offset_ms
        self.info = json.loads(EXCHANGE_INFO.read_text())
        self.symbols = {s["symbol"]: s for s in self.info["symbols"]}
        self.prices = {k: Decimal(v) for k, v in (prices or DEFAULT_PRICES).items()}
        # (time ms, symbol, price) of every price the market had: the candles and 24-hour figures come from it.
        self.price_log: list[tuple[int, str, Decimal]] = [(self.now_ms(), s, p) for s, p in self.prices.items()]
        self.starting_balances = {k: Decimal(v) for k, v in (balances or DEFAULT_BALANCES).items()}
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.refused: list[tuple[str, int]] = []
        self.before: dict[tuple[str, str], Any] = {}
        self.fail_after: dict[tuple[str, str], int] = {}
        self.weight_used = 0
        self._minute, self._minute_weight = 0, 0
        self._wipe()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> StandIn:
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="binance-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- test hooks --------------------------------------------------------------------------------------------
    def _wipe(self) -> None:
        self.orders: dict[int, Order] = {}
        self.order_lists: dict[int, OrderListRecord] = {}
        self.next_order_list_id = 0
        self.trades: list[dict] = []
        self.balances = {asset: [amount, Decimal("0")] for asset, amount in self.starting_balances.items()}
        self.next_order_id = 1000
        self.next_trade_id = 500

    def reset(self) -> None:
        """The monthly testnet wipe: every order and trade disappears, balances return to the defaults."""
        with self.lock:
            self._wipe()

    def add_weight(self, weight: int) -> int:
        """Count a request's weight; returns the weight used in the current minute (the X-MBX-USED-WEIGHT-1M)."""
        with self.lock:
            minute = int(time.time() // 60)
            if minute != self._minute:
                self._minute, self._minute_weight = minute, 0
            self._minute_weight += weight
            self.weight_used += weight
            return self._minute_weight

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def calls(self, method: str, path: str) -> list[dict[str, str]]:
        return [params for m, p, params in self.requests if m == method and p == path]

    def set_price(self, symbol: str, price: str | Decimal) -> None:
        """Move the market; resting orders it reaches fill at their limit (LIMIT) or the market (stops)."""
        with self.lock:
            self.prices[symbol] = Decimal(str(price))
            self.price_log.append((self.now_ms(), symbol, self.prices[symbol]))
            for order in list(self.orders.values()):
                # An order a moment ago expired by its OCO leg's fill is skipped: is_open is read again.
                if order.symbol == symbol and order.is_open and self._reached(order):
                    self._execute(order, self._fill_price(order), maker=True)

    def fill(self, order_id: int) -> None:
        """Fill a resting order completely at its limit price (or the market), as if the market came to it."""
        with self.lock:
            order = self.orders[order_id]
            self._execute(order, self._fill_price(order), maker=True)

    def _fill_price(self, order: Order) -> Decimal:
        """A LIMIT / LIMIT_MAKER and a triggered *_LIMIT stop fill at their limit; other stops at the market."""
        if order.type in (*LIMIT_TYPES, "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
            return order.price
        return self.prices[order.symbol]

    def leg_ids(self, order_list_id: int) -> list[int]:
        """The exchange ids of a list's legs, in the order the list was placed with."""
        return list(self.order_lists[order_list_id].order_ids)

    def add_external_order(
        self, symbol: str, side: str, quantity: str, price: str, client_order_id: str = "web_8f3k2LqP0"
    ) -> int:
        """An order placed on the same account from elsewhere (e.g. the testnet web page): a resting LIMIT."""
        with self.lock:
            order = self._new_order(
                symbol, side, "LIMIT", Decimal(quantity), Decimal(price), Decimal("0"), "GTC", client_order_id
            )
            self._lock_funds(order)
            return order.order_id

    # --- matching ------------------------------------------------------------------------------------------------
    def _assets(self, symbol: str) -> tuple[str, str]:
        info = self.symbols[symbol]
        return info["baseAsset"], info["quoteAsset"]

    def _reached(self, order: Order) -> bool:
        market = self.prices[order.symbol]
        if order.type in ("LIMIT", "LIMIT_MAKER"):
            return market <= order.price if order.side == "BUY" else market >= order.price
        if order.type in ("STOP_LOSS", "STOP_LOSS_LIMIT"):
            return market >= order.stop_price if order.side == "BUY" else market <= order.stop_price
        if order.type in ("TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
            return market <= order.stop_price if order.side == "BUY" else market >= order.stop_price
        return True

    def _new_order(self, symbol, side, type_, quantity, price, stop_price, tif, client_order_id) -> Order:
        self.next_order_id += 1
        now = self.now_ms()
        order = Order(symbol, self.next_order_id, client_order_id, side, type_, quantity, price, stop_price, tif, now)
        self.orders[order.order_id] = order
        return order

    def _needs(self, order: Order) -> tuple[str, Decimal]:
        """What a resting order holds: the base quantity for a SELL; for a BUY its quantity at its limit price (or
        its stop price; or the market, for a pending MARKET)."""
        base, quote = self._assets(order.symbol)
        if order.side == "SELL":
            return base, order.quantity
        reference = order.price if order.type in (*LIMIT_TYPES, "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") else None
        reference = reference or order.stop_price or self.prices[order.symbol]
        return quote, order.quantity * reference

    def _lock_funds(self, order: Order) -> None:
        asset, amount = self._needs(order)
        balance = self.balances.setdefault(asset, [Decimal("0"), Decimal("0")])
        balance[0] -= amount
        balance[1] += amount
        order.locked_asset, order.locked = asset, amount

    def _release(self, order: Order) -> None:
        if order.locked:
            balance = self.balances[order.locked_asset]
            balance[0] += order.locked
            balance[1] -= order.locked
            order.locked = Decimal("0")

    def _execute(self, order: Order, price: Decimal, *, maker: bool) -> None:
        order_list = self.order_lists.get(order.order_list_id)
        if order_list is not None and order.order_id in order_list.pair:
            # The OCO pair holds its funds once, on one leg: whichever leg is reached pays from them.
            for pk in order_list.pair:
                self._release(self.orders[pk])
        self._release(order)
        base, quote_asset = self._assets(order.symbol)
        quantity = order.quantity - order.executed
        quote = (quantity * price).quantize(EIGHT, rounding=ROUND_DOWN)
        sign = 1 if order.side == "BUY" else -1
        self.balances.setdefault(base, [Decimal("0"), Decimal("0")])[0] += sign * quantity
        self.balances.setdefault(quote_asset, [Decimal("0"), Decimal("0")])[0] -= sign * quote
        self.next_trade_id += 1
        now = self.now_ms()
        # Zero commission, as the testnet charges by default.
        commission_asset = base if order.side == "BUY" else quote_asset
        fill = {
            "price": fmt(price),
            "qty": fmt(quantity),
            "commission": fmt(Decimal("0")),
            "commissionAsset": commission_asset,
            "tradeId": self.next_trade_id,
        }
        order.fills.append(fill)
        self.trades.append(
            {
                "symbol": order.symbol,
                "id": self.next_trade_id,
                "orderId": order.order_id,
                "orderListId": order.order_list_id,
                "price": fmt(price),
                "qty": fmt(quantity),
                "quoteQty": fmt(quote),
                "commission": fmt(Decimal("0")),
                "commissionAsset": commission_asset,
                "time": now,
                "isBuyer": order.side == "BUY",
                "isMaker": maker,
                "isBestMatch": True,
            }
        )
        order.executed += quantity
        order.quote += quote
        order.status = "FILLED"
        order.updated = now
        if order_list is not None:
            self._list_moved(order_list, order)

    # --- order lists -------------------------------------------------------------------------------------------
    def _list_moved(self, order_list: OrderListRecord, order: Order) -> None:
        """One leg filled: an OCO's other leg expires; a filled working order puts its pending legs to work."""
        now = self.now_ms()
        if order.order_id in order_list.pair:
            for pk in order_list.pair:
                other = self.orders[pk]
                if other is not order and other.is_live:
                    self._release(other)
                    other.status, other.updated = "EXPIRED", now
        if order.order_id == order_list.working and order.status == "FILLED":
            pending = [self.orders[pk] for pk in order_list.pending]
            for leg in pending:
                leg.status, leg.updated = "NEW", now
            if order_list.pair:
                holder = max(pending, key=lambda leg: self._needs(leg)[1])
                self._lock_funds(holder)
            else:
                for leg in pending:
                    self._lock_funds(leg)
            for leg in pending:
                if leg.is_open and self._reached(leg):
                    self._execute(leg, self._fill_price(leg), maker=False)
        self._settle_list(order_list)

    def _settle_list(self, order_list: OrderListRecord) -> None:
        if not any(self.orders[pk].is_live for pk in order_list.order_ids):
            order_list.list_status_type = order_list.list_order_status = "ALL_DONE"

    def _leg(self, params: dict[str, str], prefix: str, side: str, quantity: Decimal) -> dict[str, Any]:
        """One leg's terms from its prefixed parameters (``aboveType``, ``pendingBelowStopPrice``, ...)."""
        type_ = params.get(f"{prefix}Type", "")
        if not type_:
            raise ApiError(
                400, -1102, f"Mandatory parameter '{prefix}Type' was not sent, was empty/null, or malformed."
            )
        tif = params.get(f"{prefix}TimeInForce", "")
        if type_ in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and not tif:
            raise ApiError(
                400, -1102, f"Mandatory parameter '{prefix}TimeInForce' was not sent, was empty/null, or malformed."
            )
        if type_ not in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and tif:
            raise ApiError(400, -1106, f"Parameter '{prefix}TimeInForce' sent when not required.")
        if type_ in STOP_TYPES and not params.get(f"{prefix}StopPrice"):
            raise ApiError(
                400, -1102, f"Mandatory parameter '{prefix}StopPrice' was not sent, was empty/null, or malformed."
            )
        client_order_id = params.get(f"{prefix}ClientOrderId") or f"auto{self.next_order_id}{prefix}"
        if any(o.client_order_id == client_order_id and o.is_live for o in self.orders.values()):
            raise ApiError(400, -2010, "Duplicate order sent.")
        return dict(
            side=side,
            type_=type_,
            quantity=quantity,
            price=Decimal(params.get(f"{prefix}Price", "0")),
            stop_price=Decimal(params.get(f"{prefix}StopPrice", "0")),
            tif=tif,
            client_order_id=client_order_id,
        )

    def _check_oco(self, symbol: str, above: dict[str, Any], below: dict[str, Any], reference: Decimal) -> None:
        """The OCO's rules (REFERENCE.md §4): one limit-side leg and one stop leg, the above leg's trigger above
        the reference price and the below leg's below it."""
        types = {above["type_"], below["type_"]}
        if not (types & set(OCO_LIMIT_LEGS) and types & set(OCO_STOP_LEGS)):
            raise ApiError(400, -1128, "Combination of optional parameters invalid.")

        def trigger(leg: dict[str, Any]) -> Decimal:
            return leg["price"] if leg["type_"] == "LIMIT_MAKER" else leg["stop_price"]

        if not trigger(above) > reference > trigger(below):
            raise ApiError(400, -2010, "The relationship of the prices for the orders is not correct.")

    def _require(self, params: dict[str, str], *names: str) -> None:
        for name in names:
            if not params.get(name):
                raise ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")

    @staticmethod
    def _probe(symbol: str, leg: dict[str, Any]) -> Order:
        """A leg's terms as an order not placed (to ask what it needs, or whether the market reaches it)."""
        return Order(symbol, 0, "", leg["side"], leg["type_"], leg["quantity"], leg["price"], leg["stop_price"],
                     leg["tif"], 0)  # fmt: skip

    def place_list(self, kind: str, params: dict[str, str]) -> dict[str, Any]:
        """POST orderList/oco, /oto or /otoco: every leg accepted together, or none (the answer is an error)."""
        symbol = params.get("symbol", "")
        if symbol not in self.symbols:
            raise ApiError(400, -1121, "Invalid symbol.")
        list_client_order_id = params.get("listClientOrderId") or f"list{self.next_order_list_id + 1}"
        if any(
            lst.list_client_order_id == list_client_order_id and lst.list_order_status == "EXECUTING"
            for lst in self.order_lists.values()
        ):
            raise ApiError(400, -2010, "Duplicate order sent.")
        working, pair, pending = None, [], []
        if kind == "oco":
            self._require(params, "side", "quantity")
            side, quantity = params["side"], Decimal(params["quantity"])
            pair = [self._leg(params, "above", side, quantity), self._leg(params, "below", side, quantity)]
            self._check_oco(symbol, *pair, self.prices[symbol])
        else:
            self._require(params, "workingSide", "workingQuantity", "workingPrice", "pendingSide")
            working = self._leg(params, "working", params["workingSide"], Decimal(params["workingQuantity"]))
            if working["type_"] not in LIMIT_TYPES:
                raise ApiError(400, -1128, "Combination of optional parameters invalid.")
            side = params["pendingSide"]
            quantity = Decimal(params.get("pendingQuantity") or params["workingQuantity"])
            if kind == "oto":
                pending = [self._leg(params, "pending", side, quantity)]
            else:
                pair = [
                    self._leg(params, "pendingAbove", side, quantity),
                    self._leg(params, "pendingBelow", side, quantity),
                ]
                self._check_oco(symbol, *pair, working["price"])
                pending = pair
        # What the list holds at once: the working order's funds, or an OCO's needier leg's.
        asset, needed = self._needs(self._probe(symbol, working)) if working else max(
            (self._needs(self._probe(symbol, leg)) for leg in pair), key=lambda need: need[1]
        )  # fmt: skip
        if self._free(asset) < needed:
            raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
        makers = [working] if working else pair
        if any(leg["type_"] == "LIMIT_MAKER" and self._reached(self._probe(symbol, leg)) for leg in makers):
            raise ApiError(400, -2010, "Order would immediately match and take.")
        self.next_order_list_id += 1
        order_list = OrderListRecord(
            self.next_order_list_id, "OCO" if kind == "oco" else "OTO", list_client_order_id, symbol, self.now_ms(), []
        )
        self.order_lists[order_list.order_list_id] = order_list

        def create(leg: dict[str, Any], status: str) -> Order:
            order = self._new_order(symbol, leg["side"], leg["type_"], leg["quantity"], leg["price"],
                                    leg["stop_price"], leg["tif"], leg["client_order_id"])  # fmt: skip
            order.order_list_id, order.status = order_list.order_list_id, status
            order_list.order_ids.append(order.order_id)
            return order

        if working is None:
            legs = [create(leg, "NEW") for leg in pair]
            order_list.pair = [leg.order_id for leg in legs]
            self._lock_funds(max(legs, key=lambda leg: self._needs(leg)[1]))
        else:
            work = create(working, "NEW")
            order_list.working = work.order_id
            order_list.pending = [create(leg, "PENDING_NEW").order_id for leg in pending]
            order_list.pair = list(order_list.pending) if kind == "otoco" else []
            self._lock_funds(work)
            if work.type == "LIMIT" and self._reached(work):
                self._execute(work, self.prices[symbol], maker=False)
        return self._list_answer(order_list, params.get("newOrderRespType", "FULL"))

    def _list_answer(self, order_list: OrderListRecord, resp_type: str) -> dict[str, Any]:
        reports = []
        for pk in order_list.order_ids:
            order = self.orders[pk]
            body = {**order.as_dict(), "transactTime": order_list.created}
            for key in ("time", "updateTime", "isWorking", "icebergQty", "origQuoteOrderQty"):
                body.pop(key, None)
            if order.type not in STOP_TYPES:
                body.pop("stopPrice")
            if resp_type == "FULL":
                body["fills"] = list(order.fills)
            reports.append(body)
        answer = order_list.as_dict(self.orders)
        if resp_type == "ACK":
            return answer
        return {**answer, "orderReports": reports}

    def find_list(self, params: dict[str, str], *, name: str) -> OrderListRecord:
        if params.get("orderListId"):
            order_list = self.order_lists.get(int(params["orderListId"]))
        elif params.get(name):
            matches = [lst for lst in self.order_lists.values() if lst.list_client_order_id == params[name]]
            order_list = matches[-1] if matches else None
        else:
            raise ApiError(400, -1102, f"Param '{name}' or 'orderListId' must be sent, but both were empty/null!")
        if order_list is None:
            raise ApiError(400, -2011, "Order list does not exist.")
        return order_list

    def cancel_list(self, params: dict[str, str], *, order: Order | None = None) -> dict[str, Any]:
        """DELETE orderList (or a leg's DELETE order): every leg not finished is cancelled; -2011 when none is."""
        if order is None:
            order_list = self.find_list(params, name="listClientOrderId")
            if order_list.symbol != params.get("symbol"):
                raise ApiError(400, -2011, "Order list does not exist.")
        else:
            order_list = self.order_lists[order.order_list_id]
        if order_list.list_order_status != "EXECUTING":
            raise ApiError(400, -2011, "Unknown order sent.")
        now = self.now_ms()
        reports = []
        for pk in order_list.order_ids:
            leg = self.orders[pk]
            if not leg.is_live:
                continue
            self._release(leg)
            leg.status, leg.updated = "CANCELED", now
            body = leg.as_dict()
            for key in ("time", "updateTime", "isWorking", "workingTime", "icebergQty", "origQuoteOrderQty"):
                body.pop(key, None)
            reports.append(
                {**body, "origClientOrderId": leg.client_order_id, "clientOrderId": f"cancel{pk}", "transactTime": now}
            )
        order_list.list_status_type = order_list.list_order_status = "ALL_DONE"
        return {**order_list.as_dict(self.orders), "transactionTime": now, "orderReports": reports}

    def _free(self, asset: str) -> Decimal:
        return self.balances.get(asset, [Decimal("0"), Decimal("0")])[0]

    def place(self, params: dict[str, str]) -> dict[str, Any]:
        symbol = params.get("symbol", "")
        if symbol not in self.symbols:
            raise ApiError(400, -1121, "Invalid symbol.")
        for name in ("side", "type", "quantity"):
            if not params.get(name):
                raise ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        side, type_ = params["side"], params["type"]
        tif = params.get("timeInForce", "")
        if type_ == "LIMIT" and not tif:
            raise ApiError(400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        if type_ != "LIMIT" and tif:
            raise ApiError(400, -1106, "Parameter 'timeInForce' sent when not required.")
        client_order_id = params.get("newClientOrderId") or f"auto{self.next_order_id}"
        if any(o.client_order_id == client_order_id and o.is_open for o in self.orders.values()):
            raise ApiError(400, -2010, "Duplicate order sent.")
        quantity = Decimal(params["quantity"])
        price = Decimal(params.get("price", "0"))
        stop_price = Decimal(params.get("stopPrice", "0"))
        market = self.prices[symbol]
        base, quote = self._assets(symbol)
        needed_asset, needed = (base, quantity) if side == "SELL" else (quote, quantity * (price or market))
        if self._free(needed_asset) < needed:
            raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
        if type_ in ("STOP_LOSS", "TAKE_PROFIT"):
            probe = Order(symbol, 0, "", side, type_, quantity, price, stop_price, "", 0)
            if self._reached(probe):
                raise ApiError(400, -2010, "Order would trigger immediately.")
        if type_ == "LIMIT_MAKER" and self._reached(
            Order(symbol, 0, "", side, type_, quantity, price, stop_price, "", 0)
        ):
            raise ApiError(400, -2010, "Order would immediately match and take.")
        order = self._new_order(symbol, side, type_, quantity, price, stop_price, tif, client_order_id)
        if type_ == "MARKET" or type_ == "LIMIT" and self._reached(order):
            self._execute(order, market, maker=False)
        elif type_ == "LIMIT" and tif in ("IOC", "FOK"):
            order.status = "EXPIRED"
        else:
            self._lock_funds(order)
        body = {**order.as_dict(), "transactTime": order.updated or order.created}
        for key in ("time", "updateTime", "isWorking", "stopPrice", "icebergQty"):
            body.pop(key, None)
        resp_type = params.get("newOrderRespType", "FULL")
        if resp_type == "ACK":
            return {k: body[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")}
        if resp_type == "FULL":
            body["fills"] = list(order.fills)
        return body

    def find(self, params: dict[str, str]) -> Order:
        symbol = params.get("symbol", "")
        if "orderId" in params:
            order = self.orders.get(int(params["orderId"]))
        elif "origClientOrderId" in params:
            matches = [o for o in self.orders.values() if o.client_order_id == params["origClientOrderId"]]
            order = matches[-1] if matches else None
        else:
            raise ApiError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order is None or order.symbol != symbol:
            raise ApiError(400, -2013, "Order does not exist.")
        return order

    def cancel(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            order = self.find(params)
        except ApiError as exc:
            raise ApiError(400, -2011, "Unknown order sent.") from exc
        if not order.is_live:
            raise ApiError(400, -2011, "Unknown order sent.")
        if order.order_list_id != -1:
            # Cancelling a leg cancels its whole list; the answer is the leg's own cancel report.
            answer = self.cancel_list(params, order=order)
            return next(r for r in answer["orderReports"] if r["orderId"] == order.order_id)
        self._release(order)
        order.status = "CANCELED"
        order.updated = self.now_ms()
        body = order.as_dict()
        for key in ("time", "updateTime", "isWorking", "workingTime", "stopPrice", "icebergQty"):
            body.pop(key, None)
        return {
            **body,
            "origClientOrderId": order.client_order_id,
            "clientOrderId": f"cancel{order.order_id}",
            "transactTime": order.updated,
        }

    # --- request handling -------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, body: str, api_key: str | None) -> tuple[int, Any, int]:
        """→ (HTTP status, JSON body, weight)."""
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(dict(parse_qsl(body, keep_blank_values=True)))
        with self.lock:
            self.requests.append((method, path, params))
            weight = self._weight(method, path, params)
            try:
                if path in SIGNED:
                    self._check_signature(query, body, params, api_key)
                if (hook := self.before.get((method, path))) is not None:
                    hook(params)
                answer = self._route(method, path, params)
                if (status := self.fail_after.pop((method, path), None)) is not None:
                    return status, LOST_ANSWER, weight
                return 200, answer, 0 if method in ("POST", "DELETE") else weight
            except ApiError as exc:
                self.refused.append((path, exc.code))
                status = exc.status
                return status, {"code": exc.code, "msg": exc.msg}, weight

    @staticmethod
    def _weight(method: str, path: str, params: dict[str, str]) -> int:
        if path == "/api/v3/ticker/24hr":
            count = 1 if "symbol" in params else len(json.loads(params.get("symbols") or "[]"))
            return 80 if not count or count > 100 else 40 if count > 20 else 2
        if path == "/api/v3/ticker/bookTicker":
            return 2 if "symbol" in params else 4
        if path == "/api/v3/depth":
            limit = int(params.get("limit") or 100)
            return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
        if path == "/api/v3/ticker/price":
            return 2 if "symbol" in params else 4
        if path == "/api/v3/openOrders":
            return 6 if "symbol" in params else 80
        if path == "/api/v3/myTrades":
            return 5 if "orderId" in params else 20
        return WEIGHTS.get((method, path), 1)

    def _check_signature(self, query: str, body: str, params: dict[str, str], api_key: str | None) -> None:
        if api_key != self.api_key:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        total = query + body
        marker = "&signature=" if "&signature=" in total else ("signature=" if total.startswith("signature=") else "")
        if not marker:
            raise ApiError(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        payload, _, signature = total.rpartition(marker)
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        try:
            timestamp = int(params["timestamp"])
        except (KeyError, ValueError):
            raise ApiError(
                400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            ) from None
        recv_window = int(Decimal(params.get("recvWindow", "5000")))
        now = self.now_ms()
        if timestamp >= now + 1000:
            raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - timestamp > recv_window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def _route(self, method: str, path: str, params: dict[str, str]) -> Any:
        if (method, path) == ("GET", "/api/v3/time"):
            return {"serverTime": self.now_ms()}
        if (method, path) == ("GET", "/api/v3/exchangeInfo"):
            wanted = [params["symbol"]] if "symbol" in params else json.loads(params.get("symbols", "null") or "null")
            if wanted:
                missing = [s for s in wanted if s not in self.symbols]
                if missing:
                    raise ApiError(400, -1121, "Invalid symbol.")
                return {**self.info, "serverTime": self.now_ms(), "symbols": [self.symbols[s] for s in wanted]}
            return {**self.info, "serverTime": self.now_ms()}
        if (method, path) == ("GET", "/api/v3/ticker/price"):
            if "symbol" in params:
                if params["symbol"] not in self.prices:
                    raise ApiError(400, -1121, "Invalid symbol.")
                return {"symbol": params["symbol"], "price": fmt(self.prices[params["symbol"]])}
            return [{"symbol": s, "price": fmt(p)} for s, p in sorted(self.prices.items())]
        if (method, path) == ("GET", "/api/v3/account"):
            omit = params.get("omitZeroBalances") == "true"
            balances = [
                {"asset": a, "free": fmt(free), "locked": fmt(locked)}
                for a, (free, locked) in sorted(self.balances.items())
                if not omit or free or locked
            ]
            return {
                "makerCommission": 0,
                "takerCommission": 0,
                "canTrade": True,
                "accountType": "SPOT",
                "updateTime": self.now_ms(),
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": 1,
            }
        if path == "/api/v3/order":
            if method == "POST":
                return self.place(params)
            if method == "GET":
                return self.find(params).as_dict()
            if method == "DELETE":
                return self.cancel(params)
        if method == "POST" and path.startswith("/api/v3/orderList/"):
            kind = path.rsplit("/", 1)[1]
            if kind not in ("oco", "oto", "otoco"):
                raise ApiError(404, -1000, f"No such endpoint {method} {path} in the stand-in.")
            return self.place_list(kind, params)
        if path == "/api/v3/orderList":
            if method == "GET":
                return self.find_list(params, name="origClientOrderId").as_dict(self.orders)
            if method == "DELETE":
                return self.cancel_list(params)
        if (method, path) == ("GET", "/api/v3/openOrderList"):
            return [
                lst.as_dict(self.orders) for lst in self.order_lists.values() if lst.list_order_status == "EXECUTING"
            ]
        if (method, path) == ("GET", "/api/v3/openOrders"):
            symbol = params.get("symbol")
            return [o.as_dict() for o in self.orders.values() if o.is_live and (not symbol or o.symbol == symbol)]
        if (method, path) == ("GET", "/api/v3/allOrders"):
            return [o.as_dict() for o in self.orders.values() if o.symbol == params.get("symbol")]
        if (method, path) == ("GET", "/api/v3/myTrades"):
            trades = [t for t in self.trades if t["symbol"] == params.get("symbol")]
            if "orderId" in params:
                trades = [t for t in trades if t["orderId"] == int(params["orderId"])]
            return trades
        if method == "GET" and path in MARKET_DATA:
            return MARKET_DATA[path](self, params)
        raise ApiError(404, -1000, f"No such endpoint {method} {path} in the stand-in.")

    # --- public market data ------------------------------------------------------------------------------------
    def _tick(self, symbol: str) -> Decimal:
        filters = {f["filterType"]: f for f in self.symbols[symbol]["filters"]}
        return Decimal(filters["PRICE_FILTER"]["tickSize"])

    def _requested(self, params: dict[str, str]) -> tuple[list[str], bool]:
        """The symbols asked for (``symbol``, a ``symbols`` JSON array, or every priced one) and whether one was."""
        if "symbol" in params:
            wanted, single = [params["symbol"]], True
        elif params.get("symbols"):
            try:
                wanted = json.loads(params["symbols"])
            except ValueError:
                raise ApiError(400, -1100, "Illegal characters found in parameter 'symbols'.") from None
            single = False
        else:
            return sorted(self.prices), False
        if any(name not in self.prices or name not in self.symbols for name in wanted):
            raise ApiError(400, -1121, "Invalid symbol.")
        return wanted, single

    def _book_levels(self, symbol: str, limit: int) -> tuple[list[list[str]], list[list[str]]]:
        """A book around the price: the best bid at it, the best ask one tick above, then a tick apart, with
        1, 2, 3, … units of the base asset at each level."""
        price, tick = self.prices[symbol], self._tick(symbol)
        depth = min(limit, DEPTH_LEVELS)
        bids = [[fmt(price - i * tick), fmt(Decimal(i + 1))] for i in range(depth) if price - i * tick > 0]
        asks = [[fmt(price + (i + 1) * tick), fmt(Decimal(i + 1))] for i in range(depth)]
        return bids, asks

    def book_ticker(self, params: dict[str, str]) -> Any:
        rows = []
        names, single = self._requested(params)
        for name in names:
            bids, asks = self._book_levels(name, 1)
            rows.append(
                {
                    "symbol": name,
                    "bidPrice": bids[0][0],
                    "bidQty": bids[0][1],
                    "askPrice": asks[0][0],
                    "askQty": asks[0][1],
                }
            )
        return rows[0] if single else rows

    def depth(self, params: dict[str, str]) -> dict[str, Any]:
        symbol = params.get("symbol", "")
        if not symbol:
            raise ApiError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol not in self.prices:
            raise ApiError(400, -1121, "Invalid symbol.")
        limit = int(params.get("limit") or 100)
        bids, asks = self._book_levels(symbol, min(limit, 5000))
        return {"lastUpdateId": len(self.price_log) + len(self.trades), "bids": bids, "asks": asks}

    def _prices_between(self, symbol: str, since: int, until: int) -> tuple[Decimal | None, list[tuple[int, Decimal]]]:
        """The price just before ``since`` (if any) and every price set from ``since`` to ``until``."""
        before, inside = None, []
        for at, name, price in self.price_log:
            if name != symbol or at > until:
                continue
            if at < since:
                before = price
            else:
                inside.append((at, price))
        return before, inside

    def _trades_between(self, symbol: str, since: int, until: int) -> list[dict]:
        return [t for t in self.trades if t["symbol"] == symbol and since <= t["time"] <= until]

    def klines(self, params: dict[str, str]) -> list[list[Any]]:
        symbol, interval = params.get("symbol", ""), params.get("interval", "")
        for name in ("symbol", "interval"):
            if not params.get(name):
                raise ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        if symbol not in self.prices:
            raise ApiError(400, -1121, "Invalid symbol.")
        if interval not in INTERVALS_MS:
            raise ApiError(400, -1120, "Invalid interval.")
        step = INTERVALS_MS[interval]
        offset = WEEK_OFFSET_MS if interval == "1w" else 0

        def bar_open(ms: int) -> int:
            return (ms - offset) // step * step + offset

        limit = min(int(params.get("limit") or 500), 1000)
        now = self.now_ms()
        end = min(int(params["endTime"]), now) if "endTime" in params else now
        last = bar_open(end)
        first = bar_open(int(params["startTime"])) if "startTime" in params else last - (limit - 1) * step
        close, observed = self._prices_between(symbol, first, last + step - 1)
        rows = []
        for opened in list(range(first, last + 1, step))[:limit]:
            prices = [price for at, price in observed if opened <= at < opened + step]
            if not prices and close is None:
                continue  # before the market had a price
            bar = prices or [close]
            trades = self._trades_between(symbol, opened, opened + step - 1)
            taker_buys = [t for t in trades if t["isBuyer"] and not t["isMaker"]]
            rows.append(
                [
                    opened,
                    fmt(bar[0]),
                    fmt(max(bar)),
                    fmt(min(bar)),
                    fmt(bar[-1]),
                    fmt(sum((Decimal(t["qty"]) for t in trades), Decimal("0"))),
                    opened + step - 1,
                    fmt(sum((Decimal(t["quoteQty"]) for t in trades), Decimal("0"))),
                    len(trades),
                    fmt(sum((Decimal(t["qty"]) for t in taker_buys), Decimal("0"))),
                    fmt(sum((Decimal(t["quoteQty"]) for t in taker_buys), Decimal("0"))),
                    "0",
                ]
            )
            close = bar[-1]
        return rows

    def ticker_24hr(self, params: dict[str, str]) -> Any:
        now = self.now_ms()
        since = now - 86400 * 1000
        rows = []
        names, single = self._requested(params)
        for name in names:
            before, observed = self._prices_between(name, since, now)
            prices = [price for _, price in observed] or [self.prices[name]]
            opening = before if before is not None else prices[0]
            last = self.prices[name]
            trades = self._trades_between(name, since, now)
            volume = sum((Decimal(t["qty"]) for t in trades), Decimal("0"))
            quote_volume = sum((Decimal(t["quoteQty"]) for t in trades), Decimal("0"))
            bids, asks = self._book_levels(name, 1)
            change = last - opening
            rows.append(
                {
                    "symbol": name,
                    "priceChange": fmt(change),
                    "priceChangePercent": f"{change / opening * 100 if opening else Decimal('0'):.3f}",
                    "weightedAvgPrice": fmt(quote_volume / volume if volume else last),
                    "prevClosePrice": fmt(opening),
                    "lastPrice": fmt(last),
                    "lastQty": trades[-1]["qty"] if trades else fmt(Decimal("0")),
                    "bidPrice": bids[0][0],
                    "bidQty": bids[0][1],
                    "askPrice": asks[0][0],
                    "askQty": asks[0][1],
                    "openPrice": fmt(opening),
                    "highPrice": fmt(max([opening, *prices])),
                    "lowPrice": fmt(min([opening, *prices])),
                    "volume": fmt(volume),
                    "quoteVolume": fmt(quote_volume),
                    "openTime": since,
                    "closeTime": now,
                    "firstId": trades[0]["id"] if trades else -1,
                    "lastId": trades[-1]["id"] if trades else -1,
                    "count": len(trades),
                }
            )
        return rows[0] if single else rows


MARKET_DATA = {
    "/api/v3/ticker/24hr": StandIn.ticker_24hr,
    "/api/v3/ticker/bookTicker": StandIn.book_ticker,
    "/api/v3/depth": StandIn.depth,
    "/api/v3/klines": StandIn.klines,
}


class _Handler(BaseHTTPRequestHandler):
    standin: StandIn
    server_version = "binance-standin/1.0"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        status, payload, weight = self.standin.handle(
            self.command, parts.path, parts.query, body, self.headers.get("X-MBX-APIKEY")
        )
        used = self.standin.add_weight(weight)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-MBX-USED-WEIGHT-1M", str(used))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr access log
        return


@contextmanager
def standin_in_testnet_mode(settings, monkeypatch, *, api_key: str, secret: str, **options: Any) -> Iterator[StandIn]:
    """Testnet mode with these credentials, pointed at a fresh stand-in on 127.0.0.1 (``options`` go to StandIn).

    The measured server-clock offsets are forgotten before and after, so no test inherits another's.
    """
    from papertrading.binance import reset_clock_offsets

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = api_key
    settings.BINANCE_TESTNET_API_SECRET = secret
    settings.BINANCE_RECV_WINDOW_MS = 5000
    settings.BINANCE_CONNECT_TIMEOUT = 2
    settings.BINANCE_READ_TIMEOUT = 5
    with StandIn(api_key=api_key, secret=secret, **options) as server:
        settings.BINANCE_TESTNET_BASE_URL = server.base_url
        reset_clock_offsets()
        yield server
    reset_clock_offsets()
