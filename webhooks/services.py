"""Webhooks: registering them, recording events, and delivering an event (one HTTP attempt, recorded).

Nothing here runs inside an order's transaction: the receivers queue a task on commit, and the task records the
event and queues one delivery per subscribed webhook. The secret is never logged.
"""

import json
import logging
import time

import requests
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from analysis.models import AnalysisRun
from papertrading import selectors as orders
from papertrading.api.serializers import OrderDetailSerializer
from papertrading.models import Account, PaperOrder, RiskEvent

from . import selectors
from .destinations import UnsafeDestination, check_destination
from .models import PING, EventType, Webhook, WebhookDelivery, WebhookEvent
from .signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
EXCERPT_CHARS = 500

ORDER_EVENT_TYPES = {
    PaperOrder.Status.PENDING: EventType.ORDER_NEW,
    PaperOrder.Status.PARTIALLY_FILLED: EventType.ORDER_PARTIALLY_FILLED,
    PaperOrder.Status.FILLED: EventType.ORDER_FILLED,
    PaperOrder.Status.CANCELLED: EventType.ORDER_CANCELLED,
    PaperOrder.Status.EXPIRED: EventType.ORDER_EXPIRED,
    PaperOrder.Status.REJECTED: EventType.ORDER_REJECTED,
}
RUN_EVENT_TYPES = {AnalysisRun.Status.EXECUTED: EventType.RUN_EXECUTED, AnalysisRun.Status.FAILED: EventType.RUN_FAILED}
RISK_EVENT_TYPES = {RiskEvent.Kind.REFUSED: EventType.RISK_REFUSED, RiskEvent.Kind.HALTED: EventType.ACCOUNT_HALTED}


# --- registering --------------------------------------------------------------------------------------------------


def create_webhook(
    *, account: Account, url: str, events: list[str], is_active: bool = True, actor: str = ""
) -> Webhook:
    check_destination(url)
    return Webhook.objects.create(account=account, url=url, events=events, is_active=is_active, created_by=actor)


def update_webhook(*, webhook: Webhook, **fields) -> Webhook:
    if "url" in fields:
        check_destination(fields["url"])
    for name, value in fields.items():
        setattr(webhook, name, value)
    webhook.save(update_fields=[*fields, "updated_at"])
    return webhook


def delete_webhook(*, webhook: Webhook) -> None:
    webhook.delete()


# --- recording events -------------------------------------------------------------------------------------------


def record_order_change(*, order_id: int, to_status: str, executed: str = "") -> list[tuple[int, str]]:
    """Record the event of an order reaching `to_status` (or, with `executed`, of a further fill that left it
    there, up to that executed quantity); the (webhook id, event id) pairs to deliver."""
    event_type = ORDER_EVENT_TYPES.get(to_status)
    order = PaperOrder.objects.filter(pk=order_id).only("account_id").first()
    if event_type is None or order is None:
        return []

    def data():
        return OrderDetailSerializer(orders.with_history(PaperOrder.objects.get(pk=order_id))).data

    source_key = f"order:{order_id}:{to_status}" + (f":{executed}" if executed else "")
    return _record(order.account_id, event_type, data, source_key=source_key)


def record_run_status(*, run_pk: int, status: str) -> list[tuple[int, str]]:
    event_type = RUN_EVENT_TYPES.get(status)
    run = AnalysisRun.objects.filter(pk=run_pk).first()
    if event_type is None or run is None:
        return []

    def data():
        return {
            "run_id": str(run.run_id),
            "agent": run.agent,
            "symbol": run.symbol,
            "decision": run.decision,
            "quantity": run.quantity,
            "status": status,
            "error_code": run.error_code,
            "reason": run.reason,
            "created_at": run.created_at,
        }

    return _record(run.account_id, event_type, data, source_key=f"run:{run_pk}:{status}")


def record_risk_event(*, risk_event_pk: int) -> list[tuple[int, str]]:
    risk_event = RiskEvent.objects.filter(pk=risk_event_pk).first()
    event_type = RISK_EVENT_TYPES.get(risk_event.kind) if risk_event else None
    if event_type is None:
        return []

    def data():
        fields = ["kind", "limit", "limit_value", "value", "detail", "order", "source", "actor", "created_at"]
        return {"risk_event": risk_event.pk, **{name: getattr(risk_event, name) for name in fields}}

    return _record(risk_event.account_id, event_type, data, source_key=f"risk:{risk_event_pk}")


