"""OCO order lists in simulation: two legs on either side of the market, funds held once for the list; the first
leg reached expires the other in the same transaction, and cancelling either leg cancels the list. The balance
check that runs after every test proves what is locked always matches what the working orders hold."""

from decimal import Decimal as D

import pytest

from papertrading.balances import check_balances
from papertrading.errors import OrderNotWorking, OrderRejected, OrderValidationError, RiskLimitExceeded
from papertrading.models import Account, OrderList, PaperOrder, RiskEvent, SymbolRule
from papertrading.services import (
    DuplicateOrderList,
    cancel_order,
    cancel_order_list,
    place_oco,
    place_order,
)
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db
Status = PaperOrder.Status
# The `market` fixture puts BTCUSDT at 68000; the account holds USDT 100000 and BTC 1.
TAKE_PROFIT = {"type": "LIMIT_MAKER", "price": D("70000")}
STOP = {"type": "STOP_LOSS_LIMIT", "stop_price": D("66000"), "price": D("65900"), "time_in_force": "GTC"}


def sell_oco(account, **overrides) -> OrderList:
    terms = dict(account=account, symbol="BTCUSDT", side="SELL", quantity=D("0.1"), above=TAKE_PROFIT, below=STOP)
    return place_oco(**(terms | overrides)).order_list


def buy_oco(account, **overrides) -> OrderList:
    terms = dict(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        quantity=D("0.1"),
        above={"type": "STOP_LOSS", "stop_price": D("70000")},
        below={"type": "LIMIT_MAKER", "price": D("66000")},
    )
    return place_oco(**(terms | overrides)).order_list


def legs(order_list: OrderList) -> tuple[PaperOrder, PaperOrder]:
    """(above, below): the leg whose trigger is above the market first."""
    first, second = order_list.orders.order_by("id")
    trigger = {o.pk: o.price if o.order_type == "LIMIT_MAKER" else o.stop_price for o in (first, second)}
    return (first, second) if trigger[first.pk] > trigger[second.pk] else (second, first)


def test_a_sell_oco_rests_both_legs_and_locks_the_quantity_once(account, market):
    order_list = sell_oco(account)

    above, below = legs(order_list)
    assert (order_list.contingency_type, order_list.list_status_type, order_list.list_order_status) == (
        "OCO",
        "EXEC_STARTED",
        "EXECUTING",
    )
    assert (above.order_type, above.status, above.price, above.trigger_price) == (
        "LIMIT_MAKER", Status.PENDING, D("70000"), D("70000")
    )  # fmt: skip
    assert (below.order_type, below.status, below.trigger_price) == ("STOP_LOSS_LIMIT", Status.PENDING, D("66000"))
    assert above.locked_amount + below.locked_amount == D("0.1")
    assert balances(account)["BTC"] == (D("0.9"), D("0.1"))


def test_a_buy_oco_locks_the_larger_need_of_its_two_legs(account, market):
    order_list = buy_oco(account)

    above, below = legs(order_list)
    assert (above.side, above.order_type, below.order_type) == ("BUY", "STOP_LOSS", "LIMIT_MAKER")
    # The stop at 70000 needs 7000 USDT, the limit at 66000 needs 6600: the list holds 7000, once.
    assert balances(account)["USDT"] == (D("93000"), D("7000"))
    assert (above.locked_amount, below.locked_amount) == (D("7000"), D("0"))


def test_the_above_leg_filling_expires_the_below_leg_and_finishes_the_list(account, market):
    order_list = sell_oco(account)

    changed = market.move("BTCUSDT", "70000")

    above, below = legs(order_list)
    order_list.refresh_from_db()
    assert changed == 2
    assert (above.status, above.executed_quantity) == (Status.FILLED, D("0.1"))
    assert below.status == Status.EXPIRED and below.executed_quantity == 0
    assert f"OCO list {order_list.pk}" in below.events.last().detail
    assert (order_list.list_status_type, order_list.list_order_status) == ("ALL_DONE", "ALL_DONE")
    # 0.1 BTC sold at 70000 as a maker: 7000 less the 0.1 % fee, paid in USDT.
    assert balances(account) == {"BTC": (D("0.9"), D("0")), "USDT": (D("106993"), D("0")), "ETH": (D("10"), D("0"))}


