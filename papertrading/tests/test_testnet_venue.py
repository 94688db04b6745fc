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
from django.db import transaction

from papertrading import selectors, services
from papertrading.accounts import AccountInputError, external_account
from papertrading.binance import BinanceTestnetClient, reset_clock_offsets
from papertrading.models import (
    Account,
    BalanceAdjustment,
    OrderEvent,
    OrderFill,
    PaperOrder,
    SimulatedBalance,
    SymbolRule,
)
from papertrading.tests.support import balances
from papertrading.venues import get_venue
from papertrading.venues.base import ExecutionReport
from papertrading.venues.testnet import (
    NOT_CONFIGURED_MESSAGE,
    TestnetVenue,
    map_status,
    report_from_order,
)
from papertrading.venues.testnet.funds import apply_with_funds

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


# What the trader's testnet desk is given of the fake exchange's account (BTC 1, USDT 9863.999992 in all).
DESK_ALLOCATION = {"USDT": "5000", "BTC": "0.5"}


def open_testnet_account(owner, name: str = "Testnet desk", *, is_default: bool = True, **balances: str):
    """An account of `owner` on the testnet, allocated `balances` (DESK_ALLOCATION by default)."""
    return services.open_account(
        owner=owner, name=name, venue="testnet", starting_balances=balances or DESK_ALLOCATION, is_default=is_default
    )


