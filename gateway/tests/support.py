"""Signing requests as a Binance client does, for tests that drive the gateway with Django's test client."""

import base64
import time
from urllib.parse import urlencode

from gateway.crypto import hmac_signature

BASE = "/binance/api/v3/"


def now_ms() -> int:
    return int(time.time() * 1000)


def signed_query(secret: str | None, params: dict, *, private_key=None, timestamp: int | None = None) -> str:
    """The encoded parameters with timestamp and signature appended, signed with an HMAC secret or an Ed25519
    private key."""
    pairs = [(name, value) for name, value in params.items() if value is not None]
    pairs.append(("timestamp", timestamp if timestamp is not None else now_ms()))
    payload = urlencode(pairs)
    if private_key is not None:
        signature = base64.b64encode(private_key.sign(payload.encode())).decode()
    else:
        signature = hmac_signature(secret, payload)
    return payload + "&" + urlencode({"signature": signature})


class BinanceTestClient:
    """Sends signed requests through Django's test client: GET and DELETE in the query string, POST in the body."""

    def __init__(self, client, api_key: str, secret: str | None = None, private_key=None):
        self.client, self.api_key, self.secret, self.private_key = client, api_key, secret, private_key

    def public(self, path: str, **params):
        return self.client.get(BASE + path, params)

    def signed(self, method: str, path: str, *, timestamp: int | None = None, **params):
        query = signed_query(self.secret, params, private_key=self.private_key, timestamp=timestamp)
        headers = {"HTTP_X_MBX_APIKEY": self.api_key}
        if method == "POST":
            return self.client.post(BASE + path, query, content_type="application/x-www-form-urlencoded", **headers)
        return getattr(self.client, method.lower())(f"{BASE}{path}?{query}", **headers)
