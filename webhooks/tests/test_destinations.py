"""SSRF: with WEBHOOK_ALLOW_PRIVATE off, a webhook to a private, loopback, link-local or reserved address is
refused at registration (400 on `url`) and again at send time (DNS may change); redirects are never followed."""

import socket

import pytest

from webhooks import services
from webhooks.models import Webhook, WebhookEvent

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/webhooks"


def resolve_to(monkeypatch, address: str):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def getaddrinfo(host, port, *args, **kwargs):
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://240.0.0.1/hook",
    ],
)
def test_private_destinations_are_refused_at_registration(api, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    response = api.post(WEBHOOKS, {"url": url, "events": ["order.filled"]}, format="json")

    assert response.status_code == 400, response.content
    assert "public addresses" in response.json()["url"][0]
    assert not Webhook.objects.exists()


def test_a_name_resolving_to_a_private_address_is_refused(api, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    resolve_to(monkeypatch, "10.0.0.5")

    response = api.post(WEBHOOKS, {"url": "https://innocent.example.com/x", "events": ["run.failed"]}, format="json")

    assert response.status_code == 400
    assert "10.0.0.5" in response.json()["url"][0]


def test_a_public_destination_is_accepted(api, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    resolve_to(monkeypatch, "93.184.215.14")

    response = api.post(WEBHOOKS, {"url": "https://hooks.example.com/x", "events": ["run.failed"]}, format="json")

    assert response.status_code == 201, response.content


def test_private_destinations_are_allowed_when_the_setting_says_so(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True

    response = api.post(WEBHOOKS, {"url": "http://127.0.0.1:9/hook", "events": ["order.filled"]}, format="json")

    assert response.status_code == 201


def test_send_time_check_refuses_a_host_that_now_resolves_privately(account, settings, monkeypatch, receiver):
    server = receiver()
    webhook = Webhook.objects.create(account=account, url=server.url, events=["order.filled"])
    event = WebhookEvent.objects.create(account=account, type="order.filled", data={})
    settings.WEBHOOK_ALLOW_PRIVATE = False

    delivery = services.deliver(webhook=webhook, event=event, trigger="automatic")

    assert not delivery.succeeded and delivery.status_code is None
    assert "127.0.0.1" in delivery.error
    assert server.received == []


def test_redirects_are_not_followed(account, receiver):
    target = receiver()
    server = receiver(answers=[(302, "", {"Location": target.url})])
    webhook = Webhook.objects.create(account=account, url=server.url, events=["order.filled"])
    event = WebhookEvent.objects.create(account=account, type="order.filled", data={})

    delivery = services.deliver(webhook=webhook, event=event, trigger="automatic")

    assert not delivery.succeeded and delivery.status_code == 302
    assert "not followed" in delivery.error
    assert len(server.received) == 1 and target.received == []
