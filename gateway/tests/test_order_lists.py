"""Order lists through the gateway: POST orderList/oto and orderList/otoco, GET and DELETE orderList, GET
openOrderList and allOrderList, in Binance's parameters, shapes, codes, weights and order counts, with the desk's
list services underneath."""

import time
from decimal import Decimal as D

import pytest

from papertrading.models import OrderList, PaperOrder
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db
# Market 68000 (the `market` fixture): buy 0.1 BTC at 67000; once bought, sell 0.0999 at 69000.
OTO = {
    "symbol": "BTCUSDT",
    "workingType": "LIMIT",
    "workingSide": "BUY",
    "workingQuantity": "0.1",
    "workingPrice": "67000",
    "workingTimeInForce": "GTC",
    "pendingType": "LIMIT",
    "pendingSide": "SELL",
    "pendingQuantity": "0.0999",
    "pendingPrice": "69000",
    "pendingTimeInForce": "GTC",
}
# The same working order, then a bracket: take profit at 70000, stop at 65000 (sell at 64900 or better).
OTOCO = {
    "symbol": "BTCUSDT",
    "workingType": "LIMIT",
    "workingSide": "BUY",
    "workingQuantity": "0.1",
    "workingPrice": "67000",
    "workingTimeInForce": "GTC",
    "pendingSide": "SELL",
    "pendingQuantity": "0.0999",
    "pendingAboveType": "LIMIT_MAKER",
    "pendingAbovePrice": "70000",
    "pendingBelowType": "STOP_LOSS_LIMIT",
    "pendingBelowStopPrice": "65000",
    "pendingBelowPrice": "64900",
    "pendingBelowTimeInForce": "GTC",
}
SELL_OCO = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "quantity": "0.1",
    "aboveType": "LIMIT_MAKER",
    "abovePrice": "70000",
    "belowType": "STOP_LOSS",
    "belowStopPrice": "66000",
}
START = {"USDT": (D("100000"), D("0")), "BTC": (D("1"), D("0"))}
# The keys of Binance's answers, as the Spot API's specification requires them (its example answers carry these).
LIST_KEYS = {
    "orderListId",
    "contingencyType",
    "listStatusType",
    "listOrderStatus",
    "listClientOrderId",
    "transactionTime",
    "symbol",
    "orders",
}
REPORT_KEYS = {
    "symbol",
    "orderId",
    "orderListId",
    "clientOrderId",
    "transactTime",
    "price",
    "origQty",
    "executedQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "workingTime",
    "selfTradePreventionMode",
}
CANCEL_REPORT_KEYS = (REPORT_KEYS - {"workingTime"}) | {"origClientOrderId"}


def held(account) -> dict:
    return {asset: amounts for asset, amounts in balances(account).items() if asset in START}


