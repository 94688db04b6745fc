"""Reconciliation services against the Binance stand-in: differences fetched on demand, and the operator's fixes
(sync, resolve, cancel a selection), each recorded with source "admin" and the operator's name."""

from decimal import Decimal as D

import pytest

from papertrading import reconciliation
from papertrading.errors import PaperTradingError, VenueUnavailable
from papertrading.models import OrderEvent, PaperOrder, SimulatedBalance
from papertrading.services import place_order
from papertrading.tests.reconciliation_support import place_resting, raw_order, standin_fixture, unknown_order
from papertrading.venues.simulator import SimulatorVenue
from papertrading.venues.testnet import NOT_CONFIGURED_MESSAGE, RESET_REASON

assert standin_fixture  # the `standin` fixture, imported for this module

Status = PaperOrder.Status
pytestmark = pytest.mark.django_db


def rows(result: dict) -> dict[str, tuple[str, str, bool]]:
    return {row["label"]: (row["local"], row["other"], row["differs"]) for row in result["rows"]}


def admin_events(order: PaperOrder) -> list[tuple[str, str, str, str]]:
    return list(
        OrderEvent.objects.filter(order=order, source="admin").values_list(
            "from_status", "to_status", "source", "actor"
        )
    )


# --- differences ------------------------------------------------------------------------------------------------
def test_differences_show_a_fill_the_desk_has_not_seen_yet(standin):
    order = place_resting()
    standin.fill(order.binance_order_id)
    weight_before = standin.weight_used

    result = reconciliation.order_differences(order)

    assert result["found"] and result["differs"] and not result["error"]
    table = rows(result)
    assert table["Status"] == ("PENDING", "FILLED (Binance FILLED)", True)
    assert table["Executed quantity"] == ("0", "0.001", True)
    assert table["Cumulative quote quantity"] == ("0", "60", True)
    assert table["Fills"] == ("0", "1", True)
    assert table["Fills quantity"] == ("0", "0.001", True)
    assert table["Exchange order id"][2] is False
    # GET order (4) + myTrades by orderId (5); read only: the local order is unchanged and no event was written.
    assert result["request_weight"] == 9 == standin.weight_used - weight_before
    assert PaperOrder.objects.get(pk=order.pk).status == Status.PENDING
    assert not OrderEvent.objects.filter(order=order, source="admin").exists()


def test_differences_of_an_order_in_step_with_the_exchange_show_none(standin):
    order = place_resting()

    result = reconciliation.order_differences(order)

    assert result["found"] and not result["differs"]
    assert rows(result)["Status"] == ("PENDING", "PENDING (Binance NEW)", False)
    assert result["request_weight"] == 4  # no trades to fetch for an order that executed nothing


def test_differences_after_a_testnet_reset_say_the_exchange_has_no_such_order(standin):
    order = place_resting()
    standin.reset()

    result = reconciliation.order_differences(order)

    assert not result["found"] and result["differs"]
    assert rows(result)["Status"] == ("PENDING", "no such order", True)
    assert "The exchange has no such order (-2013)." in result["notes"]


def test_differences_without_credentials_show_the_local_side_and_the_reason(standin, settings):
    order = place_resting()
    settings.BINANCE_TESTNET_API_SECRET = ""
    calls_before = len(standin.requests)

    result = reconciliation.order_differences(order)

    assert result["error"] == NOT_CONFIGURED_MESSAGE
    assert rows(result)["Status"] == ("PENDING", "—", False)
    assert len(standin.requests) == calls_before


def test_differences_of_a_list_stop_asking_once_the_exchange_is_unavailable(standin, settings):
    orders = [place_resting(), place_resting(price="59000")]
    settings.BINANCE_TESTNET_API_SECRET = ""

    results = reconciliation.orders_differences(orders)

    assert results[0]["error"] == NOT_CONFIGURED_MESSAGE
    assert results[1]["error"] == f"Not asked: {NOT_CONFIGURED_MESSAGE}"


