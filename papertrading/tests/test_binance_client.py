"""BinanceTestnetClient against `responses` mocks (no network, no database)."""

import json
import logging
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from papertrading.binance import (
    BinanceAuthError,
    BinanceClockSkew,
    BinanceNoSuchOrder,
    BinanceNotConfigured,
    BinanceOutcomeUnknown,
    BinanceRateLimited,
    BinanceRejected,
    BinanceTestnetClient,
    BinanceUnavailable,
    format_decimal,
    get_session,
    masked_api_key,
    reset_clock_offsets,
)
from papertrading.binance.client import _RedactSignedUrls
from papertrading.binance.signing import sign_payload
from papertrading.tests.fake_clock import FakeClock

BASE = "https://testnet.binance.vision"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
ED25519_PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
    "-----END PRIVATE KEY-----\n"
)
NOW = 1752998400.0  # fake epoch seconds (2025-07-20T08:00Z, the fixtures' base time)
CLIENT_ID = "pt-5b1e0c7a2f9d4e6b8a3c1d0e2f4a6b8c"
SUBSET = Path(__file__).resolve().parent.parent / "binance" / "spot_api_subset.json"

# Response bodies copied from shared/binance/fixtures (the shared folder is not available in CI).
ORDER_FULL = {
    "symbol": "BTCUSDT",
    "orderId": 5012,
    "orderListId": -1,
    "clientOrderId": CLIENT_ID,
    "transactTime": 1752998400123,
    "price": "0.00000000",
    "origQty": "0.00200000",
    "executedQty": "0.00200000",
    "origQuoteOrderQty": "0.00000000",
    "cummulativeQuoteQty": "136.00000800",
    "status": "FILLED",
    "timeInForce": "GTC",
    "type": "MARKET",
    "side": "BUY",
    "workingTime": 1752998400123,
    "selfTradePreventionMode": "EXPIRE_MAKER",
    "fills": [
        {"price": "68000.00000000", "qty": "0.00120000", "commission": "0.00000120", "commissionAsset": "BTC"},
        {"price": "68000.01000000", "qty": "0.00080000", "commission": "0.00000080", "commissionAsset": "BTC"},
    ],
}
ORDER_HEADERS = {"x-mbx-used-weight": "27", "x-mbx-used-weight-1m": "27", "x-mbx-order-count-10s": "3"}


@pytest.fixture(autouse=True)
def clean_state():
    # Each test has its own cache (root conftest); the measured clock offsets live in the process.
    reset_clock_offsets()
    yield
    reset_clock_offsets()


@pytest.fixture
def credentials(settings):
    settings.BINANCE_TESTNET_API_KEY = API_KEY
    settings.BINANCE_TESTNET_API_SECRET = SECRET
    settings.BINANCE_TESTNET_BASE_URL = BASE
    settings.BINANCE_RECV_WINDOW_MS = 5000
    settings.BINANCE_CONNECT_TIMEOUT = 3.05
    settings.BINANCE_READ_TIMEOUT = 10.0


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def client(credentials, clock):
    return BinanceTestnetClient(clock=clock, sleep=clock.sleep)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def add_time(rsps, server_ms: int | None = None):
    rsps.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": server_ms or int(NOW * 1000)})


def calls_to(rsps, method: str, path: str) -> list:
    return [c for c in rsps.calls if c.request.method == method and urlsplit(c.request.url).path == path]


def query_of(call) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(call.request.url).query, keep_blank_values=True))


def place_market(client, client_order_id: str = CLIENT_ID):
    return client.place_order("BTCUSDT", "BUY", "MARKET", Decimal("0.002"), client_order_id=client_order_id)


# --- signing on the wire ------------------------------------------------------------------------------------
def test_signed_call_sends_key_header_and_a_signature_over_the_exact_query_sent(client, rsps):
    add_time(rsps)
    rsps.add(responses.GET, f"{BASE}/api/v3/account", json={"balances": []})

    client.account()

    call = calls_to(rsps, "GET", "/api/v3/account")[0]
    assert call.request.headers["X-MBX-APIKEY"] == API_KEY
    raw_query = urlsplit(call.request.url).query
    payload, _, signature = raw_query.rpartition("&signature=")
    assert payload == f"omitZeroBalances=true&recvWindow=5000&timestamp={int(NOW * 1000)}"
    assert signature == sign_payload(payload, SECRET)


