"""The signature of a delivery checks out with an implementation written apart from ours (the `cryptography`
package's HMAC, and the README's snippet), and a stale or altered delivery does not."""

import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from webhooks import services
from webhooks.models import Webhook, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db


def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """The README's verification snippet, as a receiver would write it."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False  # a replay, or a clock badly off
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def crypto_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = crypto_hmac.HMAC(secret.encode(), hashes.SHA256())
    mac.update(timestamp.encode() + b"." + body)
    return mac.finalize().hex()


@pytest.fixture
def delivered(account, receiver):
    server = receiver()
    webhook = Webhook.objects.create(account=account, url=server.url, events=["order.filled"])
    event = WebhookEvent.objects.create(account=account, type="order.filled", data={"id": 7, "status": "FILLED"})
    delivery = services.deliver(webhook=webhook, event=event, trigger=WebhookDelivery.Trigger.AUTOMATIC)
    assert delivery.succeeded, delivery.error
    headers, body = server.received[0]
    return webhook, event, headers, body


def test_signature_matches_an_independent_hmac(delivered):
    webhook, event, headers, body = delivered
    parts = dict(item.split("=", 1) for item in headers["X-Paper-Signature"].split(","))

    assert set(parts) == {"t", "v1"}
    assert abs(int(parts["t"]) - time.time()) < 10
    assert parts["v1"] == crypto_signature(webhook.secret, parts["t"], body)
    assert verify(webhook.secret, body, headers["X-Paper-Signature"])


def test_body_is_the_event_with_its_stable_id(delivered, account):
    webhook, event, headers, body = delivered

    assert json.loads(body) == {
        "id": event.pk,
        "type": "order.filled",
        "created": event.created_at.isoformat().replace("+00:00", "Z"),
        "account": account.pk,
        "data": {"id": 7, "status": "FILLED"},
    }
    assert event.pk.startswith("evt_")
    assert headers["X-Paper-Event-Id"] == event.pk
    assert headers["Content-Type"] == "application/json"


def test_altered_body_other_secret_or_old_timestamp_fail_verification(delivered):
    webhook, event, headers, body = delivered
    header = headers["X-Paper-Signature"]

    assert not verify(webhook.secret, body.replace(b"FILLED", b"CANCELLED"), header)
    assert not verify("whsec_someone-else", body, header)
    six_minutes_ago = int(time.time()) - 360
    replayed = f"t={six_minutes_ago},v1={crypto_signature(webhook.secret, str(six_minutes_ago), body)}"
    assert not verify(webhook.secret, body, replayed)
