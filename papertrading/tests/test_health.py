"""GET /healthz, as a load balancer or an operator reads it: status code and the check that failed."""

from datetime import timedelta

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone

from papertrading import tasks
from papertrading.models import MarketPrice
from papertrading.sync_status import LAST_SYNC_KEY
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    exchange_fixture,
    testnet_fixture,
)

pytestmark = pytest.mark.django_db
HEALTHZ = "/healthz"


def last_sync_was(seconds_ago: float) -> None:
    cache.set(LAST_SYNC_KEY, (timezone.now() - timedelta(seconds=seconds_ago)).isoformat(), None)


def test_healthz_in_simulation_with_fresh_prices_is_200_without_auth(client, market):
    response = client.get(HEALTHZ)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["mode"] == "simulation"
    assert body["checks"]["database"]["ok"] and body["checks"]["prices"]["ok"]
    assert "sync" not in body["checks"]


def test_healthz_is_503_when_prices_are_stale(client, market, settings):
    MarketPrice.objects.update(updated_at=timezone.now() - timedelta(seconds=settings.PRICE_STALE_AFTER_SECONDS + 1))

    response = client.get(HEALTHZ)

    assert response.status_code == 503
    assert response.json()["checks"]["prices"]["ok"] is False


def test_healthz_in_testnet_mode_is_200_after_a_sync_the_exchange_answered(client, market, exchange):
    assert tasks.sync_testnet_orders.apply().get() == {"changed": {}, "request_weight": 1}

    response = client.get(HEALTHZ)

    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["sync"]["ok"] is True


def test_healthz_in_testnet_mode_turns_503_when_the_exchange_is_unreachable_and_no_order_is_working(
    client, market, exchange
):
    # Green a while ago; then the exchange stops answering while no order is working, so sync has nothing to ask
    # about. It must still notice, or health stays green with the exchange gone.
    last_sync_was(600)
    for path in ("/api/v3/time", "/api/v3/openOrders", "/api/v3/order"):
        exchange.read_failure[path] = requests.ConnectionError("connection refused")

    result = tasks.sync_testnet_orders.apply().get()

    assert "cannot be reached" in result["skipped"]
    response = client.get(HEALTHZ)
    assert response.status_code == 503
    sync = response.json()["checks"]["sync"]
    assert sync["ok"] is False and sync["last_success_age_seconds"] >= 600


def test_healthz_in_testnet_mode_without_credentials_is_503_and_says_why(client, market, exchange, settings):
    settings.BINANCE_TESTNET_API_SECRET = ""
    last_sync_was(1)

    response = client.get(HEALTHZ)

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["sync"]["ok"] is False
    assert "BINANCE_TESTNET_API_KEY" in body["checks"]["sync"]["error"]
    assert "NhqPtmdSJ" not in response.content.decode()  # no secret, whatever the state
