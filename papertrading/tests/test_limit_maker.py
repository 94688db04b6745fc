"""LIMIT_MAKER (post-only) in both venues: it rests at its price and fills as a maker, or is refused with
Binance's -2010 "Order would immediately match and take." when it would fill on arrival."""

from decimal import Decimal as D

import pytest

from papertrading.forms import OrderForm
from papertrading.models import OrderFill, PaperOrder
from papertrading.services import open_account
from papertrading.tests.support import ORDERS_URL, balances
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    exchange_fixture,
    place,
    testnet_fixture,
)

pytestmark = pytest.mark.django_db
MAKER_BUY = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT_MAKER", "quantity": "0.01", "price": "67000"}
WOULD_TAKE = "Order would immediately match and take."


# --- simulator ----------------------------------------------------------------------------------------------------
def test_maker_buy_below_the_market_rests_and_locks_its_cost(api, market, account):
    response = api.post(ORDERS_URL, MAKER_BUY, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["order_type"], body["time_in_force"]) == ("PENDING", "LIMIT_MAKER", "")
    assert (body["locked_asset"], D(body["locked_amount"])) == ("USDT", D("670"))
    assert balances(account)["USDT"] == (D("99330"), D("670"))


def test_maker_fills_at_its_own_price_as_a_maker_when_the_market_comes_to_it(api, market, account):
    order_id = api.post(ORDERS_URL, MAKER_BUY, format="json").json()["id"]

    market.move("BTCUSDT", "66900")

    order = PaperOrder.objects.get(pk=order_id)
    fill = order.fills.get()
    assert order.status == PaperOrder.Status.FILLED
    assert (fill.price, fill.is_maker, fill.rule, fill.slippage_rate) == (
        D("67000"),
        True,
        OrderFill.Rule.LIMIT_CROSSED,
        D("0"),
    )
    # Paid 670 USDT from the lock; received 0.01 BTC less the 0.1 % fee.
    assert balances(account)["USDT"] == (D("99330"), D("0")) and balances(account)["BTC"] == (D("1.00999"), D("0"))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({**MAKER_BUY, "price": "68000"}, id="buy-at-the-market"),
        pytest.param({**MAKER_BUY, "price": "69000"}, id="buy-above-the-market"),
        pytest.param({**MAKER_BUY, "side": "SELL", "price": "67500"}, id="sell-below-the-market"),
    ],
)
def test_maker_that_would_take_is_refused_with_binances_message_and_moves_nothing(api, market, account, body):
    before = balances(account)

    response = api.post(ORDERS_URL, body, format="json")

    assert response.status_code == 400
    answer = response.json()
    assert (answer["code"], answer["detail"]) == (-2010, WOULD_TAKE)
    assert answer["order"]["status"] == "REJECTED"
    assert balances(account) == before
    assert not OrderFill.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        pytest.param(
            {**MAKER_BUY, "time_in_force": "GTC"},
            {"time_in_force": ["A LIMIT_MAKER order takes no time in force: it rests until filled or cancelled."]},
            id="time-in-force",
        ),
        pytest.param(
            {key: value for key, value in MAKER_BUY.items() if key != "price"},
            {"price": ["A LIMIT_MAKER order needs a price."]},
            id="no-price",
        ),
    ],
)
def test_maker_fields_are_checked_like_any_order(api, market, body, errors):
    response = api.post(ORDERS_URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not PaperOrder.objects.exists()


def test_the_desk_form_asks_a_maker_order_for_a_price_only():
    form = OrderForm(initial={"order_type": "LIMIT_MAKER"})

    assert [field.name for field in form.visible_fields_for_type()] == [
        "symbol",
        "side",
        "order_type",
        "quantity",
        "price",
        "iceberg_quantity",
    ]


# --- testnet ------------------------------------------------------------------------------------------------------
def open_testnet_desk(trader) -> None:
    """The trader's desk on the testnet: an allocation that fits in what the exchange account holds."""
    open_account(owner=trader, name="Testnet desk", starting_balances={"USDT": "1000", "BTC": "0.1"}, is_default=True)


def test_testnet_maker_is_sent_as_limit_maker_with_a_price_and_no_time_in_force(api, exchange, trader):
    open_testnet_desk(trader)
    response = place(api, {**MAKER_BUY, "price": "60000", "quantity": "0.001"})

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "PENDING"
    [sent] = exchange.posts()
    assert (sent["type"], sent["price"], sent["quantity"]) == ("LIMIT_MAKER", "60000", "0.001")
    assert "timeInForce" not in sent


def test_testnet_refusal_of_a_taking_maker_keeps_the_exchanges_code_and_message(api, exchange, trader):
    open_testnet_desk(trader)
    exchange.post_script.append((False, (400, {"code": -2010, "msg": WOULD_TAKE})))

    response = place(api, {**MAKER_BUY, "price": "60000", "quantity": "0.001"})

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["detail"]) == (-2010, WOULD_TAKE)
    order = PaperOrder.objects.get()
    assert (order.status, order.reject_code) == (PaperOrder.Status.REJECTED, -2010)
    assert len(exchange.posts()) == 1
