"""Invariants of the simulated account over random sequences of orders, cancels and price moves.

Each example runs in a savepoint that is rolled back, so every sequence starts from the same account
(USDT 100000, BTC 1, ETH 10) and the same prices.
"""

from decimal import Decimal as D

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from papertrading.balances import check_balances, ensure_account, reservation
from papertrading.errors import OrderNotWorking, OrderRejected, OrderValidationError
from papertrading.models import MarketPrice, OrderFill, PaperOrder, SimulatedBalance, SymbolRule
from papertrading.money import round_to_step
from papertrading.services import cancel_order, place_order

pytestmark = pytest.mark.django_db

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
# Quantity in steps of the symbol's LOT_SIZE: BTC 0.0001..0.8 (step 0.00001), ETH 0.002..8 (step 0.0001).
QUANTITY_STEPS = {"BTCUSDT": (10, 80_000), "ETHUSDT": (20, 80_000)}


class Rollback(Exception):
    pass


def place_action():
    return st.tuples(
        st.just("place"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(["BUY", "SELL"]),
        st.sampled_from(
            [
                "MARKET",
                "LIMIT",
                "LIMIT",
                "LIMIT_MAKER",
                "STOP_LOSS",
                "TAKE_PROFIT",
                "STOP_LOSS_LIMIT",
                "TAKE_PROFIT_LIMIT",
            ]
        ),
        st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
        st.integers(min_value=-300, max_value=300),  # price (or stop) offset from the market, in basis points
        st.floats(min_value=0, max_value=1),  # where in the quantity range
        st.integers(min_value=-100, max_value=100),  # a stop-limit's limit offset from its stop, in basis points
    )


def cancel_action():
    return st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50))


def move_action():
    return st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.integers(min_value=-500, max_value=500))


ACTIONS = st.lists(st.one_of(place_action(), place_action(), cancel_action(), move_action()), min_size=4, max_size=30)


def grid_price(rule: SymbolRule, market_price: D, bps: int) -> D:
    return max(round_to_step(market_price * (1 + D(bps) / 10000), rule.tick_size, up=False), rule.tick_size)


def run(action, rules: dict[str, SymbolRule], market) -> None:
    kind = action[0]
    if kind == "place":
        _, symbol, side, order_type, time_in_force, bps, where, limit_bps = action
        rule = rules[symbol]
        current = MarketPrice.objects.get(symbol=symbol).price
        low, high = QUANTITY_STEPS[symbol]
        quantity = rule.step_size * int(low + (high - low) * where)
        price = grid_price(rule, current, bps)
        kwargs = dict(symbol=symbol, side=side, order_type=order_type, quantity=quantity)
        if order_type == "LIMIT":
            kwargs.update(price=price, time_in_force=time_in_force)
        elif order_type == "LIMIT_MAKER":
            kwargs.update(price=price)
        elif order_type in ("STOP_LOSS", "TAKE_PROFIT"):
            kwargs.update(stop_price=price)
        elif order_type in ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
            kwargs.update(stop_price=price, price=grid_price(rule, price, limit_bps), time_in_force=time_in_force)
        try:
            event(f"{order_type} {place_order(**kwargs).order.status}")
        except OrderRejected:
            event(f"{order_type} REJECTED")  # refusals are part of the space; the invariants hold after them too
        except OrderValidationError as exc:
            event(f"{order_type} invalid: {', '.join(exc.errors)}")
    elif kind == "cancel":
        working = list(PaperOrder.objects.filter(status__in=PaperOrder.WORKING_STATUSES).order_by("id"))
        orders = working or list(PaperOrder.objects.order_by("id"))
        if orders:
            try:
                cancel_order(order_id=orders[action[1] % len(orders)].pk)
            except OrderNotWorking:
                assert not working
    else:
        _, symbol, bps = action
        current = MarketPrice.objects.get(symbol=symbol).price
        event(f"move filled {market.move(symbol, grid_price(rules[symbol], current, bps)) > 0}")


def assert_invariants(rules: dict[str, SymbolRule]) -> None:
    stored = {row.asset: row for row in SimulatedBalance.objects.all()}
    for row in stored.values():
        assert row.free >= 0, row
        assert row.locked >= 0, row

    held: dict[str, D] = {}
    recomputed: dict[str, D] = {}
    for order in PaperOrder.objects.all():
        executed = order.fills.aggregate(total=Sum("quantity"))["total"] or D("0")
        assert executed == order.executed_quantity, order
        assert order.executed_quantity <= order.quantity, order
        if order.is_working:
            asset, amount = reservation(order, rules[order.symbol])
            assert (order.locked_asset, order.locked_amount) == (asset, amount), order
            held[asset] = held.get(asset, D("0")) + order.locked_amount
            recomputed[asset] = recomputed.get(asset, D("0")) + amount
        else:
            assert order.locked_amount == 0, order
    for asset, row in stored.items():
        assert row.locked == held.get(asset, D("0")) == recomputed.get(asset, D("0")), (asset, row.locked, held)
    assert check_balances() == []


@PROPERTY_SETTINGS
@given(actions=ACTIONS)
def test_balances_stay_consistent_over_random_orders_cancels_and_moves(market, actions):
    rules = {rule.symbol: rule for rule in SymbolRule.objects.filter(symbol__in=SYMBOLS)}
    try:
        with transaction.atomic():
            ensure_account()
            for action in actions:
                run(action, rules, market)
                assert_invariants(rules)
            raise Rollback
    except Rollback:
        pass


@PROPERTY_SETTINGS
@given(
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from(["BUY", "SELL"]),
    ticks=st.integers(min_value=1, max_value=100_000),
    fraction=st.integers(min_value=1, max_value=99),
    field=st.sampled_from(["price", "stop_price"]),
)
def test_off_grid_prices_are_always_refused_before_anything_is_written(market, symbol, side, ticks, fraction, field):
    rule = SymbolRule.objects.get(symbol=symbol)
    off_grid = rule.tick_size * ticks + rule.tick_size * D(fraction) / 100
    kwargs = dict(symbol=symbol, side=side, quantity=rule.step_size * 10_000)
    if field == "price":
        kwargs.update(order_type="LIMIT", price=off_grid, time_in_force="GTC")
    else:
        kwargs.update(order_type="STOP_LOSS", stop_price=off_grid)

    with pytest.raises(OrderValidationError) as caught:
        place_order(**kwargs)

    assert (
        f"Filter failure: PRICE_FILTER. Price must be a multiple of {rule.tick_size.normalize():f}."
        in (caught.value.errors[field])
    )
    assert PaperOrder.objects.count() == 0
    assert OrderFill.objects.count() == 0
    assert not SimulatedBalance.objects.filter(locked__gt=0).exists()


@PROPERTY_SETTINGS
@given(steps=st.integers(min_value=1, max_value=10_000), fraction=st.integers(min_value=1, max_value=9))
def test_off_step_quantities_are_always_refused(market, steps, fraction):
    rule = SymbolRule.objects.get(symbol="ETHUSDT")
    quantity = rule.step_size * steps + rule.step_size * D(fraction) / 10
    with pytest.raises(OrderValidationError) as caught:
        place_order(symbol="ETHUSDT", side="BUY", order_type="MARKET", quantity=quantity)
    assert any("LOT_SIZE" in message for message in caught.value.errors["quantity"])
    assert PaperOrder.objects.count() == 0
