"""STOP_LOSS_LIMIT and TAKE_PROFIT_LIMIT in both venues: when the stop is reached, a LIMIT at `price` goes to work
with the order's time in force; it may fill at once, rest (GTC) or expire (IOC/FOK). The balance check that runs
after every test proves the funds locked always match what the working orders hold."""

from decimal import Decimal as D

import pytest

from papertrading.forms import OrderForm
from papertrading.models import OrderEvent, OrderFill, PaperOrder, SymbolRule
from papertrading.tests.support import ORDERS_URL, balances
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    exchange_fixture,
    place,
    testnet_fixture,
)

pytestmark = pytest.mark.django_db
Status = PaperOrder.Status
# Market 68000 (the `market` fixture). SELL 0.01 BTC when the price falls to 67000, no lower than 66900.
STOP_LIMIT_SELL = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "order_type": "STOP_LOSS_LIMIT",
    "quantity": "0.01",
    "stop_price": "67000",
    "price": "66900",
    "time_in_force": "GTC",
}


def placed(api, body: dict) -> PaperOrder:
    response = api.post(ORDERS_URL, body, format="json")
    assert response.status_code == 201, response.content
    return PaperOrder.objects.get(pk=response.json()["id"])


def test_stop_limit_rests_on_its_stop_holding_what_its_limit_needs(api, account, market):
    order = placed(api, STOP_LIMIT_SELL)

    assert (order.status, order.locked_asset, order.locked_amount) == (Status.PENDING, "BTC", D("0.01"))
    assert (order.trigger_price, order.stop_triggered_at) == (D("67000"), None)
    assert balances(account)["BTC"] == (D("0.99"), D("0.01"))


def test_stop_reached_with_a_marketable_limit_takes_the_market_but_not_through_its_limit(api, market):
    order = placed(api, STOP_LIMIT_SELL)

    market.move("BTCUSDT", "66950")  # the stop is reached; a SELL limit at 66900 crosses a 66950 market

    order.refresh_from_db()
    fill = order.fills.get()
    # 66950 less 0.05 % slippage = 66916.525, snapped down to the tick: 66916.52, above the 66900 limit.
    assert (order.status, fill.price, fill.rule, fill.is_maker) == (
        Status.FILLED,
        D("66916.52"),
        OrderFill.Rule.STOP_TRIGGERED,
        False,
    )
    assert order.stop_triggered_at is not None


def test_stop_reached_on_a_gap_leaves_a_gtc_limit_working_that_fills_later_as_a_maker(api, account, market):
    order = placed(api, STOP_LIMIT_SELL)

    changed = market.move("BTCUSDT", "66800")  # gapped through the stop and below the limit

    order.refresh_from_db()
    assert changed == 1
    assert (order.status, order.trigger_price, order.locked_amount) == (Status.PENDING, D("66900"), D("0.01"))
    assert order.stop_triggered_at is not None
    note = OrderEvent.objects.filter(order=order).last()
    assert (note.from_status, note.to_status, note.source) == ("PENDING", "PENDING", "matcher")
    assert note.detail == "Stop reached at 66800: limit 66900 GTC now working."
    assert not order.fills.exists()

    market.move("BTCUSDT", "66950")  # back up through the limit

    order.refresh_from_db()
    fill = order.fills.get()
    assert (order.status, fill.price, fill.is_maker, fill.rule) == (
        Status.FILLED,
        D("66900"),
        True,
        OrderFill.Rule.LIMIT_CROSSED,
    )
    assert balances(account)["BTC"] == (D("0.99"), D("0"))


def test_stop_reached_on_a_gap_expires_an_ioc_limit_and_frees_its_funds(api, account, market):
    order = placed(api, {**STOP_LIMIT_SELL, "time_in_force": "IOC"})

    market.move("BTCUSDT", "66800")

    order.refresh_from_db()
    assert (order.status, order.locked_amount) == (Status.EXPIRED, D("0"))
    assert balances(account)["BTC"] == (D("1"), D("0"))


def test_take_profit_limit_buy_locks_its_limit_cost_and_refunds_what_the_fill_did_not_spend(api, account, market):
    order = placed(
        api,
        {**STOP_LIMIT_SELL, "side": "BUY", "order_type": "TAKE_PROFIT_LIMIT", "stop_price": "67000", "price": "67100"},
    )
    assert (order.locked_asset, order.locked_amount) == ("USDT", D("671"))

    market.move("BTCUSDT", "66990")  # a BUY take-profit fires when the price falls to its stop

    order.refresh_from_db()
    fill = order.fills.get()
    # 66990 plus 0.05 % = 67023.495, snapped up to 67023.50: below the 67100 limit, so the market price is paid.
    assert (order.status, fill.price) == (Status.FILLED, D("67023.50"))
    assert balances(account)["USDT"] == (D("100000") - D("670.235"), D("0"))


def test_sync_counts_a_stop_limit_whose_limit_went_to_work_as_triggered(api, market):
    placed(api, STOP_LIMIT_SELL)
    market.set("BTCUSDT", "66800")

    body = api.post(f"{ORDERS_URL}/sync").json()

    assert body["changed"] == {"triggered": 1}


def test_stop_limit_that_would_trigger_at_once_is_refused(api, market):
    response = api.post(ORDERS_URL, {**STOP_LIMIT_SELL, "stop_price": "68500", "price": "68400"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "stop_price": [
            "Order would trigger immediately. For a STOP_LOSS_LIMIT SELL the stop price must be below the market "
            "(68000)."
        ]
    }
    assert not PaperOrder.objects.exists()


def test_stop_limits_count_against_max_num_algo_orders(api, market):
    SymbolRule.objects.filter(symbol="BTCUSDT").update(max_num_algo_orders=1)
    SymbolRule.objects.get(symbol="BTCUSDT").save()  # clears the in-process rule cache
    placed(api, {**STOP_LIMIT_SELL, "order_type": "STOP_LOSS", "price": None, "time_in_force": ""})

    response = api.post(ORDERS_URL, STOP_LIMIT_SELL, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["symbol"]
    assert response.json()["symbol"][0].startswith("Filter failure: MAX_NUM_ALGO_ORDERS.")


def test_the_desk_form_asks_a_stop_limit_for_price_stop_and_time_in_force():
    form = OrderForm(initial={"order_type": "TAKE_PROFIT_LIMIT"})

    assert [field.name for field in form.visible_fields_for_type()][-3:] == ["price", "stop_price", "time_in_force"]


def test_testnet_stop_limit_is_sent_with_price_stop_price_and_time_in_force(api, account, exchange):
    response = place(api, {**STOP_LIMIT_SELL, "quantity": "0.001", "stop_price": "67000", "price": "66900"})

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "PENDING"
    assert PaperOrder.objects.get().account == account
    [sent] = exchange.posts()
    assert (sent["type"], sent["price"], sent["stopPrice"], sent["timeInForce"]) == (
        "STOP_LOSS_LIMIT",
        "66900",
        "67000",
        "GTC",
    )
