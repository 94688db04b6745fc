"""Exactly once under faults (issue 4): every case ends, after sync, with one exchange order per local order, or
none and a rejected local order, no local order lost, and never a second POST for an order whose outcome was
unknown. Unit level, through the API, with the scriptable `Exchange` fake on `responses`.
"""

from decimal import Decimal

import pytest
import requests

from papertrading import services
from papertrading.balances import reserve_free_amount
from papertrading.binance import RateLimitState
from papertrading.errors import VenueUnavailable
from papertrading.models import OrderEvent, PaperOrder
from papertrading.tests.support import balances
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    ORDERS_URL,
    age,
    desk_fixture,
    exchange_fixture,
    limit_payload,
    market_payload,
    place,
    testnet_fixture,
)
from papertrading.venues.testnet import (
    NO_SUCH_ORDER_REASON,
    NOT_SENT_REASON,
    RESET_REASON,
    TestnetVenue,
    max_send_delay,
)

Status = PaperOrder.Status
pytestmark = pytest.mark.django_db


def assert_exactly_once(exchange) -> None:
    """One POST per local order (by the id the exchange knows it by) and a one-to-one match with the exchange's
    orders; an order that ended holds nothing of its account."""
    sent = [p["newClientOrderId"] for p in exchange.posts()]
    assert len(sent) == len(set(sent)), f"an order was sent twice: {sent}"
    local = {o.venue_order_ref: o for o in PaperOrder.objects.filter(is_external=False)}
    assert set(sent) <= set(local), "a POST without a local order"
    on_exchange = {o["clientOrderId"]: o for o in exchange.created_orders()}
    for client_id, order in local.items():
        if client_id in on_exchange:
            assert order.binance_order_id == on_exchange[client_id]["orderId"]
            assert order.status not in (Status.REJECTED, Status.UNKNOWN)
        else:
            assert order.status == Status.REJECTED, f"{client_id} is {order.status} but the exchange has no order"
        if order.status in PaperOrder.FINAL_STATUSES:
            assert order.locked_amount == 0


def test_accepted_then_timeout_stays_unknown_and_sync_adopts_the_fill(api, desk, exchange):
    # The exchange accepts and fills the MARKET order, but the answer never arrives.
    exchange.post_script.append((True, requests.ReadTimeout("read timed out")))

    response = place(api, market_payload(client_order_id="agent-run-7"))

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "UNKNOWN"
    assert response.json()["binance_order_id"] is None

    report = services.sync_orders()

    assert report.changed == {"filled": 1}  # counted under where it ended
    order = PaperOrder.objects.get()
    assert order.status == Status.FILLED
    assert order.binance_order_id == exchange.created_orders()[0]["orderId"]
    assert order.executed_quantity == Decimal("0.002")
    assert order.cumulative_quote_quantity == Decimal("136")
    assert [f.trade_id for f in order.fills.all()] == ["301"]
    [lookup] = exchange.calls("GET", "/api/v3/order")
    assert lookup["origClientOrderId"] == order.venue_order_ref and "orderId" not in lookup
    assert len(exchange.posts()) == 1
    assert services.sync_orders().changed == {}
    assert order.fills.count() == 1
    assert_exactly_once(exchange)


def test_5xx_then_exists_is_resolved_from_the_open_orders_list(api, desk, exchange):
    exchange.post_script.append((True, (503, {"code": -1000, "msg": "Service unavailable."})))

    response = place(api, limit_payload())

    assert response.status_code == 201
    assert response.json()["status"] == "UNKNOWN"

    report = services.sync_orders()

    assert report.changed == {"resolved": 1}
    order = PaperOrder.objects.get()
    assert order.status == Status.PENDING
    assert order.binance_order_id == exchange.created_orders()[0]["orderId"]
    # Found on the open list: no per-order query needed.
    assert exchange.calls("GET", "/api/v3/order") == []
    assert report.request_weight == 6
    assert list(order.events.values_list("from_status", "to_status", "source")) == [
        ("", "UNKNOWN", "api"),  # written, then sent
        ("UNKNOWN", "UNKNOWN", "api"),  # no usable answer: outcome unknown
        ("UNKNOWN", "PENDING", "sync"),
    ]
    assert "not resent" in order.events.all()[1].detail
    assert_exactly_once(exchange)


