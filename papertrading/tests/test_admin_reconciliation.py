"""The operator's reconciliation in the admin: filters, the differences pages, and the sync/resolve/cancel actions,
posted the way the changelist posts them, against the Binance stand-in."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from conftest import make_user
from papertrading.models import OrderEvent, PaperOrder
from papertrading.services import place_order
from papertrading.tests.reconciliation_support import place_resting, raw_order, standin_fixture, unknown_order
from papertrading.tests.support import balances
from papertrading.venues.testnet import RESET_REASON

assert standin_fixture  # the `standin` fixture, imported for this module

Status = PaperOrder.Status
CHANGELIST = "/admin/papertrading/paperorder/"
pytestmark = pytest.mark.django_db


def listed(client, **params) -> set[int]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return {order.pk for order in response.context["cl"].result_list}


def act(client, action: str, *orders: PaperOrder):
    """Post an admin action for these orders and follow the redirect back to the changelist."""
    return client.post(CHANGELIST, {"action": action, "_selected_action": [o.pk for o in orders]}, follow=True)


def notices(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def admin_events(order: PaperOrder) -> list[tuple[str, str, str]]:
    return list(OrderEvent.objects.filter(order=order, source="admin").values_list("from_status", "to_status", "actor"))


# --- filters -----------------------------------------------------------------------------------------------------
@pytest.fixture
def mixed_orders(db):
    now = timezone.now()
    return {
        "unknown": raw_order(status=Status.UNKNOWN),
        "fresh": raw_order(last_synced_at=now - timedelta(seconds=5)),
        "old": raw_order(last_synced_at=now - timedelta(hours=1)),
        "never": raw_order(status=Status.PARTIALLY_FILLED, executed_quantity=D("0.0005")),
        "external": raw_order(is_external=True, last_synced_at=now),
        "reset": raw_order(status=Status.CANCELLED, reject_code=-2013, reject_reason=RESET_REASON),
        "closed_old": raw_order(status=Status.FILLED, executed_quantity=D("0.001"), last_synced_at=now - timedelta(1)),
        "simulated": raw_order(venue="simulation", status=Status.CANCELLED),
    }


def test_outcome_unknown_filter_lists_only_unknown_orders(admin_client, mixed_orders):
    assert listed(admin_client, outcome_unknown="yes") == {mixed_orders["unknown"].pk}
    assert mixed_orders["unknown"].pk not in listed(admin_client, outcome_unknown="no")


def test_external_filter_lists_only_orders_placed_elsewhere(admin_client, mixed_orders):
    assert listed(admin_client, external="yes") == {mixed_orders["external"].pk}


def test_stale_filter_lists_open_testnet_orders_not_synced_within_the_threshold(admin_client, mixed_orders, settings):
    settings.PRICE_STALE_AFTER_SECONDS = 120
    expected = {mixed_orders[name].pk for name in ("unknown", "old", "never")}
    assert listed(admin_client, stale="yes") == expected
    assert listed(admin_client, stale="no") == {o.pk for o in mixed_orders.values()} - expected


def test_testnet_reset_filter_lists_orders_the_reset_closed(admin_client, mixed_orders):
    assert listed(admin_client, testnet_reset="yes") == {mixed_orders["reset"].pk}


def test_filters_are_offered_on_the_changelist(admin_client, mixed_orders):
    html = admin_client.get(CHANGELIST).content.decode()
    for title in ("outcome unknown", "stale", "external", "testnet reset"):
        assert f"By {title}" in html


# --- differences pages -------------------------------------------------------------------------------------------
def test_change_page_links_to_the_differences_page(admin_client, standin):
    order = place_resting()
    html = admin_client.get(f"{CHANGELIST}{order.pk}/change/").content.decode()
    assert f'href="{CHANGELIST}{order.pk}/differences/"' in html


def test_differences_page_shows_the_exchange_values_fetched_now(admin_client, standin):
    order = place_resting()
    standin.fill(order.binance_order_id)

    response = admin_client.get(f"{CHANGELIST}{order.pk}/differences/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "FILLED (Binance FILLED)" in html
    assert '<td class="differs">0.001</td>' in html  # executed on the exchange, 0 locally
    assert "1 of 1 order differs" in html
    assert standin.calls("GET", "/api/v3/order")  # fetched on demand
    assert PaperOrder.objects.get(pk=order.pk).status == Status.PENDING  # looking changes nothing


def test_differences_page_without_credentials_shows_local_fields_and_an_error(admin_client, standin, settings):
    order = place_resting()
    settings.BINANCE_TESTNET_API_KEY = ""

    response = admin_client.get(f"{CHANGELIST}{order.pk}/differences/")

    assert response.status_code == 200
    assert ("error", response.context["results"][0]["error"]) in notices(response)
    assert "Testnet mode needs BINANCE_TESTNET_API_KEY" in response.content.decode()


def test_differences_page_of_a_missing_order_redirects_with_a_message(admin_client, db):
    response = admin_client.get(f"{CHANGELIST}424242/differences/", follow=True)
    assert response.status_code == 200
    assert any("doesn’t exist" in message for _, message in notices(response))


def test_differences_page_needs_the_view_permission(client, standin):
    order = place_resting()
    staff = make_user("night-operator")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(f"{CHANGELIST}{order.pk}/differences/").status_code == 403


def test_show_differences_action_renders_a_table_for_the_selected_orders(admin_client, standin, market):
    changed, same = place_resting(), place_resting(symbol="ETHUSDT", price="3000", quantity="0.01")
    standin.fill(changed.binance_order_id)
    simulated = raw_order(venue="simulation", status=Status.CANCELLED)

    response = admin_client.post(
        CHANGELIST, {"action": "show_differences", "_selected_action": [changed.pk, same.pk, simulated.pk]}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 of 3 orders differs" in html
    for order in (changed, same, simulated):
        assert f'id="order-{order.pk}"' in html
    assert "Simulated orders have no exchange copy" in html
    assert [r["differs"] for r in response.context["results"]] == [True, False, False]


# --- actions -----------------------------------------------------------------------------------------------------
def test_sync_action_changes_the_rows_and_records_the_operator(admin_client, admin_user, standin):
    order = place_resting()
    standin.fill(order.binance_order_id)

    response = act(admin_client, "sync_selected_orders", order)

    assert response.status_code == 200
    assert ("success", "Synced: checked 1 order on 1 symbol; 1 filled. Request weight 9.") in notices(response)
    order.refresh_from_db()
    assert order.status == Status.FILLED and order.fills.count() == 1
    assert admin_events(order) == [("PENDING", "FILLED", admin_user.username)]


def test_sync_action_without_credentials_reports_an_error_not_a_500(admin_client, standin, settings):
    order = place_resting()
    settings.BINANCE_TESTNET_API_SECRET = ""

    response = act(admin_client, "sync_selected_orders", order)

    assert response.status_code == 200
    [(level, message)] = notices(response)
    assert level == "error" and message.startswith("Nothing synced: Testnet mode needs BINANCE_TESTNET_API_KEY")
    assert PaperOrder.objects.get(pk=order.pk).status == Status.PENDING


def test_sync_action_on_an_unreachable_exchange_reports_an_error(admin_client, standin, settings):
    order = place_resting()
    settings.BINANCE_TESTNET_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port

    response = act(admin_client, "sync_selected_orders", order)

    assert response.status_code == 200
    assert ("error", "Nothing synced: The Binance Spot Testnet cannot be reached right now; try again shortly.") in (
        notices(response)
    )


def test_resolve_action_rejects_an_old_unknown_order_and_leaves_a_fresh_one(admin_client, admin_user, standin):
    old, fresh = unknown_order(seconds_ago=30), unknown_order()

    response = act(admin_client, "resolve_unknown_orders", old, fresh)

    assert response.status_code == 200
    messages = notices(response)
    # Two order queries (4 each) and the client's first clock measurement (1).
    summary = "Asked the exchange about: checked 2 orders on 1 symbol; 1 rejected, 1 still unknown. Request weight 9."
    assert ("success", summary) in messages
    assert any(level == "warning" and "after the recvWindow has passed" in text for level, text in messages)
    assert PaperOrder.objects.get(pk=old.pk).status == Status.REJECTED
    assert admin_events(old) == [("UNKNOWN", "REJECTED", admin_user.username)]
    assert PaperOrder.objects.get(pk=fresh.pk).status == Status.UNKNOWN


def test_cancel_action_cancels_a_working_testnet_order_on_the_exchange(admin_client, admin_user, standin):
    order = place_resting()

    response = act(admin_client, "cancel_selected_orders", order)

    assert ("success", f"Order {order.pk} cancelled (BTCUSDT BUY).") in notices(response)
    assert PaperOrder.objects.get(pk=order.pk).status == Status.CANCELLED
    assert standin.orders[order.binance_order_id].status == "CANCELED"
    assert admin_events(order) == [("PENDING", "CANCELLED", admin_user.username)]


def test_cancel_action_on_a_filled_order_reports_an_error_and_changes_nothing(admin_client, market, account):
    order = place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01")).order
    events_before = order.events.count()

    response = act(admin_client, "cancel_selected_orders", order)

    assert response.status_code == 200
    assert notices(response) == [
        ("error", f"Order {order.pk} is FILLED; only working orders can be cancelled."),
    ]
    order.refresh_from_db()
    assert order.status == Status.FILLED and order.events.count() == events_before


def test_actions_need_the_change_permission(client, standin):
    order = place_resting()
    standin.fill(order.binance_order_id)
    staff = make_user("auditor", "view_paperorder")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)

    html = client.get(CHANGELIST).content.decode()
    assert "Sync selected orders now" not in html and "Cancel selected working orders" not in html
    for action in ("sync_selected_orders", "cancel_selected_orders", "show_differences"):
        response = act(client, action, order)
        # Without an action they may run, the post just shows the list again: nothing asked, nothing changed.
        assert response.status_code == 200
        assert "admin/papertrading/paperorder/differences.html" not in [t.name for t in response.templates]
        assert notices(response) == []
    assert PaperOrder.objects.get(pk=order.pk).status == Status.PENDING
    assert standin.calls("GET", "/api/v3/order") == []
    assert standin.calls("DELETE", "/api/v3/order") == []
    # The per-order page only reads, so viewing is enough.
    assert client.get(f"{CHANGELIST}{order.pk}/differences/").status_code == 200


def test_cancel_action_cancels_each_selected_order_in_its_own_account(admin_client, market, account, rival_account):
    limit = dict(symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000"))
    mine = place_order(account=account, time_in_force="GTC", **limit).order
    theirs = place_order(account=rival_account, time_in_force="GTC", **limit).order

    response = act(admin_client, "cancel_selected_orders", mine, theirs)

    assert notices(response) == [
        ("success", f"Order {mine.pk} cancelled (BTCUSDT BUY)."),
        ("success", f"Order {theirs.pk} cancelled (BTCUSDT BUY)."),
    ]
    for order, owner in ((mine, account), (theirs, rival_account)):
        order.refresh_from_db()
        assert (order.status, order.account) == (Status.CANCELLED, owner)
        assert balances(owner)["USDT"] == (D("100000"), D("0"))
