"""Webhook work for the Celery worker: record an event, then deliver it to each subscribed webhook with retries."""

from celery import shared_task

from . import services

# Seconds before each retry of a failed delivery: 6 retries over 1 h 51 min (7 attempts in all).
BACKOFF_SECONDS = (10, 60, 300, 900, 1800, 3600)


@shared_task
def emit_order_change(order_id: int, to_status: str, executed: str = "") -> None:
    _deliver_each(services.record_order_change(order_id=order_id, to_status=to_status, executed=executed))


@shared_task
def emit_run_status(run_pk: int, status: str) -> None:
    _deliver_each(services.record_run_status(run_pk=run_pk, status=status))


@shared_task
def emit_risk_event(risk_event_pk: int) -> None:
    _deliver_each(services.record_risk_event(risk_event_pk=risk_event_pk))


def _deliver_each(pairs: list[tuple[int, str]]) -> None:
    # One task per webhook, so a receiver that hangs delays only its own deliveries.
    for webhook_id, event_id in pairs:
        deliver_event.delay(webhook_id, event_id)


@shared_task(bind=True, max_retries=len(BACKOFF_SECONDS))
def deliver_event(self, webhook_id: int, event_id: str) -> None:
    attempt = self.request.retries + 1
    delivery = services.deliver_automatically(webhook_id=webhook_id, event_id=event_id, attempt=attempt)
    if delivery is not None and not delivery.succeeded and self.request.retries < self.max_retries:
        raise self.retry(countdown=BACKOFF_SECONDS[self.request.retries])
