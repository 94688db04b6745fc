"""Signed requests are verified as Binance verifies them: key, timestamp and recvWindow, signature."""

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client

from gateway.crypto import ed25519_matches, hmac_signature
from gateway.services import create_binance_key

from .support import BASE, BinanceTestClient, now_ms

pytestmark = pytest.mark.django_db


def test_hmac_signature_matches_binances_published_vector():
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    )
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

    assert hmac_signature(secret, payload) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_ed25519_signature_matches_the_reference_vector():
    private = serialization.load_pem_private_key(
        b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
        b"-----END PRIVATE KEY-----\n",
        password=None,
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    payload = (
        "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918"
        "&recvWindow=5000"
    )
    expected = "inDT086KVIP8vgUfw5sV3VTkescWztiAGlf4x8FLKHM4NInsn0c1kYVLoGMO8cyjfR6vmTku2YQE0gtfVVlfCw=="

    assert ed25519_matches(public.decode(), payload, expected)
    assert not ed25519_matches(public.decode(), payload + "0", expected)


def error(response) -> tuple[int, int]:
    return response.status_code, response.json()["code"]


def test_signature_over_query_string_and_body_together(binance, hmac_key, market):
    # Binance signs the query string immediately followed by the body (no "&" between them).
    query = urlencode({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"})
    body = urlencode({"quantity": "0.01", "price": "60000", "timestamp": now_ms()})
    signature = hmac_signature(hmac_key.secret, query + body)

    response = Client().post(
        f"{BASE}order?{query}",
        body + "&signature=" + signature,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_MBX_APIKEY=hmac_key.key.api_key,
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "NEW"


def test_tampered_parameters_fail_the_signature(binance, hmac_key, account):
    query = urlencode({"timestamp": now_ms()})
    signature = hmac_signature(hmac_key.secret, query)

    response = Client().get(
        f"{BASE}account?{query}&omitZeroBalances=true&signature={signature}", HTTP_X_MBX_APIKEY=hmac_key.key.api_key
    )

    assert error(response) == (400, -1022)
    assert response.json()["msg"] == "Signature for this request is not valid."


def test_wrong_secret_fails_the_signature(hmac_key):
    forger = BinanceTestClient(Client(), hmac_key.key.api_key, "x" * 64)

    assert error(forger.signed("GET", "account")) == (400, -1022)


@pytest.mark.parametrize(
    "offset, message",
    [
        (-6000, "Timestamp for this request is outside of the recvWindow."),
        (1500, "Timestamp for this request was 1000ms ahead of the server's time."),
    ],
)
def test_timestamp_outside_the_window_is_refused(binance, offset, message):
    response = binance.signed("GET", "account", timestamp=now_ms() + offset)

    assert error(response) == (400, -1021)
    assert response.json()["msg"] == message


def test_recv_window_widens_the_window_up_to_60000(binance):
    assert binance.signed("GET", "account", timestamp=now_ms() - 6000, recvWindow="10000").status_code == 200
    assert error(binance.signed("GET", "account", recvWindow="60001")) == (400, -1131)


def test_missing_timestamp_or_signature_is_a_missing_parameter(hmac_key):
    client = Client()
    no_timestamp = client.get(f"{BASE}account?signature=abc", HTTP_X_MBX_APIKEY=hmac_key.key.api_key)
    no_signature = client.get(f"{BASE}account?timestamp={now_ms()}", HTTP_X_MBX_APIKEY=hmac_key.key.api_key)

    assert no_timestamp.json() == {
        "code": -1102,
        "msg": "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
    }
    assert no_signature.json()["code"] == -1102 and "'signature'" in no_signature.json()["msg"]


def test_unknown_or_missing_key_is_refused(hmac_key):
    unknown = BinanceTestClient(Client(), "A" * 64, hmac_key.secret)
    missing = Client().get(f"{BASE}account?timestamp={now_ms()}&signature=abc")

    assert error(unknown.signed("GET", "account")) == (401, -2015)
    assert error(missing) == (401, -2014)


def test_key_acts_on_its_own_account_only(binance, account, rival_account, market, rival):
    from papertrading.services import place_order

    theirs = place_order(
        account=rival_account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=Decimal("0.01"),
        price=Decimal("60000"),
        time_in_force="GTC",
        client_order_id="rivals",
    ).order

    looked_up = binance.signed("GET", "order", symbol="BTCUSDT", orderId=theirs.pk)
    by_client_id = binance.signed("GET", "order", symbol="BTCUSDT", origClientOrderId="rivals")
    cancel = binance.signed("DELETE", "order", symbol="BTCUSDT", orderId=theirs.pk)

    assert error(looked_up) == (400, -2013) and error(by_client_id) == (400, -2013)
    assert error(cancel) == (400, -2011)
    theirs.refresh_from_db()
    assert theirs.is_working


def test_owner_without_the_order_permission_cannot_trade(viewer, market):
    from papertrading.services import default_account_for

    issued = create_binance_key(account=default_account_for(viewer), kind="HMAC")
    gateway = BinanceTestClient(Client(), issued.key.api_key, issued.secret)

    assert gateway.signed("GET", "account").status_code == 200  # reading needs no permission, as on /api/
    placed = gateway.signed("POST", "order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    assert error(placed) == (401, -2015)
    assert not default_account_for(viewer).orders.exists()


def test_ed25519_key_verifies_base64_signatures(account, market):
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    issued = create_binance_key(account=account, kind="ED25519", public_key=public.decode())

    signed = BinanceTestClient(Client(), issued.key.api_key, private_key=private)
    forged = BinanceTestClient(Client(), issued.key.api_key, private_key=Ed25519PrivateKey.generate())

    assert signed.signed("GET", "account").status_code == 200
    assert error(forged.signed("GET", "account")) == (400, -1022)