def test_post_order_sends_parameters_in_query_string_with_empty_body(client, rsps):
    add_time(rsps)
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=ORDER_FULL)

    client.place_order(
        "BTCUSDT", "BUY", "LIMIT", Decimal("0.00100"), Decimal("6.0E+4"), time_in_force="GTC", client_order_id=CLIENT_ID
    )

    call = calls_to(rsps, "POST", "/api/v3/order")[0]
    assert not call.request.body
    sent = query_of(call)
    assert sent["quantity"] == "0.001"
    assert sent["price"] == "60000"
    assert sent["newOrderRespType"] == "FULL"
    assert sent["newClientOrderId"] == CLIENT_ID


def test_public_call_sends_no_api_key_and_no_signature(client, rsps):
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", json={"symbol": "BTCUSDT", "price": "68000.01000000"})

    assert client.ticker_price("BTCUSDT") == {"symbol": "BTCUSDT", "price": "68000.01000000"}

    call = rsps.calls[0]
    assert "X-MBX-APIKEY" not in call.request.headers
    assert query_of(call) == {"symbol": "BTCUSDT"}


def test_signed_call_without_credentials_raises_not_configured_without_http(settings, rsps):
    settings.BINANCE_TESTNET_API_KEY = ""
    settings.BINANCE_TESTNET_API_SECRET = ""
    client = BinanceTestnetClient()

    assert not client.is_configured()
    with pytest.raises(BinanceNotConfigured):
        client.account()
    assert len(rsps.calls) == 0


def test_constructor_overrides_take_precedence_over_settings(credentials):
    client = BinanceTestnetClient(api_key="k" * 64, api_secret="s", base_url="http://localhost:9000/")
    assert client.base_url == "http://localhost:9000"
    assert client.api_key == "k" * 64
    assert client.is_configured()
    assert "s" * 2 not in repr(client) and "k" * 64 not in repr(client)


# --- clock ------------------------------------------------------------------------------------------------
def test_first_signed_call_measures_server_offset_and_stamps_timestamp_with_it(client, clock, rsps):
    add_time(rsps, int(NOW * 1000) + 2500)
    rsps.add(responses.GET, f"{BASE}/api/v3/openOrders", json=[])

    client.open_orders("BTCUSDT")
    client.open_orders("BTCUSDT")

    assert client.clock_offset_ms == 2500
    assert len(calls_to(rsps, "GET", "/api/v3/time")) == 1  # measured once, not per call
    assert [query_of(c)["timestamp"] for c in calls_to(rsps, "GET", "/api/v3/openOrders")] == [
        str(int(NOW * 1000) + 2500)
    ] * 2


def test_offset_is_remeasured_after_a_few_minutes(client, clock, rsps):
    add_time(rsps)
    rsps.add(responses.GET, f"{BASE}/api/v3/openOrders", json=[])

    client.open_orders("BTCUSDT")
    clock.now += 301
    client.open_orders("BTCUSDT")

    assert len(calls_to(rsps, "GET", "/api/v3/time")) == 2


def test_clock_skew_remeasures_offset_and_resends_order_once_with_same_client_order_id(client, rsps):
    rsps.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": int(NOW * 1000)})
    rsps.add(responses.GET, f"{BASE}/api/v3/time", json={"serverTime": int(NOW * 1000) + 1500})
    skew = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=skew, status=400)
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=ORDER_FULL)

    result = place_market(client)

    assert result["orderId"] == 5012
    posts = calls_to(rsps, "POST", "/api/v3/order")
    assert len(posts) == 2
    assert len(calls_to(rsps, "GET", "/api/v3/time")) == 2
    assert {query_of(p)["newClientOrderId"] for p in posts} == {CLIENT_ID}
    assert query_of(posts[1])["timestamp"] == str(int(NOW * 1000) + 1500)
    assert client.clock_offset_ms == 1500
    # time (1) + rejected order (1) + time (1) + successful order (0)
    assert client.last_request_weight == 3


