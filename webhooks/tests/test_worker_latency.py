"""With the worker running (a real Celery worker on Redis, PostgreSQL), a fill's first webhook attempt starts within
2 seconds of the fill. Needs the services test_celery_worker.py needs; skipped without them, except in CI."""

import json
import time
from decimal import Decimal

import pytest

from config.celery import app
from papertrading import services
from papertrading.tests.test_celery_worker import requires_services, standin, worker  # noqa: F401 - fixtures
from webhooks.models import WebhookDelivery
from webhooks.services import create_webhook

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_takes_default_queue(worker):  # noqa: F811
    """Tasks queued by this process (on commit, as in production) go to the test worker's queue."""
    before = app.conf.task_default_queue
    app.conf.task_default_queue = worker
    yield
    app.conf.task_default_queue = before


def test_a_fills_first_delivery_starts_within_two_seconds(worker_takes_default_queue, receiver, market, account):
    hook = receiver()
    create_webhook(account=account, url=hook.url, events=["order.filled"])

    delays = []
    for attempt in range(6):
        count = len(hook.received)
        order = services.place_order(
            account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=Decimal("0.001")
        ).order
        filled = time.time()
        # The first order waits for the worker to have started; the next five are timed.
        deadline = time.monotonic() + (60 if attempt == 0 else 10)
        while len(hook.received) == count and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(hook.received) == count + 1, "no delivery within 10 s"
        arrived = time.time()
        headers, body = hook.received[-1]
        sent = json.loads(body)
        assert (sent["type"], sent["data"]["id"], sent["data"]["status"]) == ("order.filled", order.pk, "FILLED")
        if attempt:
            delays.append(arrived - filled)

    assert max(delays) < 2.0, delays
    # Each attempt is recorded once the receiver has answered.
    deadline = time.monotonic() + 10
    while WebhookDelivery.objects.filter(succeeded=True).count() < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert WebhookDelivery.objects.filter(succeeded=True).count() == 6
    print("first delivery after the fill, s:", [round(d, 3) for d in delays])
