"""The key endpoints' real answers match what /api/schema/ documents for them (every status they can give)."""

import pytest
from rest_framework.test import APIClient

from config.tests.test_schema_responses import assert_documented, schema
from papertrading.accounts import issue_api_key

from .test_keys_api import public_pem

pytestmark = pytest.mark.django_db
assert schema  # the `schema` fixture (module-scoped), imported for this module
LIST = "/api/accounts/{id}/binance-keys"
ONE = "/api/accounts/{id}/binance-keys/{key_id}"


def test_key_operations_answer_as_documented(schema, api, rival_api, account):
    url = f"/api/accounts/{account.pk}/binance-keys"
    desk_key = APIClient()
    desk_key.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_key(account).raw}")

    created = api.post(url, {"kind": "HMAC", "name": "bot"}, format="json")
    assert_documented(schema, created, "post", LIST)
    assert_documented(
        schema, api.post(url, {"kind": "ED25519", "public_key": public_pem()}, format="json"), "post", LIST
    )
    assert_documented(schema, api.post(url, {"kind": "ED25519", "public_key": "x"}, format="json"), "post", LIST)
    assert_documented(schema, desk_key.post(url, {"kind": "HMAC"}, format="json"), "post", LIST)
    assert_documented(schema, rival_api.post(url, {"kind": "HMAC"}, format="json"), "post", LIST)

    assert_documented(schema, api.get(url), "get", LIST)
    assert_documented(schema, rival_api.get(url), "get", LIST)

    key_url = f"{url}/{created.json()['id']}"
    assert_documented(schema, desk_key.delete(key_url), "delete", ONE)
    assert_documented(schema, rival_api.delete(key_url), "delete", ONE)
    assert_documented(schema, api.delete(f"{url}/999999"), "delete", ONE)
    assert_documented(schema, api.delete(key_url), "delete", ONE)
