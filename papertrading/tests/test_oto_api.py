"""The OTO and OTOCO API: placing a list (its pending legs waiting, holding nothing), replaying it by its list id
(409 with other terms), 400 per field with nothing written, reading and cancelling it, and what the schema
documents for each answer."""

from decimal import Decimal as D

import pytest

from config.tests.test_schema_responses import assert_documented, schema
from papertrading.models import OrderList, PaperOrder
from papertrading.tests.support import ORDERS_URL, balances

pytestmark = pytest.mark.django_db
assert schema  # the `schema` fixture (module-scoped), imported for this module
LISTS_URL = "/api/paper-trading/order-lists"
OTO_URL = f"{LISTS_URL}/oto"
OTOCO_URL = f"{LISTS_URL}/otoco"
# Market 68000 (the `market` fixture): buy 0.1 BTC at 67000; once bought, sell what was received (0.1 less the
# 0.1% fee: 0.0999) at 69000.
BUY_THEN_SELL = {
    "symbol": "BTCUSDT",
    "working_side": "BUY",
    "working_type": "LIMIT",
    "working_quantity": "0.1",
    "working_price": "67000",
    "working_time_in_force": "GTC",
    "pending_side": "SELL",
    "pending_type": "LIMIT",
    "pending_price": "69000",
    "pending_time_in_force": "GTC",
}
# The same working order, then a bracket: take profit at 70000, stop at 65000 (sell at 64900 or better).
BRACKET = {
    "symbol": "BTCUSDT",
    "working_side": "BUY",
    "working_type": "LIMIT",
    "working_quantity": "0.1",
    "working_price": "67000",
    "working_time_in_force": "GTC",
    "pending_side": "SELL",
    "pending_above_type": "LIMIT_MAKER",
    "pending_above_price": "70000",
    "pending_below_type": "STOP_LOSS_LIMIT",
    "pending_below_stop_price": "65000",
    "pending_below_price": "64900",
    "pending_below_time_in_force": "GTC",
}
START = {"USDT": (D("100000"), D("0")), "BTC": (D("1"), D("0"))}


def legs_of(body: dict) -> dict[str, dict]:
    return {leg["list_leg"]: leg for leg in body["orders"]}


def held(account) -> dict:
    return {asset: amounts for asset, amounts in balances(account).items() if asset in START}


# --- OTO ----------------------------------------------------------------------------------------------------------


