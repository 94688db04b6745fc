"""Testnet mode: python-binance and ccxt drive the gateway, the gateway drives the desk, the desk drives the testnet
(here the local stand-in). The bot's orders reach the exchange under the desk's own client ids, and the market data
it reads is the testnet's."""

import ccxt
import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from gateway.services import create_binance_key
from papertrading.binance import BinanceTestnetClient
from papertrading.models import PaperOrder
from papertrading.services import default_account_for
from papertrading.symbols import load_default_symbol_rules
from papertrading.tests.standin import standin_in_testnet_mode
from papertrading.tests.support import balances

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


def test_ccxt_session_on_the_testnet_through_the_gateway(live_server, standin, trader, market):
    load_default_symbol_rules()
    account = default_account_for(trader)
    issued = create_binance_key(account=account, kind="HMAC")
    standin.set_price("BTCUSDT", "69000")  # the testnet's market, away from the desk's recorded 68000
    exchange = ccxt.binance(
        {
            "apiKey": issued.key.api_key,
            "secret": issued.secret,
            "enableRateLimit": False,
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
        }
    )
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = live_server.url + "/binance/api/v3"
    try:
        markets = exchange.load_markets()
        balance = exchange.fetch_balance()
        ticker = exchange.fetch_ticker("BTC/USDT")
        book = exchange.fetch_order_book("BTC/USDT", limit=5)
        candles = exchange.fetch_ohlcv("BTC/USDT", "1m", limit=5)
        bought = exchange.create_order("BTC/USDT", "market", "buy", 0.01)
        resting = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"clientOrderId": "ccxt-tn-1"})
        open_orders = exchange.fetch_open_orders("BTC/USDT")
        fetched = exchange.fetch_order(resting["id"], "BTC/USDT")
        cancelled = exchange.cancel_order(resting["id"], "BTC/USDT")
        trades = exchange.fetch_my_trades("BTC/USDT")
        after = exchange.fetch_balance()
    finally:
        exchange.session.close()

    assert "BTC/USDT" in markets
    assert balance["USDT"]["free"] == 100000 and balance["BTC"]["total"] == 1
    # The market data is the testnet's.
    assert ticker["last"] == 69000 and ticker["bid"] == 69000 and ticker["ask"] == 69000.01
    assert book["bids"][0] == [69000, 1] and book["asks"][0] == [69000.01, 1] and len(book["bids"]) == 5
    assert candles and candles[-1][4] == 69000
    # The orders went through the desk to the testnet and back.
    assert bought["status"] == "closed" and bought["filled"] == 0.01 and bought["average"] == 69000
    assert resting["status"] == "open" and resting["clientOrderId"] == "ccxt-tn-1"
    assert [o["id"] for o in open_orders] == [resting["id"]]
    assert fetched["price"] == 60000 and fetched["status"] == "open"
    assert cancelled["status"] == "canceled"
    assert [t["order"] for t in trades] == [bought["id"]] and trades[0]["price"] == 69000
    held = balances(account)
    assert after["USDT"]["free"] == float(held["USDT"][0]) and after["USDT"]["used"] == 0
    assert after["BTC"]["total"] == float(held["BTC"][0] + held["BTC"][1])
    orders = {str(o.pk): o for o in account.orders.all()}
    assert orders[resting["id"]].venue == "testnet" and orders[resting["id"]].status == PaperOrder.Status.CANCELLED
    assert orders[resting["id"]].client_order_id == "ccxt-tn-1"

    # What the stand-in received: the public reads as asked, the desk's two orders and the cancel, signed.
    assert standin.calls("GET", "/api/v3/ticker/24hr") == [{"symbol": "BTCUSDT"}]
    assert standin.calls("GET", "/api/v3/depth") == [{"symbol": "BTCUSDT", "limit": "5"}]
    assert [(c["symbol"], c["interval"], c["limit"]) for c in standin.calls("GET", "/api/v3/klines")] == [
        ("BTCUSDT", "1m", "5")
    ]
    placed = standin.calls("POST", "/api/v3/order")
    assert [(p["type"], p["side"], p["quantity"], p.get("price")) for p in placed] == [
        ("MARKET", "BUY", "0.01", None),
        ("LIMIT", "BUY", "0.01", "60000"),
    ]
    assert {p["newClientOrderId"] for p in placed} == {o.venue_order_ref for o in orders.values()}
    assert all("signature" in p for p in placed)
    (cancel,) = standin.calls("DELETE", "/api/v3/order")
    on_testnet = next(o for o in standin.orders.values() if o.client_order_id == orders[resting["id"]].venue_order_ref)
    assert cancel["symbol"] == "BTCUSDT" and int(cancel["orderId"]) == on_testnet.order_id
    assert on_testnet.status == "CANCELED" and on_testnet.price == 60000
    assert standin.refused == []