def missing(name: str) -> dict:
    return {"code": -1102, "msg": f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."}


# --- POST orderList/oto and orderList/otoco -----------------------------------------------------------------------


def test_an_oto_answers_binances_shape_with_its_pending_order_pending_new(binance, account, market):
    response = binance.signed("POST", "orderList/oto", **OTO, listClientOrderId="bot-oto-1")

    assert response.status_code == 200, response.content
    body = response.json()
    order_list = OrderList.objects.get()
    working, pending = order_list.orders.get(list_leg="working"), order_list.orders.get(list_leg="pending")
    assert set(body) == LIST_KEYS | {"orderReports"}
    assert {k: body[k] for k in ("orderListId", "contingencyType", "listStatusType", "listOrderStatus")} == {
        "orderListId": order_list.pk,
        "contingencyType": "OTO",
        "listStatusType": "EXEC_STARTED",
        "listOrderStatus": "EXECUTING",
    }
    assert (body["listClientOrderId"], body["symbol"]) == ("bot-oto-1", "BTCUSDT")
    # Binance lists the working order first.
    assert body["orders"] == [
        {"symbol": "BTCUSDT", "orderId": o.pk, "clientOrderId": o.client_order_id} for o in (working, pending)
    ]
    first, second = body["orderReports"]
    assert all(set(report) >= REPORT_KEYS for report in body["orderReports"])
    assert (first["type"], first["side"], first["status"], first["price"]) == ("LIMIT", "BUY", "NEW", "67000.00000000")
    assert first["workingTime"] > 0
    assert (second["type"], second["side"], second["status"], second["workingTime"]) == (
        "LIMIT",
        "SELL",
        "PENDING_NEW",
        -1,
    )
    assert (second["origQty"], second["orderListId"]) == ("0.09990000", order_list.pk)
    assert response["X-MBX-ORDER-COUNT-10S"] == "2"
    assert (working.waits_for_list, pending.waits_for_list) == (False, True)
    assert held(account) == {"USDT": (D("93300"), D("6700")), "BTC": (D("1"), D("0"))}
    # The pending order answers GET order as Binance's does: PENDING_NEW, not working.
    queried = binance.signed("GET", "order", symbol="BTCUSDT", orderId=pending.pk).json()
    assert (queried["status"], queried["isWorking"], queried["workingTime"]) == ("PENDING_NEW", False, -1)
    assert queried["orderListId"] == order_list.pk


def test_an_otoco_is_reported_as_an_oto_with_three_orders_and_counts_three(binance, account, market):
    response = binance.signed("POST", "orderList/otoco", **OTOCO)

    assert response.status_code == 200, response.content
    body = response.json()
    order_list = OrderList.objects.get()
    assert order_list.contingency_type == "OTOCO"
    assert (body["contingencyType"], body["listOrderStatus"]) == ("OTO", "EXECUTING")
    assert [(r["type"], r["side"], r["status"]) for r in body["orderReports"]] == [
        ("LIMIT", "BUY", "NEW"),
        ("LIMIT_MAKER", "SELL", "PENDING_NEW"),
        ("STOP_LOSS_LIMIT", "SELL", "PENDING_NEW"),
    ]
    assert body["orderReports"][2]["stopPrice"] == "65000.00000000"
    assert [o["orderId"] for o in body["orders"]] == [r["orderId"] for r in body["orderReports"]]
    assert response["X-MBX-ORDER-COUNT-10S"] == "3"
    assert sorted(order_list.orders.values_list("list_leg", "waits_for_list")) == [
        ("above", True),
        ("below", True),
        ("working", False),
    ]
    assert held(account) == {"USDT": (D("93300"), D("6700")), "BTC": (D("1"), D("0"))}


def test_a_repeated_list_client_order_id_is_binances_duplicate_and_places_nothing(binance, account, market):
    assert binance.signed("POST", "orderList/otoco", **OTOCO, listClientOrderId="bracket").status_code == 200

    again = binance.signed("POST", "orderList/otoco", **OTOCO, listClientOrderId="bracket")
    other = binance.signed("POST", "orderList/oto", **OTO, listClientOrderId="bracket")

    assert (again.status_code, again.json()) == (400, {"code": -2010, "msg": "Duplicate order sent."})
    assert (other.status_code, other.json()["code"]) == (400, -2010)
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (1, 3)
    assert held(account)["USDT"] == (D("93300"), D("6700"))


def test_a_leg_reusing_an_orders_client_order_id_is_binances_duplicate(binance, account, market):
    resting = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01"}
    assert binance.signed("POST", "order", **resting, price="75000", newClientOrderId="taken").status_code == 200

    response = binance.signed("POST", "orderList/oto", **OTO, pendingClientOrderId="taken")

    assert (response.status_code, response.json()) == (400, {"code": -2010, "msg": "Duplicate order sent."})
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 1)
    assert held(account) == {"USDT": (D("100000"), D("0")), "BTC": (D("0.99"), D("0.01"))}


def test_a_list_is_refused_when_its_legs_would_pass_the_order_count(binance, account, market, settings):
    settings.GATEWAY_ORDER_LIMIT_10S = 4
    assert binance.signed("POST", "orderList/oto", **OTO).status_code == 200

    refused = binance.signed("POST", "orderList/otoco", **OTOCO)  # 2 + 3 > 4

    assert (refused.status_code, refused.json()["code"]) == (429, -1015)
    assert OrderList.objects.count() == 1