def test_an_oto_places_a_working_order_and_a_waiting_pending_one_holding_only_the_working_funds(api, account, market):
    response = api.post(OTO_URL, {**BUY_THEN_SELL, "list_client_order_id": "oto-1"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    order_list = OrderList.objects.get()
    assert (body["id"], body["list_client_order_id"]) == (order_list.pk, "oto-1")
    assert (body["contingency_type"], body["list_status_type"], body["list_order_status"]) == (
        "OTO",
        "EXEC_STARTED",
        "EXECUTING",
    )
    legs = legs_of(body)
    assert set(legs) == {"working", "pending"}
    working, pending = legs["working"], legs["pending"]
    assert (working["side"], working["order_type"], working["quantity"], working["price"]) == (
        "BUY",
        "LIMIT",
        "0.10000000",
        "67000.00000000",
    )
    assert (working["status"], working["waits_for_list"], working["locked_amount"]) == (
        "PENDING",
        False,
        "6700.00000000",
    )
    # The pending order defaults to what the working order receives, and holds nothing while it waits.
    assert (pending["side"], pending["order_type"], pending["quantity"]) == ("SELL", "LIMIT", "0.09990000")
    assert (pending["status"], pending["waits_for_list"], pending["locked_amount"]) == ("PENDING", True, "0.00000000")
    assert {leg["order_list"] for leg in body["orders"]} == {order_list.pk}
    rows = {o.list_leg: o for o in PaperOrder.objects.all()}
    assert (rows["working"].waits_for_list, rows["pending"].waits_for_list) == (False, True)
    assert held(account) == {"USDT": (D("93300"), D("6700")), "BTC": (D("1"), D("0"))}


def test_once_the_working_order_fills_the_pending_order_works_and_holds_its_funds(api, account, market):
    list_id = api.post(OTO_URL, BUY_THEN_SELL, format="json").json()["id"]

    market.move("BTCUSDT", "66900")
    body = api.get(f"{LISTS_URL}/{list_id}").json()

    legs = legs_of(body)
    assert legs["working"]["status"] == "FILLED"
    assert (legs["pending"]["status"], legs["pending"]["waits_for_list"]) == ("PENDING", False)
    assert body["list_order_status"] == "EXECUTING"
    assert balances(account)["BTC"] == (D("1"), D("0.0999"))


def test_a_replayed_oto_answers_the_same_list_and_other_terms_answer_409(api, account, market):
    first = api.post(OTO_URL, {**BUY_THEN_SELL, "list_client_order_id": "oto-1"}, format="json")

    again = api.post(OTO_URL, {**BUY_THEN_SELL, "list_client_order_id": "oto-1"}, format="json")
    other = api.post(
        OTO_URL, {**BUY_THEN_SELL, "list_client_order_id": "oto-1", "pending_price": "69500"}, format="json"
    )

    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert (other.status_code, other.json()["code"]) == (409, -2010)
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (1, 2)
    assert balances(account)["USDT"] == (D("93300"), D("6700"))


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"working_type": "STOP_LOSS"}, {"working_type"}),
        ({"working_type": "MARKET"}, {"working_type"}),
        ({"working_price": None}, {"working_price"}),
        ({"working_price": "-1"}, {"working_price"}),
        # The pending quantity given: with the working order refused, a default one cannot be worked out.
        ({"working_time_in_force": "", "pending_quantity": "0.0999"}, {"working_time_in_force"}),
        ({"working_side": "HOLD"}, {"working_side"}),
        ({"working_client_order_id": "not ok!"}, {"working_client_order_id"}),
        ({"pending_type": "OCO"}, {"pending_type"}),
        ({"pending_side": None}, {"pending_side"}),
        ({"pending_time_in_force": ""}, {"pending_time_in_force"}),
        ({"pending_quantity": "0"}, {"pending_quantity"}),
        ({"pending_type": "STOP_LOSS", "pending_stop_price": None}, {"pending_stop_price"}),
        ({"pending_trailing_delta": 0}, {"pending_trailing_delta"}),
        ({"list_client_order_id": "not ok!"}, {"list_client_order_id"}),
        ({"symbol": "NOPEUSDT", "pending_quantity": "0.0999"}, {"symbol"}),
    ],
)
def test_bad_oto_input_answers_400_with_a_message_per_field_and_writes_nothing(api, account, market, change, fields):
    body = {k: v for k, v in (BUY_THEN_SELL | change).items() if v is not None}
    if change.get("pending_type") == "STOP_LOSS":
        body = {k: v for k, v in body.items() if k not in ("pending_price", "pending_time_in_force")}

    response = api.post(OTO_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == fields
    assert all(isinstance(messages, list) and messages for messages in response.json().values())
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert held(account) == START


def test_a_pending_stop_judged_at_the_working_price_answers_400(api, account, market):
    # Once 0.1 BTC is bought at 67000, a stop at 67500 would trigger at once: refused now, nothing written.
    body = {**BUY_THEN_SELL, "pending_type": "STOP_LOSS", "pending_stop_price": "67500"}
    del body["pending_price"], body["pending_time_in_force"]

    response = api.post(OTO_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"pending_stop_price"}
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)


def test_an_oto_the_account_cannot_pay_answers_minus_2010_and_writes_nothing(api, account, market):
    response = api.post(OTO_URL, {**BUY_THEN_SELL, "working_quantity": "5"}, format="json")

    assert (response.status_code, response.json()["code"]) == (400, -2010)
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert held(account) == START


def test_cancelling_an_oto_cancels_both_orders_and_a_second_cancel_answers_409(api, account, market):
    list_id = api.post(OTO_URL, BUY_THEN_SELL, format="json").json()["id"]

    cancelled = api.delete(f"{LISTS_URL}/{list_id}")
    again = api.delete(f"{LISTS_URL}/{list_id}")

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["list_order_status"] == "ALL_DONE"
    assert {leg["status"] for leg in cancelled.json()["orders"]} <= {"CANCELLED", "EXPIRED"}
    assert again.status_code == 409
    assert held(account) == START


def test_another_accounts_oto_is_not_found(api, rival_api, account, market):
    list_id = api.post(OTO_URL, BUY_THEN_SELL, format="json").json()["id"]

    assert rival_api.get(f"{LISTS_URL}/{list_id}").status_code == 404
    assert rival_api.delete(f"{LISTS_URL}/{list_id}").status_code == 404
    assert rival_api.get(LISTS_URL).json()["results"] == []
    assert OrderList.objects.get().list_order_status == "EXECUTING"
    assert held(account)["USDT"] == (D("93300"), D("6700"))


