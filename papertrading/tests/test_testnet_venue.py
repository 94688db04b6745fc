"""TestnetVenue against `responses` mocks: placing, cancelling, balances, sync, symbol rules, API answers, secrets.

`Exchange` below is a scriptable fake of the Binance REST endpoints on top of `responses` (unit level, no sockets):
by default it behaves like the testnet, and `post_script` / `get_script` / `delete_script` queue faults for the
next calls. The fault scenarios of the issue live in test_testnet_faults.py and reuse these fixtures.
"""

import json
import logging
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from papertrading import services
from papertrading.binance import BinanceTestnetClient, reset_clock_offsets
from papertrading.models import OrderEvent, OrderFill, PaperOrder, SymbolRule
from papertrading.venues import get_venue
from papertrading.venues.testnet import (
    NOT_CONFIGURED_MESSAGE,
    TestnetVenue,
    map_status,
    report_from_order,
)

BASE = "https://testnet.binance.vision"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
EXCHANGE_INFO = Path(__file__).resolve().parent.parent / "data" / "exchange_info.json"
ORDERS_URL = "/api/paper-trading/orders"
Status = PaperOrder.Status
# Marked at module level so the database outlives the balance check that runs after every test.
pytestmark = pytest.mark.django_db


# --- a scriptable fake exchange on `responses` ---------------------------------------------------------------
class Exchange:
    """Binance REST on `responses`: accepted orders are stored; scripts inject faults into the next calls.

    A script item is ``(accept, outcome)``: ``accept`` says whether the exchange really created/cancelled the
    order, ``outcome`` is what the client gets — an exception instance (timeout, reset), ``(status, json)``, or
    ``None`` for the normal answer.
    """

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.info = json.loads(EXCHANGE_INFO.read_text())
        self.prices = {"BTCUSDT": Decimal("68000.00"), "ETHUSDT": Decimal("3500.00"), "BNBUSDT": Decimal("600.00")}
        self.orders: dict[int, dict] = {}
        self.trades: dict[int, list[dict]] = {}
        self.balances = [
            {"asset": "BTC", "free": "1.00000000", "locked": "0.00000000"},
            {"asset": "USDT", "free": "9803.99999200", "locked": "60.00000000"},
            {"asset": "ETH", "free": "0.00000000", "locked": "0.00000000"},
        ]
        self.post_script: list[tuple[bool, object]] = []
        self.get_script: list[tuple[bool, object]] = []
        self.delete_script: list[tuple[bool, object]] = []
        self.read_failure: dict[str, object] = {}  # path -> outcome for every GET of that path
        self.next_order_id = 7000
        self.next_trade_id = 300
        routes = [
            ("GET", "/api/v3/time", self._time),
            ("GET", "/api/v3/exchangeInfo", self._exchange_info),
            ("GET", "/api/v3/ticker/price", self._ticker),
            ("GET", "/api/v3/account", self._account),
            ("POST", "/api/v3/order", self._post_order),
            ("GET", "/api/v3/order", self._get_order),
            ("DELETE", "/api/v3/order", self._delete_order),
            ("GET", "/api/v3/openOrders", self._open_orders),
            ("GET", "/api/v3/myTrades", self._my_trades),
        ]
        for method, path, handler in routes:
            rsps.add_callback(method, f"{BASE}{path}", callback=self._wrap(method, path, handler))

    # --- inspection ----------------------------------------------------------------------------------------
    def calls(self, method: str, path: str) -> list[dict[str, str]]:
        return [
            dict(parse_qsl(urlsplit(c.request.url).query))
            for c in self.rsps.calls
            if c.request.method == method and urlsplit(c.request.url).path == path
        ]

    def posts(self) -> list[dict[str, str]]:
        return self.calls("POST", "/api/v3/order")

    def created_orders(self) -> list[dict]:
        """Orders the exchange really holds (what the desk must match one to one)."""
        return list(self.orders.values())

    # --- state helpers -------------------------------------------------------------------------------------
    def add_order(
        self,
        symbol="BTCUSDT",
        side="BUY",
        type_="LIMIT",
        qty="0.00100000",
        price="60000.00000000",
        client_order_id=None,
        status="NEW",
        stop_price="0.00000000",
    ) -> dict:
        self.next_order_id += 1
        now = int(time.time() * 1000)
        order = {
            "symbol": symbol, "orderId": self.next_order_id, "orderListId": -1,
            "clientOrderId": client_order_id or f"x-{self.next_order_id}", "price": price, "origQty": qty,
            "executedQty": "0.00000000", "cummulativeQuoteQty": "0.00000000", "status": status,
            "timeInForce": "GTC", "type": type_, "side": side, "stopPrice": stop_price, "icebergQty": "0.00000000",
            "time": now, "updateTime": now, "isWorking": True, "workingTime": now,
            "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER",
        }  # fmt: skip
        self.orders[order["orderId"]] = order
        return order

    def fill(self, order_id: int, qty: str | None = None, price: str | None = None) -> None:
        """Execute (part of) an order on the exchange, recording a trade as myTrades would list it."""
        order = self.orders[order_id]
        qty_d = Decimal(qty or order["origQty"]) - (Decimal(order["executedQty"]) if qty is None else 0)
        price_d = Decimal(price or order["price"]) or self.prices[order["symbol"]]
        self.next_trade_id += 1
        self.trades.setdefault(order_id, []).append({
            "symbol": order["symbol"], "id": self.next_trade_id, "orderId": order_id, "orderListId": -1,
            "price": f"{price_d:.8f}", "qty": f"{qty_d:.8f}", "quoteQty": f"{qty_d * price_d:.8f}",
            "commission": "0.00000000", "commissionAsset": "BTC", "time": int(time.time() * 1000),
            "isBuyer": order["side"] == "BUY", "isMaker": True, "isBestMatch": True,
        })  # fmt: skip
        executed = Decimal(order["executedQty"]) + qty_d
        order["executedQty"] = f"{executed:.8f}"
        order["cummulativeQuoteQty"] = f"{Decimal(order['cummulativeQuoteQty']) + qty_d * price_d:.8f}"
        order["status"] = "FILLED" if executed >= Decimal(order["origQty"]) else "PARTIALLY_FILLED"

    def find(self, params: dict[str, str]) -> dict | None:
        if "orderId" in params:
            return self.orders.get(int(params["orderId"]))
        matches = [o for o in self.orders.values() if o["clientOrderId"] == params.get("origClientOrderId")]
        return matches[-1] if matches else None

    # --- routing -------------------------------------------------------------------------------------------
    def _wrap(self, method, path, handler):
        def callback(request):
            params = dict(parse_qsl(urlsplit(request.url).query))
            if method == "GET" and path in self.read_failure:
                return self._outcome(self.read_failure[path])
            status, body, headers = handler(params)
            return (
                status,
                {"Content-Type": "application/json", "X-MBX-USED-WEIGHT-1M": "10", **headers},
                json.dumps(body),
            )

        return callback

    @staticmethod
    def _outcome(outcome):
        if isinstance(outcome, BaseException):
            raise outcome
        status, body, *rest = outcome
        headers = rest[0] if rest else {}
        return status, {"Content-Type": "application/json", **headers}, json.dumps(body)

    def _scripted(self, script, params, accept_action):
        accept, outcome = script.pop(0) if script else (True, None)
        result = accept_action(params) if accept else None
        if outcome is None:
            if result is None:
                raise AssertionError("a script item that does not accept needs an outcome")
            return 200, result, {}
        status, headers, body = self._outcome(outcome)
        return status, json.loads(body), headers

    def _time(self, params):
        return 200, {"serverTime": int(time.time() * 1000)}, {}

    def _exchange_info(self, params):
        wanted = [params["symbol"]] if "symbol" in params else None
        symbols = [s for s in self.info["symbols"] if wanted is None or s["symbol"] in wanted]
        if wanted and not symbols:
            return 400, {"code": -1121, "msg": "Invalid symbol."}, {}
        return 200, {**self.info, "symbols": symbols}, {}

    def _ticker(self, params):
        symbol = params.get("symbol")
        if symbol not in self.prices:
            return 400, {"code": -1121, "msg": "Invalid symbol."}, {}
        return 200, {"symbol": symbol, "price": f"{self.prices[symbol]:.8f}"}, {}

    def _account(self, params):
        return 200, {"accountType": "SPOT", "canTrade": True, "balances": self.balances}, {}

    def _accept_order(self, params):
        order = self.add_order(
            symbol=params["symbol"], side=params["side"], type_=params["type"],
            qty=f"{Decimal(params['quantity']):.8f}",
            price=f"{Decimal(params.get('price', '0')):.8f}", client_order_id=params["newClientOrderId"],
            stop_price=f"{Decimal(params.get('stopPrice', '0')):.8f}",
        )  # fmt: skip
        if params["type"] == "MARKET":
            self.fill(order["orderId"], price=f"{self.prices[params['symbol']]:.8f}")
        body = {k: v for k, v in order.items() if k not in ("time", "updateTime", "isWorking")}
        body["transactTime"] = order["time"]
        if params.get("newOrderRespType", "FULL") == "FULL":
            body["fills"] = [
                {"price": t["price"], "qty": t["qty"], "commission": t["commission"],
                 "commissionAsset": t["commissionAsset"], "tradeId": t["id"]}
                for t in self.trades.get(order["orderId"], [])
            ]  # fmt: skip
        return body

    def _post_order(self, params):
        return self._scripted(self.post_script, params, self._accept_order)

    def _get_order(self, params):
        _, outcome = self.get_script.pop(0) if self.get_script else (True, None)
        if outcome is not None:
            status, headers, body = self._outcome(outcome)
            return status, json.loads(body), headers
        order = self.find(params)
        if order is None:
            return 400, {"code": -2013, "msg": "Order does not exist."}, {}
        return 200, order, {}

    def _cancel(self, params):
        order = self.find(params)
        if order is None or order["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return None
        order["status"] = "CANCELED"
        return {**order, "origClientOrderId": order["clientOrderId"], "clientOrderId": "cancel-1"}

    def _delete_order(self, params):
        accept, outcome = self.delete_script.pop(0) if self.delete_script else (True, None)
        result = self._cancel(params) if accept else None
        if outcome is not None:
            status, headers, body = self._outcome(outcome)
            return status, json.loads(body), headers
        if result is None:
            return 400, {"code": -2011, "msg": "Unknown order sent."}, {}
        return 200, result, {}

    def _open_orders(self, params):
        symbol = params.get("symbol")
        return 200, [o for o in self.orders.values() if o["symbol"] == symbol and o["status"] in (
            "NEW", "PARTIALLY_FILLED")], {}  # fmt: skip

    def _my_trades(self, params):
        return 200, self.trades.get(int(params["orderId"]), []), {}


# --- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture(name="testnet")
def testnet_fixture(settings, monkeypatch):
    """Testnet mode with credentials and no real back-off sleeps (each test has its own cache: root conftest)."""
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = API_KEY
    settings.BINANCE_TESTNET_API_SECRET = SECRET
    settings.BINANCE_TESTNET_BASE_URL = BASE
    settings.BINANCE_RECV_WINDOW_MS = 5000
    monkeypatch.setattr(BinanceTestnetClient, "retry_backoff_seconds", (0.0, 0.0))
    reset_clock_offsets()
    yield settings
    reset_clock_offsets()


@pytest.fixture(name="exchange")
def exchange_fixture(testnet, db):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield Exchange(rsps)


def limit_payload(**overrides) -> dict:
    payload = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT", "quantity": "0.001", "price": "60000",
               "time_in_force": "GTC"}  # fmt: skip
    return {**payload, **overrides}


