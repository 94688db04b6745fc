"""Events from orders, runs and risk limits reach the subscribed webhooks through the worker: one task per change
queued on commit (never in the request path), retries with backoff, and a hanging receiver slows nothing."""

import json
import time
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.services import submit_decision
from papertrading.models import Account, PaperOrder
from webhooks import tasks
from webhooks.models import Webhook, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db

ORDERS = "/api/paper-trading/orders"
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"}
LIMIT_BUY = {**MARKET_BUY, "order_type": "LIMIT", "price": "60000", "time_in_force": "GTC"}
EVERY_ORDER_EVENT = ["order.new", "order.filled", "order.cancelled", "order.rejected", "order.expired"]


@pytest.fixture
def queued(monkeypatch):
    """The tasks queued, by name, instead of sent to the broker."""
    calls = []

    def recorder(name):
        return lambda *args: calls.append((name, args))

    for task in (tasks.emit_order_change, tasks.emit_run_status, tasks.emit_risk_event, tasks.deliver_event):
        monkeypatch.setattr(task, "delay", recorder(task.name.rsplit(".", 1)[1]))
    return calls


@pytest.fixture
def countdowns(monkeypatch):
    """The countdown of every retry the delivery task schedules (the eager worker then runs it at once)."""
    seen = []
    original = tasks.deliver_event.retry

    def retry(*args, countdown=None, **kwargs):
        seen.append(countdown)
        return original(*args, countdown=countdown, **kwargs)

    monkeypatch.setattr(tasks.deliver_event, "retry", retry)
    return seen


def subscribe(account, url, events=EVERY_ORDER_EVENT):
    return Webhook.objects.create(account=account, url=url, events=list(events))


def test_an_order_change_queues_one_task_on_commit(api, account, market, queued, django_capture_on_commit_callbacks):
    subscribe(account, "https://hooks.example.com/a")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        limit = api.post(ORDERS, LIMIT_BUY, format="json").json()
        filled = api.post(ORDERS, MARKET_BUY, format="json").json()
        assert queued == []  # nothing before the transaction commits

    assert len(callbacks) == 2
    assert queued == [("emit_order_change", (limit["id"], "PENDING")), ("emit_order_change", (filled["id"], "FILLED"))]


