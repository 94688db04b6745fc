"""The order API: who may do what, the shapes of answers, idempotency, cancel, lists, sync, account and docs."""

import re
import uuid
from decimal import Decimal as D

import pytest
import responses
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from analysis.models import AnalysisRun
from papertrading.models import Account, OrderFill, PaperOrder, SimulatedBalance
from papertrading.services import default_account_for, place_order
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db

ORDERS = "/api/paper-trading/orders"
OPEN = "/api/paper-trading/orders/open"
SYNC = "/api/paper-trading/orders/sync"
ACCOUNT = "/api/paper-trading/account"
Status = PaperOrder.Status

LIMIT_BUY = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": "0.1",
    "price": "67000",
    "time_in_force": "GTC",
}
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.1"}


def detail_url(order_id: int) -> str:
    return f"{ORDERS}/{order_id}"


def run_of(account) -> AnalysisRun:
    """An analysis run of the account: an order may carry only a run_id of its own account's runs."""
    return AnalysisRun.objects.create(account=account, agent="agent-7", symbol="BTCUSDT", decision="BUY")


def resting(account, **overrides) -> PaperOrder:
    """A resting LIMIT BUY of the account, placed by its owner (BTC at 60000, below the 68000 market)."""
    fields = {
        "account": account,
        "symbol": "BTCUSDT",
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": D("0.01"),
        "price": D("60000"),
        "time_in_force": "GTC",
        "placed_by": account.owner,
    }
    fields.update(overrides)
    return place_order(**fields).order


# --- authentication and permissions ----------------------------------------------------------------------------

