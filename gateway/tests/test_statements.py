"""An order through the gateway costs at most two SQL statements more than the same order through /api/."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .support import BinanceTestClient

pytestmark = pytest.mark.django_db
LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01", "price": "60000"}
MARKET = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01"}


def api_statements(client: APIClient, payload: dict) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/paper-trading/orders", payload, format="json")
    assert response.status_code == 201, response.content
    return len(captured)


def gateway_statements(binance: BinanceTestClient, params: dict) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = binance.signed("POST", "order", **params)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize(
    "api_payload, gateway_params",
    [
        ({**LIMIT, "order_type": "LIMIT", "time_in_force": "GTC"}, {**LIMIT, "type": "LIMIT", "timeInForce": "GTC"}),
        ({**MARKET, "order_type": "MARKET"}, {**MARKET, "type": "MARKET"}),
    ],
    ids=["resting LIMIT", "filled MARKET"],
)
def test_gateway_order_costs_at_most_two_statements_more_than_the_api(
    trader, account, hmac_key, market, api_payload, gateway_params
):
    # Both authenticate each request from scratch: a user's token on /api/, a signed key on the gateway.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=trader).key}")
    binance = BinanceTestClient(Client(), hmac_key.key.api_key, hmac_key.secret)
    # Warm up: the first fill opens the position, the symbol rule is cached.
    api_statements(api, {**MARKET, "order_type": "MARKET"})
    gateway_statements(binance, {**MARKET, "type": "MARKET"})

    through_api = api_statements(api, api_payload)
    through_gateway = gateway_statements(binance, gateway_params)

    assert through_gateway <= through_api + 2, (through_gateway, through_api)
