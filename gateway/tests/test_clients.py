"""The real clients against a live server: ccxt's `binance` class and python-binance's `Client`, their API URLs
pointed at the gateway, paper-trade a session in simulation mode; what they see is what the desk holds."""

from decimal import Decimal

import ccxt
import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from analysis.models import PriceSample
from gateway.services import create_binance_key
from papertrading.models import PaperOrder
from papertrading.symbols import load_default_symbol_rules
from papertrading.tests.support import balances

# A live server runs in another thread: every test here is transactional (each reloads the symbol rules, which an
# earlier transactional test may have flushed).
pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


@pytest.fixture
def session_account(trader, market):
    load_default_symbol_rules()  # a no-op unless an earlier transactional test flushed them
    from papertrading.services import default_account_for

    return default_account_for(trader)


@pytest.fixture
def issued(session_account, trader):
    return create_binance_key(account=session_account, kind="HMAC", created_by=trader)


@pytest.fixture
def sessions(live_server):
    """HTTP sessions of the clients a test made, closed when it ends, so no kept-alive connection outlives it."""
    opened = []
    yield opened
    for session in opened:
        session.close()


def ccxt_binance(live_server, sessions, api_key: str, secret: str) -> ccxt.binance:
    exchange = ccxt.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "options": {
                "fetchMarkets": {"types": ["spot"]},  # the gateway serves spot only: no fapi/dapi calls
                "fetchCurrencies": False,  # sapi (wallet and margin) endpoints
                "fetchMargins": False,
            },
        }
    )
    url = live_server.url + "/binance/api/v3"
    exchange.urls["api"]["public"] = url
    exchange.urls["api"]["private"] = url
    sessions.append(exchange.session)
    return exchange


def python_binance(live_server, sessions, api_key: str, **credentials) -> Client:
    client = Client(api_key, ping=False, **credentials)
    client.API_URL = live_server.url + "/binance/api"
    sessions.append(client.session)
    return client