PRICES_WRONG = "The relationship of the prices for the orders is not correct."
CLIENT_ID_RANGE = "legal range is '^[a-zA-Z0-9-_]{1,36}$'."
NO_BALANCE = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
# A pending stop instead of the pending limit order.
PENDING_STOP = {"pendingType": "STOP_LOSS", "pendingPrice": None, "pendingTimeInForce": None}


@pytest.mark.parametrize(
    ("path", "change", "expected"),
    [
        ("oto", {"workingType": None}, missing("workingType")),
        ("oto", {"workingPrice": None}, missing("workingPrice")),
        ("oto", {"pendingQuantity": None}, missing("pendingQuantity")),
        ("oto", {"workingTimeInForce": None}, missing("workingTimeInForce")),
        ("oto", {"pendingTimeInForce": None}, missing("pendingTimeInForce")),
        ("oto", PENDING_STOP, missing("pendingStopPrice")),
        ("oto", {"pendingType": "LIMIT_MAKER"}, {
            "code": -1106, "msg": "Parameter 'pendingTimeInForce' sent when not required."}),
        # The pending stop is judged at the working order's price (67000): 67500 would trigger at once.
        ("oto", {**PENDING_STOP, "pendingStopPrice": "67500"}, {
            "code": -2010, "msg": "Order would trigger immediately."}),
        ("oto", {"workingPrice": "67000.001"}, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}),
        ("oto", {"workingQuantity": "0.0000001"}, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}),
        ("oto", {"pendingType": "OCO"}, {"code": -1116, "msg": "Invalid orderType."}),
        ("oto", {"workingSide": "HOLD"}, {"code": -1117, "msg": "Invalid side."}),
        ("oto", {"pendingTimeInForce": "GTD"}, {"code": -1115, "msg": "Invalid timeInForce."}),
        ("oto", {"pendingIcebergQty": "0.01"}, {
            "code": -1013, "msg": "Parameter 'pendingIcebergQty' is not supported for this order list here."}),
        ("oto", {"workingQuantity": "5"}, NO_BALANCE),
        ("oto", {"workingClientOrderId": "x" * 37}, {
            "code": -1100, "msg": f"Illegal characters found in parameter 'workingClientOrderId'; {CLIENT_ID_RANGE}"}),
        ("otoco", {"pendingAbovePrice": "66000"}, {"code": -2010, "msg": PRICES_WRONG}),
        ("otoco", {"pendingBelowTimeInForce": None}, missing("pendingBelowTimeInForce")),
        ("otoco", {"pendingSide": None}, missing("pendingSide")),
        ("otoco", {"pendingQuantity": None}, missing("pendingQuantity")),
        ("otoco", {"pendingBelowType": None}, missing("pendingBelowType")),
        ("otoco", {"pendingAboveTrailingDelta": "100"}, {
            "code": -1013, "msg": "Parameter 'pendingAboveTrailingDelta' is not supported for this order list here."}),
        ("otoco", {"listClientOrderId": "x" * 37}, {
            "code": -1100, "msg": f"Illegal characters found in parameter 'listClientOrderId'; {CLIENT_ID_RANGE}"}),
        ("otoco", {"symbol": "NOPEUSDT"}, {"code": -1121, "msg": "Invalid symbol."}),
    ],
)  # fmt: skip
def test_refusals_in_binances_words_place_nothing(binance, account, market, path, change, expected):
    params = {k: v for k, v in ((OTO if path == "oto" else OTOCO) | change).items() if v is not None}

    response = binance.signed("POST", f"orderList/{path}", **params)

    assert (response.status_code, response.json()) == (400, expected)
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert held(account) == START


# --- GET orderList, openOrderList, allOrderList --------------------------------------------------------------------


