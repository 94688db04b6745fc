"""What the testnet venue does with each kind of exchange answer (REFERENCE.md §5 and §7, spot_api.yaml), through
the API and `services.sync_orders()`, with the exchange stubbed over HTTP by the `Exchange` fake of
test_testnet_venue.py: fills never counted twice, a database refusal never taken for a replay, fills fetched when
an answer has none, malformed 200s left UNKNOWN for sync, the exchange's own code or none, one meaning for -2015.
"""

from decimal import Decimal

import pytest
import requests

from papertrading import selectors, services
from papertrading.errors import VenueUnavailable
from papertrading.models import OrderFill, PaperOrder
from papertrading.tests.support import balances
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    BASE,
    ORDERS_URL,
    desk_fixture,
    exchange_fixture,
    limit_payload,
    market_payload,
    place,
    testnet_fixture,
)
from portfolio.models import Trade

Status = PaperOrder.Status
ORDER_PATH = "/api/v3/order"
pytestmark = pytest.mark.django_db


# --- answering the order POST differently ------------------------------------------------------------------------
def answer_order_posts(exchange, answer) -> None:
    """Route POST /api/v3/order to `answer(params) -> (status, json_body)`; the exchange's other routes stay."""
    exchange.rsps.remove("POST", f"{BASE}{ORDER_PATH}")
    exchange.rsps.add_callback(
        "POST", f"{BASE}{ORDER_PATH}", callback=exchange._wrap("POST", ORDER_PATH, lambda params: (*answer(params), {}))
    )


def accept(exchange, params) -> dict:
    """The exchange creates the order as it normally would (a MARKET order fills at once); its stored copy."""
    body = exchange._accept_order(params)
    return exchange.orders[body["orderId"]]


def placement_answer(exchange, order: dict, *, trade_ids: bool = True) -> dict:
    """A FULL placement answer for the exchange's order as it stands, its fills with or without `tradeId`."""
    body = {k: v for k, v in order.items() if k not in ("time", "updateTime", "isWorking")}
    body["transactTime"] = order["time"]
    body["fills"] = [
        {"price": t["price"], "qty": t["qty"], "commission": t["commission"], "commissionAsset": t["commissionAsset"]}
        | ({"tradeId": t["id"]} if trade_ids else {})
        for t in exchange.trades.get(order["orderId"], [])
    ]
    return body


def fills_of(order: PaperOrder) -> list[tuple[str, Decimal]]:
    return list(OrderFill.objects.filter(order=order).order_by("id").values_list("trade_id", "quantity"))


def ledger_fills(order: PaperOrder) -> list[str]:
    return sorted(Trade.objects.filter(order=order).values_list("fill__trade_id", flat=True))


def sent_client_ids(exchange) -> list[str]:
    """The client_order_id of each order the exchange was sent, in order: the exchange knows an order by its
    venue_order_ref, so anything else it received shows as such."""
    refs = dict(PaperOrder.objects.values_list("venue_order_ref", "client_order_id"))
    return [
        refs.get(post["newClientOrderId"], f"not a venue_order_ref: {post['newClientOrderId']}")
        for post in exchange.posts()
    ]


def client_id_sent(params) -> str:
    """The client_order_id of the local order an order POST carries the venue_order_ref of."""
    return PaperOrder.objects.get(venue_order_ref=params["newClientOrderId"]).client_order_id


