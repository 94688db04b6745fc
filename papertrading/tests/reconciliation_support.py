"""Fixtures and helpers shared by the reconciliation tests: testnet mode against the in-test Binance stand-in.

Import the fixtures into a test module (``from papertrading.tests.reconciliation_support import standin_fixture``).
"""

import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from papertrading import services
from papertrading.accounts import create_account, external_account
from papertrading.binance import BinanceTestnetClient
from papertrading.models import Account, OrderEvent, PaperOrder, Venue
from papertrading.tests.standin import standin_in_testnet_mode

API_KEY = "recon-key-5b2e4a6f8c0d2e4f6a8b0c1d3f9a7c1d"
SECRET = "recon-secret-9e8f7a6b5c4d3e2f0c4d7e1f3a5b4c2d"
Status = PaperOrder.Status
# What the desk's account holds: well within what the stand-in's exchange account has.
DESK_BALANCES = {"USDT": D("10000"), "BTC": D("0.1"), "ETH": D("1")}


@pytest.fixture(name="standin")
def standin_fixture(settings, monkeypatch, db):
    """Testnet mode with credentials, pointed at a fresh stand-in on 127.0.0.1, without real back-off sleeps."""
    monkeypatch.setattr(BinanceTestnetClient, "retry_backoff_seconds", (0.0, 0.0))
    with standin_in_testnet_mode(settings, monkeypatch, api_key=API_KEY, secret=SECRET) as server:
        yield server


def desk_account(venue: str = Venue.TESTNET) -> Account:
    """The account these tests' orders belong to on `venue` (the "desk-operator" user's), opened on first use with
    DESK_BALANCES. It is written without asking the venue, so a test may write raw orders without a stand-in."""
    user, _ = User.objects.get_or_create(username="desk-operator")
    name = f"Reconciliation desk ({venue})"
    account = user.paper_accounts.filter(name=name).first()
    if account is None:
        account = create_account(
            owner=user,
            name=name,
            starting_balances=DESK_BALANCES,
            venue=venue,
            prices=services.opening_prices(DESK_BALANCES),
        )
    return account


def place_resting(
    symbol: str = "BTCUSDT", *, price: str = "60000", quantity: str = "0.001", side="BUY", account=None
) -> PaperOrder:
    """A resting LIMIT on the active venue (the stand-in's BTC market is 68000, so a BUY at 60000 rests), in
    `account` (the desk's testnet account when none is given)."""
    return services.place_order(
        account=account or desk_account(),
        symbol=symbol,
        side=side,
        order_type="LIMIT",
        quantity=D(quantity),
        price=D(price),
        time_in_force="GTC",
    ).order


def raw_order(**fields) -> PaperOrder:
    """An order row written directly (no venue call), for filter tests and unknown outcomes; in the desk's account
    on the order's venue (the external account for an external order) unless `account` is given."""
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
    fields = {**defaults, **fields}
    if "account" not in fields:
        # An order found on the exchange that no desk account placed is kept in the venue's external account.
        external = fields.get("is_external")
        fields["account"] = external_account(fields["venue"]) if external else desk_account(fields["venue"])
    return PaperOrder.objects.create(**fields)


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
