"""Races of partial fills and trailing stops, between real concurrent transactions (PostgreSQL only).

The liquidity model is on as in test_liquidity: a resting BUY 0.05 at 67000 takes 0.018 of each new price at 67000.
"""

from decimal import Decimal as D

import pytest

from papertrading.balances import check_balances
from papertrading.models import Account, PaperOrder
from papertrading.services import cancel_order, match_orders, place_order
from papertrading.tests.support import prepare_race, run_together
from papertrading.tests.test_liquidity import _liquidity_on  # noqa: F401 - an autouse fixture, used by name

pytestmark = pytest.mark.django_db(transaction=True)
Status = PaperOrder.Status


@pytest.fixture(autouse=True)
def racer(market) -> Account:
    """PostgreSQL only: the account that races (USDT 100000, BTC 1, ETH 10)."""
    return prepare_race()


def resting_buy(account: Account) -> PaperOrder:
    return place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.05"), price=D("67000"),
        time_in_force="GTC",
    ).order  # fmt: skip


def test_a_cancel_and_a_slice_of_the_same_order_at_once_leave_it_whole_and_the_funds_right(racer, market):
    for _ in range(4):
        market.set("BTCUSDT", "68000")
        order = resting_buy(racer)
        market.move("BTCUSDT", "67000")  # a first slice: the order is partly filled
        price = market.set("BTCUSDT", "67000")  # a new price the race fills from

        cancel, _ = run_together(
            lambda order=order: cancel_order(account=racer, order_id=order.pk),
            lambda price=price: match_orders(symbol="BTCUSDT", market_price=price),
        )

        order.refresh_from_db()
        assert order.status == Status.CANCELLED and cancel.pk == order.pk  # a slice leaves it working
        assert order.executed_quantity in (D("0.018"), D("0.036"))  # the slice before the cancel, or not at all
        assert sum(fill.quantity for fill in order.fills.all()) == order.executed_quantity
        assert order.locked_amount == 0
        assert check_balances() == []


def test_two_matching_passes_on_one_price_at_once_fill_one_slice(racer, market):
    order = resting_buy(racer)
    price = market.set("BTCUSDT", "67000")

    results = run_together(*[lambda: match_orders(symbol="BTCUSDT", market_price=price)] * 3)

    assert sorted(results) == [0, 0, 1]  # one pass filled it; the others found the slice taken, and no error

    order.refresh_from_db()
    assert (order.status, order.executed_quantity, order.fills.count()) == (Status.PARTIALLY_FILLED, D("0.018"), 1)
    assert order.locked_amount == D("2144")
    assert check_balances() == []


def test_a_cancel_and_a_new_low_of_a_trailing_buy_stop_at_once_keep_the_funds_right(settings, racer, market):
    settings.SIMULATOR_LIQUIDITY = False
    for low in ("67000", "66000", "65000"):
        market.set("BTCUSDT", "68000")
        order = place_order(
            account=racer, symbol="BTCUSDT", side="BUY", order_type="STOP_LOSS", quantity=D("0.1"), trailing_delta=200
        ).order
        price = market.set("BTCUSDT", low)

        run_together(
            lambda order=order: cancel_order(account=racer, order_id=order.pk),
            lambda price=price: match_orders(symbol="BTCUSDT", market_price=price),
        )

        order.refresh_from_db()
        assert order.status == Status.CANCELLED and order.locked_amount == 0
        assert check_balances() == []