def test_a_list_is_found_by_its_id_or_its_list_client_order_id(binance, account, market):
    placed = binance.signed("POST", "orderList/oto", **OTO, listClientOrderId="bot-oto-1").json()

    by_id = binance.signed("GET", "orderList", orderListId=placed["orderListId"])
    by_client_id = binance.signed("GET", "orderList", origClientOrderId="bot-oto-1")

    assert by_id.status_code == 200, by_id.content
    assert by_id.json() == by_client_id.json()
    body = by_id.json()
    assert set(body) == LIST_KEYS
    assert {k: body[k] for k in ("orderListId", "contingencyType", "listOrderStatus", "listClientOrderId")} == {
        "orderListId": placed["orderListId"],
        "contingencyType": "OTO",
        "listOrderStatus": "EXECUTING",
        "listClientOrderId": "bot-oto-1",
    }
    assert body["orders"] == placed["orders"]


NEITHER_ID = "Param 'origClientOrderId' or 'orderListId' must be sent, but both were empty/null!"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"orderListId": "999999"}, {"code": -2013, "msg": "Order list does not exist."}),
        ({"origClientOrderId": "nobody"}, {"code": -2013, "msg": "Order list does not exist."}),
        # Both sent: the list found by id must carry that client id.
        ({"orderListId": "{id}", "origClientOrderId": "other"}, {"code": -2013, "msg": "Order list does not exist."}),
        ({}, {"code": -1102, "msg": NEITHER_ID}),
    ],
)  # fmt: skip
def test_a_list_that_is_not_there_answers_in_binances_words(binance, account, market, params, expected):
    placed = binance.signed("POST", "orderList/oco", **SELL_OCO, listClientOrderId="mine").json()
    params = {k: v.format(id=placed["orderListId"]) for k, v in params.items()}

    response = binance.signed("GET", "orderList", **params)

    assert (response.status_code, response.json()) == (400, expected)


def test_open_and_all_order_lists_show_the_accounts_lists_oldest_first(binance, account, market):
    oco = binance.signed("POST", "orderList/oco", **SELL_OCO).json()
    oto = binance.signed("POST", "orderList/oto", **OTO).json()
    otoco = binance.signed("POST", "orderList/otoco", **OTOCO).json()
    binance.signed("DELETE", "orderList", symbol="BTCUSDT", orderListId=oto["orderListId"])

    open_lists = binance.signed("GET", "openOrderList")
    all_lists = binance.signed("GET", "allOrderList")
    from_oto = binance.signed("GET", "allOrderList", fromId=oto["orderListId"], limit=1)

    assert open_lists.status_code == all_lists.status_code == 200
    assert [row["orderListId"] for row in open_lists.json()] == [oco["orderListId"], otoco["orderListId"]]
    assert [(row["orderListId"], row["listOrderStatus"]) for row in all_lists.json()] == [
        (oco["orderListId"], "EXECUTING"),
        (oto["orderListId"], "ALL_DONE"),
        (otoco["orderListId"], "EXECUTING"),
    ]
    assert [row["contingencyType"] for row in all_lists.json()] == ["OCO", "OTO", "OTO"]
    assert all(set(row) == LIST_KEYS for row in all_lists.json())
    assert [row["orderListId"] for row in from_oto.json()] == [oto["orderListId"]]
    assert all_lists.json()[2]["orders"] == otoco["orders"]


def test_another_accounts_lists_are_neither_seen_nor_cancelled(binance, account, market, rival, rival_account):
    from django.test import Client

    from gateway.services import create_binance_key

    from .support import BinanceTestClient

    placed = binance.signed("POST", "orderList/oto", **OTO, listClientOrderId="mine").json()
    issued = create_binance_key(account=rival_account, kind="HMAC", created_by=rival)
    other = BinanceTestClient(Client(), issued.key.api_key, issued.secret)

    seen = other.signed("GET", "orderList", orderListId=placed["orderListId"])
    by_client_id = other.signed("GET", "orderList", origClientOrderId="mine")
    cancelled = other.signed("DELETE", "orderList", symbol="BTCUSDT", orderListId=placed["orderListId"])

    assert (seen.status_code, seen.json()["code"]) == (400, -2013)
    assert (by_client_id.status_code, by_client_id.json()["code"]) == (400, -2013)
    assert (cancelled.status_code, cancelled.json()) == (400, {"code": -2011, "msg": "Unknown order list sent."})
    assert other.signed("GET", "openOrderList").json() == []
    assert other.signed("GET", "allOrderList").json() == []
    assert OrderList.objects.get().list_order_status == "EXECUTING"
    assert held(account)["USDT"] == (D("93300"), D("6700"))


