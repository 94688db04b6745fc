"""Recording an exchange's reports on an order, in any order and any number of times, never counts a fill twice.

The exchange's trades for one order are fixed (ids 1..n, quantities adding up to the order's quantity). Each
report says how much executed so far and carries some of those trades, with or without their ids, as the spec's
FULL answers (no ids), myTrades (ids) and sync (ids, or none) do; reports may repeat or arrive late.
"""

from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papertrading.models import PaperOrder
from papertrading.venues.base import ExecutionReport, FillReport
from papertrading.venues.recording import apply_report

pytestmark = pytest.mark.django_db
Status = PaperOrder.Status
QUANTITY = D("0.010")
TRADES = [D("0.002"), D("0.003"), D("0.001"), D("0.004")]  # the exchange's fills of the order, oldest first


class Rollback(Exception):
    pass


@st.composite
def report(draw) -> ExecutionReport:
    """What some answer says: trades 1..k executed; it carries some of them, with their ids or without."""
    executed_trades = draw(st.integers(min_value=0, max_value=len(TRADES)))
    executed = sum(TRADES[:executed_trades], D("0"))
    carried = (
        draw(st.lists(st.integers(min_value=0, max_value=executed_trades - 1), unique=True)) if executed_trades else []
    )
    with_ids = draw(st.booleans())
    fills = [
        FillReport(price=D("60000"), quantity=TRADES[i], commission=D("0"), commission_asset="BTC",
                   trade_id=str(i + 1) if with_ids else "")
        for i in sorted(carried)
    ]  # fmt: skip
    if executed == QUANTITY:
        status = Status.FILLED
    else:
        status = draw(st.sampled_from([Status.PENDING, Status.PARTIALLY_FILLED] if executed else [Status.PENDING]))
    return ExecutionReport(
        status=status,
        executed_quantity=executed,
        cumulative_quote_quantity=executed * 60000,
        fills=fills,
        exchange_order_id=7001,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reports=st.lists(report(), min_size=1, max_size=8))
def test_fills_never_exceed_what_executed_and_no_trade_is_stored_twice(account, reports):
    try:
        with transaction.atomic():
            order = PaperOrder.objects.create(
                account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=QUANTITY,
                price=D("60000"), time_in_force="GTC", venue="testnet", client_order_id="prop-1", status=Status.UNKNOWN,
            )  # fmt: skip
            for seen, item in enumerate(reports, start=1):
                with transaction.atomic():
                    locked = PaperOrder.objects.select_for_update().get(pk=order.pk)
                    if locked.status in PaperOrder.FINAL_STATUSES:
                        continue  # sync applies only to open orders
                    apply_report(locked, item, source="sync")
                order.refresh_from_db()
                fills = list(order.fills.values_list("trade_id", "quantity"))
                ids = [trade_id for trade_id, _ in fills if trade_id]
                assert len(ids) == len(set(ids))
                assert sum((quantity for _, quantity in fills), D("0")) <= order.executed_quantity <= QUANTITY
                assert order.executed_quantity == max(r.executed_quantity for r in reports[:seen])
            raise Rollback
    except Rollback:
        pass