def test_an_account_without_an_active_webhook_queues_nothing(
    api, account, rival_account, market, queued, django_capture_on_commit_callbacks
):
    subscribe(rival_account, "https://hooks.example.com/theirs")
    Webhook.objects.create(
        account=account, url="https://hooks.example.com/paused", events=["order.filled"], is_active=False
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(ORDERS, MARKET_BUY, format="json").status_code == 201

    assert queued == []


def test_order_create_statements_do_not_grow_with_a_webhook(api, account, market):
    api.post(ORDERS, MARKET_BUY, format="json")  # warm up: the account, permissions, the position

    def statements():
        with CaptureQueriesContext(connection) as captured:
            assert api.post(ORDERS, MARKET_BUY, format="json").status_code == 201
        return len(captured)

    without = statements()
    subscribe(account, "https://hooks.example.com/a")
    assert statements() == without


def test_a_fill_is_delivered_with_the_order_as_data(
    api, account, market, receiver, eager, django_capture_on_commit_callbacks
):
    server = receiver()
    webhook = subscribe(account, server.url, ["order.filled"])

    with django_capture_on_commit_callbacks(execute=True):
        order = api.post(ORDERS, MARKET_BUY, format="json").json()

    assert len(server.received) == 1
    body = json.loads(server.received[0][1])
    assert body["type"] == "order.filled" and body["account"] == account.pk
    assert body["data"]["id"] == order["id"] and body["data"]["status"] == "FILLED"
    assert body["data"]["fills"] and body["data"]["executed_quantity"] == "0.01000000"
    delivery = WebhookDelivery.objects.get()
    assert delivery.webhook == webhook and delivery.succeeded and delivery.attempt == 1
    assert delivery.event_id == body["id"]


def test_unsubscribed_events_and_other_accounts_get_nothing(
    api, account, rival_account, market, receiver, eager, django_capture_on_commit_callbacks
):
    mine, theirs = receiver(), receiver()
    subscribe(account, mine.url, ["order.cancelled"])
    subscribe(rival_account, theirs.url, EVERY_ORDER_EVENT)
    Webhook.objects.create(account=account, url=theirs.url, events=["order.filled"], is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        api.post(ORDERS, MARKET_BUY, format="json")

    assert mine.received == [] and theirs.received == []
    assert not WebhookEvent.objects.exists()  # nobody listened: no event recorded


def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt(
    account, market, receiver, eager, countdowns
):
    server = receiver(answers=[(500, "down", {}), (503, "still down", {}), (404, "?", {})])
    webhook = subscribe(account, server.url, ["order.new"])
    order = PaperOrder.objects.create(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.01"),
        price=D("60000"),
        time_in_force="GTC",
        venue="simulation",
        client_order_id="retry-me",
    )

    tasks.emit_order_change.delay(order.pk, "PENDING")

    attempts = list(WebhookDelivery.objects.filter(webhook=webhook).order_by("attempt"))
    assert [(d.attempt, d.status_code, d.succeeded) for d in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 404, False),
        (4, 200, True),
    ]
    assert countdowns == [10, 60, 300]
    ids = {json.loads(body)["id"] for _, body in server.received}
    assert len(server.received) == 4 and len(ids) == 1  # the same event each time: receivers deduplicate by id


def test_retries_last_six_times_over_more_than_an_hour(account, receiver, eager, countdowns):
    server = receiver(answers=[(500, "down", {})] * 10)
    webhook = subscribe(account, server.url, ["order.new"])
    event = WebhookEvent.objects.create(account=account, type="order.new", data={})

    tasks.deliver_event.delay(webhook.pk, event.pk)

    assert countdowns == [10, 60, 300, 900, 1800, 3600]
    assert sum(countdowns) >= 3600
    assert WebhookDelivery.objects.filter(webhook=webhook, succeeded=False).count() == 7
    assert len(server.received) == 7


def test_a_delivery_already_redelivered_or_to_a_deleted_webhook_is_not_retried(account, receiver, eager):
    server = receiver()
    webhook = subscribe(account, server.url, ["order.new"])
    event = WebhookEvent.objects.create(account=account, type="order.new", data={})
    WebhookDelivery.objects.create(webhook=webhook, event=event, succeeded=True, status_code=200, trigger="redeliver")

    tasks.deliver_event.delay(webhook.pk, event.pk)
    webhook.delete()
    tasks.deliver_event.delay(webhook.pk, event.pk)

    assert server.received == []


def test_the_same_change_twice_records_one_event(account, market, queued):
    webhook = subscribe(account, "https://hooks.example.com/a", ["order.new"])
    order = PaperOrder.objects.create(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.01"),
        price=D("60000"),
        time_in_force="GTC",
        venue="simulation",
        client_order_id="twice",
    )

    tasks.emit_order_change.run(order.pk, "PENDING")
    tasks.emit_order_change.run(order.pk, "PENDING")

    event = WebhookEvent.objects.get()
    assert queued == [("deliver_event", (webhook.pk, event.pk))] * 2


def test_a_hanging_receiver_does_not_slow_placing_orders(
    api, account, market, receiver, queued, django_capture_on_commit_callbacks
):
    server = receiver(delay=10)
    webhook = subscribe(account, server.url, EVERY_ORDER_EVENT)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(20):
            assert api.post(ORDERS, MARKET_BUY, format="json").status_code == 201

    assert server.received == []  # no HTTP call in the request path
    assert [name for name, _ in queued] == ["emit_order_change"] * 20
    # The worker's attempt gives up after 5 s and records why.
    order_id, status = queued[0][1]
    event = WebhookEvent.objects.create(account=account, type="order.filled", data={"id": order_id})
    from webhooks.services import deliver

    started = time.monotonic()
    delivery = deliver(webhook=webhook, event=event, trigger="automatic")
    assert 4.5 < time.monotonic() - started < 8
    assert not delivery.succeeded and delivery.status_code is None
    assert delivery.error == "No answer within 5 s." and delivery.latency_ms >= 4500
    assert len(server.received) == 1


def test_run_and_risk_events_are_delivered(api, account, market, receiver, eager, django_capture_on_commit_callbacks):
    server = receiver()
    subscribe(account, server.url, ["run.executed", "run.failed", "risk.refused", "account.halted"])
    Account.objects.filter(pk=account.pk).update(max_order_notional=D("100"))

    with django_capture_on_commit_callbacks(execute=True):
        submit_decision(account=account, agent="bot", symbol="BTCUSDT", decision="BUY", quantity=D("0.001"))
        refused = api.post(ORDERS, MARKET_BUY, format="json")
    assert refused.status_code == 400, refused.content
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/accounts/{account.pk}/halt", {"reason": "enough"}, format="json")

    types = [json.loads(body)["type"] for _, body in server.received]
    assert types == ["run.executed", "risk.refused", "account.halted"]
    refusal = json.loads(server.received[1][1])["data"]
    assert refusal["limit"] == "max_order_notional" and refusal["kind"] == "refused"
    run = json.loads(server.received[0][1])["data"]
    assert run["agent"] == "bot" and run["status"] == "executed"


def test_each_further_fill_of_a_partly_filled_order_is_an_event_of_its_own(
    api, account, market, queued, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from papertrading.venues.base import ExecutionReport, FillReport
    from papertrading.venues.recording import apply_report

    subscribe(account, "https://hooks.example.com/a", ["order.partially_filled", "order.filled"])
    order = PaperOrder.objects.get(pk=api.post(ORDERS, LIMIT_BUY, format="json").json()["id"])

    def fill(quantity: str, total: str, status: str, trade: str) -> None:
        # As a venue reports fills of a resting order: the row locked, each fill with its trade id.
        with transaction.atomic():
            locked = PaperOrder.objects.select_for_update().get(pk=order.pk)
            report = ExecutionReport(
                status=status, executed_quantity=D(total), cumulative_quote_quantity=D(total) * 60000,
                fills=[FillReport(D("60000"), D(quantity), D("0"), "BTC", trade_id=trade)],
            )  # fmt: skip
            apply_report(locked, report, source="sync")

    with django_capture_on_commit_callbacks(execute=True):
        fill("0.002", "0.002", "PARTIALLY_FILLED", "t1")
        fill("0.003", "0.005", "PARTIALLY_FILLED", "t2")
        fill("0.003", "0.005", "PARTIALLY_FILLED", "t2")  # the same trade again: nothing new, no event
        fill("0.005", "0.01", "FILLED", "t3")

    assert queued == [
        ("emit_order_change", (order.pk, "PARTIALLY_FILLED")),
        ("emit_order_change", (order.pk, "PARTIALLY_FILLED", "0.005")),
        ("emit_order_change", (order.pk, "FILLED")),
    ]
    queued.clear()
    tasks.emit_order_change.run(order.pk, "PARTIALLY_FILLED")
    tasks.emit_order_change.run(order.pk, "PARTIALLY_FILLED", "0.005")
    tasks.emit_order_change.run(order.pk, "PARTIALLY_FILLED", "0.005")  # a task run twice records once
    assert WebhookEvent.objects.filter(type="order.partially_filled").count() == 2