def market_payload(**overrides) -> dict:
    return {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.002", **overrides}


def place(api, payload: dict):
    return api.post(ORDERS_URL, payload, format="json")


def age(order: PaperOrder, seconds: float = 30) -> None:
    """Pretend the order was written and last touched `seconds` ago (the recvWindow has passed)."""
    from datetime import timedelta

    from django.utils import timezone

    past = timezone.now() - timedelta(seconds=seconds)
    PaperOrder.objects.filter(pk=order.pk).update(created_at=past, updated_at=past)
    OrderEvent.objects.filter(order_id=order.pk).update(created_at=past)


# --- mapping ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "binance, executed, ours",
    [
        ("NEW", "0", Status.PENDING),
        ("PENDING_NEW", "0", Status.PENDING),
        ("PARTIALLY_FILLED", "0.5", Status.PARTIALLY_FILLED),
        ("PENDING_CANCEL", "0.5", Status.PARTIALLY_FILLED),
        ("FILLED", "1", Status.FILLED),
        ("CANCELED", "0.3", Status.CANCELLED),
        ("EXPIRED", "0", Status.EXPIRED),
        ("EXPIRED_IN_MATCH", "0", Status.EXPIRED),
        ("REJECTED", "0", Status.REJECTED),
    ],
)
def test_binance_statuses_map_onto_ours(binance, executed, ours):
    assert map_status(binance, Decimal(executed)) == ours