def test_the_below_stop_triggering_expires_the_above_leg(account, market):
    order_list = sell_oco(account)

    market.move("BTCUSDT", "66000")  # the stop is reached; its SELL limit at 65900 takes the market

    above, below = legs(order_list)
    order_list.refresh_from_db()
    assert (below.status, below.executed_quantity) == (Status.FILLED, D("0.1"))
    assert below.fills.get().price == D("65967")  # 66000 less slippage, never below its 65900 limit
    assert above.status == Status.EXPIRED
    assert order_list.list_order_status == "ALL_DONE"
    assert balances(account)["BTC"] == (D("0.9"), D("0"))


def test_a_stop_limit_leg_whose_limit_rests_expires_the_other_and_keeps_its_own_funds(account, market):
    below_leg = {"type": "STOP_LOSS_LIMIT", "stop_price": D("66000"), "price": D("66500"), "time_in_force": "GTC"}
    order_list = sell_oco(account, below=below_leg)

    market.move("BTCUSDT", "66000")  # the stop is reached; a SELL limit at 66500 rests above the market

    above, below = legs(order_list)
    order_list.refresh_from_db()
    assert above.status == Status.EXPIRED
    assert (below.status, below.trigger_price, below.locked_amount) == (Status.PENDING, D("66500"), D("0.1"))
    assert below.stop_triggered_at is not None
    assert order_list.list_order_status == "ALL_DONE"
    assert balances(account)["BTC"] == (D("0.9"), D("0.1"))

    market.move("BTCUSDT", "66600")  # its limit fills; the list stays done

    below.refresh_from_db()
    assert below.status == Status.FILLED
    assert balances(account)["BTC"] == (D("0.9"), D("0"))


def test_a_buy_oco_stop_pays_from_what_the_list_held(account, market):
    order_list = buy_oco(account)

    market.move("BTCUSDT", "70000")

    above, below = legs(order_list)
    assert (above.status, below.status) == (Status.FILLED, Status.EXPIRED)
    price = above.fills.get().price
    assert price == D("70035")  # the market plus slippage
    assert balances(account)["USDT"] == (D("100000") - price * D("0.1"), D("0"))
    assert balances(account)["BTC"] == (D("1.0999"), D("0"))  # 0.1 less the fee in BTC


def test_cancelling_either_leg_cancels_the_list_and_releases_the_funds_once(account, market):
    order_list = sell_oco(account)
    above, below = legs(order_list)

    cancelled = cancel_order(account=account, order_id=below.pk)

    above.refresh_from_db()
    order_list.refresh_from_db()
    assert cancelled.pk == below.pk and cancelled.status == Status.CANCELLED
    assert above.status == Status.CANCELLED and above.locked_amount == 0
    assert order_list.list_order_status == "ALL_DONE"
    assert balances(account)["BTC"] == (D("1"), D("0"))
    with pytest.raises(OrderNotWorking):
        cancel_order(account=account, order_id=above.pk)
    with pytest.raises(OrderNotWorking):
        cancel_order_list(account=account, list_id=order_list.pk)
    assert balances(account)["BTC"] == (D("1"), D("0"))


def test_cancel_order_list_cancels_both_legs(account, market):
    order_list = buy_oco(account)

    done = cancel_order_list(account=account, list_id=order_list.pk)

    assert done.list_order_status == "ALL_DONE"
    assert set(done.orders.values_list("status", flat=True)) == {Status.CANCELLED}
    assert balances(account)["USDT"] == (D("100000"), D("0"))
    market.move("BTCUSDT", "60000")  # nothing of the list works any more
    assert balances(account)["USDT"] == (D("100000"), D("0"))


def test_another_accounts_list_cannot_be_cancelled(account, market, rival):
    from papertrading.services import default_account_for

    order_list = sell_oco(account)

    with pytest.raises(OrderList.DoesNotExist):
        cancel_order_list(account=default_account_for(rival), list_id=order_list.pk)
    assert order_list.orders.filter(status=Status.PENDING).count() == 2