def test_clock_skew_twice_raises_after_a_single_resend(client, rsps):
    add_time(rsps)
    skew = {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."}
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=skew, status=400)

    with pytest.raises(BinanceClockSkew) as info:
        place_market(client)

    assert info.value.code == -1021
    assert len(calls_to(rsps, "POST", "/api/v3/order")) == 2


# --- retries and unknown outcomes ----------------------------------------------------------------------------
def test_get_is_retried_after_5xx_with_backoff_then_succeeds(client, clock, rsps):
    add_time(rsps)
    rsps.add(responses.GET, f"{BASE}/api/v3/openOrders", body="<html>bad gateway</html>", status=502)
    rsps.add(responses.GET, f"{BASE}/api/v3/openOrders", json=[])

    assert client.open_orders("BTCUSDT") == []

    assert len(calls_to(rsps, "GET", "/api/v3/openOrders")) == 2
    assert clock.sleeps == [0.2]


def test_get_gives_up_after_two_retries_with_unavailable(client, clock, rsps):
    add_time(rsps)
    rsps.add(responses.GET, f"{BASE}/api/v3/order", json={"code": -1007, "msg": "Timeout waiting"}, status=503)

    with pytest.raises(BinanceUnavailable):
        client.get_order("BTCUSDT", client_order_id=CLIENT_ID)

    assert len(calls_to(rsps, "GET", "/api/v3/order")) == 3
    assert clock.sleeps == [0.2, 0.4]


def test_get_is_retried_after_connection_reset(client, clock, rsps):
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", body=requests.ConnectionError("reset by peer"))
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", json=[])

    assert client.ticker_price() == []
    assert clock.sleeps == [0.2]


def test_post_order_5xx_raises_outcome_unknown_and_sends_exactly_one_post(client, clock, rsps):
    add_time(rsps)
    rsps.add(responses.POST, f"{BASE}/api/v3/order", body="Internal error", status=500)

    with pytest.raises(BinanceOutcomeUnknown) as info:
        place_market(client)

    assert info.value.http_status == 500
    assert len(calls_to(rsps, "POST", "/api/v3/order")) == 1
    assert clock.sleeps == []


def test_post_order_read_timeout_raises_outcome_unknown_and_sends_exactly_one_post(client, rsps):
    add_time(rsps)
    rsps.add(responses.POST, f"{BASE}/api/v3/order", body=requests.ReadTimeout())

    with pytest.raises(BinanceOutcomeUnknown):
        place_market(client)

    assert len(calls_to(rsps, "POST", "/api/v3/order")) == 1


def test_post_order_connection_reset_after_sending_is_outcome_unknown(client, rsps):
    add_time(rsps)
    reset = requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer"))
    rsps.add(responses.POST, f"{BASE}/api/v3/order", body=reset)

    with pytest.raises(BinanceOutcomeUnknown):
        place_market(client)

    assert len(calls_to(rsps, "POST", "/api/v3/order")) == 1


@pytest.mark.parametrize("code", [-1006, -1007])
def test_post_order_with_unknown_execution_code_is_outcome_unknown(client, rsps, code):
    add_time(rsps)
    body = {"code": code, "msg": "Send status unknown; execution status unknown."}
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=body, status=400)

    with pytest.raises(BinanceOutcomeUnknown) as info:
        place_market(client)

    assert info.value.code == code
    assert len(calls_to(rsps, "POST", "/api/v3/order")) == 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout(),
        requests.ConnectionError(MaxRetryError(None, "/api/v3/order", NewConnectionError(None, "Connection refused"))),
    ],
    ids=["connect-timeout", "connection-refused"],
)
def test_post_order_that_could_not_connect_is_unavailable_and_not_retried(client, clock, rsps, failure):
    add_time(rsps)
    rsps.add(responses.POST, f"{BASE}/api/v3/order", body=failure)

    with pytest.raises(BinanceUnavailable):
        place_market(client)

    assert len(calls_to(rsps, "POST", "/api/v3/order")) == 1
    assert clock.sleeps == []


def test_cancel_5xx_is_outcome_unknown_and_not_retried(client, rsps):
    add_time(rsps)
    rsps.add(responses.DELETE, f"{BASE}/api/v3/order", body="", status=503)

    with pytest.raises(BinanceOutcomeUnknown):
        client.cancel_order("BTCUSDT", order_id=5016)

    assert len(calls_to(rsps, "DELETE", "/api/v3/order")) == 1


