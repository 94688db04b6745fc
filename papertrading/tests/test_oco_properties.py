"""Invariants of OCO lists over random lists, cancels and price paths, with the liquidity model off and on: the
funds locked are always what the working legs hold (once per list), at most one leg of a list ever fills, an
executing list has both legs working, and a done list has none working but the one leg that was reached.

Each example runs in a savepoint that is rolled back.
"""

import contextlib
from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import event, given
from hypothesis import strategies as st

from papertrading.balances import check_balances
from papertrading.errors import OrderNotWorking, OrderRejected, OrderValidationError, RiskLimitExceeded
from papertrading.models import MarketPrice, OrderList, PaperOrder, SymbolRule
from papertrading.services import cancel_order, cancel_order_list, place_oco
from papertrading.tests.test_properties import PROPERTY_SETTINGS, Rollback, grid_price
from papertrading.validation import OCO_LEG_TYPES

pytestmark = pytest.mark.django_db
SYMBOL = "BTCUSDT"


def oco_action():
    """An OCO: its side, each leg's type (by index into what the side allows), each leg's distance from the market
    in basis points, a stop-limit's limit offset from its stop, and its size (0.001 to 0.3 BTC)."""
    return st.tuples(
        st.just("oco"),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=20, max_value=600),
        st.integers(min_value=20, max_value=600),
        st.integers(min_value=-100, max_value=100),
        st.integers(min_value=1, max_value=300),
    )


ACTIONS = st.lists(
    st.one_of(
        oco_action(),
        oco_action(),
        st.tuples(st.just("move"), st.integers(min_value=-800, max_value=800)),
        st.tuples(st.just("move"), st.integers(min_value=-800, max_value=800)),
        st.tuples(st.just("move"), st.integers(min_value=-800, max_value=800)),
        st.tuples(st.just("cancel_list"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("cancel_leg"), st.integers(min_value=0, max_value=40)),
    ),
    min_size=3,
    max_size=16,
)


def leg(side: str, name: str, index: int, trigger: D, limit: D) -> dict:
    types = OCO_LEG_TYPES[(side, name)]
    leg_type = types[index % len(types)]
    if leg_type == "LIMIT_MAKER":
        return {"type": leg_type, "price": trigger}
    if leg_type.endswith("_LIMIT"):
        return {"type": leg_type, "stop_price": trigger, "price": limit, "time_in_force": "GTC"}
    return {"type": leg_type, "stop_price": trigger}


def run(action, rule: SymbolRule, market, account) -> None:
    kind = action[0]
    current = MarketPrice.objects.get(symbol=SYMBOL).price
    if kind == "oco":
        _, side, above_index, below_index, above_bps, below_bps, limit_bps, size = action
        above_trigger = grid_price(rule, current, above_bps)
        below_trigger = grid_price(rule, current, -below_bps)
        # A refusal writes nothing: the invariants below say so.
        with contextlib.suppress(OrderValidationError, OrderRejected, RiskLimitExceeded):
            place_oco(
                account=account,
                symbol=SYMBOL,
                side=side,
                quantity=D("0.001") * size,
                above=leg(side, "above", above_index, above_trigger, grid_price(rule, above_trigger, limit_bps)),
                below=leg(side, "below", below_index, below_trigger, grid_price(rule, below_trigger, limit_bps)),
            )
    else:
        run_common(action, rule, market, account, current)


def run_common(action, rule: SymbolRule, market, account, current: D) -> None:
    """The actions every list's property test takes: move the price, cancel a list, cancel a leg."""
    kind = action[0]
    if kind == "move":
        market.move(SYMBOL, grid_price(rule, current, action[1]))
    elif kind == "cancel_list":
        lists = list(OrderList.objects.order_by("id"))
        if lists:
            with contextlib.suppress(OrderNotWorking):
                cancel_order_list(account=account, list_id=lists[action[1] % len(lists)].pk)
    elif kind == "cancel_leg":
        legs = list(PaperOrder.objects.order_by("id"))
        if legs:
            with contextlib.suppress(OrderNotWorking):
                cancel_order(account=account, order_id=legs[action[1] % len(legs)].pk)


def assert_invariants() -> None:
    assert check_balances() == []
    for order_list in OrderList.objects.prefetch_related("orders"):
        legs = list(order_list.orders.all())
        assert len(legs) == 2
        reached = [o for o in legs if o.executed_quantity > 0 or o.stop_triggered_at is not None]
        assert len(reached) <= 1, [str(o) for o in legs]
        for order in legs:
            assert order.executed_quantity <= order.quantity
        if order_list.list_order_status == "EXECUTING":
            assert {o.status for o in legs} == {PaperOrder.Status.PENDING} and not reached
        else:
            working = [o for o in legs if o.is_working]
            assert working == [] or working == reached  # only the leg that was reached may still work


@PROPERTY_SETTINGS
@given(actions=ACTIONS, liquidity=st.booleans())
def test_oco_lists_keep_balances_and_their_one_cancels_the_other_rule(account, market, settings, actions, liquidity):
    settings.SIMULATOR_LIQUIDITY = liquidity
    settings.SIMULATOR_LIQUIDITY_SHARE = D("0.25")
    settings.SIMULATOR_LIQUIDITY_VOLUME = D("6700")
    rule = SymbolRule.objects.get(symbol=SYMBOL)
    try:
        with transaction.atomic():
            for action in actions:
                run(action, rule, market, account)
                assert_invariants()
            event(f"lists placed: {min(OrderList.objects.count(), 3)}+")
            legs = PaperOrder.objects.filter(order_list__isnull=False)
            event(f"legs filled: {min(legs.filter(executed_quantity__gt=0).count(), 2)}+")
            event(f"legs expired: {min(legs.filter(status=PaperOrder.Status.EXPIRED).count(), 2)}+")
            raise Rollback
    except Rollback:
        pass
