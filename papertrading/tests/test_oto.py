"""OTO and OTOCO (bracket) lists in simulation: a working LIMIT works now; its pending order, or pending OCO pair,
is accepted with it but neither rests nor holds funds until the working order has filled, then goes to work in the
same transaction. The balance check after every test (conftest) proves locked funds match the working orders."""

from decimal import Decimal as D

import pytest

from papertrading.balances import check_balances
from papertrading.errors import OrderRejected, OrderValidationError, RiskLimitExceeded
from papertrading.models import Account, OrderList, PaperOrder, SymbolRule
from papertrading.services import (
    DuplicateOrderList,
    cancel_order,
    cancel_order_list,
    place_order,
    place_oto,
    place_otoco,
)
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db
Status = PaperOrder.Status
# The `market` fixture puts BTCUSDT at 68000; the account holds USDT 100000, BTC 1 and ETH 10.
ENTRY = {"side": "BUY", "type": "LIMIT", "quantity": D("0.1"), "price": D("67000"), "time_in_force": "GTC"}
TAKE_PROFIT = {"type": "LIMIT_MAKER", "price": D("70000")}
STOP = {"type": "STOP_LOSS", "stop_price": D("65000")}


def bracket(account, **overrides) -> OrderList:
    terms = dict(
        account=account,
        symbol="BTCUSDT",
        working=ENTRY,
        pending_side="SELL",
        pending_quantity=None,
        pending_above=TAKE_PROFIT,
        pending_below=STOP,
    )
    return place_otoco(**(terms | overrides)).order_list


def oto(account, **overrides) -> OrderList:
    terms = dict(
        account=account,
        symbol="BTCUSDT",
        working=ENTRY,
        pending={"side": "SELL", "type": "LIMIT_MAKER", "price": D("70000")},
    )
    return place_oto(**(terms | overrides)).order_list


def leg(order_list: OrderList, name: str) -> PaperOrder:
    return order_list.orders.get(list_leg=name)


def test_a_bracket_works_its_entry_and_keeps_its_take_profit_and_stop_waiting(account, market):
    order_list = bracket(account)

    entry, above, below = (leg(order_list, name) for name in ("working", "above", "below"))
    assert (order_list.contingency_type, order_list.list_order_status) == ("OTOCO", "EXECUTING")
    assert (entry.status, entry.waits_for_list, entry.locked_amount) == (Status.PENDING, False, D("6700"))
    # The pending pair sells what the entry receives: 0.1 BTC less the 0.1 % fee taken in BTC.
    for pending in (above, below):
        assert (pending.status, pending.waits_for_list, pending.side) == (Status.PENDING, True, "SELL")
        assert (pending.quantity, pending.locked_amount, pending.trigger_price) == (D("0.0999"), D("0"), None)
    assert balances(account)["USDT"] == (D("93300"), D("6700"))
    assert balances(account)["BTC"] == (D("1"), D("0"))


def test_a_price_reaching_only_a_waiting_leg_does_nothing(account, market):
    order_list = bracket(account)

    market.move("BTCUSDT", "71000")  # above the take profit, which waits for an entry that has not filled

    above = leg(order_list, "above")
    assert (above.status, above.waits_for_list, above.executed_quantity) == (Status.PENDING, True, D("0"))
    assert leg(order_list, "working").status == Status.PENDING


def test_an_entry_filled_in_a_gap_past_the_stop_lets_the_stop_fire_on_the_next_pass(account, market):
    order_list = bracket(account)

    market.move("BTCUSDT", "64000")  # the entry fills; the pair goes to work with the market already past its stop
    below = leg(order_list, "below")
    assert (leg(order_list, "working").status, below.status, below.waits_for_list) == (
        Status.FILLED, Status.PENDING, False
    )  # fmt: skip

    market.move("BTCUSDT", "64000")
    below.refresh_from_db()
    assert below.status == Status.FILLED
    assert leg(order_list, "above").status == Status.EXPIRED


def test_the_entry_filling_puts_the_pair_to_work_with_the_funds_held_once(account, market):
    order_list = bracket(account)

    market.move("BTCUSDT", "67000")

    entry, above, below = (leg(order_list, name) for name in ("working", "above", "below"))
    order_list.refresh_from_db()
    assert (entry.status, entry.executed_quantity) == (Status.FILLED, D("0.1"))
    assert (above.waits_for_list, below.waits_for_list) == (False, False)
    assert (above.status, above.trigger_price, below.status, below.trigger_price) == (
        Status.PENDING, D("70000"), Status.PENDING, D("65000")
    )  # fmt: skip
    assert above.locked_amount + below.locked_amount == D("0.0999")
    assert order_list.list_order_status == "EXECUTING"
    assert "Now working" in below.events.last().detail
    # 1 BTC + 0.0999 bought, of which 0.0999 is held for the pair; 6700 USDT paid.
    assert balances(account)["BTC"] == (D("1"), D("0.0999"))
    assert balances(account)["USDT"] == (D("93300"), D("0"))


