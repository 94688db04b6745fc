"""Order lists (OCO, OTO, OTOCO) on the testnet venue, against the Binance stand-in (real HTTP, signatures checked).

Each list is written with its legs as UNKNOWN and its funds held on the account's share before one POST; the
answer's orderReports land on the legs; sync follows the exchange as legs fill, expire or go to work; a cancel
records what the exchange says about every leg, a fill that beat it included. After every scenario the balance
check must find every ledger adding up.
"""

import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from papertrading import services
from papertrading.errors import OrderNotWorking, OrderRejected, RiskLimitExceeded
from papertrading.models import OrderEvent, OrderList, PaperOrder, Venue
from papertrading.tests.standin import ApiError, standin_in_testnet_mode
from papertrading.tests.support import balances
from papertrading.tests.test_testnet_venue import age
from papertrading.tests.ws_standin import execution_report
from papertrading.venues import get_venue
from papertrading.venues.testnet.stream import UserStream

API_KEY = "lists-key-5b1d9e3f7a2c4e6a8b0d1f3e5a7c9b2d"
SECRET = "lists-secret-8e2a4c6b1d3f5e7a9c0b2d4f6e8a1c3b"
Status = PaperOrder.Status
Leg = PaperOrder.ListLeg
ALL_DONE, EXECUTING, REJECT = (OrderList.ListOrderStatus.ALL_DONE, OrderList.ListOrderStatus.EXECUTING,
                               OrderList.ListOrderStatus.REJECT)  # fmt: skip
pytestmark = pytest.mark.django_db


@pytest.fixture(name="standin")
def standin_fixture(settings, monkeypatch):
    # The stand-in's clock runs ahead: every signed request passes only with the measured server-time offset.
    with standin_in_testnet_mode(settings, monkeypatch, api_key=API_KEY, secret=SECRET, clock_offset_ms=3000) as server:
        yield server


@pytest.fixture(name="desk")
def desk_fixture(standin, trader):
    """The trader's testnet account: USDT 100000, BTC 1, ETH 10 (the stand-in holds as much)."""
    account = services.default_account_for(trader)
    assert account.venue == Venue.TESTNET
    return account


def assert_ledgers_add_up() -> None:
    out = StringIO()
    call_command("check_balances", stdout=out, stderr=StringIO())
    assert "every ledger adds up" in out.getvalue()


def sell_oco(desk, **overrides) -> OrderList:
    """SELL 0.1 BTC: take profit at 70000 (LIMIT_MAKER above), stop at 65000 for 64900 (below); BTCUSDT at 68000."""
    terms = dict(
        account=desk,
        symbol="BTCUSDT",
        side="SELL",
        quantity=Decimal("0.1"),
        above={"type": "LIMIT_MAKER", "price": Decimal("70000")},
        below={"type": "STOP_LOSS_LIMIT", "price": Decimal("64900"), "stop_price": Decimal("65000"),
               "time_in_force": "GTC"},
    )  # fmt: skip
    terms.update(overrides)
    return services.place_oco(**terms).order_list


def buy_oco(desk) -> OrderList:
    """BUY 0.1 BTC: stop at 70000 for 70100 above (holds 7010 USDT), LIMIT_MAKER at 66000 below (needs 6600)."""
    return sell_oco(
        desk,
        side="BUY",
        above={"type": "STOP_LOSS_LIMIT", "price": Decimal("70100"), "stop_price": Decimal("70000"),
               "time_in_force": "GTC"},
        below={"type": "LIMIT_MAKER", "price": Decimal("66000")},
    )  # fmt: skip


# The working order of the OTO and OTOCO below: BUY 0.1 BTC at 67000, under the market, resting with 6700 USDT.
WORKING_BUY = {"side": "BUY", "type": "LIMIT", "quantity": Decimal("0.1"), "price": Decimal("67000"),
               "time_in_force": "GTC"}  # fmt: skip