def test_ccxt_session(live_server, sessions, issued, session_account, market):
    start = D(68000)
    PriceSample.objects.create(symbol="BTCUSDT", price=D("67900"), observed_at=market_time(minutes=-3))
    exchange = ccxt_binance(live_server, sessions, issued.key.api_key, issued.secret)

    markets = exchange.load_markets()
    assert {"BTC/USDT", "ETH/USDT"} <= set(markets)
    assert markets["BTC/USDT"]["precision"]["amount"] == 0.00001
    assert markets["BTC/USDT"]["limits"]["cost"]["min"] == 5

    balance = exchange.fetch_balance()
    assert balance["USDT"]["free"] == 100000 and balance["BTC"]["total"] == 1

    ticker = exchange.fetch_ticker("BTC/USDT")
    assert ticker["last"] == float(start)
    book = exchange.fetch_order_book("BTC/USDT")
    assert book["bids"][0][0] < float(start) < book["asks"][0][0]
    candles = exchange.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    assert candles and candles[-1][4] == float(start)
    assert any(candle[1] == 67900 for candle in candles)

    bought = exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    assert bought["status"] == "closed" and bought["filled"] == 0.01
    assert bought["fee"]["currency"] == "BTC"
    limit = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"clientOrderId": "ccxt-limit-1"})
    assert limit["status"] == "open" and limit["clientOrderId"] == "ccxt-limit-1"
    ioc = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 60000, {"timeInForce": "IOC"})
    assert ioc["status"] == "expired"
    maker = exchange.create_order("BTC/USDT", "LIMIT_MAKER", "sell", 0.01, 70000)
    assert maker["status"] == "open"
    stop = exchange.create_order("BTC/USDT", "STOP_LOSS", "sell", 0.01, None, {"stopPrice": 60000})
    take = exchange.create_order("BTC/USDT", "TAKE_PROFIT", "sell", 0.01, None, {"stopPrice": 75000})
    stop_limit = exchange.create_order("BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.01, 59000, {"stopPrice": 60000})
    quote_buy = exchange.create_order("BTC/USDT", "market", "buy", None, None, {"quoteOrderQty": 100})
    assert 0 < quote_buy["cost"] <= 100

    open_orders = exchange.fetch_open_orders("BTC/USDT")
    assert {o["id"] for o in open_orders} == {limit["id"], maker["id"], stop["id"], take["id"], stop_limit["id"]}
    fetched = exchange.fetch_order(limit["id"], "BTC/USDT")
    assert fetched["price"] == 60000 and fetched["status"] == "open"
    cancelled = exchange.cancel_order(limit["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled"
    trades = exchange.fetch_my_trades("BTC/USDT")
    assert {t["order"] for t in trades} == {bought["id"], quote_buy["id"]}
    exchange.create_order("BTC/USDT", "market", "buy", 0.01, None, {"test": True})  # POST order/test
    assert len(exchange.fetch_my_trades("BTC/USDT")) == len(trades)

    # The same orders and balances, as the desk holds them.
    desk_orders = {str(o.pk): o for o in session_account.orders.all()}
    assert desk_orders[limit["id"]].status == PaperOrder.Status.CANCELLED
    assert desk_orders[limit["id"]].client_order_id == "ccxt-limit-1"
    assert desk_orders[stop_limit["id"]].order_type == "STOP_LOSS_LIMIT"
    held = balances(session_account)
    assert exchange.fetch_balance()["USDT"]["free"] == float(held["USDT"][0])
    exchange.cancel_all_orders("BTC/USDT")
    assert exchange.fetch_open_orders("BTC/USDT") == []
    assert balances(session_account)["USDT"][1] == 0 and balances(session_account)["BTC"][1] == 0

    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order("BTC/USDT", "market", "buy", 50)
    with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.00001, 60000)
    with pytest.raises(ccxt.OrderNotFound):
        exchange.fetch_order("999999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        exchange.cancel_order(limit["id"], "BTC/USDT")  # already cancelled
    exchange.options["timeDifference"] = 120_000  # a clock two minutes behind
    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance()
    forger = ccxt_binance(live_server, sessions, issued.key.api_key, "not-the-secret")
    with pytest.raises(ccxt.AuthenticationError):
        forger.fetch_balance()


def test_python_binance_session(live_server, sessions, issued, session_account):
    client = python_binance(live_server, sessions, issued.key.api_key, api_secret=issued.secret)

    client.ping()
    assert abs(client.get_server_time()["serverTime"] - now_ms()) < 5000
    info = client.get_symbol_info("ETHUSDT")
    assert {f["filterType"] for f in info["filters"]} >= {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"}
    assert client.get_symbol_ticker(symbol="ETHUSDT")["price"] == "3500.00000000"
    assert D(client.get_orderbook_ticker(symbol="ETHUSDT")["askPrice"]) > D("3500")
    assert client.get_order_book(symbol="ETHUSDT")["bids"]
    assert (
        client.get_klines(symbol="ETHUSDT", interval=Client.KLINE_INTERVAL_1MINUTE, limit=3)[-1][4] == "3500.00000000"
    )
    assert client.get_asset_balance("ETH") == {"asset": "ETH", "free": "10.00000000", "locked": "0.00000000"}

    sold = client.order_market_sell(symbol="ETHUSDT", quantity="0.5")
    assert sold["status"] == "FILLED" and sold["fills"][0]["commissionAsset"] == "USDT"
    resting = client.order_limit_buy(symbol="ETHUSDT", quantity="0.1", price="3000", newClientOrderId="pb-1")
    assert resting["status"] == "NEW"
    fok = client.order_limit_buy(symbol="ETHUSDT", quantity="0.1", price="3000", timeInForce="FOK")
    assert fok["status"] == "EXPIRED"
    iceberg = client.order_limit_sell(symbol="ETHUSDT", quantity="1", price="4000", icebergQty="0.2")
    take_limit = client.create_order(
        symbol="ETHUSDT",
        side="SELL",
        type="TAKE_PROFIT_LIMIT",
        quantity="0.1",
        price="3900",
        stopPrice="3800",
        timeInForce="GTC",
        newOrderRespType="RESULT",
    )
    assert take_limit["status"] == "NEW" and "fills" not in take_limit
    assert client.create_test_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.1") == {}

    assert {o["orderId"] for o in client.get_open_orders(symbol="ETHUSDT")} == {
        resting["orderId"],
        iceberg["orderId"],
        take_limit["orderId"],
    }
    assert client.get_order(symbol="ETHUSDT", origClientOrderId="pb-1")["orderId"] == resting["orderId"]
    cancelled = client.cancel_order(symbol="ETHUSDT", orderId=resting["orderId"])
    assert cancelled["status"] == "CANCELED" and cancelled["origClientOrderId"] == "pb-1"
    assert [t["orderId"] for t in client.get_my_trades(symbol="ETHUSDT")] == [sold["orderId"]]
    assert len(client.get_all_orders(symbol="ETHUSDT")) == 5

    account = client.get_account()
    eth = next(b for b in account["balances"] if b["asset"] == "ETH")
    held = balances(session_account)
    assert (D(eth["free"]), D(eth["locked"])) == held["ETH"]

    def refused(call, **params) -> BinanceAPIException:
        with pytest.raises(BinanceAPIException) as caught:
            call(**params)
        return caught.value

    assert refused(client.order_market_buy, symbol="ETHUSDT", quantity="100").code == -2010
    assert refused(client.order_limit_buy, symbol="ETHUSDT", quantity="0.1", price="3000.001").code == -1013
    assert refused(client.get_order, symbol="ETHUSDT", orderId=987654).code == -2013
    assert refused(client.cancel_order, symbol="ETHUSDT", orderId=resting["orderId"]).code == -2011
    client.timestamp_offset = -120_000
    assert refused(client.get_account).code == -1021
    forger = python_binance(live_server, sessions, issued.key.api_key, api_secret="x" * 64)
    assert refused(forger.get_account).code == -1022


def test_python_binance_signs_with_an_ed25519_key(live_server, sessions, session_account, trader):
    private = Ed25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    issued = create_binance_key(account=session_account, kind="ED25519", public_key=public_pem.decode())
    client = python_binance(live_server, sessions, issued.key.api_key, private_key=private_pem.decode())

    order = client.order_limit_buy(symbol="BTCUSDT", quantity="0.01", price="60000")

    assert session_account.orders.get().pk == order["orderId"]
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(BinanceAPIException) as caught:
        python_binance(live_server, sessions, issued.key.api_key, private_key=other.decode()).get_account()
    assert caught.value.code == -1022


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def market_time(*, minutes: int):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(minutes=minutes)