def test_5xx_then_absent_stays_unknown_until_the_recv_window_has_passed_then_is_rejected(api, desk, exchange):
    exchange.post_script.append((False, (500, {"code": -1000, "msg": "An unknown error occurred."})))
    place(api, limit_payload())

    early = services.sync_orders()

    order = PaperOrder.objects.get()
    assert order.status == Status.UNKNOWN, "-2013 inside the recvWindow proves nothing"
    assert early.changed == {"still_unknown": 1}

    age(order, seconds=10)
    late = services.sync_orders()

    order.refresh_from_db()
    assert late.changed == {"rejected": 1}
    assert order.status == Status.REJECTED
    assert order.reject_code == -2013
    assert order.reject_reason == NO_SUCH_ORDER_REASON
    assert order.events.last().to_status == Status.REJECTED and order.events.last().source == "sync"
    assert len(exchange.posts()) == 1
    assert exchange.created_orders() == []
    assert_exactly_once(exchange)


def test_unknown_order_without_a_record_of_its_send_waits_for_the_longest_possible_send(api, desk, exchange):
    # The placing process died after writing the row and its reservation: no record of when (or whether) the POST
    # left.
    assert reserve_free_amount(desk.pk, "USDT", Decimal("137.36"))
    order = PaperOrder.objects.create(account=desk, symbol="BTCUSDT", side="BUY", order_type="MARKET",
                                      quantity="0.002", status=Status.UNKNOWN, venue="testnet",
                                      client_order_id="orphan-1", locked_asset="USDT",
                                      locked_amount=Decimal("137.36"))  # fmt: skip
    bound = max_send_delay(TestnetVenue().client).total_seconds()

    age(order, seconds=bound - 10)
    assert services.sync_orders().changed == {"still_unknown": 1}
    assert balances(desk)["USDT"] == (Decimal("4862.64"), Decimal("137.36"))
    age(order, seconds=bound + 10)
    assert services.sync_orders().changed == {"rejected": 1}
    assert exchange.posts() == []
    assert balances(desk)["USDT"] == (Decimal("5000"), Decimal("0"))


def test_sync_while_the_post_is_in_flight_leaves_the_order_to_the_placing_request(api, desk, exchange):
    seen = {}
    original = exchange._post_order

    def post_during_sync(params):
        # A scheduled sync runs while our POST is on the wire: the exchange does not know the order yet.
        seen["report"] = services.sync_orders()
        return original(params)

    exchange.rsps.remove("POST", "https://testnet.binance.vision/api/v3/order")
    exchange.rsps.add_callback(
        "POST",
        "https://testnet.binance.vision/api/v3/order",
        callback=exchange._wrap("POST", "/api/v3/order", post_during_sync),
    )

    response = place(api, limit_payload())

    assert seen["report"].changed == {"still_unknown": 1}
    assert response.status_code == 201 and response.json()["status"] == "PENDING"
    assert_exactly_once(exchange)


def test_429_on_the_post_is_503_with_retry_after_and_the_next_attempt_succeeds(api, desk, exchange):
    body = {"code": -1015, "msg": "Too many new orders; current limit is 50 orders per 10 SECOND."}
    exchange.post_script.append((False, (429, body, {"Retry-After": "7"})))

    refused = place(api, limit_payload(client_order_id="first-try"))

    assert refused.status_code == 503
    assert refused["Retry-After"] == "7"
    first = PaperOrder.objects.get(client_order_id="first-try")
    assert first.status == Status.REJECTED and first.reject_reason.startswith("Not sent")

    # While the pause lasts, nothing is written and nothing is sent.
    paused = place(api, limit_payload(client_order_id="second-try"))
    assert paused.status_code == 503 and int(paused["Retry-After"]) >= 1
    assert not PaperOrder.objects.filter(client_order_id="second-try").exists()
    assert len(exchange.posts()) == 1

    RateLimitState().clear_pause()  # the Retry-After has passed
    accepted = place(api, limit_payload(client_order_id="second-try"))

    assert accepted.status_code == 201
    assert accepted.json()["status"] == "PENDING"
    services.sync_orders()
    assert len(exchange.posts()) == 2
    assert_exactly_once(exchange)


