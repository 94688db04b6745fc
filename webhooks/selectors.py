from django.db.models import QuerySet

from papertrading.models import Account

from .models import Webhook, WebhookDelivery


def webhook_list(account: Account) -> QuerySet[Webhook]:
    return Webhook.objects.filter(account=account).order_by("-created_at", "-id")


def has_active_webhooks(account_id: int) -> bool:
    return Webhook.objects.filter(account_id=account_id, is_active=True).exists()


def delivery_list(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook=webhook).select_related("event").order_by("-created_at", "-id")


def subscribed_webhooks(account_id: int, event_type: str) -> list[Webhook]:
    # An account has a handful of webhooks: filtering the subscription in Python keeps the query portable.
    return [
        webhook
        for webhook in Webhook.objects.filter(account_id=account_id, is_active=True)
        if webhook.wants(event_type)
    ]