def test_differences_of_a_simulated_order_compare_it_with_its_own_fills_and_terms(account, market):
    filled = place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01")).order
    resting = place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000"),
        time_in_force="GTC",
    ).order  # fmt: skip

    consistent = reconciliation.order_differences(filled)
    assert consistent["notes"] == [SimulatorVenue.copy_note]
    assert not consistent["differs"]
    assert rows(reconciliation.order_differences(resting))["Locked"] == ("600 USDT", "600 USDT", False)

    # A row that disagrees with its own fills shows up (the database is not the venue's word here).
    PaperOrder.objects.filter(pk=filled.pk).update(executed_quantity=D("0.005"))
    tampered = reconciliation.order_differences(PaperOrder.objects.get(pk=filled.pk))
    assert tampered["differs"]
    assert rows(tampered)["Executed quantity"] == ("0.005", "0.01", True)
    PaperOrder.objects.filter(pk=filled.pk).update(executed_quantity=D("0.01"))


# --- sync selected ----------------------------------------------------------------------------------------------
def test_sync_selected_orders_applies_the_exchange_state_with_the_operators_name(standin, market):
    filled, untouched = place_resting(), place_resting(symbol="ETHUSDT", price="3000", quantity="0.01")
    standin.fill(filled.binance_order_id)
    simulated = raw_order(venue="simulation", status=Status.FILLED, executed_quantity=D("0.001"))
    final = raw_order(status=Status.CANCELLED)
    calls_before = len(standin.requests)

    result = reconciliation.sync_selected_orders([filled.pk, untouched.pk, simulated.pk, final.pk], "operator")

    filled.refresh_from_db()
    assert filled.status == Status.FILLED and filled.fills.get().quantity == D("0.001")
    assert filled.last_synced_at is not None
    assert admin_events(filled) == [("PENDING", "FILLED", "admin", "operator")]
    assert PaperOrder.objects.get(pk=untouched.pk).status == Status.PENDING
    assert not OrderEvent.objects.filter(order=untouched, source="admin").exists()
    assert result.report.orders_checked == 2 and result.report.changed == {"filled": 1}
    assert result.skipped == {
        "simulated: no exchange copy to sync with": [simulated.pk],
        "already final: nothing to sync": [final.pk],
    }
    # Each open order asked once (plus the trades of the one that executed); no openOrders pass.
    paths = [(method, path) for method, path, _ in standin.requests[calls_before:]]
    assert paths.count(("GET", "/api/v3/order")) == 2
    assert paths.count(("GET", "/api/v3/myTrades")) == 1
    assert ("GET", "/api/v3/openOrders") not in paths
    assert result.summary("Synced") == "Synced: checked 2 orders on 2 symbols; 1 filled. Request weight 13."


def test_sync_selected_orders_twice_changes_nothing_the_second_time(standin):
    order = place_resting()
    standin.fill(order.binance_order_id)
    reconciliation.sync_selected_orders([order.pk], "operator")

    again = reconciliation.sync_selected_orders([order.pk], "operator")

    assert again.report.orders_checked == 0 and again.skipped == {"already final: nothing to sync": [order.pk]}
    assert PaperOrder.objects.get(pk=order.pk).fills.count() == 1


def test_sync_selected_orders_closes_orders_a_testnet_reset_removed(standin):
    order = place_resting()
    standin.reset()

    result = reconciliation.sync_selected_orders([order.pk], "operator")

    order.refresh_from_db()
    assert (order.status, order.reject_reason) == (Status.CANCELLED, RESET_REASON)
    assert result.report.changed == {"reset_closed": 1}
    assert admin_events(order) == [("PENDING", "CANCELLED", "admin", "operator")]


def test_sync_selected_orders_without_credentials_raises_and_changes_nothing(standin, settings):
    order = place_resting()
    settings.BINANCE_TESTNET_API_KEY = ""

    with pytest.raises(VenueUnavailable, match="BINANCE_TESTNET_API_KEY"):
        reconciliation.sync_selected_orders([order.pk], "operator")

    assert PaperOrder.objects.get(pk=order.pk).last_synced_at is None


def test_a_selection_larger_than_the_cap_is_refused_before_any_call(standin):
    with pytest.raises(PaperTradingError, match="at most 100"):
        reconciliation.sync_selected_orders(range(1, 102), "operator")
    assert standin.requests == []


