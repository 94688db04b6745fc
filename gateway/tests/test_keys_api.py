"""POST/GET/DELETE /api/accounts/{id}/binance-keys: who may create, list and revoke an account's gateway keys."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from rest_framework.test import APIClient

from gateway.crypto import decrypt_secret
from gateway.models import BinanceKey
from papertrading.accounts import issue_api_key

from .support import BinanceTestClient

pytestmark = pytest.mark.django_db


def keys_url(account) -> str:
    return f"/api/accounts/{account.pk}/binance-keys"


def public_pem() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_hmac_key_shows_its_secret_once_and_stores_it_encrypted(api, account, market):
    response = api.post(keys_url(account), {"kind": "HMAC", "name": "bot"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert len(body["api_key"]) == 64 and len(body["secret"]) == 64
    key = BinanceKey.objects.get(pk=body["id"])
    assert key.account == account and key.kind == "HMAC" and key.name == "bot"
    assert body["secret"] not in key.encrypted_secret
    assert decrypt_secret(key.encrypted_secret) == body["secret"]
    listed = api.get(keys_url(account)).json()
    assert [k["api_key"] for k in listed] == [body["api_key"]]
    assert "secret" not in listed[0] and "encrypted_secret" not in listed[0]
    # The key works at once on the gateway.
    gateway = BinanceTestClient(Client(), body["api_key"], body["secret"])
    assert gateway.signed("GET", "account").status_code == 200


def test_ed25519_key_registers_the_public_half_only(api, account):
    pem = public_pem()

    response = api.post(keys_url(account), {"kind": "ED25519", "public_key": pem}, format="json")

    assert response.status_code == 201
    assert response.json()["secret"] is None
    key = BinanceKey.objects.get()
    assert key.public_key.strip() == pem.strip() and key.encrypted_secret == ""


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"kind": "ED25519", "public_key": "not a key"}, "public_key"),
        ({"kind": "RSA"}, "kind"),
        ({"kind": "HMAC", "public_key": "-----BEGIN PUBLIC KEY-----"}, "public_key"),
    ],
)
def test_invalid_key_requests_are_refused_with_nothing_written(api, account, payload, field):
    response = api.post(keys_url(account), payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert BinanceKey.objects.count() == 0


def test_revoked_key_is_refused_by_the_gateway(api, account, binance, hmac_key):
    assert binance.signed("GET", "account").status_code == 200

    response = api.delete(f"{keys_url(account)}/{hmac_key.key.pk}")

    assert response.status_code == 200 and response.json()["revoked_at"]
    refused = binance.signed("GET", "account")
    assert refused.status_code == 401
    assert refused.json() == {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}


def test_another_users_account_answers_404(rival_api, account, hmac_key):
    assert rival_api.get(keys_url(account)).status_code == 404
    assert rival_api.post(keys_url(account), {"kind": "HMAC"}, format="json").status_code == 404
    assert rival_api.delete(f"{keys_url(account)}/{hmac_key.key.pk}").status_code == 404
    assert BinanceKey.objects.get().revoked_at is None


def test_an_accounts_own_api_key_cannot_create_or_revoke_gateway_keys(account, hmac_key):
    desk_key = issue_api_key(account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {desk_key.raw}")

    assert client.get(keys_url(account)).status_code == 200
    assert client.post(keys_url(account), {"kind": "HMAC"}, format="json").status_code == 403
    assert client.delete(f"{keys_url(account)}/{hmac_key.key.pk}").status_code == 403
    assert BinanceKey.objects.count() == 1 and BinanceKey.objects.get().revoked_at is None


def test_admin_lists_keys_without_their_secret(admin_client, hmac_key):
    listing = admin_client.get("/admin/gateway/binancekey/")
    change = admin_client.get(f"/admin/gateway/binancekey/{hmac_key.key.pk}/change/")

    assert listing.status_code == 200 and hmac_key.key.api_key in listing.content.decode()
    assert change.status_code == 200
    assert hmac_key.secret not in change.content.decode()
    assert hmac_key.key.encrypted_secret not in change.content.decode()


def test_admin_action_revokes_keys(admin_client, hmac_key):
    response = admin_client.post(
        "/admin/gateway/binancekey/", {"action": "revoke", "_selected_action": [hmac_key.key.pk]}
    )

    assert response.status_code == 302
    hmac_key.key.refresh_from_db()
    assert hmac_key.key.revoked_at is not None