def place_oto(desk) -> OrderList:
    """The working BUY, then SELL 0.1 BTC at 72000 once it has filled."""
    pending = {"side": "SELL", "type": "LIMIT", "quantity": Decimal("0.1"), "price": Decimal("72000"),
               "time_in_force": "GTC"}  # fmt: skip
    return services.place_oto(account=desk, symbol="BTCUSDT", working=WORKING_BUY, pending=pending).order_list


def place_otoco(desk) -> OrderList:
    """The working BUY, then a SELL bracket of 0.1 BTC once it has filled: 72000 above, a stop at 64000 for 63900
    below."""
    return services.place_otoco(
        account=desk,
        symbol="BTCUSDT",
        working=WORKING_BUY,
        pending_side="SELL",
        pending_quantity=Decimal("0.1"),
        pending_above={"type": "LIMIT_MAKER", "price": Decimal("72000")},
        pending_below={"type": "STOP_LOSS_LIMIT", "price": Decimal("63900"), "stop_price": Decimal("64000"),
                       "time_in_force": "GTC"},
    ).order_list  # fmt: skip


def legs_of(order_list: OrderList) -> dict[str, PaperOrder]:
    return {leg.list_leg: leg for leg in PaperOrder.objects.filter(order_list=order_list)}


def held(legs) -> list[tuple[str, Decimal]]:
    return sorted((leg.locked_asset, leg.locked_amount) for leg in legs if leg.locked_amount)


def list_status(order_list: OrderList) -> tuple[str, str]:
    order_list.refresh_from_db()
    return order_list.list_status_type, order_list.list_order_status


# --- OCO --------------------------------------------------------------------------------------------------------
def test_oco_reaches_the_exchange_signed_with_the_legs_ids_and_holds_the_funds_once(desk, standin):
    order_list = sell_oco(desk)

    [sent] = standin.calls("POST", "/api/v3/orderList/oco")
    legs = legs_of(order_list)
    assert {name: value for name, value in sent.items() if name not in ("timestamp", "signature", "recvWindow")} == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": "0.1",
        "listClientOrderId": order_list.list_client_order_id,
        "aboveType": "LIMIT_MAKER",
        "aboveClientOrderId": legs[Leg.ABOVE].venue_order_ref,
        "abovePrice": "70000",
        "belowType": "STOP_LOSS_LIMIT",
        "belowClientOrderId": legs[Leg.BELOW].venue_order_ref,
        "belowPrice": "64900",
        "belowStopPrice": "65000",
        "belowTimeInForce": "GTC",
        "newOrderRespType": "FULL",
    }
    assert standin.refused == []  # signed, on the exchange's clock
    exchange_ids = standin.leg_ids(standin.next_order_list_id)
    assert [legs[Leg.ABOVE].binance_order_id, legs[Leg.BELOW].binance_order_id] == exchange_ids
    assert {leg.status for leg in legs.values()} == {Status.PENDING}
    assert not any(leg.waits_for_list for leg in legs.values())
    assert list_status(order_list) == (OrderList.ListStatusType.EXEC_STARTED, EXECUTING)
    # Both legs sell the same 0.1 BTC: held once, by one leg.
    assert held(legs.values()) == [("BTC", Decimal("0.1"))]
    assert balances(desk)["BTC"] == (Decimal("0.9"), Decimal("0.1"))
    assert_ledgers_add_up()


def test_a_leg_filling_on_the_exchange_expires_the_other_and_sync_moves_the_funds(desk, standin):
    order_list = sell_oco(desk)
    standin.set_price("BTCUSDT", "70000")  # the take profit fills; the exchange expires the stop

    report = services.sync_orders()

    assert report.changed == {"filled": 1, "expired": 1}
    legs = legs_of(order_list)
    assert (legs[Leg.ABOVE].status, legs[Leg.BELOW].status) == (Status.FILLED, Status.EXPIRED)
    assert [(f.price, f.quantity) for f in legs[Leg.ABOVE].fills.all()] == [(Decimal("70000"), Decimal("0.1"))]
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["BTC"] == (Decimal("0.9"), Decimal("0"))
    assert balances(desk)["USDT"] == (Decimal("107000"), Decimal("0"))
    assert services.sync_orders().changed == {}  # nothing is applied twice
    assert_ledgers_add_up()


