"""BinanceTestnetClient's public market data calls (24-hour ticker, book ticker, depth, klines) against `responses`
mocks: unsigned, Binance's parameters and weights, and the same failure handling as every read."""

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from papertrading.binance import BinanceRateLimited, BinanceRejected, BinanceTestnetClient, reset_clock_offsets
from papertrading.tests.fake_clock import FakeClock

BASE = "https://testnet.binance.vision"
NOW = 1752998400.0
# Shapes from shared/binance/fixtures (book_ticker_BTCUSDT.json, klines_BTCUSDT_1m.json).
BOOK = {
    "symbol": "BTCUSDT",
    "bidPrice": "68000.00000000",
    "bidQty": "0.41520000",
    "askPrice": "68000.01000000",
    "askQty": "0.12870000",
}
KLINE = [
    1752998280000,
    "67980.00000000",
    "68010.50000000",
    "67975.10000000",
    "67999.99000000",
    "12.41385000",
    1752998339999,
    "843912.51473210",
    1312,
    "6.20105000",
    "421570.11204530",
    "0",
]


@pytest.fixture
def client(settings):
    reset_clock_offsets()
    # No credentials: public calls need none.
    settings.BINANCE_TESTNET_API_KEY = ""
    settings.BINANCE_TESTNET_API_SECRET = ""
    settings.BINANCE_TESTNET_BASE_URL = BASE
    clock = FakeClock(NOW)
    return BinanceTestnetClient(clock=clock, sleep=clock.sleep)


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


def sent(call) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(call.request.url).query, keep_blank_values=True))


def test_book_ticker_one_many_and_all(client, rsps):
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/bookTicker", json=BOOK)
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/bookTicker", json=[BOOK])
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/bookTicker", json=[BOOK])

    assert client.book_ticker("BTCUSDT") == BOOK
    assert client.last_request_weight == 2
    assert client.book_ticker(["BTCUSDT", "ETHUSDT"]) == [BOOK]
    assert client.last_request_weight == 4
    client.book_ticker()

    queries = [sent(call) for call in rsps.calls]
    assert queries == [{"symbol": "BTCUSDT"}, {"symbols": '["BTCUSDT","ETHUSDT"]'}, {}]
    assert all("X-MBX-APIKEY" not in call.request.headers for call in rsps.calls)
    assert client.weight_used == 2 + 4 + 4


@pytest.mark.parametrize(("count", "weight"), [(1, 2), (20, 2), (21, 40), (100, 40), (101, 80)])
def test_24hr_ticker_weight_follows_the_number_of_symbols(client, rsps, count, weight):
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/24hr", json=[])
    names = [f"S{i}USDT" for i in range(count)]

    client.ticker_24hr(names)

    assert json.loads(sent(rsps.calls[0])["symbols"]) == names
    assert client.last_request_weight == weight


def test_24hr_ticker_of_one_symbol_and_of_all(client, rsps):
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/24hr", json={"symbol": "BTCUSDT", "lastPrice": "68000.00000000"})
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/24hr", json=[])

    assert client.ticker_24hr("BTCUSDT")["lastPrice"] == "68000.00000000"
    assert client.last_request_weight == 2
    assert client.ticker_24hr() == []
    assert client.last_request_weight == 80
    assert [sent(call) for call in rsps.calls] == [{"symbol": "BTCUSDT"}, {}]


@pytest.mark.parametrize(("limit", "weight"), [(None, 5), (100, 5), (101, 25), (500, 25), (1000, 50), (5000, 250)])
def test_depth_sends_the_limit_and_spends_its_weight(client, rsps, limit, weight):
    book = {"lastUpdateId": 1027024, "bids": [["4.00000000", "431.00000000"]], "asks": []}
    rsps.add(responses.GET, f"{BASE}/api/v3/depth", json=book)

    assert client.depth("BTCUSDT", limit) == book

    expected = {"symbol": "BTCUSDT"} if limit is None else {"symbol": "BTCUSDT", "limit": str(limit)}
    assert sent(rsps.calls[0]) == expected
    assert client.last_request_weight == weight


def test_klines_send_the_window_and_return_binances_rows(client, rsps):
    rsps.add(responses.GET, f"{BASE}/api/v3/klines", json=[KLINE])

    rows = client.klines("BTCUSDT", "1m", start_time=1752998280000, end_time=1752998339999, limit=2)

    assert rows == [KLINE]
    assert sent(rsps.calls[0]) == {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "startTime": "1752998280000",
        "endTime": "1752998339999",
        "limit": "2",
    }
    assert client.last_request_weight == 2


def test_market_data_refusals_and_rate_limits_are_typed(client, rsps):
    rsps.add(responses.GET, f"{BASE}/api/v3/klines", json={"code": -1120, "msg": "Invalid interval."}, status=400)
    rsps.add(
        responses.GET,
        f"{BASE}/api/v3/depth",
        json={"code": -1003, "msg": "Too much request weight used"},
        status=429,
        headers={"Retry-After": "30"},
    )

    with pytest.raises(BinanceRejected) as refused:
        client.klines("BTCUSDT", "7m")
    with pytest.raises(BinanceRateLimited) as limited:
        client.depth("BTCUSDT")
    # The pause is remembered: the next public call is not sent.
    with pytest.raises(BinanceRateLimited):
        client.book_ticker("BTCUSDT")

    assert refused.value.code == -1120
    assert limited.value.retry_after_seconds == 30 and limited.value.code == -1003
    assert len(rsps.calls) == 2