ENDPOINTS = [
    ("get", ORDERS),
    ("post", ORDERS),
    ("get", OPEN),
    ("post", SYNC),
    ("get", f"{ORDERS}/1"),
    ("delete", f"{ORDERS}/1"),
    ("get", ACCOUNT),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_anonymous_request_is_refused_with_401(method, url):
    response = getattr(APIClient(), method)(url, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Token"


@pytest.fixture
def viewer_account(viewer):
    """The viewer's own account; an order in it is placed through the service, since the viewer may not."""
    return default_account_for(viewer)


def test_viewer_can_read_list_detail_open_and_account(viewer_api, market, viewer_account):
    order = resting(viewer_account)

    listing = viewer_api.get(ORDERS)
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [order.pk]
    assert viewer_api.get(detail_url(order.pk)).json()["id"] == order.pk
    assert [row["id"] for row in viewer_api.get(OPEN).json()["results"]] == [order.pk]
    response = viewer_api.get(ACCOUNT)
    assert response.status_code == 200
    assert response.json()["venue"] == "simulation"
    assert {row["asset"]: row["locked"] for row in response.json()["balances"]}["USDT"] == "600.00000000"


def test_viewer_cannot_place_an_order(viewer_api, market):
    response = viewer_api.post(ORDERS, LIMIT_BUY, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}
    assert PaperOrder.objects.count() == 0


def test_viewer_cannot_cancel_an_order(viewer_api, market, viewer_account):
    order = resting(viewer_account)
    response = viewer_api.delete(detail_url(order.pk))
    assert response.status_code == 403
    assert PaperOrder.objects.get(pk=order.pk).status == Status.PENDING
    assert balances(viewer_account)["USDT"] == (D("99400"), D("600"))


def test_viewer_cannot_sync(viewer_api, market, viewer_account):
    order = resting(viewer_account)
    market.set("BTCUSDT", "59000")
    response = viewer_api.post(SYNC)
    assert response.status_code == 403
    assert PaperOrder.objects.get(pk=order.pk).status == Status.PENDING


def test_token_authentication_reads_and_places_as_the_tokens_user(trader, market, account):
    token = Token.objects.create(user=trader)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    assert client.get(ACCOUNT).status_code == 200
    response = client.post(ORDERS, LIMIT_BUY, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["placed_by"] == "trader"
    order = PaperOrder.objects.get()
    assert (order.placed_by, order.account) == (trader, account)


def test_unknown_token_is_refused_with_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get(ACCOUNT)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_session_login_is_accepted(client, trader, market):
    client.force_login(trader)
    assert client.get(ORDERS).status_code == 200


# --- create ------------------------------------------------------------------------------------------------------


def test_create_resting_limit_returns_201_with_lock_and_event(api, market, account):
    response = api.post(ORDERS, LIMIT_BUY, format="json")

    assert response.status_code == 201
    body = response.json()
    order = PaperOrder.objects.get()
    assert body["id"] == order.pk
    assert body["client_order_id"] == order.client_order_id
    assert re.fullmatch(r"pt[0-9a-f]{32}", body["client_order_id"])
    assert {k: body[k] for k in ("status", "venue", "symbol", "side", "order_type", "time_in_force")} == {
        "status": "PENDING",
        "venue": "simulation",
        "symbol": "BTCUSDT",
        "side": "BUY",
        "order_type": "LIMIT",
        "time_in_force": "GTC",
    }
    assert (body["quantity"], body["price"], body["stop_price"]) == ("0.10000000", "67000.00000000", None)
    assert (body["locked_asset"], body["locked_amount"]) == ("USDT", "6700.00000000")
    assert body["fills"] == []
    assert [(e["from_status"], e["to_status"], e["source"], e["actor"]) for e in body["events"]] == [
        ("", "PENDING", "api", "trader")
    ]
    assert body["placed_by"] == "trader"
    assert balances(account)["USDT"] == (D("93300"), D("6700"))


def test_create_market_order_returns_fills_with_their_why(api, market, account):
    response = api.post(ORDERS, MARKET_BUY, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "FILLED"
    assert (body["executed_quantity"], body["cumulative_quote_quantity"], body["average_price"]) == (
        "0.10000000",
        "6803.40000000",
        "68034.00000000",
    )
    [fill] = body["fills"]
    assert {k: fill[k] for k in fill if k != "created_at"} == {
        "price": "68034.00000000",
        "quantity": "0.10000000",
        "commission": "0.00010000",
        "commission_asset": "BTC",
        "trade_id": "",
        "rule": "MARKETABLE_ON_ARRIVAL",
        "market_price": "68000.00000000",
        "slippage_rate": "0.00050000",
        "fee_rate": "0.00100000",
        "is_maker": False,
    }
    assert balances(account)["BTC"] == (D("1.0999"), D("0"))
    assert balances(account)["USDT"] == (D("93196.6"), D("0"))


def test_create_with_run_id_and_own_client_order_id_stores_both(api, market, account):
    run_id = run_of(account).run_id
    response = api.post(ORDERS, {**LIMIT_BUY, "client_order_id": "agent-7_run-1", "run_id": str(run_id)}, format="json")
    assert response.status_code == 201
    order = PaperOrder.objects.get()
    assert (order.client_order_id, order.run_id) == ("agent-7_run-1", run_id)
    assert response.json()["run_id"] == str(run_id)


def test_insufficient_balance_returns_400_with_code_detail_and_rejected_order(api, market, account):
    response = api.post(ORDERS, {**MARKET_BUY, "quantity": "2"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "detail", "order"}
    assert body["code"] == -2010
    assert body["detail"] == "Account has insufficient balance for requested action."
    order = PaperOrder.objects.get()
    assert body["order"]["id"] == order.pk
    assert body["order"]["status"] == "REJECTED"
    assert (body["order"]["reject_code"], body["order"]["reject_reason"]) == (
        -2010,
        "Account has insufficient balance for requested action.",
    )
    assert (order.status, order.reject_code) == (Status.REJECTED, -2010)
    assert OrderFill.objects.count() == 0
    assert balances(account) == {
        "BTC": (D("1"), D("0")),
        "ETH": (D("10"), D("0")),
        "USDT": (D("100000"), D("0")),
    }


def test_repeated_post_with_same_client_order_id_returns_200_and_the_same_order(api, market, account):
    body = {**MARKET_BUY, "client_order_id": "once-only-42"}

    first = api.post(ORDERS, body, format="json")
    second = api.post(ORDERS, body, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["status"] == "FILLED"
    assert len(second.json()["fills"]) == 1
    assert PaperOrder.objects.count() == 1
    # Filled once: one fee, one debit.
    assert balances(account)["USDT"] == (D("93196.6"), D("0"))


def test_repeated_client_order_id_with_other_terms_answers_409_naming_the_existing_order(api, market):
    first = api.post(ORDERS, {**LIMIT_BUY, "client_order_id": "dup"}, format="json").json()
    locked = SimulatedBalance.objects.get(asset="USDT").locked

    second = api.post(ORDERS, {**LIMIT_BUY, "client_order_id": "dup", "price": "66000"}, format="json")

    assert second.status_code == 409
    body = second.json()
    assert body["code"] == -2010
    assert body["detail"].startswith("Duplicate order sent.")
    assert f"order {first['id']}" in body["detail"]
    assert body["order"]["id"] == first["id"] and body["order"]["price"] == "67000.00000000"
    assert PaperOrder.objects.count() == 1
    assert SimulatedBalance.objects.get(asset="USDT").locked == locked


def test_repeated_client_order_id_with_the_same_terms_answers_200_with_the_first_order(api, market):
    first = api.post(ORDERS, {**LIMIT_BUY, "client_order_id": "dup"}, format="json").json()
    # The same terms spelled differently (trailing zeros) are the same order.
    again = api.post(ORDERS, {**LIMIT_BUY, "client_order_id": "dup", "price": "67000.000"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert PaperOrder.objects.count() == 1


# --- detail and cancel -------------------------------------------------------------------------------------------


def test_get_unknown_order_returns_404(api):
    response = api.get(detail_url(999999))
    assert response.status_code == 404
    assert "detail" in response.json()


def test_delete_unknown_order_returns_404(api):
    response = api.delete(detail_url(999999))
    assert response.status_code == 404
    assert PaperOrder.objects.count() == 0


def test_get_order_shows_its_fills_and_events_in_order(api, market, account):
    order = resting(account, price=D("67000"))
    market.move("BTCUSDT", "66000")

    body = api.get(detail_url(order.pk)).json()

    assert body["status"] == "FILLED"
    assert [(e["from_status"], e["to_status"], e["source"]) for e in body["events"]] == [
        ("", "PENDING", "api"),
        ("PENDING", "FILLED", "matcher"),
    ]
    assert [(f["price"], f["rule"], f["is_maker"], f["market_price"]) for f in body["fills"]] == [
        ("67000.00000000", "LIMIT_CROSSED", True, "66000.00000000")
    ]


def test_cancel_returns_200_cancelled_with_events_and_releases_the_lock(api, market, account):
    order = resting(account)
    assert balances(account)["USDT"] == (D("99400"), D("600"))

    response = api.delete(detail_url(order.pk))

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["locked_amount"]) == (order.pk, "CANCELLED", "0.00000000")
    assert [(e["from_status"], e["to_status"], e["source"], e["actor"]) for e in body["events"]] == [
        ("", "PENDING", "api", "trader"),
        ("PENDING", "CANCELLED", "api", "trader"),
    ]
    assert PaperOrder.objects.get(pk=order.pk).status == Status.CANCELLED
    assert balances(account)["USDT"] == (D("100000"), D("0"))


def test_cancel_of_cancelled_order_returns_409(api, market, account):
    order = resting(account)
    assert api.delete(detail_url(order.pk)).status_code == 200

    response = api.delete(detail_url(order.pk))

    assert response.status_code == 409
    assert response.json() == {"detail": f"Order {order.pk} is CANCELLED; only working orders can be cancelled."}
    assert PaperOrder.objects.get(pk=order.pk).events.count() == 2
    assert balances(account)["USDT"] == (D("100000"), D("0"))


def test_cancel_of_expired_order_returns_409(api, market):
    body = {**LIMIT_BUY, "time_in_force": "IOC"}
    order_id = api.post(ORDERS, body, format="json").json()["id"]
    assert PaperOrder.objects.get(pk=order_id).status == Status.EXPIRED

    response = api.delete(detail_url(order_id))

    assert response.status_code == 409
    assert response.json() == {"detail": f"Order {order_id} is EXPIRED; only working orders can be cancelled."}


def test_cancel_of_filled_order_returns_409(api, market):
    order_id = api.post(ORDERS, MARKET_BUY, format="json").json()["id"]

    response = api.delete(detail_url(order_id))

    assert response.status_code == 409
    assert response.json() == {"detail": f"Order {order_id} is FILLED; only working orders can be cancelled."}
    assert PaperOrder.objects.get(pk=order_id).status == Status.FILLED


# --- accounts never see each other ----------------------------------------------------------------------------


def ids_of(client, url: str) -> list[int]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("owner", ["api", "rival_api"])
def test_an_order_is_invisible_to_another_accounts_caller(request, market, account, rival_account, owner):
    placer = request.getfixturevalue(owner)
    other = request.getfixturevalue("rival_api" if owner == "api" else "api")
    placers_account, others_account = (account, rival_account) if owner == "api" else (rival_account, account)
    order_id = placer.post(ORDERS, LIMIT_BUY, format="json").json()["id"]
    others_order = other.post(ORDERS, {**LIMIT_BUY, "price": "66000"}, format="json").json()["id"]

    assert ids_of(other, ORDERS) == [others_order]
    assert ids_of(other, OPEN) == [others_order]
    assert other.get(detail_url(order_id)).status_code == 404
    cancel = other.delete(detail_url(order_id))
    assert cancel.status_code == 404
    assert cancel.json() == {"detail": "No PaperOrder matches the given query."}
    # The order is untouched and still holds its own account's cash; the other account's is its own.
    order = PaperOrder.objects.get(pk=order_id)
    assert (order.status, order.account) == (Status.PENDING, placers_account)
    assert balances(placers_account)["USDT"] == (D("93300"), D("6700"))
    assert balances(others_account)["USDT"] == (D("93400"), D("6600"))
    # The owner still sees and may cancel it.
    assert ids_of(placer, ORDERS) == [order_id]
    assert placer.get(detail_url(order_id)).json()["status"] == "PENDING"
    assert placer.delete(detail_url(order_id)).json()["status"] == "CANCELLED"


def test_sync_of_one_account_leaves_the_others_orders_alone(api, market, account, rival_account):
    mine = resting(account, price=D("67000"))
    theirs = resting(rival_account, price=D("67000"))
    market.set("BTCUSDT", "66000")  # stored without matching

    body = api.post(SYNC).json()

    assert (body["orders_checked"], body["changed"]) == (1, {"filled": 1})
    assert PaperOrder.objects.get(pk=mine.pk).status == Status.FILLED
    assert PaperOrder.objects.get(pk=theirs.pk).status == Status.PENDING


def test_account_endpoint_shows_only_the_callers_balances(api, rival_api, market, account, rival_account):
    resting(rival_account)

    mine = {b["asset"]: (b["free"], b["locked"]) for b in api.get(ACCOUNT).json()["balances"]}
    theirs = {b["asset"]: (b["free"], b["locked"]) for b in rival_api.get(ACCOUNT).json()["balances"]}

    assert mine["USDT"] == ("100000.00000000", "0.00000000")
    assert theirs["USDT"] == ("99400.00000000", "600.00000000")


def test_the_same_client_order_id_in_two_accounts_makes_two_orders(api, rival_api, market, account, rival_account):
    body = {**LIMIT_BUY, "client_order_id": "shared-id-1"}

    mine = api.post(ORDERS, body, format="json")
    theirs = rival_api.post(ORDERS, body, format="json")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    orders = {o.account_id: o for o in PaperOrder.objects.filter(client_order_id="shared-id-1")}
    assert set(orders) == {account.pk, rival_account.pk}
    assert orders[account.pk].pk == mine.json()["id"] and orders[rival_account.pk].pk == theirs.json()["id"]
    # The venue knows each by its own reference, never by the shared client id.
    assert orders[account.pk].venue_order_ref != orders[rival_account.pk].venue_order_ref
    assert balances(account)["USDT"] == balances(rival_account)["USDT"] == (D("93300"), D("6700"))

    # A replay in one account returns that account's own order, with nothing new written or reserved.
    replay = rival_api.post(ORDERS, body, format="json")

    assert replay.status_code == 200
    assert replay.json()["id"] == theirs.json()["id"]
    assert PaperOrder.objects.count() == 2
    assert balances(rival_account)["USDT"] == (D("93300"), D("6700"))
    # Other terms under the id are a duplicate only within the account that used it.
    clash = api.post(ORDERS, {**body, "price": "66000"}, format="json")
    assert clash.status_code == 409 and clash.json()["order"]["id"] == mine.json()["id"]


@pytest.mark.parametrize("whose", ["rival", "nobody"])
def test_run_id_that_is_not_a_run_of_the_callers_account_is_refused(api, market, account, rival_account, whose):
    run_id = run_of(rival_account).run_id if whose == "rival" else uuid.uuid4()

    response = api.post(ORDERS, {**LIMIT_BUY, "run_id": str(run_id)}, format="json")

    assert response.status_code == 400
    assert response.json() == {"run_id": ["No analysis run of this account has this id."]}
    assert not PaperOrder.objects.exists()
    assert balances(account)["USDT"] == (D("100000"), D("0"))


# --- lists -------------------------------------------------------------------------------------------------------


def test_list_is_newest_first_and_paginated_by_page_size(api, market, account):
    orders = [resting(account, price=D(60000 + i)) for i in range(7)]

    first = api.get(ORDERS, {"page_size": 3}).json()

    assert first["count"] == 7
    assert [row["id"] for row in first["results"]] == [o.pk for o in orders[::-1][:3]]
    assert first["previous"] is None
    assert first["next"].endswith("page=2&page_size=3")
    last = api.get(ORDERS, {"page_size": 3, "page": 3}).json()
    assert [row["id"] for row in last["results"]] == [orders[0].pk]
    assert last["next"] is None


def test_list_default_page_holds_fifty(api, market, account):
    for i in range(51):
        resting(account, price=D(50000 + i))
    body = api.get(ORDERS).json()
    assert (body["count"], len(body["results"])) == (51, 50)
    assert body["next"] is not None


def test_list_filters_by_status_symbol_side_and_run_id(api, market, account):
    run_id = run_of(account).run_id
    buy = resting(account, run_id=run_id)
    sell = resting(account, side="SELL", price=D("70000"))
    eth = resting(account, symbol="ETHUSDT", quantity=D("0.1"), price=D("3000"))
    filled = place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01")).order

    def ids(**params):
        response = api.get(ORDERS, params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="FILLED") == {filled.pk}
    assert ids(status=["FILLED", "PENDING"]) == {buy.pk, sell.pk, eth.pk, filled.pk}
    assert ids(symbol="ethusdt") == {eth.pk}
    assert ids(side="SELL") == {sell.pk}
    assert ids(run_id=str(run_id)) == {buy.pk}
    assert ids(symbol="BTCUSDT", side="BUY", status="PENDING") == {buy.pk}


def test_list_refuses_an_unknown_status_filter(api):
    response = api.get(ORDERS, {"status": "DONE"})
    assert response.status_code == 400
    assert "status" in response.json()


def test_open_orders_lists_only_working_orders(api, market, account):
    working = resting(account)
    cancelled = resting(account, price=D("60001"))
    api.delete(detail_url(cancelled.pk))
    place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01"))
    place_order(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.01"),
        price=D("60000"),
        time_in_force="IOC",
    )

    body = api.get(OPEN).json()

    assert body["count"] == 1
    assert [(row["id"], row["status"]) for row in body["results"]] == [(working.pk, "PENDING")]


# --- sync and account ------------------------------------------------------------------------------------------


def test_sync_counts_each_outcome_under_its_own_name(api, market, account):
    # A BUY stop locks its cost at the stop price; when the market gaps past it and the rest of the cash is
    # locked by a limit, the stop cannot pay and expires. Another stop, on ETH, fills.
    gapped = resting(
        account, order_type="STOP_LOSS", quantity=D("1"), price=None, time_in_force="", stop_price=D("69000")
    )
    resting(account, quantity=D("0.45"), price=D("66000"))  # leaves 1300 USDT free
    eth_stop = resting(
        account, symbol="ETHUSDT", side="SELL", order_type="STOP_LOSS", quantity=D("1"), price=None,
        time_in_force="", stop_price=D("3400"),
    )  # fmt: skip
    market.set("BTCUSDT", "72000")
    market.set("ETHUSDT", "3300")

    body = api.post(SYNC).json()

    assert body["changed"] == {"expired": 1, "filled": 1}
    assert (body["orders_checked"], body["symbols_checked"]) == (3, 2)
    assert body["summary"] == "checked 3 orders on 2 symbols; 1 expired, 1 filled"
    assert PaperOrder.objects.get(pk=gapped.pk).status == Status.EXPIRED
    assert PaperOrder.objects.get(pk=eth_stop.pk).status == Status.FILLED


def test_sync_fills_orders_the_stored_price_reaches_and_reports_counts(api, market, account):
    reached = resting(account, price=D("67000"))
    not_reached = resting(account, price=D("65000"))
    stop = resting(account, side="SELL", order_type="STOP_LOSS", price=None, time_in_force="", stop_price=D("66500"))
    resting(account, symbol="ETHUSDT", quantity=D("0.1"), price=D("3000"))
    market.set("BTCUSDT", "66000")  # stored without matching, as if the matcher had not run yet

    response = api.post(SYNC)

    assert response.status_code == 200
    assert response.json() == {
        "venue": "simulation",
        "orders_checked": 4,
        "symbols_checked": 2,
        "changed": {"filled": 2},
        "request_weight": 0,
        "notes": [],
        "summary": "checked 4 orders on 2 symbols; 2 filled",
    }
    assert PaperOrder.objects.get(pk=reached.pk).status == Status.FILLED
    assert PaperOrder.objects.get(pk=stop.pk).status == Status.FILLED
    assert PaperOrder.objects.get(pk=not_reached.pk).status == Status.PENDING
    # A second sync finds nothing more to do.
    assert api.post(SYNC).json()["changed"] == {}


def test_account_lists_each_asset_with_free_and_locked(api, market, account):
    resting(account)

    response = api.get(ACCOUNT)

    assert response.status_code == 200
    assert response.json() == {
        "venue": "simulation",
        "balances": [
            {"asset": "BTC", "free": "1.00000000", "locked": "0.00000000"},
            {"asset": "ETH", "free": "10.00000000", "locked": "0.00000000"},
            {"asset": "USDT", "free": "99400.00000000", "locked": "600.00000000"},
        ],
    }


def test_account_opens_the_callers_default_account_on_first_read(api, trader):
    assert not Account.objects.exists()

    response = api.get(ACCOUNT)

    assert [b["asset"] for b in response.json()["balances"]] == ["BTC", "ETH", "USDT"]
    account = Account.objects.get()
    assert (account.owner, account.is_default) == (trader, True)
    assert balances(account) == {"BTC": (D("1"), D("0")), "ETH": (D("10"), D("0")), "USDT": (D("100000"), D("0"))}


# --- schema and docs ---------------------------------------------------------------------------------------------


def test_schema_describes_the_order_endpoints(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/paper-trading/orders",
        "/api/paper-trading/orders/open",
        "/api/paper-trading/orders/sync",
        "/api/paper-trading/orders/{id}",
        "/api/paper-trading/account",
    } <= set(paths)
    assert {"get", "post"} <= set(paths["/api/paper-trading/orders"])
    assert {"get", "delete"} <= set(paths["/api/paper-trading/orders/{id}"])


def test_docs_page_loads_its_scripts_and_styles_from_local_static(client, trader):
    client.force_login(trader)
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert not [s for s in sources if re.match(r"(https?:)?//", s)], sources
    assert "swagger-ui" in html
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), f"{source} is not a served static file"


# --- query counts ------------------------------------------------------------------------------------------------

# SQL statements of one create, counted as CaptureQueriesContext counts them (the transaction's BEGIN/COMMIT, or
# SAVEPOINT/RELEASE inside a test's transaction, included), once the account is open and the caller's
# permissions are cached: a resting LIMIT finds the caller's account, reads the price, locks the account (reading its
# risk limits), reserves (reading what the limits need) and writes the order, its event and its live event (what
# the stream sends); a filled MARKET also writes its fill and books it in the ledger (position row locked, trade
# written, position updated). The same with every risk limit set.
LIMIT_CREATE_STATEMENTS = 9
MARKET_CREATE_STATEMENTS = 13


def statements_of(api, payload: dict) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = api.post(ORDERS, payload, format="json")
    assert response.status_code == 201, response.content
    return [query["sql"] for query in captured]


def test_order_create_takes_a_fixed_number_of_statements(api, market, account):
    # Warm up: open the account, cache the caller's permissions, book a first fill so the position exists.
    api.post(ORDERS, LIMIT_BUY, format="json")
    api.post(ORDERS, MARKET_BUY, format="json")

    limit = statements_of(api, LIMIT_BUY)
    market_buy = statements_of(api, MARKET_BUY)
    Account.objects.filter(pk=account.pk).update(
        max_order_notional=D("100000"),
        max_position_notional=D("1000000"),
        max_open_orders=100,
        max_orders_per_minute=100,
        max_daily_loss=D("50000"),
        allowed_symbols=["BTCUSDT", "ETHUSDT"],
    )
    limited = statements_of(api, LIMIT_BUY)
    limited_market = statements_of(api, MARKET_BUY)

    assert len(limit) <= LIMIT_CREATE_STATEMENTS, limit
    assert len(market_buy) <= MARKET_CREATE_STATEMENTS, market_buy
    assert len(limited) <= LIMIT_CREATE_STATEMENTS, limited
    assert len(limited_market) <= MARKET_CREATE_STATEMENTS, limited_market
    assert PaperOrder.objects.filter(status="FILLED").count() == 3


def list_queries(api, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url, {"page_size": 100})
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", [ORDERS, OPEN])
def test_list_queries_do_not_grow_with_the_number_of_orders(api, market, account, url):
    for i in range(5):
        resting(account, price=D(60000 + i))
    with_five = list_queries(api, url)
    for i in range(45):
        resting(account, price=D(61000 + i))

    assert api.get(url, {"page_size": 100}).json()["count"] == 50
    assert list_queries(api, url) == with_five
    assert with_five <= 4


def test_detail_queries_do_not_grow_with_fills_and_events(api, market, account, django_assert_max_num_queries):
    order = resting(account, price=D("67000"))
    market.move("BTCUSDT", "66000")
    with django_assert_max_num_queries(5):
        response = api.get(detail_url(order.pk))
    assert len(response.json()["events"]) == 2


# --- the price source ----------------------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    "body",
    [
        {**LIMIT_BUY, "symbol": "SOLUSDT", "quantity": "1", "price": "100"},
        {"symbol": "SOLUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "1", "stop_price": "100"},
        {**MARKET_BUY, "symbol": "SOLUSDT", "quantity": "1"},
    ],
    ids=["limit", "stop", "market"],
)
def test_order_on_a_symbol_the_price_source_does_not_quote_returns_400_and_writes_nothing(api, settings, body):
    settings.MARKET_DATA_SOURCE = "binance"
    responses.get(f"{settings.MARKET_DATA_BASE_URL}/api/v3/ticker/price", json=[])

    response = api.post(ORDERS, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"symbol": ["No market price for SOLUSDT yet; try again in a moment."]}
    assert PaperOrder.objects.count() == 0
    assert not SimulatedBalance.objects.filter(locked__gt=0).exists()


@responses.activate
def test_order_while_the_price_source_is_down_returns_503_and_writes_nothing(api, settings):
    settings.MARKET_DATA_SOURCE = "binance"
    responses.get(f"{settings.MARKET_DATA_BASE_URL}/api/v3/ticker/price", status=502)

    response = api.post(ORDERS, {**MARKET_BUY, "symbol": "SOLUSDT", "quantity": "1"}, format="json")

    assert response.status_code == 503
    assert response.json() == {"detail": "Market data is unavailable now; try again in a moment."}
    assert PaperOrder.objects.count() == 0