# --- typed errors ----------------------------------------------------------------------------------------------
def test_unknown_order_maps_to_no_such_order(client, rsps):
    add_time(rsps)
    rsps.add(responses.GET, f"{BASE}/api/v3/order", json={"code": -2013, "msg": "Order does not exist."}, status=400)

    with pytest.raises(BinanceNoSuchOrder) as info:
        client.get_order("BTCUSDT", client_order_id=CLIENT_ID)

    assert (info.value.code, info.value.http_status) == (-2013, 400)
    assert len(calls_to(rsps, "GET", "/api/v3/order")) == 1  # a definite answer is not retried


def test_engine_rejection_maps_to_rejected_with_code_and_message(client, rsps):
    add_time(rsps)
    body = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=body, status=400)

    with pytest.raises(BinanceRejected) as info:
        place_market(client)

    assert info.value.code == -2010
    assert info.value.msg == "Account has insufficient balance for requested action."
    assert info.value.http_status == 400
    assert client.last_request_weight == 2  # time sync (1) + failed order (1)


def test_cancel_of_finished_order_maps_to_rejected(client, rsps):
    add_time(rsps)
    rsps.add(responses.DELETE, f"{BASE}/api/v3/order", json={"code": -2011, "msg": "Unknown order sent."}, status=400)

    with pytest.raises(BinanceRejected) as info:
        client.cancel_order("BTCUSDT", client_order_id=CLIENT_ID)

    assert info.value.code == -2011


@pytest.mark.parametrize(
    ("status", "code"), [(401, -2015), (401, -2014), (400, -1022)], ids=["-2015", "-2014", "-1022"]
)
def test_key_and_signature_problems_map_to_auth_error(client, rsps, status, code):
    add_time(rsps)
    rsps.add(responses.GET, f"{BASE}/api/v3/account", json={"code": code, "msg": "nope"}, status=status)

    with pytest.raises(BinanceAuthError) as info:
        client.account()

    assert info.value.code == code


# --- rate limits -----------------------------------------------------------------------------------------------
def test_429_records_a_pause_and_later_calls_fail_fast_without_http_until_it_ends(client, clock, rsps):
    body = {"code": -1003, "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", json=body, status=429, headers={"Retry-After": "30"})

    with pytest.raises(BinanceRateLimited) as info:
        client.ticker_price("BTCUSDT")
    assert info.value.retry_after_seconds == 30
    assert not info.value.banned
    assert len(rsps.calls) == 1

    clock.now += 10
    with pytest.raises(BinanceRateLimited) as again:
        client.ticker_price("BTCUSDT")
    assert again.value.retry_after_seconds == pytest.approx(20)
    assert len(rsps.calls) == 1  # refused locally, nothing sent
    assert client.rate_limits.status()["paused"] is True

    clock.now += 21
    rsps.replace(responses.GET, f"{BASE}/api/v3/ticker/price", json={"symbol": "BTCUSDT", "price": "1.0"})
    assert client.ticker_price("BTCUSDT")["price"] == "1.0"


def test_418_ban_is_shared_through_the_cache_with_other_client_instances(client, clock, credentials, rsps):
    body = {"code": -1003, "msg": "Way too much request weight used; IP banned until 1752998999000."}
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", json=body, status=418, headers={"Retry-After": "120"})

    with pytest.raises(BinanceRateLimited) as info:
        client.ticker_price("BTCUSDT")
    assert info.value.banned is True

    other = BinanceTestnetClient(clock=clock, sleep=clock.sleep)  # e.g. another worker process
    with pytest.raises(BinanceRateLimited) as refused:
        other.place_order("BTCUSDT", "BUY", "MARKET", Decimal("0.002"), client_order_id=CLIENT_ID)
    assert refused.value.banned is True
    assert len(rsps.calls) == 1
    status = other.rate_limits.status()
    assert status["banned"] is True and status["paused"] is True