# --- 1. a fill is counted once, whatever fields an answer lacks ---------------------------------------------------
def test_full_answer_fills_without_trade_ids_are_read_by_id_and_a_later_sync_never_counts_them_twice(
    api, desk, exchange
):
    def partly_filled_on_arrival(params):
        order = accept(exchange, params)
        exchange.fill(order["orderId"], qty="0.001")
        # As in the spec's FULL example: the fills carry price, qty and commission, but no tradeId.
        return 200, placement_answer(exchange, order, trade_ids=False)

    answer_order_posts(exchange, partly_filled_on_arrival)

    response = place(api, limit_payload(quantity="0.003", client_order_id="partly-1"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "PARTIALLY_FILLED"
    [exchange_order] = exchange.created_orders()
    assert body["binance_order_id"] == exchange_order["orderId"]
    assert [(f["trade_id"], Decimal(f["quantity"])) for f in body["fills"]] == [("301", Decimal("0.001"))]
    [trades_call] = exchange.calls("GET", "/api/v3/myTrades")
    assert trades_call["orderId"] == str(exchange_order["orderId"])
    order = PaperOrder.objects.get()
    assert ledger_fills(order) == ["301"]

    # A second trade on the exchange; sync's myTrades lists trade 301 again, now with its id, next to 302.
    exchange.fill(exchange_order["orderId"], qty="0.001")
    first = services.sync_orders()

    assert first.changed == {"partially_filled": 1}
    assert len(exchange.calls("GET", "/api/v3/myTrades")) == 2
    order.refresh_from_db()
    assert order.status == Status.PARTIALLY_FILLED
    assert order.executed_quantity == Decimal("0.002")
    assert fills_of(order) == [("301", Decimal("0.001")), ("302", Decimal("0.001"))]
    assert ledger_fills(order) == ["301", "302"]

    again = services.sync_orders()

    assert again.changed == {}
    order.refresh_from_db()
    assert order.executed_quantity == Decimal("0.002")
    assert fills_of(order) == [("301", Decimal("0.001")), ("302", Decimal("0.001"))]
    assert Trade.objects.filter(order=order).count() == 2
    assert sent_client_ids(exchange) == ["partly-1"]


# --- 2. a database refusal is not a replayed client_order_id ------------------------------------------------------
def test_answer_the_database_refuses_leaves_the_order_unknown_with_a_note_and_sync_goes_on_with_the_others(
    api, desk, exchange
):
    def overfilled_or_normal(params):
        order = accept(exchange, params)
        if client_id_sent(params) == "overfilled":
            # The exchange claims more executed than was ordered: the ledger's check constraint refuses it.
            exchange.fill(order["orderId"], qty="0.002")
        return 200, placement_answer(exchange, order)

    answer_order_posts(exchange, overfilled_or_normal)

    response = place(api, limit_payload(quantity="0.001", client_order_id="overfilled"))

    assert response.status_code == 201, response.content  # a new order, not 200 "already exists"
    body = response.json()
    assert body["status"] == "UNKNOWN"
    assert body["binance_order_id"] is None
    assert Decimal(body["executed_quantity"]) == 0
    assert body["fills"] == []
    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [("", "UNKNOWN"), ("UNKNOWN", "UNKNOWN")]
    assert "answer could not be recorded" in body["events"][1]["detail"]
    assert "Nothing was resent" in body["events"][1]["detail"]

    # A second order on the same symbol, synced after the bad one (sync goes by symbol, then id).
    good = place(api, limit_payload(client_order_id="good-1")).json()
    assert good["status"] == "PENDING"
    exchange.fill(good["binance_order_id"])

    report = services.sync_orders()

    assert report.changed == {"filled": 1}
    bad = PaperOrder.objects.get(client_order_id="overfilled")
    assert any(note.startswith(f"Order {bad.pk}: the exchange's answer could not be recorded") for note in report.notes)
    assert bad.status == Status.UNKNOWN
    assert bad.executed_quantity == 0 and not bad.fills.exists()
    filled = PaperOrder.objects.get(pk=good["id"])
    assert filled.status == Status.FILLED
    assert filled.executed_quantity == Decimal("0.001")
    assert fills_of(filled) == [("302", Decimal("0.001"))]
    assert sent_client_ids(exchange) == ["overfilled", "good-1"]


# --- 3. an executed quantity without fills -------------------------------------------------------------------------
def test_filled_answer_without_fills_fetches_them_with_one_my_trades_call_at_placement(api, desk, exchange):
    def result_answer(params):
        order = accept(exchange, params)
        body = placement_answer(exchange, order)
        del body["fills"]  # the RESULT shape: status FILLED, executedQty, no fills
        return 200, body

    answer_order_posts(exchange, result_answer)

    response = place(api, market_payload(client_order_id="result-1"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "FILLED"
    assert Decimal(body["executed_quantity"]) == Decimal("0.002")
    assert [(f["trade_id"], Decimal(f["quantity"])) for f in body["fills"]] == [("301", Decimal("0.002"))]
    [exchange_order] = exchange.created_orders()
    [trades_call] = exchange.calls("GET", "/api/v3/myTrades")
    assert trades_call["symbol"] == "BTCUSDT"
    assert trades_call["orderId"] == str(exchange_order["orderId"])
    assert ledger_fills(PaperOrder.objects.get()) == ["301"]
    assert sent_client_ids(exchange) == ["result-1"]


def test_filled_answer_whose_trades_cannot_be_read_stays_unknown_until_sync_reads_them(api, desk, exchange):
    # A finished order stored without its fills would keep them missing for good: sync looks only at open orders.
    def result_answer(params):
        body = placement_answer(exchange, accept(exchange, params))
        del body["fills"]
        return 200, body

    answer_order_posts(exchange, result_answer)
    exchange.read_failure["/api/v3/myTrades"] = requests.ConnectionError("connection reset")

    response = place(api, market_payload(client_order_id="result-2"))

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "UNKNOWN" and response.json()["fills"] == []
    order = PaperOrder.objects.get()
    assert "its trades could not be read" in order.events.order_by("-id").first().detail

    del exchange.read_failure["/api/v3/myTrades"]
    services.sync_orders()

    order.refresh_from_db()
    assert order.status == PaperOrder.Status.FILLED
    assert ledger_fills(order) == ["301"]
    assert sent_client_ids(exchange) == ["result-2"]


# --- 4. a malformed 200 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "malform, why",
    [
        (lambda body: [body], "expected an order object, got list"),
        (
            lambda body: {"code": -1000, "msg": "An unknown error occurred while processing the request."},
            "an error object in a 2xx answer (code -1000)",
        ),
        (lambda body: {k: v for k, v in body.items() if k != "orderId"}, "the order has no orderId"),
        (lambda body: {**body, "status": "WEIRD"}, "unknown order status 'WEIRD'"),
    ],
    ids=["json-array", "error-object", "no-order-id", "unknown-status"],
)
def test_malformed_200_leaves_the_order_unknown_and_sync_resolves_it_by_client_order_id(
    api, desk, exchange, malform, why
):
    answer_order_posts(exchange, lambda params: (200, malform(placement_answer(exchange, accept(exchange, params)))))

    response = place(api, market_payload(client_order_id="odd-answer"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "UNKNOWN"
    assert body["binance_order_id"] is None and body["fills"] == []
    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [("", "UNKNOWN"), ("UNKNOWN", "UNKNOWN")]
    assert f"not a readable order ({why})" in body["events"][1]["detail"]

    report = services.sync_orders()

    assert report.changed == {"filled": 1}
    [lookup] = exchange.calls("GET", ORDER_PATH)
    order = PaperOrder.objects.get()
    assert lookup["origClientOrderId"] == order.venue_order_ref and "orderId" not in lookup
    [exchange_order] = exchange.created_orders()
    assert order.status == Status.FILLED
    assert order.binance_order_id == exchange_order["orderId"]
    assert fills_of(order) == [("301", Decimal("0.002"))]
    assert [e.to_status for e in order.events.all()] == [Status.UNKNOWN, Status.UNKNOWN, Status.FILLED]
    assert sent_client_ids(exchange) == ["odd-answer"]


# --- 5. the exchange's own code, or none ---------------------------------------------------------------------------
def test_refusal_without_a_json_code_is_rejected_with_no_code_rather_than_an_invented_one(api, desk, exchange):
    waf_page = "<html><head><title>403 Forbidden</title></head><body>Request blocked.</body></html>"
    exchange.rsps.remove("POST", f"{BASE}{ORDER_PATH}")
    exchange.rsps.add("POST", f"{BASE}{ORDER_PATH}", body=waf_page, status=403, content_type="text/html")

    response = place(api, limit_payload(client_order_id="waf-1"))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] is None
    assert "Request blocked" in body["detail"]
    assert body["order"]["status"] == "REJECTED"
    assert body["order"]["reject_code"] is None
    order = PaperOrder.objects.get()
    assert order.status == Status.REJECTED
    assert order.reject_code is None
    assert [e.to_status for e in order.events.all()] == [Status.UNKNOWN, Status.REJECTED]
    assert sent_client_ids(exchange) == ["waf-1"]


# --- 6. -2015 means the same on every call ------------------------------------------------------------------------
def test_refused_credentials_answer_the_same_503_on_place_balances_and_sync_and_close_the_order_unsent(
    api, desk, exchange
):
    working = place(api, limit_payload(client_order_id="before-revoke")).json()
    refused = (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    exchange.post_script.append((False, refused))
    exchange.read_failure["/api/v3/account"] = refused
    exchange.read_failure[ORDER_PATH] = refused
    exchange.read_failure["/api/v3/openOrders"] = refused

    placing = place(api, limit_payload(client_order_id="after-revoke"))
    with pytest.raises(VenueUnavailable) as exchange_balances:
        selectors.venue_balances()
    syncing = api.post(f"{ORDERS_URL}/sync")
    with pytest.raises(VenueUnavailable) as full_sync:
        services.sync_orders()

    assert [placing.status_code, syncing.status_code] == [503, 503]
    message = placing.json()["detail"]
    assert "refused the API credentials (-2015" in message
    assert exchange_balances.value.message == message
    assert syncing.json()["detail"] == message
    assert full_sync.value.message == message
    # The account's own balances are the desk's: they still answer, the refused order holding nothing.
    assert api.get("/api/paper-trading/account").status_code == 200
    assert balances(desk)["USDT"] == (Decimal("4940"), Decimal("60"))
    order = PaperOrder.objects.get(client_order_id="after-revoke")
    assert order.status == Status.REJECTED
    assert order.reject_reason.startswith("Not sent")
    assert order.reject_code == -2015
    assert [e.to_status for e in order.events.all()] == [Status.UNKNOWN, Status.REJECTED]
    assert PaperOrder.objects.get(pk=working["id"]).status == Status.PENDING
    assert sent_client_ids(exchange) == ["before-revoke", "after-revoke"]
    assert len(exchange.created_orders()) == 1