def test_the_leg_that_does_not_hold_the_funds_pays_from_the_lists_reservation_when_it_fills(desk, standin):
    order_list = buy_oco(desk)
    legs = legs_of(order_list)
    # The stop (70100 x 0.1) needs more than the LIMIT_MAKER (66000 x 0.1): it holds for both.
    assert held(legs.values()) == [("USDT", Decimal("7010"))] and legs[Leg.ABOVE].locked_amount == Decimal("7010")
    assert balances(desk)["USDT"] == (Decimal("92990"), Decimal("7010"))

    standin.set_price("BTCUSDT", "66000")  # the LIMIT_MAKER below fills; the stop expires
    # Its fill is heard of first (the admin syncs that one order): it pays from what the list holds.
    get_venue().sync_orders([legs[Leg.BELOW].pk], source=OrderEvent.Source.ADMIN)

    legs = legs_of(order_list)
    assert (legs[Leg.ABOVE].status, legs[Leg.BELOW].status) == (Status.PENDING, Status.FILLED)
    assert held(legs.values()) == []
    assert balances(desk)["USDT"] == (Decimal("100000") - Decimal("6600"), Decimal("0"))
    assert_ledgers_add_up()

    services.sync_orders()

    legs = legs_of(order_list)
    assert (legs[Leg.ABOVE].status, legs[Leg.BELOW].status) == (Status.EXPIRED, Status.FILLED)
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["USDT"] == (Decimal("100000") - Decimal("6600"), Decimal("0"))
    assert balances(desk)["BTC"] == (Decimal("1.1"), Decimal("0"))
    assert not desk.adjustments.filter(reason__contains="covered").exists()  # nothing was short
    assert_ledgers_add_up()


def test_cancelling_a_list_cancels_both_legs_on_the_exchange_and_frees_the_funds(desk, standin):
    order_list = sell_oco(desk)

    services.cancel_order_list(account=desk, list_id=order_list.pk, actor="trader")

    [deleted] = standin.calls("DELETE", "/api/v3/orderList")
    assert (deleted["symbol"], deleted["listClientOrderId"]) == ("BTCUSDT", order_list.list_client_order_id)
    assert {standin.orders[pk].status for pk in standin.leg_ids(standin.next_order_list_id)} == {"CANCELED"}
    assert {leg.status for leg in legs_of(order_list).values()} == {Status.CANCELLED}
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    with pytest.raises(OrderNotWorking):
        services.cancel_order_list(account=desk, list_id=order_list.pk)
    assert len(standin.calls("DELETE", "/api/v3/orderList")) == 1
    assert_ledgers_add_up()


def test_cancelling_one_leg_cancels_its_list(desk, standin):
    order_list = sell_oco(desk)
    below = legs_of(order_list)[Leg.BELOW]

    cancelled = services.cancel_order(account=desk, order_id=below.pk, actor="trader")

    assert cancelled.pk == below.pk and cancelled.status == Status.CANCELLED
    assert {leg.status for leg in legs_of(order_list).values()} == {Status.CANCELLED}
    assert standin.calls("DELETE", "/api/v3/order") == []  # one DELETE of the list, not of the leg
    assert len(standin.calls("DELETE", "/api/v3/orderList")) == 1
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    assert_ledgers_add_up()