def test_429_on_a_read_before_the_post_writes_nothing(api, desk, exchange):
    exchange.read_failure["/api/v3/exchangeInfo"] = (429, {"code": -1003, "msg": "Too much request weight used"},
                                                     {"Retry-After": "30"})  # fmt: skip

    response = place(api, limit_payload())

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert not PaperOrder.objects.exists() and exchange.posts() == []


def test_clock_skew_then_success_places_exactly_one_order(api, desk, exchange):
    skew = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    exchange.post_script.append((False, (400, skew)))

    response = place(api, market_payload(client_order_id="skewed"))

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "FILLED"
    posts = exchange.posts()
    assert len(posts) == 2, "one refused by -1021 before the engine, one resend"
    assert {p["newClientOrderId"] for p in posts} == {PaperOrder.objects.get().venue_order_ref}
    # The offset was measured when the desk was opened; it is measured again after -1021.
    assert len(exchange.calls("GET", "/api/v3/time")) == 1
    assert len(exchange.created_orders()) == 1
    services.sync_orders()
    order = PaperOrder.objects.get()
    assert order.binance_order_id == exchange.created_orders()[0]["orderId"]


def test_418_ban_is_503_with_retry_after_and_nothing_is_sent(api, desk, exchange):
    working = place(api, limit_payload()).json()
    ban = {"code": -1003, "msg": "Way too much request weight used; IP banned until 1752999000000."}
    # The account's sync asks for each of its open orders.
    exchange.read_failure["/api/v3/order"] = (418, ban, {"Retry-After": "120"})

    first = api.post(f"{ORDERS_URL}/sync")

    assert first.status_code == 503
    assert 100 <= int(first["Retry-After"]) <= 120
    assert "banned" in first.json()["detail"]
    calls_after_ban = len(exchange.rsps.calls)

    # Every entry point that needs the exchange now answers 503 with Retry-After, without touching the exchange or
    # writing an order; the account's own balances still answer.
    for response in (
        place(api, limit_payload(client_order_id="during-ban")),
        api.post(f"{ORDERS_URL}/sync"),
        api.delete(f"{ORDERS_URL}/{working['id']}"),
    ):
        assert response.status_code == 503
        assert 100 <= int(response["Retry-After"]) <= 120
        assert "banned" in response.json()["detail"]
    assert api.get("/api/paper-trading/account").status_code == 200
    assert len(exchange.rsps.calls) == calls_after_ban
    assert not PaperOrder.objects.filter(client_order_id="during-ban").exists()
    assert PaperOrder.objects.get(pk=working["id"]).status == Status.PENDING
    assert len(exchange.posts()) == 1
    assert_exactly_once(exchange)


def test_418_answering_the_post_itself_closes_the_order_as_not_sent(api, desk, exchange):
    ban = {"code": -1003, "msg": "Way too much request weight used; IP banned until 1752999000000."}
    exchange.post_script.append((False, (418, ban, {"Retry-After": "120"})))

    response = place(api, limit_payload())

    assert response.status_code == 503 and response["Retry-After"]
    order = PaperOrder.objects.get()
    assert order.status == Status.REJECTED and "banned" in order.reject_reason
    assert_exactly_once(exchange)


def test_post_that_could_not_connect_is_rejected_as_not_sent_and_answers_503(api, desk, exchange):
    exchange.post_script.append((False, requests.ConnectionError(ConnectionRefusedError(111, "Connection refused"))))

    response = place(api, limit_payload())

    assert response.status_code == 503
    order = PaperOrder.objects.get()
    assert order.status == Status.REJECTED
    assert order.reject_reason == NOT_SENT_REASON
    assert (order.locked_amount, balances(desk)["USDT"]) == (0, (Decimal("5000"), Decimal("0")))
    services.sync_orders()
    assert_exactly_once(exchange)


