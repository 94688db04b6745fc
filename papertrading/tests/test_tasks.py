from decimal import Decimal

import pytest
import responses
from celery import states

from papertrading import tasks
from papertrading.models import MarketPrice, PaperOrder
from papertrading.services import place_order

pytestmark = pytest.mark.django_db


@responses.activate
def test_refresh_task_retries_when_the_ticker_fails_and_leaves_prices_and_orders_as_they_were(
    settings, account, market
):
    settings.MARKET_DATA_SOURCE = "binance"
    settings.MARKET_DATA_BASE_URL = "https://prices.invalid"
    responses.get("https://prices.invalid/api/v3/ticker/price", status=502)
    order = place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Decimal("0.001"),
        price=Decimal("67000"), time_in_force="GTC",
    ).order  # fmt: skip
    before = dict(MarketPrice.objects.values_list("symbol", "price"))

    result = tasks.refresh_prices.apply()  # eager: each retry runs at once instead of after its backoff

    assert result.state == states.FAILURE
    assert len(responses.calls) == 1 + tasks.refresh_prices.max_retries
    assert dict(MarketPrice.objects.values_list("symbol", "price")) == before
    order.refresh_from_db()
    assert order.status == PaperOrder.Status.PENDING


def test_refresh_task_stores_new_prices_and_match_task_fills_what_they_cross(settings, account, market):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    order = place_order(
        account=account, symbol="BTCUSDT", side="SELL", order_type="LIMIT", quantity=Decimal("0.001"),
        price=Decimal("68000.01"), time_in_force="GTC",
    ).order  # fmt: skip
    market.set("BTCUSDT", "68100")  # crossed by a price the matcher has not seen yet

    assert tasks.match_simulated_orders.apply().get()["BTCUSDT"] == 1
    order.refresh_from_db()
    assert order.status == PaperOrder.Status.FILLED


def test_sync_task_does_nothing_in_simulation_mode(db):
    assert tasks.sync_testnet_orders.apply().get() == {"skipped": "not in testnet mode"}