def test_order_count_429_pauses_new_orders_but_not_reads(client, rsps):
    add_time(rsps)
    body = {"code": -1015, "msg": "Too many new orders; current limit is 50 orders per 10 SECOND."}
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=body, status=429, headers={"Retry-After": "5"})
    rsps.add(responses.GET, f"{BASE}/api/v3/openOrders", json=[])

    with pytest.raises(BinanceRateLimited) as info:
        place_market(client)
    assert info.value.scope == "orders" and info.value.code == -1015

    with pytest.raises(BinanceRateLimited):
        place_market(client, "pt-second")
    assert client.open_orders("BTCUSDT") == []
    assert len(calls_to(rsps, "POST", "/api/v3/order")) == 1


def test_usage_headers_of_every_response_land_in_shared_status(client, clock, rsps):
    add_time(rsps)
    headers = {**ORDER_HEADERS, "x-mbx-order-count-1d": "41"}
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=ORDER_FULL, headers=headers)

    place_market(client)

    status = BinanceTestnetClient(clock=clock).rate_limits.status()  # another instance reads the same cache
    assert status["used_weight_1m"] == 27
    assert status["order_count_10s"] == 3
    assert status["order_count_1d"] == 41
    assert client.last_used_weight_1m == 27


# --- weights, caching, formatting ---------------------------------------------------------------------------------
def test_documented_weights_are_reported_per_call(client, rsps):
    add_time(rsps)
    rsps.add(responses.GET, f"{BASE}/api/v3/order", json={"orderId": 1})
    rsps.add(responses.GET, f"{BASE}/api/v3/myTrades", json=[])
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=ORDER_FULL)
    rsps.add(responses.GET, f"{BASE}/api/v3/openOrders", json=[])

    client.get_order("BTCUSDT", order_id=1)
    assert client.last_request_weight == 1 + 4  # first signed call also syncs the clock
    client.my_trades("BTCUSDT", order_id=1)
    assert client.last_request_weight == 5
    client.my_trades("BTCUSDT")
    assert client.last_request_weight == 20
    place_market(client)
    assert client.last_request_weight == 0  # successful orders cost 0 since 2026-03-27
    client.open_orders(None)
    assert client.last_request_weight == 80
    assert client.weight_used == 5 + 5 + 20 + 0 + 80


def test_exchange_info_is_cached_and_updates_rate_limits(client, rsps):
    info = {
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        ],
        "symbols": [{"symbol": "BTCUSDT"}],
    }
    rsps.add(responses.GET, f"{BASE}/api/v3/exchangeInfo", json=info)

    first = client.exchange_info(["BTCUSDT", "ETHUSDT"])
    second = client.exchange_info(["BTCUSDT", "ETHUSDT"])

    assert first == second == info
    assert len(rsps.calls) == 1
    assert client.last_request_weight == 0
    assert query_of(rsps.calls[0]) == {"symbols": '["BTCUSDT","ETHUSDT"]'}
    status = client.rate_limits.status()
    assert status["weight_limit_1m"] == 1200 and status["order_limit_10s"] == 100


def test_json_numbers_are_parsed_as_decimal_never_float(client, rsps):
    rsps.add(responses.GET, f"{BASE}/api/v3/ticker/price", body='{"symbol": "BTCUSDT", "price": 68000.01}')

    price = client.ticker_price("BTCUSDT")["price"]

    assert isinstance(price, Decimal) and price == Decimal("68000.01")


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("1E-5"), "0.00001"), (Decimal("60000.00000000"), "60000"), (Decimal("6E+4"), "60000"), (2, "2")],
)
def test_format_decimal_never_uses_exponent_notation(value, text):
    assert format_decimal(value) == text


def test_floats_are_refused_for_quantities(client):
    with pytest.raises(TypeError):
        client.place_order("BTCUSDT", "BUY", "MARKET", 0.1, client_order_id=CLIENT_ID)


def test_stop_orders_ask_for_result_responses_and_send_stop_price(client, rsps):
    add_time(rsps)
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json={"orderId": 5014, "status": "NEW"})

    client.place_order(
        "BTCUSDT", "SELL", "STOP_LOSS", Decimal("0.001"), stop_price=Decimal("62000"), client_order_id="x"
    )

    sent = query_of(calls_to(rsps, "POST", "/api/v3/order")[0])
    assert sent["newOrderRespType"] == "RESULT"
    assert sent["stopPrice"] == "62000"
    assert "price" not in sent and "timeInForce" not in sent