def test_the_stop_then_closes_the_bracket_and_expires_the_take_profit(account, market):
    order_list = bracket(account)
    market.move("BTCUSDT", "67000")

    market.move("BTCUSDT", "65000")

    above, below = leg(order_list, "above"), leg(order_list, "below")
    order_list.refresh_from_db()
    assert (below.status, below.executed_quantity) == (Status.FILLED, D("0.0999"))
    assert above.status == Status.EXPIRED and "OTOCO list" in above.events.last().detail
    assert (order_list.list_status_type, order_list.list_order_status) == ("ALL_DONE", "ALL_DONE")
    assert balances(account)["BTC"] == (D("1"), D("0"))


def test_the_take_profit_closes_the_bracket(account, market):
    order_list = bracket(account)
    market.move("BTCUSDT", "67000")

    market.move("BTCUSDT", "70000")

    above, below = leg(order_list, "above"), leg(order_list, "below")
    assert (above.status, above.fills.get().price) == (Status.FILLED, D("70000"))
    assert below.status == Status.EXPIRED
    # 0.0999 sold at 70000 = 6993 less the 0.1 % fee: 6986.007 USDT on top of the 93300 left after the entry.
    assert balances(account)["USDT"] == (D("100286.007"), D("0"))


def test_an_entry_marketable_on_arrival_fills_and_starts_the_pair_at_once(account, market):
    order_list = bracket(account, working=ENTRY | {"price": D("69000")})

    entry, above, below = (leg(order_list, name) for name in ("working", "above", "below"))
    assert entry.status == Status.FILLED
    assert not above.waits_for_list and not below.waits_for_list
    assert (above.status, below.status) == (Status.PENDING, Status.PENDING)
    assert balances(account)["BTC"][1] == D("0.0999")


def test_an_oto_puts_its_one_pending_order_to_work_and_finishes_when_it_fills(account, market):
    order_list = oto(account)
    pending = leg(order_list, "pending")
    assert (pending.waits_for_list, pending.quantity, pending.locked_amount) == (True, D("0.0999"), D("0"))

    market.move("BTCUSDT", "67000")
    pending.refresh_from_db()
    order_list.refresh_from_db()
    assert (pending.waits_for_list, pending.locked_amount, pending.trigger_price) == (False, D("0.0999"), D("70000"))
    assert order_list.list_order_status == "EXECUTING"

    market.move("BTCUSDT", "70000")
    pending.refresh_from_db()
    order_list.refresh_from_db()
    assert pending.status == Status.FILLED
    assert order_list.list_order_status == "ALL_DONE"


def test_an_oto_pending_stop_goes_to_work_as_a_stop(account, market):
    order_list = oto(account, pending={"side": "SELL", "type": "STOP_LOSS", "stop_price": D("66000")})
    market.move("BTCUSDT", "67000")

    pending = leg(order_list, "pending")
    assert (pending.status, pending.trigger_price, pending.trigger_direction) == (Status.PENDING, D("66000"), "BELOW")
    market.move("BTCUSDT", "65900")
    pending.refresh_from_db()
    assert pending.status == Status.FILLED


@pytest.mark.parametrize("cancel", ["list", "working", "pending"])
def test_cancelling_a_waiting_bracket_by_any_leg_cancels_all_three(account, market, cancel):
    order_list = bracket(account)

    if cancel == "list":
        cancel_order_list(account=account, list_id=order_list.pk)
    else:
        cancel_order(account=account, order_id=leg(order_list, "working" if cancel == "working" else "below").pk)

    order_list.refresh_from_db()
    assert set(order_list.orders.values_list("status", flat=True)) == {Status.CANCELLED}
    assert order_list.list_order_status == "ALL_DONE"
    assert balances(account)["USDT"] == (D("100000"), D("0"))


def test_cancelling_a_working_bracket_releases_the_pairs_funds_once(account, market):
    order_list = bracket(account)
    market.move("BTCUSDT", "67000")

    cancel_order_list(account=account, list_id=order_list.pk)

    statuses = dict(order_list.orders.values_list("list_leg", "status"))
    assert statuses == {"working": Status.FILLED, "above": Status.CANCELLED, "below": Status.CANCELLED}
    assert balances(account)["BTC"] == (D("1.0999"), D("0"))