def test_a_viewer_may_not_place_an_oto_or_an_otoco(viewer_api, account, market):
    assert viewer_api.post(OTO_URL, BUY_THEN_SELL, format="json").status_code == 403
    assert viewer_api.post(OTOCO_URL, BRACKET, format="json").status_code == 403
    assert OrderList.objects.count() == 0


def test_orders_show_their_list_leg_and_whether_they_wait(api, account, market):
    api.post(OTO_URL, BUY_THEN_SELL, format="json")
    api.post(ORDERS_URL, {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"})

    rows = api.get(ORDERS_URL).json()["results"]

    assert sorted((o["order_type"], o["list_leg"], o["waits_for_list"]) for o in rows) == [
        ("LIMIT", "pending", True),
        ("LIMIT", "working", False),
        ("MARKET", "", False),
    ]


# --- OTOCO --------------------------------------------------------------------------------------------------------


def test_an_otoco_places_a_working_order_and_a_waiting_bracket(api, account, market):
    response = api.post(OTOCO_URL, {**BRACKET, "list_client_order_id": "bracket-1"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["contingency_type"], body["list_order_status"]) == ("OTOCO", "EXECUTING")
    legs = legs_of(body)
    assert set(legs) == {"working", "above", "below"}
    assert (legs["working"]["status"], legs["working"]["waits_for_list"]) == ("PENDING", False)
    assert [(legs[name]["order_type"], legs[name]["side"], legs[name]["quantity"]) for name in ("above", "below")] == [
        ("LIMIT_MAKER", "SELL", "0.09990000"),
        ("STOP_LOSS_LIMIT", "SELL", "0.09990000"),
    ]
    assert {(legs[name]["status"], legs[name]["waits_for_list"]) for name in ("above", "below")} == {("PENDING", True)}
    assert held(account) == {"USDT": (D("93300"), D("6700")), "BTC": (D("1"), D("0"))}
    # Once the working order fills, the pair works as an OCO: its funds held once.
    market.move("BTCUSDT", "66900")
    legs = legs_of(api.get(f"{LISTS_URL}/{body['id']}").json())
    assert legs["working"]["status"] == "FILLED"
    assert {(legs[name]["status"], legs[name]["waits_for_list"]) for name in ("above", "below")} == {("PENDING", False)}
    assert balances(account)["BTC"] == (D("1"), D("0.0999"))


def test_a_replayed_otoco_answers_the_same_list_and_other_terms_answer_409(api, account, market):
    first = api.post(OTOCO_URL, {**BRACKET, "list_client_order_id": "bracket-1"}, format="json")

    again = api.post(OTOCO_URL, {**BRACKET, "list_client_order_id": "bracket-1"}, format="json")
    other = api.post(
        OTOCO_URL, {**BRACKET, "list_client_order_id": "bracket-1", "pending_quantity": "0.05"}, format="json"
    )

    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert (other.status_code, other.json()["code"]) == (409, -2010)
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (1, 3)


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        # The pair is judged at the working order's price (67000), not at today's market (68000).
        ({"pending_above_price": "66000"}, {"pending_above_price"}),
        ({"pending_below_stop_price": "67500", "pending_below_price": "67400"}, {"pending_below_stop_price"}),
        ({"pending_above_type": "STOP_LOSS", "pending_above_stop_price": "70000"}, {"pending_above_type"}),
        ({"pending_above_type": "MARKET"}, {"pending_above_type"}),
        ({"pending_below_time_in_force": ""}, {"pending_below_time_in_force"}),
        ({"pending_side": None}, {"pending_side"}),
        ({"pending_quantity": "-0.1"}, {"pending_quantity"}),
        ({"working_type": "TAKE_PROFIT"}, {"working_type"}),
        ({"working_quantity": None}, {"working_quantity"}),
        ({"pending_above_client_order_id": "x" * 37}, {"pending_above_client_order_id"}),
    ],
)
def test_bad_otoco_input_answers_400_with_a_message_per_field_and_writes_nothing(api, account, market, change, fields):
    body = {k: v for k, v in (BRACKET | change).items() if v is not None}

    response = api.post(OTOCO_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == fields
    assert all(isinstance(messages, list) and messages for messages in response.json().values())
    assert (OrderList.objects.count(), PaperOrder.objects.count()) == (0, 0)
    assert held(account) == START


def test_cancelling_an_otoco_after_its_working_order_filled_releases_the_pair_once(api, account, market):
    list_id = api.post(OTOCO_URL, BRACKET, format="json").json()["id"]
    market.move("BTCUSDT", "66900")

    cancelled = api.delete(f"{LISTS_URL}/{list_id}")
    again = api.delete(f"{LISTS_URL}/{list_id}")

    assert cancelled.status_code == 200, cancelled.content
    legs = legs_of(cancelled.json())
    assert legs["working"]["status"] == "FILLED"
    assert (legs["above"]["status"], legs["below"]["status"]) == ("CANCELLED", "CANCELLED")
    assert again.status_code == 409
    assert balances(account)["BTC"] == (D("1.0999"), D("0"))


def test_another_accounts_otoco_is_not_found(api, rival_api, account, market):
    list_id = api.post(OTOCO_URL, BRACKET, format="json").json()["id"]

    assert rival_api.get(f"{LISTS_URL}/{list_id}").status_code == 404
    assert rival_api.delete(f"{LISTS_URL}/{list_id}").status_code == 404
    assert OrderList.objects.get().list_order_status == "EXECUTING"


# --- the schema ---------------------------------------------------------------------------------------------------


def test_oto_and_otoco_answers_are_documented(api, account, market, schema):
    for url, body, change in [
        (OTO_URL, BUY_THEN_SELL, {"pending_price": "69500"}),
        (OTOCO_URL, BRACKET, {"pending_above_price": "71000"}),
    ]:
        named = {**body, "list_client_order_id": url.rsplit("/", 1)[1] + "-schema"}
        for payload, status in [
            (named, 201),
            (named, 200),
            ({**named, **change}, 409),
            ({**body, "working_price": None}, 400),
            ({**body, "working_quantity": "5"}, 400),
        ]:
            response = api.post(url, payload, format="json")
            assert response.status_code == status, response.content
            assert_documented(schema, response, "post", url)
    listed = api.get(LISTS_URL)
    assert {row["contingency_type"] for row in listed.json()["results"]} == {"OTO", "OTOCO"}
    assert_documented(schema, listed, "get", LISTS_URL)
    list_id = listed.json()["results"][0]["id"]
    assert_documented(schema, api.delete(f"{LISTS_URL}/{list_id}"), "delete", f"{LISTS_URL}/{{id}}")


def test_a_lists_page_tells_its_history_leg_by_leg(api, account, market, schema):
    placed = api.post(OTOCO_URL, BRACKET, format="json").json()
    market.move("BTCUSDT", "67000")  # the entry fills; the bracket's pair goes to work
    market.move("BTCUSDT", "70000")  # the take profit fills; the stop expires

    response = api.get(f"{LISTS_URL}/{placed['id']}")

    assert response.status_code == 200
    assert_documented(schema, response, "get", f"{LISTS_URL}/{{id}}")
    legs = {leg["list_leg"]: leg["id"] for leg in response.json()["orders"]}
    story = [(e["order"], e["from_status"], e["to_status"]) for e in response.json()["events"]]
    assert story == [
        (legs["above"], "", "PENDING"),
        (legs["below"], "", "PENDING"),
        (legs["working"], "", "PENDING"),
        (legs["working"], "PENDING", "FILLED"),
        (legs["below"], "PENDING", "PENDING"),  # put to work
        (legs["above"], "PENDING", "PENDING"),
        (legs["above"], "PENDING", "FILLED"),
        (legs["below"], "PENDING", "EXPIRED"),
    ]
    assert "Now working" in response.json()["events"][4]["detail"]


# Measured: the list, its legs with their events and live events, the reservation, the risk lock, the open-order
# counts of a stop leg (MAX_NUM_ALGO_ORDERS), and the answer's two reads. A new statement here is a choice.
OTOCO_CREATE_STATEMENTS = 20


def test_a_bracket_is_placed_in_a_fixed_number_of_statements(api, account, market):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api.post(OTOCO_URL, BRACKET, format="json")  # warm up: the account's caches and the caller's permissions
    with CaptureQueriesContext(connection) as captured:
        response = api.post(OTOCO_URL, {**BRACKET, "working_price": "66000"}, format="json")

    assert response.status_code == 201, response.content
    assert len(captured) <= OTOCO_CREATE_STATEMENTS, [query["sql"][:120] for query in captured]