def test_a_leg_filling_while_the_cancel_is_on_its_way_keeps_its_fill_and_nothing_is_counted_twice(desk, standin):
    order_list = sell_oco(desk)
    above_id = legs_of(order_list)[Leg.ABOVE].binance_order_id
    # The market reaches the take profit just before the DELETE arrives: the exchange answers -2011.
    standin.before[("DELETE", "/api/v3/orderList")] = lambda params: standin.fill(above_id)

    with pytest.raises(OrderNotWorking, match="could not be cancelled"):
        services.cancel_order_list(account=desk, list_id=order_list.pk, actor="trader")

    assert [code for _, code in standin.refused] == [-2011]
    legs = legs_of(order_list)
    assert (legs[Leg.ABOVE].status, legs[Leg.BELOW].status) == (Status.FILLED, Status.EXPIRED)
    assert legs[Leg.ABOVE].fills.count() == 1
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["BTC"] == (Decimal("0.9"), Decimal("0"))
    assert balances(desk)["USDT"] == (Decimal("107000"), Decimal("0"))
    assert services.sync_orders().changed == {}
    assert legs_of(order_list)[Leg.ABOVE].fills.count() == 1
    assert_ledgers_add_up()


def test_a_list_the_exchange_refuses_leaves_every_leg_rejected_and_nothing_held(desk, standin):
    standin.balances["BTC"][0] = Decimal("0.05")  # the exchange account was spent from elsewhere

    with pytest.raises(OrderRejected) as refused:
        sell_oco(desk)

    # Answered as a refused order is (400 with the exchange's code), the list kept with every leg REJECTED.
    assert (refused.value.code, refused.value.order.order_list_id) == (-2010, OrderList.objects.get().pk)
    order_list = OrderList.objects.get()
    assert standin.refused == [("/api/v3/orderList/oco", -2010)]
    legs = legs_of(order_list)
    assert {(leg.status, leg.reject_code) for leg in legs.values()} == {(Status.REJECTED, -2010)}
    assert {leg.reject_reason for leg in legs.values()} == {"Account has insufficient balance for requested action."}
    assert held(legs.values()) == []
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, REJECT)
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    assert_ledgers_add_up()


def test_a_list_the_accounts_share_cannot_pay_for_is_refused_before_anything_is_written_or_sent(desk, standin):
    with pytest.raises(OrderRejected) as refused:
        sell_oco(desk, quantity=Decimal("2"))  # the desk holds 1 BTC

    assert refused.value.code == -2010
    assert not OrderList.objects.exists() and not PaperOrder.objects.exists()
    assert standin.calls("POST", "/api/v3/orderList/oco") == []
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    assert_ledgers_add_up()


@pytest.mark.parametrize("lost", ["5xx", "timeout"])
def test_a_lost_answer_leaves_the_legs_unknown_holding_their_funds_and_sync_resolves_them_without_resending(
    desk, standin, settings, lost
):
    path = ("POST", "/api/v3/orderList/oco")
    if lost == "5xx":
        standin.fail_after[path] = 503  # placed on the exchange, then the answer is an error
    else:
        settings.BINANCE_READ_TIMEOUT = 0.3
        standin.before[path] = lambda params: time.sleep(0.6)  # placed after the client stopped waiting

    order_list = sell_oco(desk)

    legs = legs_of(order_list)
    assert {leg.status for leg in legs.values()} == {Status.UNKNOWN}
    assert {leg.binance_order_id for leg in legs.values()} == {None}
    assert all("not resent" in leg.events.last().detail for leg in legs.values())
    assert balances(desk)["BTC"] == (Decimal("0.9"), Decimal("0.1"))
    assert_ledgers_add_up()

    report = services.sync_orders()

    assert report.changed == {"resolved": 2}
    legs = legs_of(order_list)
    assert {leg.status for leg in legs.values()} == {Status.PENDING}
    assert [legs[Leg.ABOVE].binance_order_id, legs[Leg.BELOW].binance_order_id] == standin.leg_ids(1)
    assert list_status(order_list) == (OrderList.ListStatusType.EXEC_STARTED, EXECUTING)
    assert len(standin.calls(*path)) == 1
    assert balances(desk)["BTC"] == (Decimal("0.9"), Decimal("0.1"))
    assert_ledgers_add_up()