def test_full_response_maps_to_report_with_fills_trade_ids_and_zero_commission():
    data = {
        "symbol": "BTCUSDT", "orderId": 5012, "status": "FILLED", "executedQty": "0.00200000",
        "cummulativeQuoteQty": "136.00000800",
        "fills": [
            {"price": "68000.00000000", "qty": "0.00120000", "commission": "0.00000000", "commissionAsset": "BTC",
             "tradeId": 1204},
            {"price": "68000.01000000", "qty": "0.00080000", "commission": "0.00000080", "commissionAsset": "BTC",
             "tradeId": 1205},
        ],
    }  # fmt: skip
    report = report_from_order(data)
    assert report.status == Status.FILLED
    assert report.exchange_order_id == 5012
    assert report.executed_quantity == Decimal("0.002")
    assert report.cumulative_quote_quantity == Decimal("136.00000800")
    assert [f.trade_id for f in report.fills] == ["1204", "1205"]
    assert report.fills[0].commission == Decimal("0")
    assert all(isinstance(f.price, Decimal) for f in report.fills)


def test_get_venue_in_testnet_mode_is_the_testnet_venue(testnet):
    venue = get_venue()
    assert isinstance(venue, TestnetVenue)
    assert venue.name == "testnet"


# --- placing through the API -------------------------------------------------------------------------------------
def test_place_limit_answers_201_with_the_exchange_order_id(api, exchange):
    response = place(api, limit_payload(client_order_id="my-order-1"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["venue"] == "testnet"
    assert body["binance_order_id"] == exchange.created_orders()[0]["orderId"]
    [post] = exchange.posts()
    assert post["newClientOrderId"] == "my-order-1"
    assert post["type"] == "LIMIT" and post["timeInForce"] == "GTC" and post["price"] == "60000"
    assert [e["to_status"] for e in body["events"]] == ["UNKNOWN", "PENDING"]


def test_place_market_records_inline_fills_with_trade_ids(api, exchange):
    response = place(api, market_payload())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "FILLED"
    assert Decimal(body["executed_quantity"]) == Decimal("0.002")
    assert [f["trade_id"] for f in body["fills"]] == ["301"]
    assert Decimal(body["fills"][0]["commission"]) == 0
    assert "timeInForce" not in exchange.posts()[0] and "price" not in exchange.posts()[0]


def test_stop_loss_sends_stop_price_and_no_limit_price(api, exchange):
    response = place(api, {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "0.001",
                           "stop_price": "62000"})  # fmt: skip

    assert response.status_code == 201, response.content
    [post] = exchange.posts()
    assert post["stopPrice"] == "62000" and "price" not in post and "timeInForce" not in post
    assert post["newOrderRespType"] == "RESULT"


def test_engine_rejection_answers_400_with_the_exchange_code_and_message(api, exchange):
    exchange.post_script.append(
        (False, (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}))
    )

    response = place(api, limit_payload())

    assert response.status_code == 400
    assert response.json()["code"] == -2010
    assert response.json()["detail"] == "Account has insufficient balance for requested action."
    order = PaperOrder.objects.get()
    assert order.status == Status.REJECTED and order.reject_code == -2010
    assert len(exchange.posts()) == 1


def test_repeated_client_order_id_returns_the_existing_order_without_a_second_post(api, exchange):
    first = place(api, limit_payload(client_order_id="agent-42"))
    again = place(api, limit_payload(client_order_id="agent-42"))

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(exchange.posts()) == 1


def test_testnet_filters_drive_validation_before_anything_is_written(api, exchange):
    btc = next(s for s in exchange.info["symbols"] if s["symbol"] == "BTCUSDT")
    next(f for f in btc["filters"] if f["filterType"] == "PRICE_FILTER")["tickSize"] = "0.10000000"

    response = place(api, limit_payload(price="60000.05"))

    assert response.status_code == 400
    assert "price" in response.json()
    assert SymbolRule.objects.get(symbol="BTCUSDT").tick_size == Decimal("0.1")
    assert not PaperOrder.objects.exists() and exchange.posts() == []


def test_symbol_rules_are_fetched_once_and_then_cached(api, exchange):
    place(api, limit_payload())
    place(api, limit_payload())

    assert len(exchange.calls("GET", "/api/v3/exchangeInfo")) == 1
    # The ticker is cached for a few seconds too.
    assert len(exchange.calls("GET", "/api/v3/ticker/price")) == 1


def test_symbol_the_testnet_does_not_list_is_a_validation_error(api, exchange):
    exchange.info["symbols"] = [s for s in exchange.info["symbols"] if s["symbol"] != "SOLUSDT"]

    response = place(api, limit_payload(symbol="SOLUSDT", price="100", quantity="1"))

    assert response.status_code == 400
    assert "symbol" in response.json()
    assert exchange.posts() == []


def test_exchange_unreachable_before_anything_answers_503_and_writes_nothing(api, exchange):
    refused = requests.ConnectionError("Connection refused")
    exchange.read_failure["/api/v3/exchangeInfo"] = refused
    exchange.read_failure["/api/v3/ticker/price"] = refused

    response = place(api, limit_payload())

    assert response.status_code == 503
    assert "cannot be reached" in response.json()["detail"]
    assert not PaperOrder.objects.exists() and exchange.posts() == []


def test_viewer_cannot_place_and_nothing_reaches_the_exchange(viewer_api, exchange):
    response = place(viewer_api, limit_payload())

    assert response.status_code == 403
    assert len(exchange.rsps.calls) == 0


# --- cancel -----------------------------------------------------------------------------------------------------
def test_cancel_a_working_order(api, exchange):
    order_id = place(api, limit_payload()).json()["id"]

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "CANCELLED"
    [delete] = exchange.calls("DELETE", "/api/v3/order")
    assert delete["orderId"] == str(PaperOrder.objects.get().binance_order_id)


def test_cancel_of_an_order_that_filled_meanwhile_records_the_fill_and_answers_409(api, exchange):
    order_id = place(api, limit_payload()).json()["id"]
    exchange.fill(exchange.created_orders()[0]["orderId"])

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 409
    assert "FILLED" in response.json()["detail"]
    order = PaperOrder.objects.get()
    assert order.status == Status.FILLED
    assert order.executed_quantity == Decimal("0.001")
    assert list(order.fills.values_list("trade_id", flat=True)) == ["301"]
    assert order.events.last().to_status == Status.FILLED


def test_cancel_whose_answer_is_lost_requeries_and_reports_the_real_state(api, exchange):
    order_id = place(api, limit_payload()).json()["id"]
    exchange.delete_script.append((True, requests.ReadTimeout()))

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    assert len(exchange.calls("DELETE", "/api/v3/order")) == 1


def test_cancel_whose_answer_is_lost_while_still_working_is_503(api, exchange):
    order_id = place(api, limit_payload()).json()["id"]
    exchange.delete_script.append((False, requests.ReadTimeout()))

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 503
    assert PaperOrder.objects.get().status == Status.PENDING


def test_cancel_of_a_finished_order_is_409_without_an_exchange_call(api, exchange):
    order_id = place(api, market_payload()).json()["id"]

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 409
    assert exchange.calls("DELETE", "/api/v3/order") == []


# --- account ----------------------------------------------------------------------------------------------------
def test_account_lists_non_zero_testnet_balances(api, exchange):
    response = api.get("/api/paper-trading/account")

    assert response.status_code == 200
    body = response.json()
    assert body["venue"] == "testnet"
    assert [b["asset"] for b in body["balances"]] == ["BTC", "USDT"]
    assert Decimal(body["balances"][1]["locked"]) == Decimal("60")
    assert exchange.calls("GET", "/api/v3/account")[0]["omitZeroBalances"] == "true"


# --- sync -------------------------------------------------------------------------------------------------------
def test_sync_upserts_partial_fills_final_states_and_touches_only_testnet_orders(api, exchange, settings):
    ids = [place(api, limit_payload()).json()["id"] for _ in range(3)]
    eth = place(api, limit_payload(symbol="ETHUSDT", price="3000", quantity="0.01")).json()["id"]
    partial, filled, expired = (PaperOrder.objects.get(pk=pk).binance_order_id for pk in ids)
    exchange.fill(partial, qty="0.0004")
    exchange.fill(filled)
    exchange.orders[expired]["status"] = "EXPIRED"
    settings.PAPER_TRADING_MODE = "simulation"
    sim = services.place_order(symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Decimal("0.01"),
                               price=Decimal("60000"), time_in_force="GTC").order  # fmt: skip
    settings.PAPER_TRADING_MODE = "testnet"

    response = api.post(f"{ORDERS_URL}/sync")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["venue"] == "testnet"
    assert body["changed"] == {"partially_filled": 1, "filled": 1, "expired": 1}
    assert (body["orders_checked"], body["symbols_checked"]) == (4, 2)
    # One openOrders per symbol; GET only for the two that left the list; trades only where something executed.
    assert sorted(c["symbol"] for c in exchange.calls("GET", "/api/v3/openOrders")) == ["BTCUSDT", "ETHUSDT"]
    assert len(exchange.calls("GET", "/api/v3/order")) == 2
    assert len(exchange.calls("GET", "/api/v3/myTrades")) == 2
    assert body["request_weight"] == 2 * 6 + 2 * 4 + 2 * 5
    states = {pk: PaperOrder.objects.get(pk=pk) for pk in ids}
    assert states[ids[0]].status == Status.PARTIALLY_FILLED
    assert states[ids[0]].executed_quantity == Decimal("0.0004")
    assert states[ids[1]].status == Status.FILLED and states[ids[1]].fills.count() == 1
    assert states[ids[2]].status == Status.EXPIRED
    assert PaperOrder.objects.get(pk=eth).status == Status.PENDING
    assert PaperOrder.objects.get(pk=sim.pk).last_synced_at is None
    assert all(o.last_synced_at is not None for o in states.values())
    assert OrderEvent.objects.filter(order_id=ids[1], to_status=Status.FILLED, source="api").exists()


def test_sync_twice_is_idempotent(api, exchange):
    pk = place(api, limit_payload()).json()["id"]
    exchange.fill(PaperOrder.objects.get(pk=pk).binance_order_id, qty="0.0004")

    first = services.sync_orders()
    second = services.sync_orders()

    assert first.changed == {"partially_filled": 1}
    assert second.changed == {}
    assert second.request_weight == 6
    assert OrderFill.objects.filter(order_id=pk).count() == 1


def test_sync_imports_orders_placed_elsewhere_as_external(api, exchange):
    place(api, limit_payload())
    external = exchange.add_order(side="SELL", price="80000.00000000", client_order_id="web_abc123")
    exchange.fill(external["orderId"], qty="0.0002")

    report = services.sync_orders()

    assert report.changed == {"imported": 1}
    imported = PaperOrder.objects.get(is_external=True)
    assert imported.client_order_id == "web_abc123"
    assert imported.binance_order_id == external["orderId"]
    assert imported.venue == "testnet" and imported.placed_by is None
    assert imported.status == Status.PARTIALLY_FILLED and imported.fills.count() == 1
    assert imported.events.get().detail.startswith("Imported from the testnet")
    assert services.sync_orders().changed == {}


def test_sync_does_not_override_a_cancel_that_landed_during_the_network_call(api, exchange):
    pk = place(api, limit_payload()).json()["id"]
    exchange.fill(PaperOrder.objects.get(pk=pk).binance_order_id, qty="0.0004")
    original = exchange._open_orders

    def open_orders_while_user_cancels(params):
        # The user's cancel commits while sync waits for the exchange.
        PaperOrder.objects.filter(pk=pk).update(status=Status.CANCELLED)
        return original(params)

    exchange.rsps.remove(responses.GET, f"{BASE}/api/v3/openOrders")
    exchange.rsps.add_callback(
        responses.GET,
        f"{BASE}/api/v3/openOrders",
        callback=exchange._wrap("GET", "/api/v3/openOrders", open_orders_while_user_cancels),
    )

    report = services.sync_orders()

    assert report.changed == {}
    order = PaperOrder.objects.get(pk=pk)
    assert order.status == Status.CANCELLED and order.fills.count() == 0


def test_sync_with_nothing_open_only_asks_the_exchange_for_its_time(api, exchange):
    # A sync proves the exchange answers even when no order needs checking: health relies on it (weight 1).
    report = services.sync_orders()

    assert report.changed == {} and report.request_weight == 1
    assert [call.request.path_url for call in exchange.rsps.calls] == ["/api/v3/time"]


# --- credentials and secrets --------------------------------------------------------------------------------------
def test_every_entry_point_without_credentials_is_503_with_a_clear_message(api, testnet, db):
    testnet.BINANCE_TESTNET_API_KEY = ""
    testnet.BINANCE_TESTNET_API_SECRET = ""
    working = PaperOrder.objects.create(symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity="0.001",
                                        price="60000", time_in_force="GTC", status=Status.PENDING,
                                        venue="testnet", client_order_id="pt-x", binance_order_id=1)  # fmt: skip

    with responses.RequestsMock() as rsps:
        answers = [
            place(api, limit_payload()),
            api.post(f"{ORDERS_URL}/sync"),
            api.get("/api/paper-trading/account"),
            api.delete(f"{ORDERS_URL}/{working.pk}"),
        ]
        assert len(rsps.calls) == 0

    for response in answers:
        assert response.status_code == 503
        assert response.json()["detail"] == NOT_CONFIGURED_MESSAGE
        assert "BINANCE_TESTNET_API_KEY" in response.json()["detail"]
    assert PaperOrder.objects.count() == 1


def test_logs_of_place_and_sync_carry_no_key_secret_or_signature(api, exchange, caplog):
    caplog.set_level(logging.DEBUG)

    pk = place(api, limit_payload()).json()["id"]
    exchange.fill(PaperOrder.objects.get(pk=pk).binance_order_id)
    exchange.post_script.append((True, requests.ReadTimeout("read timed out")))
    place(api, market_payload())
    services.sync_orders()

    signatures = [
        dict(parse_qsl(urlsplit(c.request.url).query))["signature"]
        for c in exchange.rsps.calls
        if "signature=" in c.request.url
    ]
    assert len(signatures) >= 5
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    logged += "".join(e.detail for e in OrderEvent.objects.all())
    assert "POST /api/v3/order" in logged
    for forbidden in [API_KEY, SECRET, *signatures, "signature="]:
        assert forbidden not in logged


def test_the_venue_never_exposes_the_secret():
    venue = TestnetVenue(BinanceTestnetClient(api_key=API_KEY, api_secret=SECRET, base_url=BASE))
    text = repr(venue.client) + repr(vars(venue))
    assert API_KEY not in repr(venue.client)
    assert SECRET not in repr(venue.client)
    assert "vmPU…Eh8A" in text
