"""Orders through the gateway: Binance's parameters and answers, the desk's services underneath."""

from decimal import Decimal

import pytest

from papertrading.models import PaperOrder
from papertrading.services import halt_account
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db
D = Decimal
LIMIT_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01"}


def refusal(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()


@pytest.mark.parametrize(
    "params, expected",
    [
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000"},
            {"code": -1102, "msg": "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."},
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "timeInForce": "GTC"},
            {"code": -1106, "msg": "Parameter 'timeInForce' sent when not required."},
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"},
            {"code": -1102, "msg": "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"},
        ),
        (
            {"symbol": "BTCUSDT", "side": "HOLD", "type": "MARKET", "quantity": "1"},
            {"code": -1117, "msg": "Invalid side."},
        ),
        (
            {"symbol": "BTCUSDT", "side": "BUY", "type": "OCO", "quantity": "1"},
            {"code": -1116, "msg": "Invalid orderType."},
        ),
        (
            {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"},
            {"code": -1121, "msg": "Invalid symbol."},
        ),
        (
            {**LIMIT_BUY, "price": "60000", "newClientOrderId": "x" * 37},
            {
                "code": -1100,
                "msg": "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                "'^[a-zA-Z0-9-_]{1,36}$'.",
            },
        ),
        (
            {**LIMIT_BUY, "price": "60000.123456789"},
            {"code": -1111, "msg": "Parameter 'price' has too much precision."},
        ),
        ({**LIMIT_BUY, "quantity": "0.000015", "price": "60000"}, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}),
        ({**LIMIT_BUY, "price": "60000.005"}, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}),
        (
            {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "0.01", "stopPrice": "69000"},
            {"code": -2010, "msg": "Order would trigger immediately."},
        ),
    ],
)
def test_malformed_or_invalid_orders_get_binances_answer_and_write_nothing(binance, account, market, params, expected):
    before = balances(account)

    assert refusal(binance.signed("POST", "order", **params)) == expected
    assert not account.orders.exists()
    assert balances(account) == before