def test_testnet_reset_closes_confirmed_orders_with_a_reason_and_resends_nothing(api, desk, exchange):
    ids = [place(api, limit_payload()).json()["id"] for _ in range(2)]
    exchange.post_script.append((False, requests.ReadTimeout()))
    unknown = place(api, limit_payload(client_order_id="in-flight")).json()["id"]
    exchange.orders.clear()  # the monthly wipe
    exchange.trades.clear()

    report = services.sync_orders()

    assert report.changed == {"reset_closed": 2, "still_unknown": 1}
    assert any("testnet reset" in note for note in report.notes)
    for pk in ids:
        order = PaperOrder.objects.get(pk=pk)
        assert order.status == Status.CANCELLED
        assert order.reject_reason == RESET_REASON
        event = order.events.last()
        assert (event.from_status, event.to_status, event.source) == ("PENDING", "CANCELLED", "sync")
        assert RESET_REASON in event.detail
    # The never-confirmed order follows the unknown-state rule, not the reset rule.
    assert PaperOrder.objects.get(pk=unknown).status == Status.UNKNOWN
    assert len(exchange.posts()) == 3
    assert PaperOrder.objects.count() == 3
    assert services.sync_orders().changed == {"still_unknown": 1}


def test_cancel_after_a_reset_closes_the_order_with_the_reset_reason(api, desk, exchange):
    pk = place(api, limit_payload()).json()["id"]
    exchange.orders.clear()

    response = api.delete(f"{ORDERS_URL}/{pk}")

    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    assert response.json()["reject_reason"] == RESET_REASON


def test_sync_during_an_outage_is_503_and_loses_nothing(api, desk, exchange):
    place(api, limit_payload())
    exchange.read_failure["/api/v3/order"] = (502, {"code": -1000, "msg": "Bad gateway"})
    exchange.read_failure["/api/v3/openOrders"] = (502, {"code": -1000, "msg": "Bad gateway"})

    account_sync = api.post(f"{ORDERS_URL}/sync")

    assert account_sync.status_code == 503
    assert len(exchange.calls("GET", "/api/v3/order")) == 3  # one try and two retries of an idempotent GET
    with pytest.raises(VenueUnavailable):
        services.sync_orders()
    assert len(exchange.calls("GET", "/api/v3/openOrders")) == 3
    assert PaperOrder.objects.get().status == Status.PENDING
    assert balances(desk)["USDT"] == (Decimal("4940"), Decimal("60"))


@pytest.mark.parametrize(
    "fault",
    [
        requests.ReadTimeout(),
        requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")),
        (500, {"code": -1000, "msg": "err"}),
        (503, "Service Unavailable"),
        (400, {"code": -1007, "msg": "Timeout waiting for response from backend server."}),
        (400, {"code": -1006, "msg": "An unexpected response was received."}),
    ],
    ids=["read-timeout", "reset", "500", "503-html", "-1007", "-1006"],
)
@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "absent"])
def test_every_unknown_outcome_converges_to_exactly_once_after_sync(api, desk, exchange, fault, accepted):
    exchange.post_script.append((accepted, fault))

    response = place(api, limit_payload())

    assert response.status_code == 201
    assert response.json()["status"] == "UNKNOWN"
    age(PaperOrder.objects.get(), seconds=10)
    services.sync_orders()
    order = PaperOrder.objects.get()
    assert order.status == (Status.PENDING if accepted else Status.REJECTED)
    assert len(exchange.posts()) == 1
    assert_exactly_once(exchange)


def test_sync_event_sources_are_recorded(api, desk, exchange):
    exchange.post_script.append((True, requests.ReadTimeout()))
    place(api, market_payload())
    api.post(f"{ORDERS_URL}/sync")
    assert OrderEvent.objects.filter(to_status=Status.FILLED, source="api").count() == 1
