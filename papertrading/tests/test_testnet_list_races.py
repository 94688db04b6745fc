"""Order lists on the testnet venue under concurrency (PostgreSQL): a cancel of a list and syncs racing over a leg
that filled on the exchange, against the Binance stand-in. Every writer locks the list, then its legs: whoever
comes second sees the legs final and applies nothing twice."""

from decimal import Decimal

import pytest

from papertrading import services
from papertrading.errors import OrderNotWorking
from papertrading.models import OrderList, PaperOrder
from papertrading.tests.support import balances, prepare_race, run_together
from papertrading.tests.test_testnet_lists import (  # noqa: F401 - the fixture is used by name
    Leg,
    assert_ledgers_add_up,
    legs_of,
    sell_oco,
    standin_fixture,
)
from papertrading.venues.base import SyncReport

Status = PaperOrder.Status


@pytest.mark.django_db(transaction=True)
def test_a_cancel_and_two_syncs_racing_over_a_filled_leg_record_its_fill_once(standin, trader):
    desk = prepare_race(trader)  # PostgreSQL only
    order_list = sell_oco(desk)
    standin.fill(legs_of(order_list)[Leg.ABOVE].binance_order_id)  # the exchange expires the other leg

    def cancel():
        return services.cancel_order_list(account=desk, list_id=order_list.pk, actor="trader")

    results = run_together(cancel, services.sync_orders, services.sync_orders)

    assert isinstance(results[0], OrderNotWorking), results[0]
    assert all(isinstance(result, SyncReport) for result in results[1:]), results[1:]
    legs = legs_of(order_list)
    assert (legs[Leg.ABOVE].status, legs[Leg.BELOW].status) == (Status.FILLED, Status.EXPIRED)
    assert legs[Leg.ABOVE].fills.count() == 1
    assert legs[Leg.ABOVE].events.filter(to_status=Status.FILLED).exclude(from_status=Status.FILLED).count() == 1
    order_list.refresh_from_db()
    assert order_list.list_order_status == OrderList.ListOrderStatus.ALL_DONE
    assert balances(desk)["BTC"] == (Decimal("0.9"), Decimal("0"))
    assert balances(desk)["USDT"] == (Decimal("107000"), Decimal("0"))
    assert_ledgers_add_up()
