"""Webhooks of an account, the events they are told about, and every attempt to deliver one."""

import secrets

from django.db import models
from django.db.models import Q

from papertrading.models import Account


class EventType(models.TextChoices):
    ORDER_NEW = "order.new", "Order accepted, working"
    ORDER_PARTIALLY_FILLED = "order.partially_filled", "Order partially filled"
    ORDER_FILLED = "order.filled", "Order filled"
    ORDER_CANCELLED = "order.cancelled", "Order cancelled"
    ORDER_EXPIRED = "order.expired", "Order expired"
    ORDER_REJECTED = "order.rejected", "Order rejected"
    RUN_EXECUTED = "run.executed", "Analysis run executed"
    RUN_FAILED = "run.failed", "Analysis run failed"
    RISK_REFUSED = "risk.refused", "Order refused by a risk limit"
    ACCOUNT_HALTED = "account.halted", "Account halted"


# Sent by `POST /api/webhooks/{id}/test` only; nobody subscribes to it.
PING = "ping"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def new_event_id() -> str:
    return "evt_" + secrets.token_urlsafe(18)


class Webhook(models.Model):
    """A URL of the account's that is sent the events it subscribed to, signed with its secret.

    The secret is stored as is (it must be readable to sign); it is shown once, in the answer that creates the
    webhook, and never returned or logged again.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=80, default=new_secret, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.is_active and event_type in self.events


class WebhookEvent(models.Model):
    """Something that happened to an account, with the body every delivery of it sends (so a redelivery sends the
    same `id` and `data`, and receivers can deduplicate)."""

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    # What the event is about ("order:12:FILLED"), so a task that runs twice records the event once.
    source_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "source_key"], condition=~Q(source_key=""), name="webhook_event_source_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    def body(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "created": self.created_at.isoformat().replace("+00:00", "Z"),
            "account": self.account_id,
            "data": self.data,
        }


class WebhookDelivery(models.Model):
    """One attempt to deliver an event to a webhook: what it answered (or why it did not), and how long it took."""

    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic (with retries)"
        REDELIVER = "redeliver", "Redelivered on request"
        TEST = "test", "Test ping"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.AUTOMATIC)
    # 1 for the first automatic attempt, 2 for its first retry, ...; a redelivery or test is attempt 1 of its own.
    attempt = models.PositiveSmallIntegerField(default=1)
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The deliveries list of a webhook, newest first.
        indexes = [models.Index(fields=["webhook", "-created_at"], name="webhook_delivery_list_idx")]

    def __str__(self) -> str:
        outcome = self.status_code or self.error[:30] or "—"
        return f"{self.event_id} → {self.webhook_id}: {outcome}"
