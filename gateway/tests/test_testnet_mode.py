"""Testnet mode: python-binance drives the gateway, the gateway drives the desk, the desk drives the testnet (here
the local stand-in). The bot's orders reach the exchange under the desk's own client ids."""

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from gateway.services import create_binance_key
from papertrading.binance import BinanceTestnetClient
from papertrading.models import PaperOrder
from papertrading.services import default_account_for
from papertrading.symbols import load_default_symbol_rules
from papertrading.tests.standin import standin_in_testnet_mode

pytestmark = pytest.mark.django_db(transaction=True)
KEY, SECRET = "standin-key", "standin-secret"


@pytest.fixture
def standin(settings, monkeypatch):
    monkeypatch.setattr(BinanceTestnetClient, "retry_backoff_seconds", (0.0, 0.0))
    with standin_in_testnet_mode(settings, monkeypatch, api_key=KEY, secret=SECRET) as server:
        yield server


def test_python_binance_session_on_the_testnet_through_the_gateway(live_server, standin, trader, market):
    load_default_symbol_rules()
    account = default_account_for(trader)
    issued = create_binance_key(account=account, kind="HMAC")
    client = Client(issued.key.api_key, issued.secret, ping=False)
    client.API_URL = live_server.url + "/binance/api"
    try:
        bought = client.order_market_buy(symbol="BTCUSDT", quantity="0.01")
        resting = client.order_limit_buy(symbol="BTCUSDT", quantity="0.01", price="60000", newClientOrderId="tn-1")
        open_ids = [o["orderId"] for o in client.get_open_orders(symbol="BTCUSDT")]
        cancelled = client.cancel_order(symbol="BTCUSDT", origClientOrderId="tn-1")
        with pytest.raises(BinanceAPIException) as unknown:
            client.get_order(symbol="BTCUSDT", orderId=10**9)
        trades = client.get_my_trades(symbol="BTCUSDT")
    finally:
        client.session.close()

    assert bought["status"] == "FILLED" and bought["fills"]
    assert open_ids == [resting["orderId"]]
    assert cancelled["status"] == "CANCELED"
    assert unknown.value.code == -2013
    assert [t["orderId"] for t in trades] == [bought["orderId"]]
    orders = {o.pk: o for o in account.orders.all()}
    assert orders[resting["orderId"]].venue == "testnet"
    assert orders[resting["orderId"]].status == PaperOrder.Status.CANCELLED
    # The exchange saw the desk's orders (under the desk's venue ids) and the cancel.
    sent = [(method, path) for method, path, _ in standin.requests]
    assert sent.count(("POST", "/api/v3/order")) == 2 and ("DELETE", "/api/v3/order") in sent
    placed_refs = {params.get("newClientOrderId") for method, path, params in standin.requests if method == "POST"}
    assert {o.venue_order_ref for o in orders.values()} <= placed_refs