def _record(account_id: int, event_type: str, data, *, source_key: str) -> list[tuple[int, str]]:
    webhooks = selectors.subscribed_webhooks(account_id, event_type)
    if not webhooks:
        return []  # nobody listens: no event row
    event = WebhookEvent.objects.filter(account_id=account_id, source_key=source_key).first()
    if event is None:
        try:
            with transaction.atomic():
                event = WebhookEvent.objects.create(
                    account_id=account_id, type=event_type, data=_plain(data()), source_key=source_key
                )
        except IntegrityError:  # the same task ran twice at once: keep the first event
            event = WebhookEvent.objects.get(account_id=account_id, source_key=source_key)
    return [(webhook.pk, event.pk) for webhook in webhooks]


def _plain(data) -> dict:
    """Decimals, datetimes and UUIDs as the API writes them (strings)."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


# --- delivering -------------------------------------------------------------------------------------------------


def deliver_automatically(*, webhook_id: int, event_id: str, attempt: int) -> WebhookDelivery | None:
    """One automatic attempt; None when there is nothing to do (the webhook is gone or paused, or a redelivery
    already got the event through)."""
    webhook = Webhook.objects.filter(pk=webhook_id, is_active=True).first()
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if webhook is None or event is None:
        return None
    if webhook.deliveries.filter(event=event, succeeded=True).exists():
        return None
    return deliver(webhook=webhook, event=event, trigger=WebhookDelivery.Trigger.AUTOMATIC, attempt=attempt)


def send_test_ping(*, webhook: Webhook) -> WebhookDelivery:
    event = WebhookEvent.objects.create(account_id=webhook.account_id, type=PING, data={"webhook": webhook.pk})
    return deliver(webhook=webhook, event=event, trigger=WebhookDelivery.Trigger.TEST)


def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event again (the same body: same `id`, `type`, `data`), once, now."""
    return deliver(webhook=delivery.webhook, event=delivery.event, trigger=WebhookDelivery.Trigger.REDELIVER)


def deliver(*, webhook: Webhook, event: WebhookEvent, trigger: str, attempt: int = 1) -> WebhookDelivery:
    """POST the event to the webhook once, signed, and record the attempt."""
    delivery = WebhookDelivery(webhook=webhook, event=event, trigger=trigger, attempt=attempt)
    try:
        check_destination(webhook.url)  # again: what the host resolves to may have changed since registration
    except UnsafeDestination as refused:
        delivery.error = str(refused)[:EXCERPT_CHARS]
        delivery.save()
        return delivery
    body = json.dumps(event.body(), cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "paper-trading-desk-webhooks/1.0",
        "X-Paper-Event": event.type,
        "X-Paper-Event-Id": event.pk,
        SIGNATURE_HEADER: signature_header(webhook.secret, body, int(time.time())),
    }
    started = time.monotonic()
    try:
        _post(webhook.url, body, headers, delivery)
    except requests.Timeout:
        delivery.error = f"No answer within {TIMEOUT_SECONDS} s."
    except requests.RequestException as failed:
        delivery.error = f"{type(failed).__name__}: {failed}"[:EXCERPT_CHARS]
    delivery.latency_ms = round((time.monotonic() - started) * 1000)
    delivery.save()
    if not delivery.succeeded:
        logger.info(
            "Webhook %s: event %s not delivered: %s", webhook.pk, event.pk, delivery.status_code or delivery.error
        )
    return delivery


def _post(url: str, body: bytes, headers: dict, delivery: WebhookDelivery) -> None:
    with requests.Session() as session:
        # Straight to the address just checked: no proxy from the environment, no redirect to somewhere else.
        session.trust_env = False
        with session.post(
            url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False, stream=True
        ) as response:
            delivery.status_code = response.status_code
            excerpt = response.raw.read(EXCERPT_CHARS * 4, decode_content=True) or b""
    delivery.response_excerpt = excerpt.decode("utf-8", "replace")[:EXCERPT_CHARS]
    delivery.succeeded = 200 <= response.status_code < 300
    if 300 <= response.status_code < 400:
        delivery.error = f"Redirect to {response.headers.get('Location', '?')} not followed."[:EXCERPT_CHARS]
