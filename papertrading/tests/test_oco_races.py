"""OCO lists under real concurrent transactions (PostgreSQL): a leg filling while the list is cancelled ends in
exactly one of the two, with the list's funds moved once."""

from decimal import Decimal as D

import pytest

from papertrading.balances import check_balances
from papertrading.errors import OrderNotWorking
from papertrading.models import Account, OrderList, PaperOrder, SimulatedBalance
from papertrading.services import cancel_order, cancel_order_list, match_orders, place_oco, place_otoco
from papertrading.tests.support import prepare_race, run_together

pytestmark = pytest.mark.django_db(transaction=True)
Status = PaperOrder.Status


@pytest.fixture(autouse=True)
def racer(market) -> Account:
    """PostgreSQL only: the account that races (USDT 100000, BTC 1, ETH 10)."""
    return prepare_race()


def sell_oco(account) -> OrderList:
    return place_oco(
        account=account, symbol="BTCUSDT", side="SELL", quantity=D("0.1"),
        above={"type": "LIMIT_MAKER", "price": D("70000")},
        below={"type": "STOP_LOSS", "stop_price": D("66000")},
    ).order_list  # fmt: skip


@pytest.mark.parametrize("cancel_by", ["list", "leg"])
def test_a_leg_filling_while_the_list_is_cancelled_ends_in_exactly_one_of_them(racer, market, cancel_by):
    for price in ("70000", "65000", "70000", "65000"):
        market.set("BTCUSDT", "68000")
        order_list = sell_oco(racer)
        leg = order_list.orders.order_by("id").first()

        def cancel(order_list=order_list, leg=leg):
            if cancel_by == "list":
                return cancel_order_list(account=racer, list_id=order_list.pk)
            return cancel_order(account=racer, order_id=leg.pk)

        cancelled, matched = run_together(
            cancel, lambda price=price: match_orders(symbol="BTCUSDT", market_price=D(price))
        )

        order_list.refresh_from_db()
        statuses = sorted(order_list.orders.values_list("status", flat=True))
        assert order_list.list_order_status == "ALL_DONE"
        if statuses == [Status.CANCELLED, Status.CANCELLED]:
            assert matched == 0
            assert not isinstance(cancelled, Exception)
        else:
            assert statuses == sorted([Status.FILLED, Status.EXPIRED]), statuses
            assert matched == 2
            assert isinstance(cancelled, OrderNotWorking)
        for order in order_list.orders.all():
            assert order.events.count() == 2  # placed, then exactly one ending
            assert order.locked_amount == 0
        assert SimulatedBalance.objects.get(account=racer, asset="BTC").locked == 0
        assert check_balances() == []


def test_a_brackets_entry_filling_while_the_list_is_cancelled_leaves_one_consistent_outcome(racer, market):
    """Either the cancel wins (all three legs cancelled, nothing bought) or the fill does (the entry filled, its
    pair put to work and then cancelled by the list's cancel): never a pair at work for an entry that did not fill,
    never funds held by a cancelled leg."""
    for _ in range(4):
        market.set("BTCUSDT", "68000")
        order_list = place_otoco(
            account=racer, symbol="BTCUSDT", pending_side="SELL", pending_quantity=None,
            working={"side": "BUY", "type": "LIMIT", "quantity": D("0.1"), "price": D("67000"), "time_in_force": "GTC"},
            pending_above={"type": "LIMIT_MAKER", "price": D("70000")},
            pending_below={"type": "STOP_LOSS", "stop_price": D("65000")},
        ).order_list  # fmt: skip

        cancelled, matched = run_together(
            lambda order_list=order_list: cancel_order_list(account=racer, list_id=order_list.pk),
            lambda: match_orders(symbol="BTCUSDT", market_price=D("67000")),
        )

        assert not isinstance(cancelled, Exception), cancelled  # the list works in both orders of events
        order_list.refresh_from_db()
        statuses = dict(order_list.orders.values_list("list_leg", "status"))
        assert order_list.list_order_status == "ALL_DONE"
        assert statuses in (
            {"working": Status.CANCELLED, "above": Status.CANCELLED, "below": Status.CANCELLED},
            {"working": Status.FILLED, "above": Status.CANCELLED, "below": Status.CANCELLED},
        ), statuses
        assert matched == (1 if statuses["working"] == Status.FILLED else 0)
        for order in order_list.orders.all():
            assert order.locked_amount == 0 and not order.waits_for_list
        assert SimulatedBalance.objects.get(account=racer, asset="USDT").locked == 0
        assert SimulatedBalance.objects.get(account=racer, asset="BTC").locked == 0
        assert check_balances() == []