def test_an_entry_that_expires_unfilled_expires_its_pending_legs(account, market):
    order_list = bracket(account, working=ENTRY | {"time_in_force": "IOC"})

    order_list.refresh_from_db()
    assert set(order_list.orders.values_list("status", flat=True)) == {Status.EXPIRED}
    assert order_list.list_order_status == "ALL_DONE"
    assert balances(account)["USDT"] == (D("100000"), D("0"))


def test_a_pending_order_the_account_cannot_pay_once_the_entry_fills_is_rejected(account, market):
    # 1.5 BTC to sell: the account holds 1 and the entry brings 0.0999.
    order_list = oto(
        account, pending={"side": "SELL", "type": "LIMIT_MAKER", "price": D("70000"), "quantity": D("1.5")}
    )

    market.move("BTCUSDT", "67000")

    pending = leg(order_list, "pending")
    order_list.refresh_from_db()
    assert (pending.status, pending.reject_code, pending.locked_amount) == (Status.REJECTED, -2010, D("0"))
    assert order_list.list_order_status == "ALL_DONE"
    assert leg(order_list, "working").status == Status.FILLED
    assert balances(account)["BTC"] == (D("1.0999"), D("0"))


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"working": ENTRY | {"type": "MARKET", "price": None, "time_in_force": ""}}, {"working_type"}),
        ({"working": ENTRY | {"price": None}}, {"working_price"}),
        ({"working": ENTRY | {"side": "HOLD"}}, {"working_side"}),
        ({"pending_side": "HOLD"}, {"pending_side"}),
        # The pair is judged at the entry's price: a take profit at 66000 is below the 67000 entry.
        ({"pending_above": {"type": "LIMIT_MAKER", "price": D("66000")}}, {"pending_above_price"}),
        ({"pending_below": {"type": "STOP_LOSS", "stop_price": D("68000")}}, {"pending_below_stop_price"}),
        ({"pending_below": {"type": "LIMIT_MAKER", "price": D("60000")}}, {"pending_below_type"}),
        ({"pending_above": TAKE_PROFIT | {"colour": "red"}}, {"pending_above_colour"}),
        ({"list_client_order_id": "not ok!"}, {"list_client_order_id"}),
    ],
)
def test_bracket_rules_refuse_with_a_message_per_field_and_write_nothing(account, market, overrides, errors):
    before = balances(account)

    with pytest.raises(OrderValidationError) as refused:
        bracket(account, **overrides)

    assert set(refused.value.errors) == errors
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert balances(account) == before


def test_oto_rules_name_the_pending_fields(account, market):
    with pytest.raises(OrderValidationError) as refused:
        oto(account, pending={"side": "SELL", "type": "STOP_LOSS", "price": D("66000")})

    assert set(refused.value.errors) == {"pending_price", "pending_stop_price"}
    assert PaperOrder.objects.count() == 0


def test_a_limit_maker_entry_that_would_take_refuses_the_whole_list(account, market):
    with pytest.raises(OrderRejected) as refused:
        bracket(account, working={"side": "BUY", "type": "LIMIT_MAKER", "quantity": D("0.1"), "price": D("69000")})

    assert (refused.value.code, str(refused.value)) == (-2010, "Order would immediately match and take.")
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)


def test_an_entry_the_account_cannot_pay_refuses_the_list(account, market):
    with pytest.raises(OrderRejected) as refused:
        bracket(account, working=ENTRY | {"quantity": D("2")})

    assert refused.value.code == -2010
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)


def test_a_bracket_counts_three_orders_toward_the_limits(account, market):
    Account.objects.filter(pk=account.pk).update(max_open_orders=2)

    with pytest.raises(RiskLimitExceeded) as refused:
        bracket(account)

    assert (refused.value.limit, refused.value.value) == ("max_open_orders", 3)
    assert PaperOrder.objects.count() == 0
    Account.objects.filter(pk=account.pk).update(max_open_orders=3)
    assert bracket(account).orders.count() == 3


def test_a_bracket_counts_toward_max_num_orders(account, market):
    SymbolRule.objects.filter(symbol="BTCUSDT").update(max_num_orders=3)
    SymbolRule.objects.get(symbol="BTCUSDT").save()  # clears the in-process rule cache
    place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000"),
        time_in_force="GTC",
    )  # fmt: skip

    with pytest.raises(OrderValidationError) as refused:
        bracket(account)

    assert "MAX_NUM_ORDERS" in str(refused.value.errors)
    assert OrderList.objects.count() == 0


