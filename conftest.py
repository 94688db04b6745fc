"""Fixtures shared by every app's tests: named users with their access, API clients and market control."""

import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _offline_simulation(settings):
    """Tests run on the simulator with synthetic prices and known fees, whatever the environment says.

    Each test also gets its own in-memory cache (no job lock or rate-limit pause leaks between tests or from a
    developer's running site) and a cold symbol-rule cache.
    """
    from papertrading import symbols

    symbols._RULES.clear()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"test-{uuid.uuid4()}"}
    }
    settings.PAPER_TRADING_MODE = "simulation"
    settings.MARKET_DATA_SOURCE = "synthetic"
    settings.SIMULATOR_FEE_RATE = Decimal("0.001")
    settings.SIMULATOR_SLIPPAGE_RATE = Decimal("0.0005")
    settings.SIMULATOR_STARTING_BALANCES = {"USDT": Decimal("100000"), "BTC": Decimal("1"), "ETH": Decimal("10")}
    # Hashing test passwords properly would cost seconds per login for nothing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _stop_live_reader():
    """A test whose pages opened the live stream started the process's reader: stop it with the test, so it holds
    no connection when the database is flushed or dropped."""
    yield
    from live import hub

    if hub._hub is not None:
        hub._hub.stop()


def make_user(username: str, *codenames: str) -> User:
    """A user with password "pw-<username>" and these permissions: papertrading codenames, or "app_label.codename"."""
    user = User.objects.create_user(username=username, password="pw-" + username)
    for name in codenames:
        app_label, _, codename = name.rpartition(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label or "papertrading", codename=codename)
        )
    return user


def api_client_for(user: User) -> APIClient:
    """An API client authenticated as `user`."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def page_client_for(user: User, **options) -> Client:
    """A browser-like client logged in as `user` (``options`` go to Client, e.g. enforce_csrf_checks=True)."""
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def trader(db) -> User:
    """May place, cancel and sync orders."""
    return make_user("trader", "add_paperorder", "change_paperorder", "view_paperorder")


@pytest.fixture
def viewer(db) -> User:
    """May only read: no add or change permission."""
    return make_user("viewer", "view_paperorder")


@pytest.fixture
def account(trader):
    """The trader's own (default) account: where the `api` client's orders go."""
    from papertrading.services import default_account_for

    return default_account_for(trader)


@pytest.fixture
def rival(db) -> User:
    """Another trader, with the same permissions, for proving that accounts never see each other."""
    return make_user("rival", "add_paperorder", "change_paperorder", "view_paperorder")


@pytest.fixture
def rival_account(rival):
    from papertrading.services import default_account_for

    return default_account_for(rival)


@pytest.fixture
def rival_api(rival) -> APIClient:
    return api_client_for(rival)


@pytest.fixture
def api(trader) -> APIClient:
    return api_client_for(trader)


@pytest.fixture
def viewer_api(viewer) -> APIClient:
    return api_client_for(viewer)


@pytest.fixture
def market(db):
    """Set the last price of a symbol: `market.set("BTCUSDT", "68000")`; `market.move(...)` also runs matching."""
    from papertrading.models import MarketPrice
    from papertrading.services import match_orders

    class Market:
        def set(self, symbol: str, price) -> Decimal:
            price = Decimal(str(price))
            MarketPrice.objects.update_or_create(
                symbol=symbol, defaults={"price": price, "source": "test", "updated_at": timezone.now()}
            )
            return price

        def move(self, symbol: str, price) -> int:
            return match_orders(symbol=symbol, market_price=self.set(symbol, price))

    m = Market()
    for symbol, price in {
        "BTCUSDT": "68000",
        "ETHUSDT": "3500",
        "BNBUSDT": "600",
        "SOLUSDT": "150",
        "XRPUSDT": "0.5",
    }.items():
        m.set(symbol, price)
    return m