def test_insufficient_balance_is_binances_rejection(binance, account, market):
    before = balances(account)

    body = refusal(binance.signed("POST", "order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="5"))

    assert body == {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    assert balances(account) == before
    assert account.orders.get().status == PaperOrder.Status.REJECTED  # the desk keeps the rejected order


def test_new_client_order_id_is_unique_per_account(binance, account, market):
    first = binance.signed("POST", "order", **LIMIT_BUY, price="60000", newClientOrderId="bot-1")
    again = binance.signed("POST", "order", **LIMIT_BUY, price="60000", newClientOrderId="bot-1")
    other_terms = binance.signed("POST", "order", **LIMIT_BUY, price="61000", newClientOrderId="bot-1")

    assert first.status_code == 200 and first.json()["clientOrderId"] == "bot-1"
    assert refusal(again) == {"code": -2010, "msg": "Duplicate order sent."}
    assert refusal(other_terms) == {"code": -2010, "msg": "Duplicate order sent."}
    assert account.orders.count() == 1


@pytest.mark.parametrize(
    "response_type, keys",
    [
        ("ACK", {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}),
        ("RESULT", {"status", "executedQty", "cummulativeQuoteQty", "workingTime", "selfTradePreventionMode"}),
        ("FULL", {"status", "fills"}),
    ],
)
def test_response_types(binance, market, response_type, keys):
    body = binance.signed(
        "POST", "order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01", newOrderRespType=response_type
    ).json()

    assert keys <= set(body)
    if response_type == "ACK":
        assert set(body) == keys
    if response_type == "RESULT":
        assert "fills" not in body


def test_stop_orders_answer_ack_by_default(binance, market):
    body = binance.signed(
        "POST", "order", symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.01", stopPrice="60000"
    ).json()

    assert set(body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}


def test_quote_order_quantity_spends_at_most_that_much(binance, account, market):
    body = binance.signed("POST", "order", symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="1000").json()

    assert body["status"] == "FILLED" and body["origQuoteOrderQty"] == "1000.00000000"
    spent = D(body["cummulativeQuoteQty"])
    assert D("990") < spent <= D("1000")
    assert balances(account)["USDT"] == (D("100000") - spent, D("0"))


def test_market_data_and_orders_are_the_desks_own(binance, api, account, market):
    placed = binance.signed("POST", "order", **LIMIT_BUY, price="60000").json()

    listed = api.get("/api/paper-trading/orders").json()["results"]

    assert [(o["id"], o["status"], o["price"]) for o in listed] == [(placed["orderId"], "PENDING", "60000.00000000")]
    assert balances(account)["USDT"] == (D("99400"), D("600"))


def test_test_order_validates_and_places_nothing(binance, account, market):
    ok = binance.signed("POST", "order/test", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    with_rates = binance.signed(
        "POST",
        "order/test",
        symbol="BTCUSDT",
        side="BUY",
        type="MARKET",
        quantity="0.01",
        computeCommissionRates="true",
    )
    bad = binance.signed("POST", "order/test", **LIMIT_BUY, price="60000.005")

    assert ok.json() == {}
    assert with_rates.json()["standardCommissionForOrder"] == {"maker": "0.00100000", "taker": "0.00100000"}
    assert refusal(bad)["code"] == -1013
    assert not account.orders.exists()


def test_halted_account_refuses_orders(binance, account, market):
    halt_account(account=account, reason="enough")

    body = refusal(binance.signed("POST", "order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01"))

    assert body["code"] == -2010 and "halted" in body["msg"]
    assert not account.orders.exists()
    assert binance.signed("GET", "account").json()["canTrade"] is False


def test_cancel_by_client_id_releases_the_funds(binance, account, market):
    binance.signed("POST", "order", **LIMIT_BUY, price="60000", newClientOrderId="to-cancel")

    body = binance.signed("DELETE", "order", symbol="BTCUSDT", origClientOrderId="to-cancel", newClientOrderId="c1")

    assert body.json()["status"] == "CANCELED"
    assert body.json()["origClientOrderId"] == "to-cancel" and body.json()["clientOrderId"] == "c1"
    assert balances(account)["USDT"] == (D("100000"), D("0"))
    assert refusal(binance.signed("DELETE", "order", symbol="BTCUSDT", origClientOrderId="to-cancel")) == {
        "code": -2011,
        "msg": "Unknown order sent.",
    }


def test_cancel_open_orders_cancels_every_working_order_of_the_symbol(binance, account, market):
    for price in ("60000", "61000"):
        binance.signed("POST", "order", **LIMIT_BUY, price=price)
    eth = binance.signed(
        "POST", "order", symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price="3000"
    ).json()

    answers = binance.signed("DELETE", "openOrders", symbol="BTCUSDT").json()

    assert [a["status"] for a in answers] == ["CANCELED", "CANCELED"]
    assert [o.pk for o in account.orders.filter(status=PaperOrder.Status.PENDING)] == [eth["orderId"]]
    assert refusal(binance.signed("DELETE", "openOrders", symbol="BTCUSDT"))["code"] == -2011


def test_query_needs_an_order_id_or_client_id(binance, market):
    placed = binance.signed("POST", "order", **LIMIT_BUY, price="60000", newClientOrderId="q1").json()

    assert refusal(binance.signed("GET", "order", symbol="BTCUSDT"))["code"] == -1102
    mismatch = binance.signed("GET", "order", symbol="BTCUSDT", orderId=placed["orderId"], origClientOrderId="q2")
    assert refusal(mismatch) == {"code": -2039, "msg": "Client order ID is not correct for this order ID."}
    assert binance.signed("GET", "order", symbol="BTCUSDT", orderId=placed["orderId"]).json()["isWorking"] is True
    assert refusal(binance.signed("GET", "order", symbol="ETHUSDT", orderId=placed["orderId"]))["code"] == -2013


def test_all_orders_and_my_trades_page_from_an_id(binance, market):
    ids = [
        binance.signed("POST", "order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01").json()["orderId"]
        for _ in range(3)
    ]

    newest_two = binance.signed("GET", "allOrders", symbol="BTCUSDT", limit=2).json()
    from_second = binance.signed("GET", "allOrders", symbol="BTCUSDT", orderId=ids[1]).json()
    trades = binance.signed("GET", "myTrades", symbol="BTCUSDT").json()
    later_trades = binance.signed("GET", "myTrades", symbol="BTCUSDT", fromId=trades[1]["id"]).json()
    one_order = binance.signed("GET", "myTrades", symbol="BTCUSDT", orderId=ids[0]).json()

    assert [o["orderId"] for o in newest_two] == ids[1:]
    assert [o["orderId"] for o in from_second] == ids[1:]
    assert [t["orderId"] for t in trades] == ids
    assert [t["id"] for t in later_trades] == [t["id"] for t in trades[1:]]
    assert [t["orderId"] for t in one_order] == ids[:1]
    assert all(t["isBuyer"] and not t["isMaker"] for t in trades)
