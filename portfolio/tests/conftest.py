"""Helpers shared by the portfolio tests (the users, API clients and `market` come from the root conftest)."""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from papertrading.services import open_account
from portfolio.models import Trade
from portfolio.services import record_trade


def book(account, symbol, side, quantity, price, fee, fee_asset, **extra) -> Trade:
    """Record a direct trade of `account` executed now: `book(account, "BTCUSDT", "BUY", "1", "120", "1", "USDT",
    agent="beta")`."""
    return record_trade(
        account=account,
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


def cash_only_account(owner, cash="10000", *, is_default=True):
    """`owner`'s account opened with `cash` USDT and nothing else: no opening positions, so a hand-worked example's
    figures are the whole book."""
    name = f"{owner.get_username()}'s cash desk"
    return open_account(owner=owner, name=name, starting_balances={"USDT": cash}, is_default=is_default)


@pytest.fixture
def viewer_desk(viewer, market):
    """The viewer's own (default) account, opened with 10000 USDT only: what the viewer's API client and pages
    show."""
    return cash_only_account(viewer)


@pytest.fixture
def cash_account(trader, market):
    """The trader's own (default) account, opened with 100000 USDT only: where `place_order` tests trade."""
    return cash_only_account(trader, "100000")