@pytest.mark.parametrize(
    ("side", "above", "below", "errors"),
    [
        ("SELL", {"type": "STOP_LOSS", "stop_price": D("70000")}, STOP, {"above_type"}),
        ("SELL", TAKE_PROFIT, {"type": "LIMIT_MAKER", "price": D("66000")}, {"below_type"}),
        ("BUY", TAKE_PROFIT, {"type": "LIMIT_MAKER", "price": D("66000")}, {"above_type"}),
        ("SELL", {"type": "LIMIT_MAKER", "price": D("67000")}, STOP, {"above_price"}),
        ("SELL", TAKE_PROFIT, {"type": "STOP_LOSS", "stop_price": D("69000")}, {"below_stop_price"}),
        ("SELL", {"type": "TAKE_PROFIT", "stop_price": D("67000")}, STOP, {"above_stop_price"}),
        ("SELL", {"type": "LIMIT_MAKER"}, {"type": "STOP_LOSS_LIMIT", "stop_price": D("66000")}, {
            "above_price", "below_price", "below_time_in_force"
        }),
        ("SELL", TAKE_PROFIT | {"time_in_force": "GTC"}, STOP | {"price": D("65900.001")}, {
            "above_time_in_force", "below_price"
        }),
        ("HOLD", TAKE_PROFIT, STOP, {"side"}),
    ],
)  # fmt: skip
def test_oco_rules_refuse_with_a_message_per_field_and_write_nothing(account, market, side, above, below, errors):
    before = balances(account)

    with pytest.raises(OrderValidationError) as refused:
        place_oco(account=account, symbol="BTCUSDT", side=side, quantity=D("0.1"), above=above, below=below)

    assert set(refused.value.errors) == errors
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert balances(account) == before


def test_a_list_the_account_cannot_pay_is_refused_with_nothing_written(account, market):
    with pytest.raises(OrderRejected) as refused:
        sell_oco(account, quantity=D("2"))

    assert refused.value.code == -2010
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert balances(account)["BTC"] == (D("1"), D("0"))


def test_both_legs_count_toward_max_num_orders(account, market):
    SymbolRule.objects.filter(symbol="BTCUSDT").update(max_num_orders=2)
    SymbolRule.objects.get(symbol="BTCUSDT").save()  # clears the in-process rule cache
    place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000"),
        time_in_force="GTC",
    )  # fmt: skip

    with pytest.raises(OrderValidationError) as refused:
        sell_oco(account)  # one working order and two legs make three

    assert "MAX_NUM_ORDERS" in str(refused.value.errors) or "open orders" in str(refused.value.errors)

    assert OrderList.objects.count() == 0
    PaperOrder.objects.filter(order_list=None).update(status=Status.CANCELLED, locked_amount=0)
    account.balances.filter(asset="USDT").update(free=D("100000"), locked=0)
    assert sell_oco(account).orders.count() == 2  # two legs alone fit


@pytest.mark.parametrize(
    ("above", "below"),
    [
        (TAKE_PROFIT, STOP),  # the stop leg is one more algo order: two working and it make three
        ({"type": "TAKE_PROFIT", "stop_price": D("70000")}, STOP),
        ({"type": "TAKE_PROFIT", "stop_price": D("70000")}, {"type": "STOP_LOSS", "stop_price": D("66000")}),
    ],
)
def test_an_oco_stop_leg_counts_toward_max_num_algo_orders(account, market, above, below):
    SymbolRule.objects.filter(symbol="BTCUSDT").update(max_num_algo_orders=2)
    SymbolRule.objects.get(symbol="BTCUSDT").save()  # clears the in-process rule cache
    for stop in ("60000", "61000"):
        place_order(
            account=account, symbol="BTCUSDT", side="SELL", order_type="STOP_LOSS", quantity=D("0.01"),
            stop_price=D(stop),
        )  # fmt: skip

    with pytest.raises(OrderValidationError) as caught:
        sell_oco(account, above=above, below=below)

    assert "MAX_NUM_ALGO_ORDERS" in str(caught.value.errors)
    assert OrderList.objects.count() == 0
    assert balances(account)["BTC"] == (D("0.98"), D("0.02"))


def test_an_oco_fits_max_num_algo_orders_when_its_algo_legs_do(account, market):
    SymbolRule.objects.filter(symbol="BTCUSDT").update(max_num_algo_orders=1)
    SymbolRule.objects.get(symbol="BTCUSDT").save()

    assert sell_oco(account).orders.count() == 2  # one stop leg and a LIMIT_MAKER
    with pytest.raises(OrderValidationError):
        sell_oco(account, above={"type": "TAKE_PROFIT", "stop_price": D("70000")}, quantity=D("0.2"))