@pytest.fixture(name="desk")
def desk_fixture(exchange, trader):
    """The trader's default account, opened on the testnet with an allocation the fake exchange holds: where the
    `api` client's orders go. The exchange calls made to open it are forgotten, so a test sees only its own."""
    account = open_testnet_account(trader)
    exchange.rsps.calls.reset()
    return account


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
def test_place_limit_answers_201_with_the_exchange_order_id(api, desk, exchange):
    response = place(api, limit_payload(client_order_id="my-order-1"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["venue"] == "testnet"
    assert body["binance_order_id"] == exchange.created_orders()[0]["orderId"]
    assert body["client_order_id"] == "my-order-1"
    # The exchange knows the order by its desk-wide id: another account may use "my-order-1" too.
    [post] = exchange.posts()
    assert post["newClientOrderId"] == PaperOrder.objects.get().venue_order_ref != "my-order-1"
    assert post["type"] == "LIMIT" and post["timeInForce"] == "GTC" and post["price"] == "60000"
    assert [e["to_status"] for e in body["events"]] == ["UNKNOWN", "PENDING"]


def test_place_market_records_inline_fills_with_trade_ids(api, desk, exchange):
    response = place(api, market_payload())

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "FILLED"
    assert Decimal(body["executed_quantity"]) == Decimal("0.002")
    assert [f["trade_id"] for f in body["fills"]] == ["301"]
    assert Decimal(body["fills"][0]["commission"]) == 0
    assert "timeInForce" not in exchange.posts()[0] and "price" not in exchange.posts()[0]


def test_stop_loss_sends_stop_price_and_no_limit_price(api, desk, exchange):
    response = place(api, {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "0.001",
                           "stop_price": "62000"})  # fmt: skip

    assert response.status_code == 201, response.content
    [post] = exchange.posts()
    assert post["stopPrice"] == "62000" and "price" not in post and "timeInForce" not in post
    assert post["newOrderRespType"] == "RESULT"


def test_engine_rejection_answers_400_with_the_exchange_code_and_message(api, desk, exchange):
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
    # What the order reserved before it was sent is free again.
    assert balances(desk) == {"BTC": (Decimal("0.5"), Decimal("0")), "USDT": (Decimal("5000"), Decimal("0"))}


def test_repeated_client_order_id_returns_the_existing_order_without_a_second_post(api, desk, exchange):
    first = place(api, limit_payload(client_order_id="agent-42"))
    again = place(api, limit_payload(client_order_id="agent-42"))

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(exchange.posts()) == 1


def test_testnet_filters_drive_validation_before_anything_is_written(api, desk, exchange):
    btc = next(s for s in exchange.info["symbols"] if s["symbol"] == "BTCUSDT")
    next(f for f in btc["filters"] if f["filterType"] == "PRICE_FILTER")["tickSize"] = "0.10000000"

    response = place(api, limit_payload(price="60000.05"))

    assert response.status_code == 400
    assert "price" in response.json()
    assert SymbolRule.objects.get(symbol="BTCUSDT").tick_size == Decimal("0.1")
    assert not PaperOrder.objects.exists() and exchange.posts() == []


def test_symbol_rules_are_fetched_once_and_then_cached(api, desk, exchange):
    place(api, limit_payload())
    place(api, limit_payload())

    assert len(exchange.calls("GET", "/api/v3/exchangeInfo")) == 1
    # The ticker is cached for a few seconds too.
    assert len(exchange.calls("GET", "/api/v3/ticker/price")) == 1


def test_symbol_the_testnet_does_not_list_is_a_validation_error(api, desk, exchange):
    exchange.info["symbols"] = [s for s in exchange.info["symbols"] if s["symbol"] != "SOLUSDT"]

    response = place(api, limit_payload(symbol="SOLUSDT", price="100", quantity="1"))

    assert response.status_code == 400
    assert "symbol" in response.json()
    assert exchange.posts() == []


def test_exchange_unreachable_before_anything_answers_503_and_writes_nothing(api, desk, exchange):
    refused = requests.ConnectionError("Connection refused")
    exchange.read_failure["/api/v3/exchangeInfo"] = refused
    exchange.read_failure["/api/v3/ticker/price"] = refused

    response = place(api, limit_payload())

    assert response.status_code == 503
    assert "cannot be reached" in response.json()["detail"]
    assert not PaperOrder.objects.exists() and exchange.posts() == []


def test_viewer_cannot_place_and_nothing_reaches_the_exchange(viewer_api, viewer, exchange):
    account = open_testnet_account(viewer, "Viewer's desk")
    exchange.rsps.calls.reset()

    response = place(viewer_api, limit_payload())

    assert response.status_code == 403
    assert len(exchange.rsps.calls) == 0
    assert not PaperOrder.objects.exists()
    assert balances(account) == {"BTC": (Decimal("0.5"), Decimal("0")), "USDT": (Decimal("5000"), Decimal("0"))}


# --- cancel -----------------------------------------------------------------------------------------------------
def test_cancel_a_working_order(api, desk, exchange):
    order_id = place(api, limit_payload()).json()["id"]

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "CANCELLED"
    [delete] = exchange.calls("DELETE", "/api/v3/order")
    assert delete["orderId"] == str(PaperOrder.objects.get().binance_order_id)


def test_cancel_of_an_order_that_filled_meanwhile_records_the_fill_and_answers_409(api, desk, exchange):
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


def test_cancel_whose_answer_is_lost_requeries_and_reports_the_real_state(api, desk, exchange):
    order_id = place(api, limit_payload()).json()["id"]
    exchange.delete_script.append((True, requests.ReadTimeout()))

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    assert len(exchange.calls("DELETE", "/api/v3/order")) == 1


def test_cancel_whose_answer_is_lost_while_still_working_is_503(api, desk, exchange):
    order_id = place(api, limit_payload()).json()["id"]
    exchange.delete_script.append((False, requests.ReadTimeout()))

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 503
    assert PaperOrder.objects.get().status == Status.PENDING


def test_cancel_of_a_finished_order_is_409_without_an_exchange_call(api, desk, exchange):
    order_id = place(api, market_payload()).json()["id"]

    response = api.delete(f"{ORDERS_URL}/{order_id}")

    assert response.status_code == 409
    assert exchange.calls("DELETE", "/api/v3/order") == []


# --- account ----------------------------------------------------------------------------------------------------
def test_account_answers_the_desk_accounts_own_share_without_asking_the_exchange(api, desk, exchange):
    response = api.get("/api/paper-trading/account")

    assert response.status_code == 200
    assert response.json() == {
        "venue": "testnet",
        "balances": [
            {"asset": "BTC", "free": "0.50000000", "locked": "0.00000000"},
            {"asset": "USDT", "free": "5000.00000000", "locked": "0.00000000"},
        ],
    }
    assert len(exchange.rsps.calls) == 0


def test_venue_balances_list_the_exchange_accounts_non_zero_balances(exchange):
    venue, balances = selectors.venue_balances()

    assert venue == "testnet"
    assert [(b.asset, b.free, b.locked) for b in balances] == [
        ("BTC", Decimal("1"), Decimal("0")),
        ("USDT", Decimal("9803.999992"), Decimal("60")),
    ]
    assert exchange.calls("GET", "/api/v3/account")[0]["omitZeroBalances"] == "true"


# --- sync -------------------------------------------------------------------------------------------------------
def test_sync_upserts_partial_fills_final_states_and_touches_only_testnet_orders(api, desk, exchange, settings, trader):
    ids = [place(api, limit_payload()).json()["id"] for _ in range(3)]
    eth = place(api, limit_payload(symbol="ETHUSDT", price="3000", quantity="0.01")).json()["id"]
    partial, filled, expired = (PaperOrder.objects.get(pk=pk).binance_order_id for pk in ids)
    exchange.fill(partial, qty="0.0004")
    exchange.fill(filled)
    exchange.orders[expired]["status"] = "EXPIRED"
    settings.PAPER_TRADING_MODE = "simulation"
    simulated = services.open_account(owner=trader, name="Simulated", venue="simulation")
    sim = services.place_order(account=simulated, symbol="BTCUSDT", side="BUY", order_type="LIMIT",
                               quantity=Decimal("0.01"), price=Decimal("60000"), time_in_force="GTC").order  # fmt: skip
    settings.PAPER_TRADING_MODE = "testnet"

    report = services.sync_orders()

    assert report.venue == "testnet"
    assert report.changed == {"partially_filled": 1, "filled": 1, "expired": 1}
    assert (report.orders_checked, report.symbols_checked) == (4, 2)
    # One openOrders per symbol; GET only for the two that left the list; trades only where something executed.
    assert sorted(c["symbol"] for c in exchange.calls("GET", "/api/v3/openOrders")) == ["BTCUSDT", "ETHUSDT"]
    assert len(exchange.calls("GET", "/api/v3/order")) == 2
    assert len(exchange.calls("GET", "/api/v3/myTrades")) == 2
    assert report.request_weight == 2 * 6 + 2 * 4 + 2 * 5
    states = {pk: PaperOrder.objects.get(pk=pk) for pk in ids}
    assert states[ids[0]].status == Status.PARTIALLY_FILLED
    assert states[ids[0]].executed_quantity == Decimal("0.0004")
    assert states[ids[1]].status == Status.FILLED and states[ids[1]].fills.count() == 1
    assert states[ids[2]].status == Status.EXPIRED
    assert PaperOrder.objects.get(pk=eth).status == Status.PENDING
    assert PaperOrder.objects.get(pk=sim.pk).last_synced_at is None
    assert all(o.last_synced_at is not None for o in states.values())
    assert OrderEvent.objects.filter(order_id=ids[1], to_status=Status.FILLED, source="sync").exists()
    # The desk paid 24 + 60 for what filled, still holds 36 for the partial's rest and 30 for the ETH order; the
    # expired one gave its 60 back. Zero commission, as the testnet charges.
    assert balances(desk) == {
        "BTC": (Decimal("0.5014"), Decimal("0")),
        "USDT": (Decimal("5000") - 24 - 60 - 36 - 30, Decimal("66")),
    }
    assert (states[ids[0]].locked_asset, states[ids[0]].locked_amount) == ("USDT", Decimal("36"))


def test_sync_twice_is_idempotent(api, desk, exchange):
    pk = place(api, limit_payload()).json()["id"]
    exchange.fill(PaperOrder.objects.get(pk=pk).binance_order_id, qty="0.0004")

    first = services.sync_orders()
    second = services.sync_orders()

    assert first.changed == {"partially_filled": 1}
    assert second.changed == {}
    assert second.request_weight == 6
    assert OrderFill.objects.filter(order_id=pk).count() == 1


def test_sync_imports_orders_placed_elsewhere_as_external(api, desk, exchange):
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


def test_sync_does_not_override_a_cancel_that_landed_during_the_network_call(api, desk, exchange):
    pk = place(api, limit_payload()).json()["id"]
    exchange.fill(PaperOrder.objects.get(pk=pk).binance_order_id, qty="0.0004")
    original = exchange._open_orders

    def open_orders_while_user_cancels(params):
        # The user's cancel commits while sync waits for the exchange (and gives the reservation back).
        with transaction.atomic():
            order = PaperOrder.objects.select_for_update().get(pk=pk)
            apply_with_funds(order, ExecutionReport(status=Status.CANCELLED), source="api")
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
    assert balances(desk) == {"BTC": (Decimal("0.5"), Decimal("0")), "USDT": (Decimal("5000"), Decimal("0"))}


def test_sync_with_nothing_open_only_asks_the_exchange_for_its_time(api, desk, exchange):
    # A sync proves the exchange answers even when no order needs checking: health relies on it (weight 1).
    report = services.sync_orders()

    assert report.changed == {} and report.request_weight == 1
    assert [call.request.path_url for call in exchange.rsps.calls] == ["/api/v3/time"]


# --- desk accounts as shares of the one exchange account -----------------------------------------------------------
def usdt_btc(usdt, btc, *, usdt_locked="0", btc_locked="0") -> dict[str, tuple[Decimal, Decimal]]:
    return {
        "BTC": (Decimal(btc), Decimal(btc_locked)),
        "USDT": (Decimal(usdt), Decimal(usdt_locked)),
    }


def test_a_testnet_account_is_opened_only_with_what_the_exchange_holds_and_no_account_has_taken(exchange, trader):
    with pytest.raises(AccountInputError) as too_much:
        open_testnet_account(trader, USDT="10000", BTC="0.5")

    assert too_much.value.http_status == 400
    assert too_much.value.errors == {
        "starting_balances": ["USDT: 10000 asked, 9863.99999200 not allocated on the testnet."]
    }
    assert not Account.objects.exists() and not SimulatedBalance.objects.exists()
    desk = open_testnet_account(trader)
    # What is left of the exchange's USDT after the desk's 5000: 4863.999992, and no ETH at all.
    with pytest.raises(AccountInputError) as taken:
        open_testnet_account(trader, "Second", is_default=False, USDT="4864", BTC="0.5", ETH="1")

    assert taken.value.errors == {
        "starting_balances": [
            "ETH: 1 asked, 0 not allocated on the testnet.",
            "USDT: 4864 asked, 4863.99999200 not allocated on the testnet.",
        ]
    }
    second = open_testnet_account(trader, "Second", is_default=False, USDT="4863.999992", BTC="0.5")
    assert list(Account.objects.order_by("id")) == [desk, second]
    assert balances(second) == usdt_btc("4863.999992", "0.5")


@pytest.mark.parametrize(
    "payload, asset, needed",
    [
        (limit_payload(quantity="0.1"), "USDT", "6000"),  # 0.1 at the 60000 limit
        (market_payload(quantity="0.08"), "USDT", "5494.4"),  # 0.08 at the 68000 market + 1%
        ({"symbol": "BTCUSDT", "side": "BUY", "order_type": "STOP_LOSS", "quantity": "0.08", "stop_price": "70000"},
         "USDT", "5600"),  # 0.08 at the stop price
        (limit_payload(side="SELL", price="70000", quantity="0.6"), "BTC", "0.6"),
    ],
)  # fmt: skip
def test_an_order_the_account_cannot_pay_for_is_rejected_locally_and_nothing_is_sent(
    api, desk, exchange, payload, asset, needed
):
    response = place(api, payload)

    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["detail"]) == (-2010, "Account has insufficient balance for requested action.")
    order = PaperOrder.objects.get()
    assert (order.status, order.reject_code, order.locked_amount) == (Status.REJECTED, -2010, 0)
    [event] = order.events.all()
    free = dict(USDT="5000", BTC="0.5")[asset]
    assert (event.from_status, event.to_status) == ("", Status.REJECTED)
    assert (
        event.detail
        == f"Not sent: the order needs {Decimal(needed):.8f} {asset} and the account has {Decimal(free):.8f} free."
    )
    assert exchange.posts() == []
    assert balances(desk) == usdt_btc("5000", "0.5")


@pytest.mark.parametrize(
    "payload, asset, amount",
    [
        (limit_payload(), "USDT", "60"),
        ({"symbol": "BTCUSDT", "side": "BUY", "order_type": "TAKE_PROFIT", "quantity": "0.001",
          "stop_price": "65000"}, "USDT", "65"),
        (limit_payload(side="SELL", price="70000", quantity="0.2"), "BTC", "0.2"),
    ],
)  # fmt: skip
def test_a_working_order_holds_its_reservation_and_a_cancel_gives_it_back(api, desk, exchange, payload, asset, amount):
    order_id = place(api, payload).json()["id"]

    order = PaperOrder.objects.get(pk=order_id)
    assert (order.status, order.locked_asset, order.locked_amount) == (Status.PENDING, asset, Decimal(amount))
    free = {"USDT": Decimal("5000"), "BTC": Decimal("0.5")}
    assert balances(desk)[asset] == (free[asset] - Decimal(amount), Decimal(amount))

    assert api.delete(f"{ORDERS_URL}/{order_id}").status_code == 200

    assert PaperOrder.objects.get(pk=order_id).locked_amount == 0
    assert balances(desk) == usdt_btc("5000", "0.5")


def test_a_partial_fill_releases_what_it_used_and_the_cancel_the_rest(api, desk, exchange):
    order_id = place(api, limit_payload(quantity="0.002")).json()["id"]
    exchange_id = PaperOrder.objects.get(pk=order_id).binance_order_id
    # 0.0005 fills below the limit: the desk pays 29.5 of the 30 its part held, and keeps 90 for the rest.
    exchange.fill(exchange_id, qty="0.0005", price="59000")

    services.sync_orders()

    order = PaperOrder.objects.get(pk=order_id)
    assert (order.status, order.locked_amount) == (Status.PARTIALLY_FILLED, Decimal("90"))
    assert balances(desk) == usdt_btc("4880.5", "0.5005", usdt_locked="90")

    assert api.delete(f"{ORDERS_URL}/{order_id}").status_code == 200

    assert balances(desk) == usdt_btc("4970.5", "0.5005")


def test_a_market_buy_whose_answer_is_lost_holds_its_buffered_reservation_until_sync_finds_its_fill(
    api, desk, exchange
):
    exchange.post_script.append((True, requests.ReadTimeout("read timed out")))

    response = place(api, market_payload())

    assert response.status_code == 201 and response.json()["status"] == "UNKNOWN"
    # 0.002 at 68000 + 1%, held while nobody knows whether it executed.
    assert balances(desk) == usdt_btc("4862.64", "0.5", usdt_locked="137.36")

    assert services.sync_orders().changed == {"filled": 1}

    assert balances(desk) == usdt_btc("4864", "0.502")


def test_a_commission_leaves_its_own_asset_and_a_fill_dearer_than_the_account_holds_is_covered_openly(
    api, trader, exchange
):
    # A desk with exactly what a 0.002 MARKET BUY reserves at 68000 + 1%; the book then fills it at 70000.
    desk = open_testnet_account(trader, USDT="137.36")
    get_venue().market_price("BTCUSDT")  # the desk judges the order at the cached 68000
    exchange.prices["BTCUSDT"] = Decimal("70000")
    original = exchange._accept_order

    def with_commission(params):
        body = original(params)
        exchange.trades[body["orderId"]][0]["commission"] = "0.00000200"
        body["fills"][0]["commission"] = "0.00000200"
        return body

    exchange._accept_order = with_commission

    assert place(api, market_payload()).status_code == 201

    # 140 paid from 137.36: the exchange account paid the other 2.64, and the account says so.
    assert balances(desk) == usdt_btc("0", "0.001998")
    [covered] = BalanceAdjustment.objects.filter(account=desk, reason__contains="covered from the testnet")
    assert (covered.asset, covered.amount) == ("USDT", Decimal("2.64"))
    assert PaperOrder.objects.get().events.filter(detail__contains="2.64000000 USDT credited").exists()


def test_fills_move_only_the_balances_of_the_account_that_placed_the_order(api, desk, exchange, rival, rival_api):
    rival_desk = open_testnet_account(rival, "Rival desk", USDT="1000", BTC="0.1")
    mine = place(api, limit_payload()).json()["id"]
    theirs = place(rival_api, limit_payload(side="SELL", price="70000", quantity="0.05")).json()["id"]
    assert PaperOrder.objects.get(pk=mine).account == desk
    assert PaperOrder.objects.get(pk=theirs).account == rival_desk
    rival_before = balances(rival_desk)

    exchange.fill(PaperOrder.objects.get(pk=mine).binance_order_id)
    assert services.sync_orders().changed == {"filled": 1}

    assert balances(desk) == usdt_btc("4940", "0.501")
    assert balances(rival_desk) == rival_before == usdt_btc("1000", "0.05", btc_locked="0.05")

    exchange.fill(PaperOrder.objects.get(pk=theirs).binance_order_id)
    assert services.sync_orders().changed == {"filled": 1}

    assert balances(rival_desk) == usdt_btc("4500", "0.05")
    assert balances(desk) == usdt_btc("4940", "0.501")


def test_the_same_client_order_id_in_two_accounts_is_two_orders_on_the_exchange(api, desk, exchange, rival, rival_api):
    open_testnet_account(rival, "Rival desk", USDT="1000", BTC="0.1")

    first = place(api, limit_payload(client_order_id="agent-1"))
    second = place(rival_api, limit_payload(client_order_id="agent-1"))

    assert first.status_code == second.status_code == 201
    sent = [post["newClientOrderId"] for post in exchange.posts()]
    assert sent == list(PaperOrder.objects.order_by("id").values_list("venue_order_ref", flat=True))
    assert len(set(sent)) == 2 and "agent-1" not in sent


def test_an_order_placed_elsewhere_lands_in_the_external_account_and_moves_no_desk_balance(api, desk, exchange):
    place(api, limit_payload())
    desk_before = balances(desk)
    external = exchange.add_order(side="SELL", price="80000.00000000", client_order_id="web_abc123")
    exchange.fill(external["orderId"], qty="0.0002")

    assert services.sync_orders().changed == {"imported": 1}

    imported = PaperOrder.objects.get(binance_order_id=external["orderId"])
    assert imported.account == external_account("testnet")
    assert imported.account.is_external and imported.account.owner is None
    assert imported.locked_amount == 0 and imported.fills.count() == 1
    assert not SimulatedBalance.objects.filter(account=imported.account).exists()
    assert balances(desk) == desk_before

    exchange.fill(external["orderId"])
    services.sync_orders()  # no longer on the open list: it is left to the exchange, never to a desk account

    assert balances(desk) == desk_before


# --- credentials and secrets --------------------------------------------------------------------------------------
def test_every_entry_point_without_credentials_is_503_with_a_clear_message(api, desk, testnet):
    working_id = place(api, limit_payload()).json()["id"]
    before = balances(desk)
    testnet.BINANCE_TESTNET_API_KEY = ""
    testnet.BINANCE_TESTNET_API_SECRET = ""

    with responses.RequestsMock() as rsps:
        answers = [
            place(api, limit_payload()),
            api.post(f"{ORDERS_URL}/sync"),
            api.delete(f"{ORDERS_URL}/{working_id}"),
        ]
        # The account's own balances are the desk's: they answer without the exchange.
        account = api.get("/api/paper-trading/account")
        assert len(rsps.calls) == 0

    for response in answers:
        assert response.status_code == 503
        assert response.json()["detail"] == NOT_CONFIGURED_MESSAGE
        assert "BINANCE_TESTNET_API_KEY" in response.json()["detail"]
    assert account.status_code == 200 and len(account.json()["balances"]) == 2
    assert PaperOrder.objects.count() == 1 and PaperOrder.objects.get().status == Status.PENDING
    assert balances(desk) == before


def test_logs_of_place_and_sync_carry_no_key_secret_or_signature(api, desk, exchange, caplog):
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
