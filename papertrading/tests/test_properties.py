"""Invariants of simulated accounts over random sequences of orders, cancels and price moves.

Two accounts trade the same symbols against the same prices; each one's locked amounts must equal what its own
open orders hold, and neither may cancel the other's orders. Each example runs in a savepoint that is rolled
back, so every sequence starts from the same two accounts (USDT 100000, BTC 1, ETH 10 each) and the same prices.
"""

from decimal import Decimal as D

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from papertrading.balances import check_balances, reservation
from papertrading.errors import OrderNotWorking, OrderRejected, OrderValidationError
from papertrading.models import Account, MarketPrice, OrderFill, PaperOrder, SimulatedBalance, SymbolRule
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
ACCOUNTS = st.sampled_from([0, 1])  # which of the two accounts acts


class Rollback(Exception):
    pass


def place_action():
    return st.tuples(
        st.just("place"),
        ACCOUNTS,
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
    """The acting account, and which order (of either account) it tries to cancel."""
    return st.tuples(st.just("cancel"), ACCOUNTS, st.integers(min_value=0, max_value=50))


def move_action():
    return st.tuples(st.just("move"), st.sampled_from(SYMBOLS), st.integers(min_value=-500, max_value=500))


ACTIONS = st.lists(st.one_of(place_action(), place_action(), cancel_action(), move_action()), min_size=4, max_size=30)


def grid_price(rule: SymbolRule, market_price: D, bps: int) -> D:
    return max(round_to_step(market_price * (1 + D(bps) / 10000), rule.tick_size, up=False), rule.tick_size)


def run(action, rules: dict[str, SymbolRule], market, accounts: list[Account]) -> None:
    """Carry out one action as one of the two accounts."""
    kind = action[0]
    if kind == "place":
        _, who, symbol, side, order_type, time_in_force, bps, where, limit_bps = action
        rule = rules[symbol]
        current = MarketPrice.objects.get(symbol=symbol).price
        low, high = QUANTITY_STEPS[symbol]
        quantity = rule.step_size * int(low + (high - low) * where)
        price = grid_price(rule, current, bps)
        kwargs = dict(account=accounts[who], symbol=symbol, side=side, order_type=order_type, quantity=quantity)
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
        _, who, which = action
        working = list(PaperOrder.objects.filter(status__in=PaperOrder.WORKING_STATUSES).order_by("id"))
        orders = working or list(PaperOrder.objects.order_by("id"))
        if orders:
            target = orders[which % len(orders)]
            if target.account_id != accounts[who].pk:
                # Another account's order: not found for this one, and left exactly as it was.
                with pytest.raises(PaperOrder.DoesNotExist):
                    cancel_order(account=accounts[who], order_id=target.pk)
                after = PaperOrder.objects.get(pk=target.pk)
                assert (after.status, after.locked_amount) == (target.status, target.locked_amount)
                event("cancel of the other account's order refused")
                return
            try:
                cancel_order(account=accounts[who], order_id=target.pk)
            except OrderNotWorking:
                assert not working
    else:
        _, symbol, bps = action
        current = MarketPrice.objects.get(symbol=symbol).price
        event(f"move filled {market.move(symbol, grid_price(rules[symbol], current, bps)) > 0}")


def assert_invariants(rules: dict[str, SymbolRule], accounts: list[Account]) -> None:
    assert not PaperOrder.objects.exclude(account__in=accounts).exists()
    for account in accounts:
        assert_account_invariants(rules, account)
    holding = PaperOrder.objects.filter(status__in=PaperOrder.WORKING_STATUSES).values("account").distinct().count()
    event(f"accounts holding open orders: {holding}")
    assert check_balances() == []


def assert_account_invariants(rules: dict[str, SymbolRule], account: Account) -> None:
    """The account's locked amounts equal what its own open orders hold, and its balances match its history."""
    stored = {row.asset: row for row in SimulatedBalance.objects.filter(account=account)}
    for row in stored.values():
        assert row.free >= 0, row
        assert row.locked >= 0, row

    held: dict[str, D] = {}
    recomputed: dict[str, D] = {}
    for order in PaperOrder.objects.filter(account=account):
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
    assert set(held) <= set(stored), (account, held, stored)
    for asset, row in stored.items():
        expected = held.get(asset, D("0"))
        assert row.locked == expected == recomputed.get(asset, D("0")), (account, asset, row.locked, held)
    assert check_balances([account]) == []


@PROPERTY_SETTINGS
@given(actions=ACTIONS)
def test_balances_stay_consistent_over_random_orders_cancels_and_moves(account, rival_account, market, actions):
    rules = {rule.symbol: rule for rule in SymbolRule.objects.filter(symbol__in=SYMBOLS)}
    accounts = [account, rival_account]
    try:
        with transaction.atomic():
            # Each account starts with a limit resting 3 % away on the same symbol, so their open orders meet.
            for who, side, bps in ((0, "BUY", -300), (1, "SELL", 300)):
                run(("place", who, "ETHUSDT", side, "LIMIT", "GTC", bps, 0.01, 0), rules, market, accounts)
            resting = PaperOrder.objects.filter(status=PaperOrder.Status.PENDING).order_by("id")
            assert list(resting.values_list("account_id", flat=True)) == [account.pk, rival_account.pk]
            assert_invariants(rules, accounts)
            for action in actions:
                run(action, rules, market, accounts)
                assert_invariants(rules, accounts)
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
def test_off_grid_prices_are_always_refused_before_anything_is_written(
    account, market, symbol, side, ticks, fraction, field
):
    rule = SymbolRule.objects.get(symbol=symbol)
    off_grid = rule.tick_size * ticks + rule.tick_size * D(fraction) / 100
    kwargs = dict(account=account, symbol=symbol, side=side, quantity=rule.step_size * 10_000)
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
def test_off_step_quantities_are_always_refused(account, market, steps, fraction):
    rule = SymbolRule.objects.get(symbol="ETHUSDT")
    quantity = rule.step_size * steps + rule.step_size * D(fraction) / 10
    with pytest.raises(OrderValidationError) as caught:
        place_order(account=account, symbol="ETHUSDT", side="BUY", order_type="MARKET", quantity=quantity)
    assert any("LOT_SIZE" in message for message in caught.value.errors["quantity"])
    assert PaperOrder.objects.count() == 0