# --- DELETE orderList ---------------------------------------------------------------------------------------------


def test_cancelling_an_oto_answers_each_legs_cancel_under_the_cancels_id(binance, account, market):
    placed = binance.signed("POST", "orderList/oto", **OTO, listClientOrderId="bot-oto-1").json()

    response = binance.signed(
        "DELETE", "orderList", symbol="BTCUSDT", listClientOrderId="bot-oto-1", newClientOrderId="cancel-1"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == LIST_KEYS | {"orderReports"}
    assert {k: body[k] for k in ("orderListId", "contingencyType", "listStatusType", "listOrderStatus")} == {
        "orderListId": placed["orderListId"],
        "contingencyType": "OTO",
        "listStatusType": "ALL_DONE",
        "listOrderStatus": "ALL_DONE",
    }
    assert body["listClientOrderId"] == "bot-oto-1"
    assert all(set(report) >= CANCEL_REPORT_KEYS for report in body["orderReports"])
    assert [(r["origClientOrderId"], r["clientOrderId"]) for r in body["orderReports"]] == [
        (o["clientOrderId"], "cancel-1") for o in placed["orders"]
    ]
    assert body["orderReports"][0]["status"] == "CANCELED"
    assert body["orderReports"][1]["status"] in ("CANCELED", "EXPIRED")
    assert set(PaperOrder.objects.values_list("status", flat=True)) <= {"CANCELLED", "EXPIRED"}
    assert OrderList.objects.get().list_order_status == "ALL_DONE"
    assert held(account) == START


def test_cancelling_an_oco_list_releases_its_funds(binance, account, market):
    placed = binance.signed("POST", "orderList/oco", **SELL_OCO).json()

    response = binance.signed("DELETE", "orderList", symbol="BTCUSDT", orderListId=placed["orderListId"])

    assert response.status_code == 200, response.content
    assert response.json()["contingencyType"] == "OCO"
    assert {r["status"] for r in response.json()["orderReports"]} == {"CANCELED"}
    assert held(account) == START


@pytest.mark.parametrize(
    "params",
    [
        {"symbol": "ETHUSDT", "orderListId": "{id}"},  # another symbol's list
        {"symbol": "BTCUSDT", "orderListId": "999999"},
        {"symbol": "BTCUSDT", "listClientOrderId": "nobody"},
        {"symbol": "BTCUSDT", "orderListId": "{id}", "listClientOrderId": "other"},
    ],
)
def test_cancelling_a_list_that_is_not_there_is_binances_unknown_list(binance, account, market, params):
    placed = binance.signed("POST", "orderList/oto", **OTO, listClientOrderId="mine").json()
    params = {k: v.format(id=placed["orderListId"]) for k, v in params.items()}

    response = binance.signed("DELETE", "orderList", **params)

    assert (response.status_code, response.json()) == (400, {"code": -2011, "msg": "Unknown order list sent."})
    assert OrderList.objects.get().list_order_status == "EXECUTING"
    assert held(account)["USDT"] == (D("93300"), D("6700"))


def test_cancelling_a_finished_list_is_binances_unknown_list(binance, account, market):
    placed = binance.signed("POST", "orderList/otoco", **OTOCO).json()
    assert binance.signed("DELETE", "orderList", symbol="BTCUSDT", orderListId=placed["orderListId"]).status_code == 200

    again = binance.signed("DELETE", "orderList", symbol="BTCUSDT", orderListId=placed["orderListId"])

    assert (again.status_code, again.json()) == (400, {"code": -2011, "msg": "Unknown order list sent."})
    assert held(account) == START


def test_cancel_needs_a_symbol_and_a_list(binance, account, market):
    no_symbol = binance.signed("DELETE", "orderList", orderListId="1")
    no_list = binance.signed("DELETE", "orderList", symbol="BTCUSDT")

    assert (no_symbol.status_code, no_symbol.json()) == (400, missing("symbol"))
    assert (no_list.status_code, no_list.json()["code"]) == (400, -1102)


def test_once_the_working_order_fills_the_pending_order_is_new_and_working(binance, account, market):
    placed = binance.signed("POST", "orderList/oto", **OTO).json()

    market.move("BTCUSDT", "66900")

    pending_id = placed["orders"][1]["orderId"]
    queried = binance.signed("GET", "order", symbol="BTCUSDT", orderId=pending_id).json()
    assert (queried["status"], queried["isWorking"]) == ("NEW", True)
    assert queried["workingTime"] > 0
    assert binance.signed("GET", "orderList", orderListId=placed["orderListId"]).json()["listOrderStatus"] == (
        "EXECUTING"
    )
    assert balances(account)["BTC"] == (D("1"), D("0.0999"))


# --- weights ------------------------------------------------------------------------------------------------------


def test_each_endpoint_costs_binances_weight(binance, account, market, monkeypatch):
    now = (time.time() // 60) * 60 + 1  # every request in one minute's window
    monkeypatch.setattr("gateway.limits.time.time", lambda: now)
    used = []

    def spend(method: str, path: str, **params) -> None:
        response = binance.signed(method, path, **params)
        assert response.status_code == 200, response.content
        used.append(int(response["X-MBX-USED-WEIGHT-1M"]))

    spend("POST", "orderList/oto", **OTO)
    spend("POST", "orderList/otoco", **OTOCO)
    list_id = OrderList.objects.order_by("id").first().pk
    spend("GET", "orderList", orderListId=list_id)
    spend("GET", "openOrderList")
    spend("GET", "allOrderList")
    spend("DELETE", "orderList", symbol="BTCUSDT", orderListId=list_id)

    assert [b - a for a, b in zip([0, *used], used, strict=False)] == [1, 1, 4, 6, 20, 1]


# --- a real client ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ccxt_and_python_binance_place_read_and_cancel_an_otoco(live_server, trader, market):
    import ccxt
    from binance.client import Client

    from gateway.services import create_binance_key
    from papertrading.services import default_account_for
    from papertrading.symbols import load_default_symbol_rules

    load_default_symbol_rules()  # a no-op unless an earlier transactional test flushed them
    account = default_account_for(trader)
    issued = create_binance_key(account=account, kind="HMAC", created_by=trader)
    exchange = ccxt.binance({"apiKey": issued.key.api_key, "secret": issued.secret, "enableRateLimit": False})
    url = live_server.url + "/binance/api/v3"
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = url
    client = Client(issued.key.api_key, issued.secret, ping=False)
    client.API_URL = live_server.url + "/binance/api"
    try:
        placed = exchange.private_post_orderlist_otoco({**OTOCO, "listClientOrderId": "ccxt-bracket"})
        found = exchange.private_get_orderlist({"origClientOrderId": "ccxt-bracket"})
        open_lists = client.get_open_oco_orders()
        cancelled = exchange.private_delete_orderlist({"symbol": "BTCUSDT", "orderListId": placed["orderListId"]})
        after = exchange.private_get_openorderlist()
    finally:
        exchange.session.close()
        client.session.close()

    assert (placed["contingencyType"], placed["listOrderStatus"]) == ("OTO", "EXECUTING")
    assert [r["status"] for r in placed["orderReports"]] == ["NEW", "PENDING_NEW", "PENDING_NEW"]
    assert found["orderListId"] == placed["orderListId"]
    assert found["orders"] == placed["orders"]
    # ccxt hands back its answers' numbers as strings, python-binance as numbers.
    assert [str(row["orderListId"]) for row in open_lists] == [str(placed["orderListId"])]
    assert cancelled["listOrderStatus"] == "ALL_DONE"
    assert after == []
    assert held(account) == START
