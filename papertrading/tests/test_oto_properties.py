"""Invariants of OTO and OTOCO lists over random brackets, cancels and price paths, with the liquidity model off and
on: the funds locked are always what the working legs hold (a waiting leg nothing, a pair once), a pending leg
works only once its list's working order has filled, at most one leg of a pair is ever reached, and no order fills
more than its quantity.

Each example runs in a savepoint that is rolled back.
"""

import contextlib
from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import event, given
from hypothesis import strategies as st

from papertrading.balances import check_balances
from papertrading.errors import OrderRejected, OrderValidationError, RiskLimitExceeded
from papertrading.models import MarketPrice, OrderList, PaperOrder, SymbolRule
from papertrading.services import place_oto, place_otoco
from papertrading.tests.test_oco_properties import leg, run_common
from papertrading.tests.test_properties import PROPERTY_SETTINGS, Rollback, grid_price

pytestmark = pytest.mark.django_db
SYMBOL = "BTCUSDT"
Status = PaperOrder.Status


def bracket_action():
    """A bracket or an OTO: the entry's side, its distance from the market in basis points (negative: marketable),
    its time in force, the pending legs' types (indexes) and distances from the entry, a stop-limit's limit offset,
    its size (0.001 to 0.3 BTC), and an explicit pending quantity or the default."""
    return st.tuples(
        st.sampled_from(["otoco", "oto"]),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=-100, max_value=600),
        st.sampled_from(["GTC", "GTC", "IOC"]),
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=20, max_value=600),
        st.integers(min_value=20, max_value=600),
        st.integers(min_value=-100, max_value=100),
        st.integers(min_value=1, max_value=300),
        st.one_of(st.none(), st.integers(min_value=1, max_value=400)),
    )


ACTIONS = st.lists(
    st.one_of(
        bracket_action(),
        bracket_action(),
        st.tuples(st.just("move"), st.integers(min_value=-800, max_value=800)),
        st.tuples(st.just("move"), st.integers(min_value=-800, max_value=800)),
        st.tuples(st.just("move"), st.integers(min_value=-800, max_value=800)),
        st.tuples(st.just("cancel_list"), st.integers(min_value=0, max_value=20)),
        st.tuples(st.just("cancel_leg"), st.integers(min_value=0, max_value=40)),
    ),
    min_size=3,
    max_size=16,
)


def place(action, rule: SymbolRule, account, current: D) -> None:
    kind, side, entry_bps, tif, above_index, below_index, above_bps, below_bps, limit_bps, size, pending_size = action
    # A BUY entry waits below the market, a SELL above it (negative distances cross it: marketable on arrival).
    entry = grid_price(rule, current, -entry_bps if side == "BUY" else entry_bps)
    working = {"side": side, "type": "LIMIT", "quantity": D("0.001") * size, "price": entry, "time_in_force": tif}
    exit_side = "SELL" if side == "BUY" else "BUY"
    quantity = None if pending_size is None else D("0.001") * pending_size
    above_trigger, below_trigger = grid_price(rule, entry, above_bps), grid_price(rule, entry, -below_bps)
    above = leg(exit_side, "above", above_index, above_trigger, grid_price(rule, above_trigger, limit_bps))
    below = leg(exit_side, "below", below_index, below_trigger, grid_price(rule, below_trigger, limit_bps))
    # A refusal writes nothing: the invariants below say so.
    with contextlib.suppress(OrderValidationError, OrderRejected, RiskLimitExceeded):
        if kind == "otoco":
            place_otoco(
                account=account,
                symbol=SYMBOL,
                working=working,
                pending_side=exit_side,
                pending_quantity=quantity,
                pending_above=above,
                pending_below=below,
            )
        else:
            pending = {**(above if above_index % 2 else below), "side": exit_side, "quantity": quantity}
            place_oto(account=account, symbol=SYMBOL, working=working, pending=pending)


def run(action, rule: SymbolRule, market, account) -> None:
    kind = action[0]
    current = MarketPrice.objects.get(symbol=SYMBOL).price
    if kind in ("otoco", "oto"):
        place(action, rule, account, current)
    else:
        run_common(action, rule, market, account, current)


def assert_invariants() -> None:
    assert check_balances() == []
    for order_list in OrderList.objects.prefetch_related("orders"):
        legs = {o.list_leg: o for o in order_list.orders.all()}
        working, pending = legs.pop("working"), list(legs.values())
        assert len(pending) == (2 if order_list.contingency_type == "OTOCO" else 1)
        for order in (working, *pending):
            assert order.executed_quantity <= order.quantity
        for order in pending:
            if order.waits_for_list:
                assert order.status == Status.PENDING and order.locked_amount == 0 and order.executed_quantity == 0
                assert working.is_working, "a pending leg waits only for a working order that still works"
            elif order.is_working or order.executed_quantity:
                assert working.status == Status.FILLED, "a pending leg works only once the working order filled"
        reached = [o for o in pending if o.executed_quantity > 0 or o.stop_triggered_at is not None]
        assert len(reached) <= 1, [str(o) for o in pending]
        if order_list.list_order_status == "EXECUTING":
            assert any(o.is_working for o in (working, *pending))
        else:
            assert all(not o.is_working for o in pending if o not in reached)


@PROPERTY_SETTINGS
@given(actions=ACTIONS, liquidity=st.booleans())
def test_brackets_keep_balances_and_go_to_work_only_after_their_entry_fills(
    account, market, settings, actions, liquidity
):
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
            pending = PaperOrder.objects.filter(order_list__isnull=False).exclude(list_leg="working")
            event(f"pending legs at work: {min(pending.filter(waits_for_list=False).count(), 2)}+")
            event(f"pending legs filled: {min(pending.filter(executed_quantity__gt=0).count(), 2)}+")
            raise Rollback
    except Rollback:
        pass