@pytest.mark.parametrize(
    "kwargs",
    [
        {"order_type": "LIMIT", "price": Decimal("1")},  # no timeInForce
        {"order_type": "MARKET", "price": Decimal("1")},  # price not allowed
        {"order_type": "MARKET", "client_order_id": "has space"},
        {"order_type": "MARKET", "client_order_id": "x" * 37},
    ],
)
def test_invalid_order_arguments_are_refused_before_any_request(client, rsps, kwargs):
    kwargs = {"client_order_id": CLIENT_ID, **kwargs}
    with pytest.raises(ValueError):
        client.place_order("BTCUSDT", "BUY", quantity=Decimal("1"), **kwargs)
    assert len(rsps.calls) == 0


def test_get_and_cancel_need_an_order_reference(client):
    with pytest.raises(ValueError):
        client.get_order("BTCUSDT")
    with pytest.raises(ValueError):
        client.cancel_order("BTCUSDT")


def test_masked_api_key_shows_only_the_ends():
    assert masked_api_key(API_KEY) == "vmPU…Eh8A"
    assert masked_api_key("short") == "………"
    assert masked_api_key("") == ""


def test_http_session_is_shared_within_the_process():
    assert get_session() is get_session()


# --- logging ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("secret", [SECRET, ED25519_PEM], ids=["hmac", "ed25519"])
def test_logs_never_contain_key_secret_query_or_signature(settings, clock, rsps, caplog, secret):
    settings.BINANCE_TESTNET_API_KEY = API_KEY
    settings.BINANCE_TESTNET_API_SECRET = secret
    settings.BINANCE_TESTNET_BASE_URL = BASE
    client = BinanceTestnetClient(clock=clock, sleep=clock.sleep)
    add_time(rsps)
    rsps.add(responses.POST, f"{BASE}/api/v3/order", json=ORDER_FULL, headers=ORDER_HEADERS)
    rsps.add(responses.GET, f"{BASE}/api/v3/account", json={"code": -2015, "msg": "Invalid API-key"}, status=401)
    rsps.add(responses.DELETE, f"{BASE}/api/v3/order", body=requests.ReadTimeout("read timed out"))
    caplog.set_level(logging.DEBUG)

    place_market(client)
    with pytest.raises(BinanceAuthError):
        client.account()
    with pytest.raises(BinanceOutcomeUnknown) as unknown:
        client.cancel_order("BTCUSDT", order_id=5012)

    records = [r for r in caplog.records if r.name == "papertrading.binance"]
    assert any("POST /api/v3/order status=200" in r.getMessage() for r in records)
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records) + str(unknown.value)
    signatures = [query_of(c)["signature"] for c in rsps.calls if "signature" in query_of(c)]
    assert len(signatures) == 3
    secret_lines = [line for line in secret.splitlines() if line and "-----" not in line] or [secret]
    for forbidden in [API_KEY, *secret_lines, *signatures, "signature=", "timestamp=", "newClientOrderId="]:
        assert forbidden not in logged


def test_urllib3_request_lines_have_their_query_string_redacted():
    record = logging.LogRecord(
        "urllib3.connectionpool",
        logging.DEBUG,
        __file__,
        1,
        '%s://%s:%s "%s %s %s" %s %s',
        ("https", "testnet.binance.vision", 443, "POST", "/api/v3/order?symbol=X&signature=abc", "HTTP/1.1", 200, 10),
        None,
    )
    _RedactSignedUrls().filter(record)
    assert "signature" not in record.getMessage()
    assert "/api/v3/order?<redacted>" in record.getMessage()


# --- contract against the in-repo OpenAPI subset -----------------------------------------------------------------
# Parameters newer than the 2024 spec snapshot (REFERENCE.md §13 says it lags; §4 is authoritative).
NEWER_THAN_SPEC = {
    ("GET", "/api/v3/account"): {"omitZeroBalances"},  # documented in REFERENCE.md §4, added to the API in 2024
}