def test_legs_of_a_list_the_exchange_never_placed_are_rejected_once_the_recv_window_has_passed(desk, standin):
    def refuse(params):
        raise ApiError(503, -1000, "An unknown error occurred while processing the request.")

    standin.before[("POST", "/api/v3/orderList/oco")] = refuse
    order_list = sell_oco(desk)
    legs = legs_of(order_list)
    assert {leg.status for leg in legs.values()} == {Status.UNKNOWN}

    early = services.sync_orders()

    assert early.changed == {"still_unknown": 2}, "-2013 inside the recvWindow proves nothing"
    for leg in legs.values():
        age(leg)
    late = services.sync_orders()

    assert late.changed == {"rejected": 2}
    legs = legs_of(order_list)
    assert {(leg.status, leg.reject_code) for leg in legs.values()} == {(Status.REJECTED, -2013)}
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, REJECT)
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    assert len(standin.calls("POST", "/api/v3/orderList/oco")) == 1
    assert_ledgers_add_up()


# --- OTO and OTOCO ----------------------------------------------------------------------------------------------
def test_oto_pending_leg_waits_holding_nothing_then_works_and_holds_once_its_working_order_fills(desk, standin):
    order_list = place_oto(desk)

    [sent] = standin.calls("POST", "/api/v3/orderList/oto")
    legs = legs_of(order_list)
    assert {name: value for name, value in sent.items() if name.startswith(("working", "pending"))} == {
        "workingSide": "BUY",
        "workingQuantity": "0.1",
        "workingType": "LIMIT",
        "workingClientOrderId": legs[Leg.WORKING].venue_order_ref,
        "workingPrice": "67000",
        "workingTimeInForce": "GTC",
        "pendingSide": "SELL",
        "pendingQuantity": "0.1",
        "pendingType": "LIMIT",
        "pendingClientOrderId": legs[Leg.PENDING].venue_order_ref,
        "pendingPrice": "72000",
        "pendingTimeInForce": "GTC",
    }
    assert sent["listClientOrderId"] == order_list.list_client_order_id
    working, pending = legs[Leg.WORKING], legs[Leg.PENDING]
    assert (working.status, working.waits_for_list, working.locked_amount) == (Status.PENDING, False, Decimal("6700"))
    assert (pending.status, pending.waits_for_list, pending.locked_amount) == (Status.PENDING, True, Decimal("0"))
    assert standin.orders[pending.binance_order_id].status == "PENDING_NEW"
    assert services.sync_orders().changed == {}  # a leg still waiting is no change

    standin.set_price("BTCUSDT", "67000")  # the working order fills: the exchange puts the pending leg to work
    services.sync_orders()

    legs = legs_of(order_list)
    working, pending = legs[Leg.WORKING], legs[Leg.PENDING]
    assert working.status == Status.FILLED
    assert (pending.status, pending.waits_for_list) == (Status.PENDING, False)
    assert (pending.locked_asset, pending.locked_amount) == ("BTC", Decimal("0.1"))
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0.1"))
    assert balances(desk)["USDT"] == (Decimal("93300"), Decimal("0"))
    assert list_status(order_list) == (OrderList.ListStatusType.EXEC_STARTED, EXECUTING)
    assert_ledgers_add_up()

    standin.set_price("BTCUSDT", "72000")
    services.sync_orders()

    assert legs_of(order_list)[Leg.PENDING].status == Status.FILLED
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    assert balances(desk)["USDT"] == (Decimal("100500"), Decimal("0"))
    assert_ledgers_add_up()