def test_a_repeated_list_client_order_id_returns_the_bracket_or_refuses_other_terms(account, market):
    first = place_otoco(
        account=account, symbol="BTCUSDT", working=ENTRY, pending_side="SELL", pending_quantity=None,
        pending_above=TAKE_PROFIT, pending_below=STOP, list_client_order_id="bracket-1",
    )  # fmt: skip
    again = place_otoco(
        account=account, symbol="BTCUSDT", working=ENTRY, pending_side="SELL", pending_quantity=D("0.0999"),
        pending_above=TAKE_PROFIT, pending_below=STOP, list_client_order_id="bracket-1",
    )  # fmt: skip

    assert (again.created, again.order_list.pk) == (False, first.order_list.pk)
    with pytest.raises(DuplicateOrderList):
        bracket(account, list_client_order_id="bracket-1", pending_quantity=D("0.05"))
    assert PaperOrder.objects.count() == 3


def test_with_the_liquidity_model_the_pair_waits_until_the_entry_has_filled_whole(account, market, liquidity_on):
    order_list = bracket(account)

    market.move("BTCUSDT", "67000")
    entry = leg(order_list, "working")
    assert entry.status == Status.PARTIALLY_FILLED
    assert leg(order_list, "above").waits_for_list

    for step in range(20):
        if entry.status == Status.FILLED:
            break
        market.move("BTCUSDT", "66990" if step % 2 == 0 else "67000")  # each new price trades more volume
        entry.refresh_from_db()
    assert entry.status == Status.FILLED and entry.fills.count() > 1
    assert not leg(order_list, "above").waits_for_list
    assert leg(order_list, "above").locked_amount + leg(order_list, "below").locked_amount == D("0.0999")
    assert check_balances() == []


def test_a_pair_on_the_wrong_side_of_the_entry_says_so_in_terms_of_the_entry(account, market):
    with pytest.raises(OrderValidationError) as refused:
        bracket(account, pending_above={"type": "LIMIT_MAKER", "price": D("66000")})

    assert refused.value.errors == {
        "pending_above_price": ["The above leg's price must be above the working order's price (67000)."]
    }


def test_a_legs_client_order_id_in_use_is_named_by_its_leg(account, market):
    place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000"),
        time_in_force="GTC", client_order_id="mine",
    )  # fmt: skip

    with pytest.raises(OrderValidationError) as taken:
        bracket(account, pending_below=STOP | {"client_order_id": "mine"})
    with pytest.raises(OrderValidationError) as twice:
        bracket(account, working=ENTRY | {"client_order_id": "x"}, pending_above=TAKE_PROFIT | {"client_order_id": "x"})

    assert taken.value.errors == {"pending_below_client_order_id": ["Already an order of this account."]}
    assert twice.value.errors == {
        "pending_above_client_order_id": ["Already an order of this account: the working leg's."]
    }
    assert OrderList.objects.count() == 0 and PaperOrder.objects.count() == 1


def test_an_oto_whose_working_order_is_refused_names_only_its_fields(account, market):
    with pytest.raises(OrderValidationError) as refused:
        oto(account, working=ENTRY | {"time_in_force": ""})

    assert set(refused.value.errors) == {"working_time_in_force"}


def test_a_pending_stop_already_reached_at_the_entry_says_so_in_terms_of_the_entry(account, market):
    with pytest.raises(OrderValidationError) as refused:
        oto(account, pending={"side": "SELL", "type": "STOP_LOSS", "stop_price": D("67500")})

    assert refused.value.errors == {
        "pending_stop_price": [
            "Order would trigger immediately. For a STOP_LOSS SELL the stop price must be below the working order's "
            "price (67000)."
        ]
    }


def test_a_pending_stop_counted_at_placement_is_not_refused_by_the_open_order_limits_when_it_goes_to_work(
    account, market
):
    SymbolRule.objects.filter(symbol="BTCUSDT").update(max_num_algo_orders=1)
    SymbolRule.objects.get(symbol="BTCUSDT").save()  # clears the in-process rule cache
    order_list = oto(account, pending={"side": "SELL", "type": "STOP_LOSS", "stop_price": D("66000")})

    market.move("BTCUSDT", "67000")  # the entry fills: the stop, already one of the one algo order allowed, works

    pending = leg(order_list, "pending")
    assert (pending.status, pending.waits_for_list, pending.locked_amount) == (Status.PENDING, False, D("0.0999"))
    with pytest.raises(OrderValidationError):  # and it still counts: no second stop fits
        place_order(
            account=account, symbol="BTCUSDT", side="SELL", order_type="STOP_LOSS", quantity=D("0.01"),
            stop_price=D("60000"),
        )  # fmt: skip