def check_against_spec(method: str, url: str, spec: dict) -> list[str]:
    parts = urlsplit(url)
    operation = spec["paths"].get(parts.path, {}).get(method)
    if operation is None:
        return [f"{method} {parts.path} is not in the spec subset"]
    declared = {p["name"]: p for p in operation["parameters"]}
    sent = parse_qsl(parts.query, keep_blank_values=True)
    problems = []
    allowed_extra = NEWER_THAN_SPEC.get((method, parts.path), set())
    for name, value in sent:
        param = declared.get(name)
        if param is None:
            if name not in allowed_extra:
                problems.append(f"{method} {parts.path}: undeclared parameter {name}")
            continue
        schema = param["schema"]
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{method} {parts.path}: {name}={value} not in {schema['enum']}")
        if schema.get("type") == "integer" and not value.lstrip("-").isdigit():
            problems.append(f"{method} {parts.path}: {name}={value} is not an integer")
        if schema.get("type") == "number" and ("E" in value.upper() or not Decimal(value).is_finite()):
            problems.append(f"{method} {parts.path}: {name}={value} is not a plain decimal")
    sent_names = {name for name, _ in sent}
    for name, param in declared.items():
        if param["required"] and name not in sent_names:
            problems.append(f"{method} {parts.path}: required parameter {name} missing")
    return problems


def test_every_request_the_client_makes_conforms_to_the_spec_subset(client, rsps):
    spec = json.loads(SUBSET.read_text(encoding="utf-8"))
    assert "binance-api-swagger" in spec["source"] and "MIT" in spec["source"]
    add_time(rsps)
    for method, path, body in [
        (responses.GET, "/api/v3/exchangeInfo", {"rateLimits": []}),
        (responses.GET, "/api/v3/ticker/price", []),
        (responses.GET, "/api/v3/account", {}),
        (responses.POST, "/api/v3/order", ORDER_FULL),
        (responses.GET, "/api/v3/order", {}),
        (responses.DELETE, "/api/v3/order", {}),
        (responses.GET, "/api/v3/openOrders", []),
        (responses.GET, "/api/v3/allOrders", []),
        (responses.GET, "/api/v3/myTrades", []),
    ]:
        rsps.add(method, f"{BASE}{path}", json=body)

    client.server_time()
    client.exchange_info()
    client.exchange_info("BTCUSDT")
    client.exchange_info(["BTCUSDT", "ETHUSDT"])
    client.ticker_price()
    client.ticker_price("BTCUSDT")
    client.ticker_price(["BTCUSDT", "ETHUSDT"])
    client.account()
    client.account(omit_zero_balances=False)
    place_market(client)
    client.place_order(
        "BTCUSDT", "BUY", "LIMIT", Decimal("0.001"), Decimal("60000.00"), time_in_force="GTC", client_order_id="a1"
    )
    client.place_order(
        "BTCUSDT", "SELL", "STOP_LOSS", Decimal("0.001"), stop_price=Decimal("62000"), client_order_id="a2"
    )
    client.place_order(
        "BTCUSDT",
        "SELL",
        "TAKE_PROFIT_LIMIT",
        Decimal("0.001"),
        Decimal("70000"),
        Decimal("69000"),
        "IOC",
        client_order_id="a3",
        new_order_resp_type="ACK",
    )
    client.get_order("BTCUSDT", order_id=5013)
    client.get_order("BTCUSDT", client_order_id=CLIENT_ID)
    client.cancel_order("BTCUSDT", order_id=5013, client_order_id=CLIENT_ID)
    client.open_orders("BTCUSDT")
    client.open_orders(None)
    client.all_orders("BTCUSDT", order_id=5012, limit=100)
    client.all_orders("BTCUSDT", start_time=1752998400000, end_time=1753084800000)
    client.my_trades("BTCUSDT", order_id=5012)
    client.my_trades("BTCUSDT", start_time=1752998400000, from_id=1204, limit=10)

    assert len(rsps.calls) == 22
    problems = [p for call in rsps.calls for p in check_against_spec(call.request.method, call.request.url, spec)]
    assert problems == []


def test_spec_check_catches_undeclared_and_invalid_parameters():
    spec = json.loads(SUBSET.read_text(encoding="utf-8"))
    url = f"{BASE}/api/v3/order?symbol=BTCUSDT&side=HOLD&type=MARKET&bogus=1&quantity=1E-5&signature=x"
    problems = check_against_spec("POST", url, spec)
    assert any("bogus" in p for p in problems)
    assert any("side=HOLD" in p for p in problems)
    assert any("quantity" in p for p in problems)
    assert any("timestamp missing" in p for p in problems)