def test_otoco_bracket_goes_to_work_holding_once_and_its_stop_filling_expires_the_take_profit(desk, standin):
    order_list = place_otoco(desk)

    [sent] = standin.calls("POST", "/api/v3/orderList/otoco")
    legs = legs_of(order_list)
    assert (sent["pendingSide"], sent["pendingQuantity"]) == ("SELL", "0.1")
    assert (sent["pendingAboveType"], sent["pendingAbovePrice"]) == ("LIMIT_MAKER", "72000")
    assert (sent["pendingBelowType"], sent["pendingBelowStopPrice"], sent["pendingBelowPrice"]) == (
        "STOP_LOSS_LIMIT", "64000", "63900")  # fmt: skip
    assert sent["pendingBelowClientOrderId"] == legs[Leg.BELOW].venue_order_ref
    assert [(leg.status, leg.waits_for_list) for leg in (legs[Leg.ABOVE], legs[Leg.BELOW])] == [
        (Status.PENDING, True), (Status.PENDING, True)]  # fmt: skip
    assert held(legs.values()) == [("USDT", Decimal("6700"))]

    standin.set_price("BTCUSDT", "67000")
    services.sync_orders()

    legs = legs_of(order_list)
    assert legs[Leg.WORKING].status == Status.FILLED
    assert not legs[Leg.ABOVE].waits_for_list and not legs[Leg.BELOW].waits_for_list
    assert held(legs.values()) == [("BTC", Decimal("0.1"))]  # the pair holds once
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0.1"))
    assert_ledgers_add_up()

    standin.set_price("BTCUSDT", "64000")  # the stop triggers and fills at its limit; the take profit expires
    report = services.sync_orders()

    assert report.changed == {"filled": 1, "expired": 1}
    legs = legs_of(order_list)
    assert (legs[Leg.ABOVE].status, legs[Leg.BELOW].status) == (Status.EXPIRED, Status.FILLED)
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    assert balances(desk)["USDT"] == (Decimal("100000") - 6700 + 6390, Decimal("0"))
    assert_ledgers_add_up()


def test_cancelling_an_oto_whose_working_order_just_filled_keeps_the_fill_and_cancels_the_pending_leg(desk, standin):
    order_list = place_oto(desk)
    working_id = legs_of(order_list)[Leg.WORKING].binance_order_id
    standin.before[("DELETE", "/api/v3/orderList")] = lambda params: standin.fill(working_id)

    services.cancel_order_list(account=desk, list_id=order_list.pk, actor="trader")

    legs = legs_of(order_list)
    assert (legs[Leg.WORKING].status, legs[Leg.PENDING].status) == (Status.FILLED, Status.CANCELLED)
    assert legs[Leg.WORKING].fills.count() == 1
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["BTC"] == (Decimal("1.1"), Decimal("0"))
    assert balances(desk)["USDT"] == (Decimal("93300"), Decimal("0"))
    assert services.sync_orders().changed == {}
    assert_ledgers_add_up()


def test_cancelling_a_waiting_otoco_cancels_every_leg_and_frees_the_working_orders_funds(desk, standin):
    order_list = place_otoco(desk)

    services.cancel_order_list(account=desk, list_id=order_list.pk, actor="trader")

    assert {leg.status for leg in legs_of(order_list).values()} == {Status.CANCELLED}
    assert {order.status for order in standin.orders.values()} == {"CANCELED"}
    assert balances(desk)["USDT"] == (Decimal("100000"), Decimal("0"))
    assert_ledgers_add_up()


def test_user_stream_events_move_the_legs_as_sync_does(desk, standin):
    stream = UserStream(get_venue(), reconcile=lambda: None)
    order_list = place_oto(desk)
    legs = legs_of(order_list)
    working = standin.orders[legs[Leg.WORKING].binance_order_id]
    pending = standin.orders[legs[Leg.PENDING].binance_order_id]
    standin.fill(working.order_id)

    # The pending leg heard of first: its working order's fill, which pays for it, is not recorded yet.
    assert not stream.apply_event(execution_report(pending))
    assert legs_of(order_list)[Leg.PENDING].waits_for_list
    assert stream.apply_event(execution_report(working))  # its TRADE

    legs = legs_of(order_list)
    assert legs[Leg.WORKING].status == Status.FILLED
    assert legs[Leg.PENDING].waits_for_list  # the exchange has not said the pending leg works yet

    assert stream.apply_event(execution_report(pending))  # NEW: on the book now

    pending_leg = legs_of(order_list)[Leg.PENDING]
    assert (pending_leg.status, pending_leg.waits_for_list) == (Status.PENDING, False)
    assert (pending_leg.locked_asset, pending_leg.locked_amount) == ("BTC", Decimal("0.1"))
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0.1"))
    assert not stream.apply_event(execution_report(pending))  # heard twice, applied once
    assert_ledgers_add_up()


