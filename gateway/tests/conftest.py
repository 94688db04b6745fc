import pytest
from django.test import Client

from gateway.services import create_binance_key

from .support import BinanceTestClient


@pytest.fixture
def hmac_key(account, trader):
    return create_binance_key(account=account, kind="HMAC", created_by=trader)


@pytest.fixture
def binance(hmac_key) -> BinanceTestClient:
    """Signs with the trader's account's HMAC key."""
    return BinanceTestClient(Client(), hmac_key.key.api_key, hmac_key.secret)
