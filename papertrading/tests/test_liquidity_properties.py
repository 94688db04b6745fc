"""Invariants with the liquidity model on, over random orders (icebergs and trailing stops too), cancels, price
paths and repeated matching passes: locked funds are always what working orders still hold, and no order fills
past its quantity.

The book and the volume are small (levels of 2000 USDT, 5000 USDT traded per price), so most orders fill in
slices, and large takers run out of book. Each example runs in a savepoint that is rolled back.
"""

from decimal import Decimal as D

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import event, given
from hypothesis import strategies as st

from papertrading.balances import check_balances
from papertrading.errors import OrderRejected, OrderValidationError
from papertrading.models import MarketPrice, OrderFill, PaperOrder, SimulatedBalance, SymbolRule
from papertrading.services import place_order, sync_orders
from papertrading.tests.test_properties import (
    ACCOUNTS,
    PROPERTY_SETTINGS,
    QUANTITY_STEPS,
    SYMBOLS,
    Rollback,
    assert_invariants,
    cancel_action,
    grid_price,
    move_action,
    place_action,
    run,
)

pytestmark = pytest.mark.django_db


def iceberg_action():
    """A resting LIMIT GTC iceberg: its offset below (BUY) or above (SELL) the market, size, and visible parts."""
    return st.tuples(
        st.just("iceberg"),
        ACCOUNTS,
        st.sampled_from(SYMBOLS),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=1, max_value=200),
        st.floats(min_value=0, max_value=1),
        st.integers(min_value=2, max_value=10),
    )


def trailing_action():
    """A trailing stop of any of the four kinds, with a stop price (its offset from the market) or without one."""
    return st.tuples(
        st.just("trailing"),
        ACCOUNTS,
        st.sampled_from(SYMBOLS),
        st.sampled_from(["BUY", "SELL"]),
        st.sampled_from(["STOP_LOSS", "TAKE_PROFIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]),
        st.integers(min_value=10, max_value=400),
        st.one_of(st.none(), st.integers(min_value=-300, max_value=300)),
        st.floats(min_value=0, max_value=1),
        st.integers(min_value=-100, max_value=100),
    )


def rematch_action():
    """Match again without a new price (the sync button): nothing more may fill."""
    return st.tuples(st.just("rematch"), ACCOUNTS)


ACTIONS = st.lists(
    st.one_of(
        place_action(),
        iceberg_action(),
        trailing_action(),
        cancel_action(),
        move_action(),
        move_action(),
        rematch_action(),
    ),
    min_size=4,
    max_size=30,
)


def act(action, rules, market, accounts) -> None:
    kind = action[0]
    if kind == "iceberg":
        _, who, symbol, side, bps, where, parts = action
        rule = rules[symbol]
        current = MarketPrice.objects.get(symbol=symbol).price
        low, high = QUANTITY_STEPS[symbol]
        steps = int(low + (high - low) * where)
        quantity = rule.step_size * steps
        visible = rule.step_size * max(steps // parts, 1)
        price = grid_price(rule, current, -bps if side == "BUY" else bps)
        try:
            order = place_order(
                account=accounts[who],
                symbol=symbol,
                side=side,
                order_type="LIMIT",
                time_in_force="GTC",
                quantity=quantity,
                price=price,
                iceberg_quantity=visible,
            ).order
            event(f"iceberg {order.status}")
        except OrderRejected:
            event("iceberg REJECTED")
        except OrderValidationError as exc:
            event(f"iceberg invalid: {', '.join(exc.errors)}")
    elif kind == "trailing":
        _, who, symbol, side, order_type, delta, stop_bps, where, limit_bps = action
        rule = rules[symbol]
        current = MarketPrice.objects.get(symbol=symbol).price
        low, high = QUANTITY_STEPS[symbol]
        stop_price = None if stop_bps is None else grid_price(rule, current, stop_bps)
        kwargs = dict(
            account=accounts[who],
            symbol=symbol,
            side=side,
            order_type=order_type,
            quantity=rule.step_size * int(low + (high - low) * where),
            stop_price=stop_price,
            trailing_delta=delta,
        )
        if order_type.endswith("_LIMIT"):
            kwargs.update(price=grid_price(rule, stop_price or current, limit_bps), time_in_force="GTC")
        try:
            event(f"trailing {order_type} {place_order(**kwargs).order.status}")
        except OrderRejected:
            event("trailing REJECTED")
        except OrderValidationError as exc:
            event(f"trailing invalid: {', '.join(exc.errors)}")
    elif kind == "rematch":
        before = list(OrderFill.objects.order_by("id").values_list("id", flat=True))
        sync_orders(account=accounts[action[1]])
        assert list(OrderFill.objects.order_by("id").values_list("id", flat=True)) == before
    else:
        run(action, rules, market, accounts)


def assert_liquidity_invariants(rules, accounts) -> None:
    assert_invariants(rules, accounts)
    for order in PaperOrder.objects.all():
        filled = order.fills.aggregate(total=Sum("quantity"))["total"] or D("0")
        assert filled <= order.quantity, order
        if order.iceberg_quantity and order.is_working:
            # An iceberg never fills more than its visible part from one price.
            per_price = order.fills.exclude(trade_id="").values("trade_id").annotate(total=Sum("quantity"))
            assert all(row["total"] <= order.iceberg_quantity for row in per_price), order
        if order.status == PaperOrder.Status.PARTIALLY_FILLED:
            event("partially filled")
    if not PaperOrder.objects.filter(status__in=PaperOrder.WORKING_STATUSES).exists():
        assert not SimulatedBalance.objects.filter(account__in=accounts, locked__gt=0).exists()
    assert check_balances() == []


@PROPERTY_SETTINGS
@given(actions=ACTIONS)
def test_liquidity_model_never_strands_locked_funds_nor_overfills(settings, account, rival_account, market, actions):
    settings.SIMULATOR_LIQUIDITY = True
    settings.SIMULATOR_SEED = 3
    settings.SIMULATOR_BOOK_NOTIONAL = D("2000")
    settings.SIMULATOR_BOOK_LEVELS = 4
    settings.SIMULATOR_LIQUIDITY_VOLUME = D("5000")
    settings.SIMULATOR_LIQUIDITY_SHARE = D("0.3")
    rules = {rule.symbol: rule for rule in SymbolRule.objects.filter(symbol__in=SYMBOLS)}
    accounts = [account, rival_account]
    try:
        with transaction.atomic():
            for action in actions:
                act(action, rules, market, accounts)
                assert_liquidity_invariants(rules, accounts)
            raise Rollback
    except Rollback:
        pass
