"""Binance's rate limits per key: weight per minute, new orders per 10 seconds and per day; 429 + Retry-After."""

import time

import pytest

pytestmark = pytest.mark.django_db
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}


@pytest.fixture(autouse=True)
def _one_window(monkeypatch):
    """Every request of a test in one window (a minute, ten seconds), however slowly the machine runs them: the
    clock the limits, the signatures and their checks read stands one second into the current minute."""
    now = (time.time() // 60) * 60 + 1
    monkeypatch.setattr("gateway.limits.time.time", lambda: now)


def test_every_answer_reports_the_weight_used(binance, market):
    first = binance.signed("GET", "account")
    second = binance.signed("GET", "openOrders", symbol="BTCUSDT")
    refused = binance.signed("GET", "account", recvWindow="70000")

    assert first["X-MBX-USED-WEIGHT-1M"] == "20"
    assert second["X-MBX-USED-WEIGHT-1M"] == "26"
    assert refused.status_code == 400 and refused["X-MBX-USED-WEIGHT-1M"] == "46"  # failures cost weight too


def test_too_much_weight_is_429_with_retry_after(binance, settings, market):
    settings.GATEWAY_WEIGHT_LIMIT_1M = 30
    assert binance.signed("GET", "account").status_code == 200

    refused = binance.signed("GET", "account")

    assert refused.status_code == 429
    assert refused.json()["code"] == -1003
    assert "current limit is 30 request weight per 1 MINUTE" in refused.json()["msg"]
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_order_counts_are_reported_and_limited(binance, account, settings, market):
    settings.GATEWAY_ORDER_LIMIT_10S = 2
    counts = [binance.signed("POST", "order", **MARKET_BUY)["X-MBX-ORDER-COUNT-10S"] for _ in range(2)]

    refused = binance.signed("POST", "order", **MARKET_BUY)

    assert counts == ["1", "2"]
    assert refused.status_code == 429
    assert refused.json() == {"code": -1015, "msg": "Too many new orders; current limit is 2 orders per 10 SECOND."}
    assert 1 <= int(refused["Retry-After"]) <= 10
    assert account.orders.count() == 2


def test_limits_are_counted_per_key(binance, account, settings, market, trader):
    from django.test import Client

    from gateway.services import create_binance_key

    from .support import BinanceTestClient

    settings.GATEWAY_ORDER_LIMIT_1D = 1
    assert binance.signed("POST", "order", **MARKET_BUY).status_code == 200
    assert binance.signed("POST", "order", **MARKET_BUY).status_code == 429
    other = create_binance_key(account=account, kind="HMAC")

    placed = BinanceTestClient(Client(), other.key.api_key, other.secret).signed("POST", "order", **MARKET_BUY)

    assert placed.status_code == 200 and placed["X-MBX-ORDER-COUNT-1D"] == "1"
