"""Fixtures and helpers shared by the reconciliation tests: testnet mode against the in-test Binance stand-in.

Import the fixtures into a test module (``from papertrading.tests.reconciliation_support import standin_fixture``).
"""

import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from papertrading import services
from papertrading.binance import BinanceTestnetClient
from papertrading.models import OrderEvent, PaperOrder
from papertrading.tests.standin import standin_in_testnet_mode

API_KEY = "recon-key-5b2e4a6f8c0d2e4f6a8b0c1d3f9a7c1d"
SECRET = "recon-secret-9e8f7a6b5c4d3e2f0c4d7e1f3a5b4c2d"
Status = PaperOrder.Status


@pytest.fixture(name="standin")
def standin_fixture(settings, monkeypatch, db):
    """Testnet mode with credentials, pointed at a fresh stand-in on 127.0.0.1, without real back-off sleeps."""
    monkeypatch.setattr(BinanceTestnetClient, "retry_backoff_seconds", (0.0, 0.0))
    with standin_in_testnet_mode(settings, monkeypatch, api_key=API_KEY, secret=SECRET) as server:
        yield server


def place_resting(symbol: str = "BTCUSDT", *, price: str = "60000", quantity: str = "0.001", side="BUY"):
    """A resting LIMIT on the active venue (the stand-in's BTC market is 68000, so a BUY at 60000 rests)."""
    return services.place_order(
        symbol=symbol, side=side, order_type="LIMIT", quantity=D(quantity), price=D(price), time_in_force="GTC"
    ).order


def raw_order(**fields) -> PaperOrder:
    """An order row written directly (no venue call), for filter tests and unknown outcomes."""
    defaults = dict(
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.001"),
        price=D("60000"),
        time_in_force="GTC",
        venue="testnet",
        status=Status.PENDING,
        client_order_id=f"pt{uuid.uuid4().hex}",
    )
    return PaperOrder.objects.create(**{**defaults, **fields})


def unknown_order(*, seconds_ago: float = 0, **fields) -> PaperOrder:
    """A testnet order whose POST outcome is unknown, written (and its send ended) `seconds_ago`."""
    order = raw_order(status=Status.UNKNOWN, **fields)
    OrderEvent.objects.create(order=order, from_status="", to_status=Status.UNKNOWN, source="api", actor="agent")
    OrderEvent.objects.create(
        order=order, from_status=Status.UNKNOWN, to_status=Status.UNKNOWN, source="api", detail="Read timed out."
    )
    if seconds_ago:
        past = timezone.now() - timedelta(seconds=seconds_ago)
        PaperOrder.objects.filter(pk=order.pk).update(created_at=past, updated_at=past)
        OrderEvent.objects.filter(order=order).update(created_at=past)
    return PaperOrder.objects.get(pk=order.pk)
