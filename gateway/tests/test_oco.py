"""POST orderList/oco through the gateway: Binance's parameters and answer, the desk's OCO service underneath."""

from decimal import Decimal as D

import pytest

from papertrading.models import OrderList, PaperOrder
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db
# Market 68000 (the `market` fixture): sell 0.1 BTC at 70000, or when the price falls to 66000.
SELL_OCO = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "quantity": "0.1",
    "aboveType": "LIMIT_MAKER",
    "abovePrice": "70000",
    "belowType": "STOP_LOSS_LIMIT",
    "belowStopPrice": "66000",
    "belowPrice": "65900",
    "belowTimeInForce": "GTC",
}


def test_an_oco_answers_binances_list_shape_and_counts_two_orders(binance, account, market):
    response = binance.signed("POST", "orderList/oco", **SELL_OCO, listClientOrderId="bot-oco-1")

    assert response.status_code == 200, response.content
    body = response.json()
    order_list = OrderList.objects.get()
    legs = list(order_list.orders.order_by("id"))
    assert {k: body[k] for k in ("orderListId", "contingencyType", "listStatusType", "listOrderStatus")} == {
        "orderListId": order_list.pk,
        "contingencyType": "OCO",
        "listStatusType": "EXEC_STARTED",
        "listOrderStatus": "EXECUTING",
    }
    assert (body["listClientOrderId"], body["symbol"]) == ("bot-oco-1", "BTCUSDT")
    assert body["orders"] == [{"symbol": "BTCUSDT", "orderId": o.pk, "clientOrderId": o.client_order_id} for o in legs]
    reports = {r["type"]: r for r in body["orderReports"]}
    assert reports["LIMIT_MAKER"]["price"] == "70000.00000000"
    assert reports["STOP_LOSS_LIMIT"]["stopPrice"] == "66000.00000000"
    assert {r["orderListId"] for r in body["orderReports"]} == {order_list.pk}
    assert {r["status"] for r in body["orderReports"]} == {"NEW"}
    assert response["X-MBX-ORDER-COUNT-10S"] == "2"
    assert balances(account)["BTC"] == (D("0.9"), D("0.1"))
    # Each leg answers GET order with its list.
    leg = binance.signed("GET", "order", symbol="BTCUSDT", orderId=legs[0].pk).json()
    assert leg["orderListId"] == order_list.pk
    # The same listClientOrderId again: Binance's duplicate refusal, nothing more placed.
    again = binance.signed("POST", "orderList/oco", **SELL_OCO, listClientOrderId="bot-oco-1")
    assert (again.status_code, again.json()) == (400, {"code": -2010, "msg": "Duplicate order sent."})
    assert PaperOrder.objects.count() == 2


def test_cancelling_a_leg_through_the_gateway_cancels_the_list(binance, account, market):
    body = binance.signed("POST", "orderList/oco", **SELL_OCO).json()

    cancelled = binance.signed("DELETE", "order", symbol="BTCUSDT", orderId=body["orders"][0]["orderId"])

    assert cancelled.status_code == 200, cancelled.content
    assert set(PaperOrder.objects.values_list("status", flat=True)) == {"CANCELLED"}
    assert OrderList.objects.get().list_order_status == "ALL_DONE"
    assert balances(account)["BTC"] == (D("1"), D("0"))


PRICES_WRONG = "The relationship of the prices for the orders is not correct."


def missing(name: str) -> dict:
    return {"code": -1102, "msg": f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"abovePrice": "67000"}, {"code": -2010, "msg": PRICES_WRONG}),
        ({"belowTimeInForce": None}, missing("belowTimeInForce")),
        ({"aboveType": "OCO"}, {"code": -1116, "msg": "Invalid orderType."}),
        ({"side": "HOLD"}, {"code": -1117, "msg": "Invalid side."}),
        ({"quantity": None}, missing("quantity")),
        ({"quantity": "5"}, {"code": -2010, "msg": "Account has insufficient balance for requested action."}),
        ({"listClientOrderId": "x" * 37}, {
            "code": -1100,
            "msg": "Illegal characters found in parameter 'listClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
        }),
    ],
)  # fmt: skip
def test_refusals_in_binances_words_place_nothing(binance, account, market, change, expected):
    params = {k: v for k, v in (SELL_OCO | change).items() if v is not None}

    response = binance.signed("POST", "orderList/oco", **params)

    assert (response.status_code, response.json()) == (400, expected)
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert balances(account)["BTC"] == (D("1"), D("0"))


@pytest.mark.django_db(transaction=True)
def test_python_binance_places_an_oco_and_sees_its_legs(live_server, trader, market):
    from binance.client import Client

    from gateway.services import create_binance_key
    from papertrading.services import default_account_for
    from papertrading.symbols import load_default_symbol_rules

    load_default_symbol_rules()  # a no-op unless an earlier transactional test flushed them
    account = default_account_for(trader)
    issued = create_binance_key(account=account, kind="HMAC", created_by=trader)
    client = Client(issued.key.api_key, issued.secret, ping=False)
    client.API_URL = live_server.url + "/binance/api"
    try:
        placed = client.create_oco_order(
            symbol="BTCUSDT", side="SELL", quantity="0.1", aboveType="LIMIT_MAKER", abovePrice="70000",
            belowType="STOP_LOSS", belowStopPrice="66000",
        )  # fmt: skip
        open_orders = client.get_open_orders(symbol="BTCUSDT")
    finally:
        client.session.close()

    assert (placed["contingencyType"], placed["listOrderStatus"]) == ("OCO", "EXECUTING")
    assert {o["orderId"] for o in open_orders} == {o["orderId"] for o in placed["orders"]}
    assert {o["orderListId"] for o in open_orders} == {placed["orderListId"]}
    assert balances(account)["BTC"] == (D("0.9"), D("0.1"))
