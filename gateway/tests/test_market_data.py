"""Public endpoints: the desk's symbols and filters, its prices, and candles from the prices it recorded."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from analysis.models import PriceSample
from papertrading.models import MarketPrice, SymbolRule

from .support import BASE

pytestmark = pytest.mark.django_db
D = Decimal


def get(path: str, **params):
    return Client().get(BASE + path, params)


def test_ping_and_time():
    assert get("ping").json() == {}
    server_time = get("time").json()["serverTime"]
    assert abs(server_time - timezone.now().timestamp() * 1000) < 5000


def test_exchange_info_shows_the_desks_rules(market):
    SymbolRule.objects.filter(symbol="ETHUSDT").update(step_size=D("0.001"), min_notional=D("10"))

    info = get("exchangeInfo").json()
    eth = get("exchangeInfo", symbol="ETHUSDT").json()["symbols"]

    assert {s["symbol"] for s in info["symbols"]} == set(SymbolRule.objects.values_list("symbol", flat=True))
    filters = {f["filterType"]: f for f in eth[0]["filters"]}
    assert filters["LOT_SIZE"]["stepSize"] == "0.00100000"
    assert filters["NOTIONAL"]["minNotional"] == "10.00000000"
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 6000,
    }
    assert get("exchangeInfo", symbol="NOPE").json() == {"code": -1121, "msg": "Invalid symbol."}
    both = get("exchangeInfo", symbols='["BTCUSDT","ETHUSDT"]').json()["symbols"]
    assert [s["symbol"] for s in both] == ["BTCUSDT", "ETHUSDT"]


def test_ticker_price_one_and_all(market):
    market.set("SOLUSDT", "151.25")

    assert get("ticker/price", symbol="SOLUSDT").json() == {"symbol": "SOLUSDT", "price": "151.25000000"}
    every = {row["symbol"]: row["price"] for row in get("ticker/price").json()}
    assert every["BTCUSDT"] == "68000.00000000" and len(every) == 5


def test_book_is_one_level_at_the_simulators_fill_prices(market):
    book = get("ticker/bookTicker", symbol="BTCUSDT").json()
    depth = get("depth", symbol="BTCUSDT", limit=5).json()

    # 0.05 % slippage either side of 68000, on the 0.01 tick.
    assert (book["bidPrice"], book["askPrice"]) == ("67966.00000000", "68034.00000000")
    assert depth["bids"] == [["67966.00000000", book["bidQty"]]] and depth["asks"][0][0] == "68034.00000000"


def at(minute: int, second: int) -> datetime:
    base = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    return base + timedelta(minutes=minute, seconds=second)


def test_klines_are_built_from_the_recorded_prices_and_fills(binance, market):
    MarketPrice.objects.filter(symbol="BTCUSDT").update(updated_at=at(0, 0) - timedelta(hours=1))
    for minute, second, price in [(0, 5, "100"), (0, 30, "130"), (0, 50, "90"), (0, 55, "120"), (2, 10, "125")]:
        PriceSample.objects.create(symbol="BTCUSDT", price=D(price), observed_at=at(minute, second))
    start = int(at(0, 0).timestamp() * 1000)

    rows = get("klines", symbol="BTCUSDT", interval="1m", startTime=start, endTime=start + 3 * 60_000 - 1).json()

    assert [row[0] for row in rows] == [start, start + 60_000, start + 120_000]
    assert rows[0][1:5] == ["100.00000000", "130.00000000", "90.00000000", "120.00000000"]
    assert rows[1][1:5] == ["120.00000000"] * 4  # no price recorded: the previous close carries
    assert rows[2][1:5] == ["125.00000000"] * 4
    assert rows[0][6] == start + 59_999 and rows[0][11] == "0"


def test_klines_count_the_desks_fills_as_volume(binance, market):
    binance.signed("POST", "order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    binance.signed("POST", "order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.02")

    last = get("klines", symbol="BTCUSDT", interval="1h", limit=1).json()[-1]
    day = get("ticker/24hr", symbol="BTCUSDT").json()

    assert last[5] == "0.03000000" and last[8] == 2
    assert last[9] == "0.01000000"  # the taker BUY
    assert day["volume"] == "0.03000000" and day["count"] == 2 and day["lastPrice"] == "68000.00000000"


def test_klines_refuse_unknown_intervals_and_symbols(market):
    assert get("klines", symbol="BTCUSDT", interval="7m").json() == {"code": -1120, "msg": "Invalid interval."}
    assert get("klines", symbol="NOPE", interval="1m").json()["code"] == -1121
    assert get("klines", symbol="BTCUSDT").json()["code"] == -1102


def test_every_symbols_24hr_ticker_at_once(market):
    rows = get("ticker/24hr").json()
    some = get("ticker/24hr", symbols='["ETHUSDT","SOLUSDT"]').json()

    assert sorted(row["symbol"] for row in rows) == sorted(SymbolRule.objects.values_list("symbol", flat=True))
    assert [(row["symbol"], row["lastPrice"]) for row in some] == [
        ("ETHUSDT", "3500.00000000"),
        ("SOLUSDT", "150.00000000"),
    ]
