"""The webhooks API: register (secret once), list, change, delete, test ping, deliveries and redelivery; all of
it scoped to the request's account."""

import json

import pytest
from rest_framework.test import APIClient

from papertrading.accounts import issue_api_key
from webhooks.models import Webhook, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/webhooks"


def register(api, url, events=("order.filled",)):
    response = api.post(WEBHOOKS, {"url": url, "events": list(events)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_shows_the_secret_once(api, account):
    created = register(api, "https://hooks.example.com/paper", ["order.filled", "order.cancelled"])

    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    webhook = Webhook.objects.get(pk=created["id"])
    assert webhook.account == account and webhook.secret == created["secret"]
    assert webhook.events == ["order.filled", "order.cancelled"]
    listed = api.get(WEBHOOKS).json()
    assert [row["id"] for row in listed["results"]] == [created["id"]]
    assert "secret" not in listed["results"][0]
    assert "secret" not in api.get(f"{WEBHOOKS}/{created['id']}").json()
    assert created["secret"] not in api.get(f"{WEBHOOKS}/{created['id']}").content.decode()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "https://hooks.example.com", "events": []}, "events"),
        ({"url": "https://hooks.example.com", "events": ["order.exploded"]}, "events"),
        ({"url": "ftp://hooks.example.com/x", "events": ["order.filled"]}, "url"),
        ({"url": "not a url", "events": ["order.filled"]}, "url"),
        ({"events": ["order.filled"]}, "url"),
    ],
)
def test_invalid_input_answers_400_and_stores_nothing(api, body, field):
    response = api.post(WEBHOOKS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Webhook.objects.count() == 0


def test_update_and_delete(api):
    created = register(api, "https://hooks.example.com/a")

    changed = api.patch(f"{WEBHOOKS}/{created['id']}", {"events": ["run.failed"], "is_active": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["events"] == ["run.failed"] and changed.json()["is_active"] is False
    webhook = Webhook.objects.get(pk=created["id"])
    assert webhook.url == "https://hooks.example.com/a" and webhook.secret == created["secret"]

    assert api.delete(f"{WEBHOOKS}/{created['id']}").status_code == 204
    assert not Webhook.objects.exists()


def test_another_accounts_webhook_answers_404(api, rival_api, rival_account):
    created = register(api, "https://hooks.example.com/a")
    url = f"{WEBHOOKS}/{created['id']}"

    assert rival_api.get(url).status_code == 404
    assert rival_api.patch(url, {"is_active": False}, format="json").status_code == 404
    assert rival_api.delete(url).status_code == 404
    assert rival_api.post(f"{url}/test").status_code == 404
    assert rival_api.get(f"{url}/deliveries").status_code == 404
    assert rival_api.get(WEBHOOKS).json()["results"] == []
    assert Webhook.objects.get(pk=created["id"]).is_active


def test_an_account_key_may_not_register_or_change_a_webhook(api, account):
    created = register(api, "https://hooks.example.com/a")
    as_key = APIClient()
    as_key.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_key(account, name='bot').raw}")

    refused = as_key.post(WEBHOOKS, {"url": "https://evil.example.com", "events": ["order.filled"]}, format="json")
    assert refused.status_code == 403
    assert (
        as_key.patch(f"{WEBHOOKS}/{created['id']}", {"url": "https://evil.example.com"}, format="json").status_code
        == 403
    )
    assert list(Webhook.objects.values_list("url", flat=True)) == ["https://hooks.example.com/a"]
    assert as_key.get(WEBHOOKS).json()["results"][0]["id"] == created["id"]


def test_test_ping_is_delivered_and_listed(api, account, receiver):
    server = receiver()
    created = register(api, server.url)

    response = api.post(f"{WEBHOOKS}/{created['id']}/test")

    assert response.status_code == 200, response.content
    assert response.json()["succeeded"] is True and response.json()["status_code"] == 200
    assert response.json()["trigger"] == "test" and response.json()["event_type"] == "ping"
    assert len(server.received) == 1
    assert json.loads(server.received[0][1])["type"] == "ping"
    deliveries = api.get(f"{WEBHOOKS}/{created['id']}/deliveries").json()["results"]
    assert [d["id"] for d in deliveries] == [response.json()["id"]]
    assert deliveries[0]["response_excerpt"] == "ok" and deliveries[0]["latency_ms"] is not None


def test_redeliver_sends_the_same_event_again(api, account, receiver):
    server = receiver(answers=[(500, "x" * 2000, {})])
    created = register(api, server.url)
    event = WebhookEvent.objects.create(account=account, type="order.filled", data={"id": 1})
    from webhooks.services import deliver

    failed = deliver(webhook=Webhook.objects.get(pk=created["id"]), event=event, trigger="automatic")
    assert not failed.succeeded and failed.status_code == 500 and len(failed.response_excerpt) == 500

    response = api.post(f"{WEBHOOKS}/{created['id']}/deliveries/{failed.pk}/redeliver")

    assert response.status_code == 200, response.content
    assert response.json()["succeeded"] is True and response.json()["trigger"] == "redeliver"
    first, second = (json.loads(body) for _, body in server.received)
    assert first == second and first["id"] == event.pk
    assert WebhookDelivery.objects.filter(event=event).count() == 2


def test_redeliver_of_another_webhooks_delivery_answers_404(api, account, rival_api, rival_account):
    mine = Webhook.objects.create(account=account, url="https://hooks.example.com/a", events=["order.filled"])
    theirs = Webhook.objects.create(account=rival_account, url="https://hooks.example.com/b", events=["order.filled"])
    event = WebhookEvent.objects.create(account=rival_account, type="order.filled", data={})
    delivery = WebhookDelivery.objects.create(webhook=theirs, event=event, status_code=500)

    assert api.post(f"{WEBHOOKS}/{mine.pk}/deliveries/{delivery.pk}/redeliver").status_code == 404
    assert api.post(f"{WEBHOOKS}/{theirs.pk}/deliveries/{delivery.pk}/redeliver").status_code == 404
    assert WebhookDelivery.objects.count() == 1


def test_admin_lists_attempts_and_redelivers(account, receiver, django_user_model):
    from django.test import Client

    server = receiver()
    webhook = Webhook.objects.create(account=account, url=server.url, events=["order.filled"])
    event = WebhookEvent.objects.create(account=account, type="order.filled", data={"id": 1})
    delivery = WebhookDelivery.objects.create(webhook=webhook, event=event, status_code=500, error="", latency_ms=12)
    admin = django_user_model.objects.create_superuser("root", password="pw-root")
    client = Client()
    client.force_login(admin)

    page = client.get("/admin/webhooks/webhookdelivery/")
    assert page.status_code == 200 and event.pk in page.content.decode()
    assert webhook.secret not in client.get(f"/admin/webhooks/webhook/{webhook.pk}/change/").content.decode()
    client.post(
        "/admin/webhooks/webhookdelivery/", {"action": "redeliver", "_selected_action": [delivery.pk]}, follow=True
    )

    assert len(server.received) == 1
    assert WebhookDelivery.objects.filter(event=event, trigger="redeliver", succeeded=True).count() == 1
