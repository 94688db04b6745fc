"""Testnet mode: the public market data comes from the testnet (here the local stand-in), through the desk's Binance
client, not from the prices the desk records; a testnet that refuses, limits or fails answers as Binance would."""

import json
from decimal import Decimal

import pytest
import responses
from django.test import Client

from papertrading.binance import BinanceTestnetClient
from papertrading.tests.standin import StandIn, standin_in_testnet_mode

from .support import BASE

pytestmark = pytest.mark.django_db
KEY, SECRET = "standin-key", "standin-secret"
D = Decimal
FIXTURE_KEYS = {
    # Binance's shapes (shared/binance/fixtures and the Spot API's ticker schema).
    "book": {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"},
    "24hr": {
        "symbol",
        "priceChange",
        "priceChangePercent",
        "weightedAvgPrice",
        "prevClosePrice",
        "lastPrice",
        "lastQty",
        "bidPrice",
        "bidQty",
        "askPrice",
        "askQty",
        "openPrice",
        "highPrice",
        "lowPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    },
}


@pytest.fixture
def standin(settings, monkeypatch, market):
    """The stand-in behind the desk, its BTC price away from the desk's recorded 68000."""
    monkeypatch.setattr(BinanceTestnetClient, "retry_backoff_seconds", (0.0, 0.0))
    with standin_in_testnet_mode(settings, monkeypatch, api_key=KEY, secret=SECRET) as server:
        server.set_price("BTCUSDT", "70123.45")
        server.requests.clear()
        yield server


def get(path: str, **params):
    return Client().get(BASE + path, params)


def received(standin, path: str) -> list[dict]:
    return standin.calls("GET", "/api/v3/" + path)


def test_ticker_price_is_the_testnets(standin):
    one = get("ticker/price", symbol="BTCUSDT")
    every = get("ticker/price").json()

    assert one.status_code == 200 and one.json() == {"symbol": "BTCUSDT", "price": "70123.45000000"}
    assert [row["symbol"] for row in every] == ["BNBUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    assert every[1]["price"] == "70123.45000000"
    # One request each: the symbol, then the desk's symbols as one JSON array; never signed.
    first, second = received(standin, "ticker/price")
    assert first == {"symbol": "BTCUSDT"}
    assert json.loads(second["symbols"]) == [row["symbol"] for row in every]


def test_book_ticker_and_depth_are_the_testnets_book(standin):
    book = get("ticker/bookTicker", symbol="BTCUSDT").json()
    books = get("ticker/bookTicker", symbols='["ETHUSDT","BTCUSDT"]').json()
    depth = get("depth", symbol="BTCUSDT", limit=5)

    assert set(book) == FIXTURE_KEYS["book"]
    assert (book["bidPrice"], book["askPrice"]) == ("70123.45000000", "70123.46000000")
    assert [row["symbol"] for row in books] == ["ETHUSDT", "BTCUSDT"]
    assert depth.status_code == 200
    levels = depth.json()
    assert set(levels) == {"lastUpdateId", "bids", "asks"}
    assert [bid[0] for bid in levels["bids"]] == [
        "70123.45000000",
        "70123.44000000",
        "70123.43000000",
        "70123.42000000",
        "70123.41000000",
    ]
    assert len(levels["asks"]) == 5 and levels["asks"][0] == ["70123.46000000", "1.00000000"]
    assert received(standin, "depth") == [{"symbol": "BTCUSDT", "limit": "5"}]
    # The gateway counts Binance's weight for the depth asked (5 up to 100 levels).
    assert depth.headers["X-MBX-USED-WEIGHT-1M"] == str(2 + 4 + 5)


def test_24hr_ticker_is_the_testnets_day(standin):
    standin.set_price("BTCUSDT", "71000")

    day = get("ticker/24hr", symbol="BTCUSDT").json()
    some = get("ticker/24hr", symbols='["SOLUSDT","ETHUSDT"]').json()

    assert set(day) == FIXTURE_KEYS["24hr"]
    assert day["lastPrice"] == "71000.00000000" and day["openPrice"] == "68000.00000000"
    assert day["highPrice"] == "71000.00000000" and day["lowPrice"] == "68000.00000000"
    assert day["priceChange"] == "3000.00000000" and day["priceChangePercent"] == "4.412"
    assert [(row["symbol"], row["lastPrice"]) for row in some] == [
        ("SOLUSDT", "150.00000000"),
        ("ETHUSDT", "3500.00000000"),
    ]
    assert received(standin, "ticker/24hr") == [{"symbol": "BTCUSDT"}, {"symbols": '["SOLUSDT","ETHUSDT"]'}]


def test_klines_are_the_testnets_candles(standin):
    standin.set_price("BTCUSDT", "69000")
    opened = standin.price_log[0][0]  # the stand-in's first price, 68000
    start = opened - opened % 60_000

    rows = get("klines", symbol="BTCUSDT", interval="1m", startTime=start, limit=3).json()
    monthly = get("klines", symbol="BTCUSDT", interval="1M", limit=1)

    assert rows[0][0] == start and rows[0][6] == start + 59_999 and len(rows[0]) == 12
    assert rows[0][1] == "68000.00000000" and rows[-1][4] == "69000.00000000"
    assert max(D(row[2]) for row in rows) == D("70123.45")  # the testnet's prices, not the desk's
    assert monthly.status_code == 400 and monthly.json()["code"] == -1120  # the stand-in has no monthly bars
    assert received(standin, "klines")[0] == {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "startTime": str(start),
        "limit": "3",
    }


def test_symbols_the_desk_does_not_trade_are_refused_without_asking_the_testnet(standin):
    assert get("ticker/price", symbol="DOGEUSDT").json() == {"code": -1121, "msg": "Invalid symbol."}
    assert get("depth", symbol="DOGEUSDT").json()["code"] == -1121
    assert get("klines", symbol="BTCUSDT", interval="7m").json()["code"] == -1120
    assert standin.requests == []


def test_the_testnets_own_refusal_passes_through(settings, monkeypatch, market):
    # A testnet that does not list one of the desk's symbols.
    prices = {"BTCUSDT": "68000", "ETHUSDT": "3500"}
    with standin_in_testnet_mode(settings, monkeypatch, api_key=KEY, secret=SECRET, prices=prices) as server:
        refused = get("ticker/bookTicker", symbol="SOLUSDT")

    assert refused.status_code == 400 and refused.json() == {"code": -1121, "msg": "Invalid symbol."}
    assert server.refused == [("/api/v3/ticker/bookTicker", -1121)]


def test_an_unreachable_testnet_answers_binances_try_again(settings, monkeypatch, market):
    monkeypatch.setattr(BinanceTestnetClient, "retry_backoff_seconds", (0.0, 0.0))
    with standin_in_testnet_mode(settings, monkeypatch, api_key=KEY, secret=SECRET) as server:
        address = server.base_url
    # Stopped: nothing listens on its address any more.
    assert address == settings.BINANCE_TESTNET_BASE_URL

    answers = [get(path, symbol="BTCUSDT", interval="1m") for path in ("ticker/price", "depth", "klines")]

    for answer in answers:
        assert answer.status_code == 503
        assert answer.json() == {
            "code": -1001,
            "msg": "Internal error; unable to process your request. Please try again.",
        }


@responses.activate
def test_a_failing_testnet_answers_try_again_and_a_limited_one_429_with_retry_after(settings, market, monkeypatch):
    monkeypatch.setattr(BinanceTestnetClient, "retry_backoff_seconds", (0.0, 0.0))
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_BASE_URL = "https://testnet.example"
    responses.add(responses.GET, "https://testnet.example/api/v3/depth", body="<html>bad gateway</html>", status=502)
    limited = {"code": -1003, "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}
    responses.add(
        responses.GET,
        "https://testnet.example/api/v3/ticker/24hr",
        json=limited,
        status=429,
        headers={"Retry-After": "17"},
    )

    failing = get("depth", symbol="BTCUSDT")
    first = get("ticker/24hr", symbol="BTCUSDT")
    again = get("ticker/price", symbol="BTCUSDT")  # the client keeps the pause: nothing is sent meanwhile

    assert failing.status_code == 503 and failing.json()["code"] == -1001
    assert len(responses.calls) == 1 + 2 + 1  # the read and its two retries, then the limited one
    assert first.status_code == 429 and first.json() == limited and first.headers["Retry-After"] == "17"
    assert again.status_code == 429 and again.json()["code"] == -1003
    assert 1 <= int(again.headers["Retry-After"]) <= 17
    assert not any("/ticker/price" in call.request.url for call in responses.calls)


@responses.activate
def test_a_ban_answers_418_until_it_is_lifted(settings, market):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_BASE_URL = "https://testnet.example"
    banned = {"code": -1003, "msg": "Way too much request weight used; IP banned until 1752998520000."}
    responses.add(
        responses.GET, "https://testnet.example/api/v3/klines", json=banned, status=418, headers={"Retry-After": "120"}
    )

    first = get("klines", symbol="BTCUSDT", interval="1m")
    then = get("ticker/bookTicker", symbol="BTCUSDT")

    assert first.status_code == 418 and first.json()["code"] == -1003 and first.headers["Retry-After"] == "120"
    assert then.status_code == 418 and then.json()["msg"].startswith("Way too much request weight used; IP banned")
    assert len(responses.calls) == 1


def test_simulation_mode_still_answers_from_the_desks_prices(settings, market):
    with StandIn(api_key=KEY, secret=SECRET) as server:
        settings.BINANCE_TESTNET_BASE_URL = server.base_url
        price = get("ticker/price", symbol="BTCUSDT").json()

    assert price == {"symbol": "BTCUSDT", "price": "68000.00000000"}
    assert server.requests == []
