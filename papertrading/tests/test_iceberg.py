"""Iceberg orders: `iceberg_quantity` (Binance's icebergQty) on a LIMIT GTC or a LIMIT_MAKER, held to ICEBERG_PARTS
and to LOT_SIZE, stored, shown and sent to the testnet as icebergQty."""

from decimal import Decimal as D

import pytest

from papertrading.models import PaperOrder
from papertrading.tests.support import LIMIT_BUY, MARKET_BUY, ORDERS_URL, balances
from papertrading.tests.test_limit_maker import open_testnet_desk
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    exchange_fixture,
    place,
    testnet_fixture,
)

pytestmark = pytest.mark.django_db
# BTCUSDT ships ICEBERG_PARTS 100 and a LOT_SIZE step of 0.00001.
ICEBERG = {**LIMIT_BUY, "quantity": "0.01", "iceberg_quantity": "0.002"}


def test_limit_gtc_iceberg_is_stored_and_shown(api, market):
    response = api.post(ORDERS_URL, ICEBERG, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["iceberg_quantity"] == "0.00200000"
    assert PaperOrder.objects.get().iceberg_quantity == D("0.002")


def test_limit_maker_may_be_an_iceberg(api, market):
    body = {key: value for key, value in ICEBERG.items() if key != "time_in_force"} | {"order_type": "LIMIT_MAKER"}

    assert api.post(ORDERS_URL, body, format="json").status_code == 201


def test_iceberg_parts_at_the_limit_pass_and_one_part_more_is_refused(api, market, account):
    at_limit = api.post(ORDERS_URL, {**ICEBERG, "iceberg_quantity": "0.0001"}, format="json")  # 100 parts
    assert at_limit.status_code == 201, at_limit.content
    before = balances(account)

    over = api.post(ORDERS_URL, {**ICEBERG, "iceberg_quantity": "0.00009"}, format="json")  # 112 parts

    assert over.status_code == 400
    assert over.json() == {
        "iceberg_quantity": ["Filter failure: ICEBERG_PARTS. 0.01 in parts of 0.00009 is 112 parts; at most 100."]
    }
    assert PaperOrder.objects.count() == 1 and balances(account) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({**MARKET_BUY, "iceberg_quantity": "0.002"},
                     "Only a LIMIT or LIMIT_MAKER order can be an iceberg.", id="market"),
        pytest.param({**ICEBERG, "time_in_force": "IOC"}, "An iceberg LIMIT order must be GTC.", id="ioc"),
        pytest.param({**ICEBERG, "iceberg_quantity": "0.01"}, "An iceberg shows less than its whole quantity.",
                     id="whole-quantity"),
        pytest.param({**ICEBERG, "iceberg_quantity": "0.002005"},
                     "Filter failure: LOT_SIZE. Quantity must be a multiple of 0.00001.", id="off-step"),
    ],
)  # fmt: skip
def test_iceberg_that_binance_would_refuse_is_a_400_on_its_field(api, market, body, message):
    response = api.post(ORDERS_URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"iceberg_quantity": [message]}
    assert not PaperOrder.objects.exists()


def test_repeating_a_client_order_id_with_another_iceberg_size_is_a_duplicate(api, market):
    api.post(ORDERS_URL, {**ICEBERG, "client_order_id": "ice-1"}, format="json")

    response = api.post(ORDERS_URL, {**ICEBERG, "client_order_id": "ice-1", "iceberg_quantity": "0.005"}, format="json")

    assert response.status_code == 409
    assert PaperOrder.objects.count() == 1


def test_testnet_iceberg_is_sent_as_iceberg_qty(api, exchange, trader):
    open_testnet_desk(trader)

    response = place(api, {**ICEBERG, "price": "60000", "quantity": "0.001", "iceberg_quantity": "0.0005"})

    assert response.status_code == 201, response.content
    [sent] = exchange.posts()
    assert (sent["type"], sent["timeInForce"], sent["icebergQty"]) == ("LIMIT", "GTC", "0.0005")
    assert PaperOrder.objects.get().account.name == "Testnet desk"
