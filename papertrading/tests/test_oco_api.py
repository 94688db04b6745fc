"""The OCO API: placing a list (400 per field, 409 for a reused list id with other terms), reading lists and
cancelling one; every order answers with its `order_list`."""

from decimal import Decimal as D

import pytest

from papertrading.models import OrderList, PaperOrder
from papertrading.tests.support import ORDERS_URL, balances

pytestmark = pytest.mark.django_db
LISTS_URL = "/api/paper-trading/order-lists"
OCO_URL = f"{LISTS_URL}/oco"
# Market 68000 (the `market` fixture): sell 0.1 BTC at 70000, or when the price falls to 66000.
SELL_OCO = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "quantity": "0.1",
    "above_type": "LIMIT_MAKER",
    "above_price": "70000",
    "below_type": "STOP_LOSS_LIMIT",
    "below_stop_price": "66000",
    "below_price": "65900",
    "below_time_in_force": "GTC",
}


def test_posting_an_oco_places_both_legs_and_answers_the_list(api, account, market):
    response = api.post(OCO_URL, {**SELL_OCO, "list_client_order_id": "guard-1"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    order_list = OrderList.objects.get()
    assert body["id"] == order_list.pk
    assert (body["list_client_order_id"], body["contingency_type"]) == ("guard-1", "OCO")
    assert (body["list_status_type"], body["list_order_status"]) == ("EXEC_STARTED", "EXECUTING")
    assert [(o["order_type"], o["status"], o["order_list"]) for o in body["orders"]] == [
        ("STOP_LOSS_LIMIT", "PENDING", order_list.pk),
        ("LIMIT_MAKER", "PENDING", order_list.pk),
    ]
    assert balances(account)["BTC"] == (D("0.9"), D("0.1"))
    # The same list id and terms again: the same list, 200; other terms: 409, nothing more written.
    again = api.post(OCO_URL, {**SELL_OCO, "list_client_order_id": "guard-1"}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, order_list.pk)
    other = api.post(OCO_URL, {**SELL_OCO, "list_client_order_id": "guard-1", "quantity": "0.2"}, format="json")
    assert (other.status_code, other.json()["code"]) == (409, -2010)
    assert PaperOrder.objects.count() == 2


def test_orders_answer_their_list_or_null(api, account, market):
    api.post(OCO_URL, SELL_OCO, format="json")
    api.post(ORDERS_URL, {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"})

    lists = {o["order_type"]: o["order_list"] for o in api.get(ORDERS_URL).json()["results"]}

    list_id = OrderList.objects.get().pk
    assert lists == {"MARKET": None, "LIMIT_MAKER": list_id, "STOP_LOSS_LIMIT": list_id}


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"above_type": "STOP_LOSS", "above_stop_price": "70000", "above_price": None}, {"above_type"}),
        ({"above_price": "67000"}, {"above_price"}),
        ({"below_stop_price": "69000"}, {"below_stop_price"}),
        ({"below_time_in_force": ""}, {"below_time_in_force"}),
        ({"above_type": "MARKET"}, {"above_type"}),
        ({"quantity": "-1"}, {"quantity"}),
        ({"quantity": "0.00000001"}, {"quantity"}),
        ({"list_client_order_id": "not ok!"}, {"list_client_order_id"}),
        ({"symbol": "NOPEUSDT"}, {"symbol"}),
    ],
)
def test_bad_input_answers_400_with_a_message_per_field_and_writes_nothing(api, account, market, change, fields):
    body = {k: v for k, v in (SELL_OCO | change).items() if v is not None}

    response = api.post(OCO_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == fields
    assert all(isinstance(messages, list) and messages for messages in response.json().values())
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert balances(account)["BTC"] == (D("1"), D("0"))


def test_an_oco_the_account_cannot_pay_answers_minus_2010(api, account, market):
    response = api.post(OCO_URL, {**SELL_OCO, "quantity": "5"}, format="json")

    assert (response.status_code, response.json()["code"]) == (400, -2010)
    assert OrderList.objects.count() == 0


def test_lists_are_read_and_cancelled_through_the_api(api, account, market):
    list_id = api.post(OCO_URL, SELL_OCO, format="json").json()["id"]

    listed = api.get(LISTS_URL).json()
    one = api.get(f"{LISTS_URL}/{list_id}")
    cancelled = api.delete(f"{LISTS_URL}/{list_id}")
    again = api.delete(f"{LISTS_URL}/{list_id}")

    assert [row["id"] for row in listed["results"]] == [list_id]
    assert one.status_code == 200 and len(one.json()["orders"]) == 2
    assert cancelled.status_code == 200
    assert cancelled.json()["list_order_status"] == "ALL_DONE"
    assert {o["status"] for o in cancelled.json()["orders"]} == {"CANCELLED"}
    assert again.status_code == 409
    assert balances(account)["BTC"] == (D("1"), D("0"))


def test_another_accounts_list_is_not_found(api, rival_api, account, market):
    list_id = api.post(OCO_URL, SELL_OCO, format="json").json()["id"]

    assert rival_api.get(f"{LISTS_URL}/{list_id}").status_code == 404
    assert rival_api.delete(f"{LISTS_URL}/{list_id}").status_code == 404
    assert rival_api.get(LISTS_URL).json()["results"] == []
    assert OrderList.objects.get().list_order_status == "EXECUTING"


def test_a_viewer_may_read_lists_but_not_place_or_cancel_them(api, viewer_api, account, market):
    list_id = api.post(OCO_URL, SELL_OCO, format="json").json()["id"]

    assert viewer_api.post(OCO_URL, SELL_OCO, format="json").status_code == 403
    assert viewer_api.get(LISTS_URL).status_code == 200
    assert viewer_api.delete(f"{LISTS_URL}/{list_id}").status_code == 403
    assert OrderList.objects.get(pk=list_id).list_order_status == "EXECUTING"


def test_the_admin_shows_a_list_with_its_legs_read_only(api, account, market, django_user_model):
    from django.test import Client

    from papertrading.models import OrderList

    created = api.post(
        "/api/paper-trading/order-lists/oco",
        {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.001", "above_type": "LIMIT_MAKER",
         "above_price": "70000", "below_type": "STOP_LOSS", "below_stop_price": "66000"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    order_list = OrderList.objects.get()
    operator = django_user_model.objects.create_superuser("operator", password="pw")
    client = Client()
    client.force_login(operator)

    listing = client.get("/admin/papertrading/orderlist/")
    page = client.get(f"/admin/papertrading/orderlist/{order_list.pk}/change/")

    assert listing.status_code == 200 and "BTCUSDT" in listing.content.decode()
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('href="/admin/papertrading/paperorder/') >= 2  # each leg links to its order
    assert 'name="_save"' not in html  # nothing to change
    assert "/delete/" not in html  # nor to delete: the services write lists
    assert client.get(f"/admin/papertrading/orderlist/{order_list.pk}/delete/").status_code == 403
    assert "list_leg" in html or "List leg" in html