def test_a_list_counts_as_all_its_legs_against_the_open_orders_limit_and_a_refusal_sends_nothing(desk, standin):
    services.set_limits(account=desk, values={"max_open_orders": 1}, user=None, may_loosen=True)

    with pytest.raises(RiskLimitExceeded) as refused:
        sell_oco(desk)  # two orders on the book: one over the limit

    assert refused.value.limit == "max_open_orders"
    assert not OrderList.objects.exists() and not PaperOrder.objects.exists()
    assert standin.calls("POST", "/api/v3/orderList/oco") == []
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    assert [event.limit for event in desk.risk_events.filter(kind="refused")] == ["max_open_orders"]

    services.set_limits(account=desk, values={"max_open_orders": 2}, user=None, may_loosen=True)
    assert {leg.status for leg in legs_of(sell_oco(desk)).values()} == {Status.PENDING}
    assert_ledgers_add_up()


def test_oto_whose_working_order_fills_on_arrival_records_the_fill_and_puts_the_pending_leg_to_work(desk, standin):
    working = {**WORKING_BUY, "price": Decimal("68000")}  # at the market: it takes at once
    pending = {"side": "SELL", "type": "LIMIT", "quantity": Decimal("0.1"), "price": Decimal("72000"),
               "time_in_force": "GTC"}  # fmt: skip

    order_list = services.place_oto(account=desk, symbol="BTCUSDT", working=working, pending=pending).order_list

    legs = legs_of(order_list)
    assert legs[Leg.WORKING].status == Status.FILLED
    assert [(f.price, f.quantity) for f in legs[Leg.WORKING].fills.all()] == [(Decimal("68000"), Decimal("0.1"))]
    assert (legs[Leg.PENDING].status, legs[Leg.PENDING].waits_for_list) == (Status.PENDING, False)
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0.1"))
    assert balances(desk)["USDT"] == (Decimal("93200"), Decimal("0"))
    assert services.sync_orders().changed == {}
    assert_ledgers_add_up()


def test_the_client_reads_and_lists_order_lists_and_refuses_a_malformed_leg_without_sending_it(desk, standin):
    client = get_venue().client
    order_list = sell_oco(desk)

    found = client.get_order_list(list_client_order_id=order_list.list_client_order_id)
    [executing] = client.open_order_lists()

    assert found == executing
    assert (found["contingencyType"], found["listOrderStatus"]) == ("OCO", "EXECUTING")
    assert [o["clientOrderId"] for o in found["orders"]] == [
        legs_of(order_list)[Leg.ABOVE].venue_order_ref,
        legs_of(order_list)[Leg.BELOW].venue_order_ref,
    ]
    assert standin.calls("GET", "/api/v3/orderList")[0]["origClientOrderId"] == order_list.list_client_order_id
    services.cancel_order_list(account=desk, list_id=order_list.pk)
    assert client.get_order_list(order_list_id=found["orderListId"])["listOrderStatus"] == "ALL_DONE"
    assert client.open_order_lists() == []

    posts = len(standin.requests)
    stop_without_its_stop_price = {"type": "STOP_LOSS_LIMIT", "price": Decimal("64900"), "time_in_force": "GTC",
                                   "client_order_id": "below-1"}  # fmt: skip
    with pytest.raises(ValueError, match="below stop_price is required"):
        client.place_order_list_oco(
            "BTCUSDT",
            "SELL",
            Decimal("0.1"),
            above={"type": "LIMIT_MAKER", "price": Decimal("70000"), "client_order_id": "above-1"},
            below=stop_without_its_stop_price,
            list_client_order_id="list-1",
        )
    assert len(standin.requests) == posts
    assert_ledgers_add_up()