# --- resolve unknown --------------------------------------------------------------------------------------------
def test_resolve_adopts_an_unknown_order_the_exchange_has(standin):
    order = unknown_order(seconds_ago=30)
    # The exchange knows a desk order by its venue_order_ref (sent as newClientOrderId), not the account's own id.
    exchange_id = standin.add_external_order(
        "BTCUSDT", "BUY", "0.001", "60000.00", client_order_id=order.venue_order_ref
    )

    result = reconciliation.resolve_unknown_orders([order.pk], "operator")

    order.refresh_from_db()
    assert (order.status, order.binance_order_id) == (Status.PENDING, exchange_id)
    assert result.report.changed == {"resolved": 1}
    assert admin_events(order) == [("UNKNOWN", "PENDING", "admin", "operator")]
    assert standin.calls("POST", "/api/v3/order") == []  # never resent


def test_resolve_rejects_an_unknown_order_only_after_no_send_can_be_in_flight(standin):
    old, fresh = unknown_order(seconds_ago=30), unknown_order()
    working = place_resting()

    result = reconciliation.resolve_unknown_orders([old.pk, fresh.pk, working.pk], "operator")

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, old.reject_code) == (Status.REJECTED, -2013)
    assert admin_events(old) == [("UNKNOWN", "REJECTED", "admin", "operator")]
    # Asked within the recvWindow of its send: -2013 proves nothing yet.
    assert fresh.status == Status.UNKNOWN and not admin_events(fresh)
    assert result.report.changed == {"rejected": 1, "still_unknown": 1}
    assert result.skipped == {"outcome already known": [working.pk]}
    assert len(standin.calls("POST", "/api/v3/order")) == 1  # the working order's own placement, nothing resent


# --- cancel selected --------------------------------------------------------------------------------------------
def test_cancel_selected_orders_cancels_working_ones_and_reports_each_other_one(standin):
    working, filled = place_resting(), place_resting(price="59000")
    standin.fill(filled.binance_order_id)
    reconciliation.sync_selected_orders([filled.pk], "sync-operator")

    outcomes = reconciliation.cancel_selected_orders([working.pk, filled.pk, 999999], "operator")

    assert [(o.order_id, o.ok) for o in outcomes] == [(working.pk, True), (filled.pk, False), (999999, False)]
    assert "only working orders can be cancelled" in outcomes[1].message
    assert outcomes[2].message == "Order 999999 no longer exists."
    assert PaperOrder.objects.get(pk=working.pk).status == Status.CANCELLED
    assert standin.orders[working.binance_order_id].status == "CANCELED"
    assert admin_events(working) == [("PENDING", "CANCELLED", "admin", "operator")]
    assert PaperOrder.objects.get(pk=filled.pk).status == Status.FILLED
    assert len(standin.calls("DELETE", "/api/v3/order")) == 1


def test_cancel_selected_orders_when_the_exchange_cannot_be_used_tries_once_and_reports_all(standin, settings):
    first, second = place_resting(), place_resting(price="59000")
    settings.BINANCE_TESTNET_API_KEY = ""

    outcomes = reconciliation.cancel_selected_orders([first.pk, second.pk], "operator")

    assert [o.ok for o in outcomes] == [False, False]
    assert outcomes[0].message.startswith(f"Order {first.pk} not cancelled: Testnet mode needs")
    assert outcomes[1].message.startswith(f"Order {second.pk} not attempted: Testnet mode needs")
    assert set(PaperOrder.objects.values_list("status", flat=True)) == {Status.PENDING}
    assert standin.calls("DELETE", "/api/v3/order") == []


def test_cancel_selected_simulated_order_releases_its_lock(account, market):
    order = place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000"),
        time_in_force="GTC",
    ).order  # fmt: skip

    [outcome] = reconciliation.cancel_selected_orders([order.pk], "operator")

    assert outcome.ok
    order.refresh_from_db()
    assert (order.status, order.locked_amount) == (Status.CANCELLED, D("0"))
    assert SimulatedBalance.objects.get(account=account, asset="USDT").locked == D("0")
    assert admin_events(order) == [("PENDING", "CANCELLED", "admin", "operator")]
