"""Races between real concurrent transactions (threads, each with its own PostgreSQL connection).

SQLite serialises every write, so these only say something on PostgreSQL; elsewhere they are skipped.
"""

from decimal import Decimal as D

import pytest

from papertrading.balances import check_balances
from papertrading.errors import OrderNotWorking, OrderRejected
from papertrading.models import PaperOrder, SimulatedBalance
from papertrading.services import cancel_order, match_orders, place_order
from papertrading.tests.support import prepare_race, run_together

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgres_only(market):
    prepare_race()


def test_two_posts_with_the_same_client_order_id_at_once_make_one_order_and_one_reservation():
    def post():
        return place_order(
            symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000"),
            time_in_force="GTC", client_order_id="same-id",
        )  # fmt: skip

    first, second = run_together(post, post)

    assert {first.order.pk, second.order.pk} == {PaperOrder.objects.get().pk}
    assert sorted([first.created, second.created]) == [False, True]
    assert SimulatedBalance.objects.get(asset="USDT").locked == D("600")
    assert check_balances() == []


def test_a_cancel_and_a_fill_of_the_same_order_at_once_end_in_exactly_one_of_them():
    for _ in range(5):
        order = place_order(
            symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("67000"), time_in_force="GTC"
        ).order

        cancel, fill = run_together(
            lambda order=order: cancel_order(order_id=order.pk),
            lambda: match_orders(symbol="BTCUSDT", market_price=D("66000")),
        )

        order.refresh_from_db()
        if order.status == PaperOrder.Status.CANCELLED:
            assert fill == 0 and order.fills.count() == 0
        else:
            assert order.status == PaperOrder.Status.FILLED and fill == 1
            assert isinstance(cancel, OrderNotWorking)
        assert order.events.count() == 2  # placed, then exactly one ending
        assert check_balances() == []


def test_orders_racing_for_the_last_funds_never_overdraw_the_account():
    # 100000 USDT free: ten orders of 15000 each can lock at most six.
    def buy():
        return place_order(
            symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.25"), price=D("60000"),
            time_in_force="GTC",
        )  # fmt: skip

    results = run_together(*[buy] * 10)

    placed = [r for r in results if not isinstance(r, Exception)]
    rejected = [r for r in results if isinstance(r, OrderRejected)]
    assert (len(placed), len(rejected)) == (6, 4)
    usdt = SimulatedBalance.objects.get(asset="USDT")
    assert (usdt.free, usdt.locked) == (D("10000"), D("90000"))
    assert check_balances() == []
