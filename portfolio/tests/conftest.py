"""Helpers shared by the portfolio tests (the users, API clients and `market` come from the root conftest)."""

from decimal import Decimal as D

from django.utils import timezone

from portfolio.models import Trade
from portfolio.services import record_trade


def book(symbol, side, quantity, price, fee, fee_asset, **extra) -> Trade:
    """Record a direct trade executed now: `book("BTCUSDT", "BUY", "1", "120", "1", "USDT", agent="beta")`."""
    return record_trade(
        symbol=symbol,
        side=side,
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        fee_asset=fee_asset,
        source=Trade.Source.DIRECT,
        executed_at=timezone.now(),
        **extra,
    )