def test_a_bracket_that_went_to_work_and_ended_between_two_syncs_is_paid_by_what_its_working_order_bought(
    desk, standin
):
    services.place_order(account=desk, symbol="BTCUSDT", side="SELL", order_type="MARKET", quantity=Decimal("1"))
    assert balances(desk)["BTC"] == (Decimal("0"), Decimal("0"))  # the bracket can sell only what it buys
    order_list = place_otoco(desk)
    standin.set_price("BTCUSDT", "67000")  # the working order fills: the pair goes to work ...
    standin.set_price("BTCUSDT", "64000")  # ... and its stop fills before the desk has heard of any of it

    report = services.sync_orders()

    assert report.changed == {"filled": 2, "expired": 1}
    legs = legs_of(order_list)
    assert [legs[name].status for name in (Leg.WORKING, Leg.ABOVE, Leg.BELOW)] == [
        Status.FILLED, Status.EXPIRED, Status.FILLED]  # fmt: skip
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["BTC"] == (Decimal("0"), Decimal("0"))
    assert not desk.adjustments.filter(reason__contains="covered").exists()  # nothing was short
    assert_ledgers_add_up()


def test_an_otoco_through_the_api_answers_its_legs_with_their_exchange_ids_and_a_delete_cancels_them(
    api, desk, standin
):
    payload = {
        "symbol": "BTCUSDT", "working_side": "BUY", "working_type": "LIMIT", "working_quantity": "0.1",
        "working_price": "67000", "working_time_in_force": "GTC", "pending_side": "SELL", "pending_quantity": "0.1",
        "pending_above_type": "LIMIT_MAKER", "pending_above_price": "72000",
        "pending_below_type": "STOP_LOSS_LIMIT", "pending_below_price": "63900", "pending_below_stop_price": "64000",
        "pending_below_time_in_force": "GTC", "list_client_order_id": "bracket-1",
    }  # fmt: skip

    placed = api.post("/api/paper-trading/order-lists/otoco", payload, format="json")

    assert placed.status_code == 201, placed.content
    body = placed.json()
    assert (body["contingency_type"], body["list_order_status"]) == ("OTOCO", "EXECUTING")
    [sent] = standin.calls("POST", "/api/v3/orderList/otoco")
    assert sent["listClientOrderId"] == "bracket-1"
    legs = {leg["list_leg"]: leg for leg in body["orders"]}
    assert {name: (leg["status"], leg["waits_for_list"]) for name, leg in legs.items()} == {
        "working": ("PENDING", False), "above": ("PENDING", True), "below": ("PENDING", True)}  # fmt: skip
    assert sorted(leg["binance_order_id"] for leg in legs.values()) == standin.leg_ids(1)
    assert Decimal(legs["working"]["locked_amount"]) == Decimal("6700")

    cancelled = api.delete(f"/api/paper-trading/order-lists/{body['id']}")

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["list_order_status"] == "ALL_DONE"
    assert {leg["status"] for leg in cancelled.json()["orders"]} == {"CANCELLED"}
    assert balances(desk)["USDT"] == (Decimal("100000"), Decimal("0"))
    assert_ledgers_add_up()


def test_a_cancel_whose_answer_is_lost_asks_for_each_leg_and_records_them_cancelled(desk, standin):
    order_list = sell_oco(desk)
    standin.fail_after[("DELETE", "/api/v3/orderList")] = 503  # cancelled on the exchange, the answer lost

    services.cancel_order_list(account=desk, list_id=order_list.pk, actor="trader")

    assert len(standin.calls("DELETE", "/api/v3/orderList")) == 1  # not resent: each leg was asked instead
    assert len(standin.calls("GET", "/api/v3/order")) == 2
    assert {leg.status for leg in legs_of(order_list).values()} == {Status.CANCELLED}
    assert list_status(order_list) == (OrderList.ListStatusType.ALL_DONE, ALL_DONE)
    assert balances(desk)["BTC"] == (Decimal("1"), Decimal("0"))
    assert_ledgers_add_up()