def test_both_legs_count_toward_the_accounts_max_open_orders(account, market):
    Account.objects.filter(pk=account.pk).update(max_open_orders=1)

    with pytest.raises(RiskLimitExceeded) as refused:
        sell_oco(account)

    assert (refused.value.limit, refused.value.value) == ("max_open_orders", 2)
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert RiskEvent.objects.get().limit == "max_open_orders"
    Account.objects.filter(pk=account.pk).update(max_open_orders=2)
    assert sell_oco(account).orders.count() == 2


def test_a_halted_account_places_no_list(account, market):
    Account.objects.filter(pk=account.pk).update(halted_at="2026-01-01T00:00:00Z", halted_reason="stop")

    with pytest.raises(RiskLimitExceeded):
        sell_oco(account)

    assert OrderList.objects.count() == 0


def test_a_repeated_list_client_order_id_returns_the_list_or_refuses_other_terms(account, market):
    first = place_oco(
        account=account, symbol="BTCUSDT", side="SELL", quantity=D("0.1"), above=TAKE_PROFIT, below=STOP,
        list_client_order_id="protect-1",
    )  # fmt: skip
    again = place_oco(
        account=account, symbol="BTCUSDT", side="SELL", quantity=D("0.1"), above=TAKE_PROFIT, below=STOP,
        list_client_order_id="protect-1",
    )  # fmt: skip

    assert (first.created, again.created) == (True, False)
    assert again.order_list.pk == first.order_list.pk
    with pytest.raises(DuplicateOrderList):
        place_oco(
            account=account, symbol="BTCUSDT", side="SELL", quantity=D("0.2"), above=TAKE_PROFIT, below=STOP,
            list_client_order_id="protect-1",
        )  # fmt: skip
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (1, 2)
    assert balances(account)["BTC"] == (D("0.9"), D("0.1"))


def test_halting_the_account_cancels_its_lists(account, market):
    from papertrading.services import halt_account

    order_list = buy_oco(account)

    result = halt_account(account=account, reason="enough")

    order_list.refresh_from_db()
    assert len(result.cancelled) == 1 and result.not_cancelled == {}
    assert order_list.list_order_status == "ALL_DONE"
    assert set(order_list.orders.values_list("status", flat=True)) == {Status.CANCELLED}
    assert balances(account)["USDT"] == (D("100000"), D("0"))


def test_with_the_liquidity_model_a_partly_filled_leg_expires_the_other(account, market, liquidity_on):
    order_list = sell_oco(account)

    market.move("BTCUSDT", "70000")

    above, below = legs(order_list)
    assert above.status == Status.PARTIALLY_FILLED and 0 < above.executed_quantity < D("0.1")
    assert below.status == Status.EXPIRED
    # What the above leg still has to sell stays locked; the rest of what the list held is free again.
    assert above.locked_amount == D("0.1") - above.executed_quantity
    assert balances(account)["BTC"] == (D("0.9"), D("0.1") - above.executed_quantity)
    assert check_balances() == []


def test_with_the_liquidity_model_a_leg_reached_without_volume_leaves_the_list_working(
    account, market, liquidity_on, settings
):
    settings.SIMULATOR_LIQUIDITY_VOLUME = D("0.01")  # nothing traded at the price is the leg's share
    order_list = sell_oco(account)

    market.move("BTCUSDT", "70000")

    above, below = legs(order_list)
    order_list.refresh_from_db()
    assert (above.status, below.status) == (Status.PENDING, Status.PENDING)
    assert order_list.list_order_status == "EXECUTING"
    assert balances(account)["BTC"] == (D("0.9"), D("0.1"))


def test_the_simulators_own_view_of_each_leg_agrees_with_the_stored_legs(account, market):
    from papertrading.reconciliation import order_differences

    order_list = buy_oco(account)

    for leg in order_list.orders.all():
        result = order_differences(leg)
        assert not result["differs"], result["rows"]
    above, _ = legs(order_list)
    PaperOrder.objects.filter(pk=above.pk).update(locked_amount=D("6600"))  # the list now holds too little
    assert order_differences(PaperOrder.objects.get(pk=above.pk))["differs"]
    PaperOrder.objects.filter(pk=above.pk).update(locked_amount=D("7000"))
