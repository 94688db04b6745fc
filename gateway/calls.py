"""One Binance-style request: its parameters, read as Binance reads them, and the checks of a SIGNED request
(X-MBX-APIKEY, timestamp and recvWindow, the signature over the exact query string followed by the body)."""

import json
import re
import time
from decimal import Decimal
from urllib.parse import parse_qsl

from . import errors, selectors
from .crypto import decrypt_secret, ed25519_matches, hmac_matches
from .errors import BinanceApiError
from .models import BinanceKey

API_KEY_PATTERN = re.compile(r"[A-Za-z0-9]{1,64}")
SYMBOL_PATTERN = re.compile(r"[A-Z0-9\-_.]{1,20}")
DECIMAL_PATTERN = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
INTEGER_PATTERN = re.compile(r"-?[0-9]{1,20}")
RECV_WINDOW_PATTERN = re.compile(r"[0-9]{1,5}(\.[0-9]{1,3})?")
PRECISION = Decimal(1).scaleb(-8)
DEFAULT_RECV_WINDOW = Decimal(5000)
MAX_RECV_WINDOW = Decimal(60000)


def now_ms() -> int:
    return int(time.time() * 1000)


class Call:
    """One request: its merged parameters (the query string wins over the body, as on Binance) and, once
    verified, the key and its account."""

    def __init__(self, request, params: dict[str, str]):
        self.request = request
        self.params = params
        self.key: BinanceKey | None = None
        self.order_counts: dict[str, int] | None = None

    @property
    def account(self):
        return self.key.account

    @property
    def owner(self):
        return self.key.account.owner

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.params.get(name)
        if value in (None, ""):
            if required:
                raise errors.mandatory(name)
            return None
        return value

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        if not DECIMAL_PATTERN.fullmatch(value):
            raise errors.illegal_chars(name, errors.DECIMAL_RANGE)
        number = Decimal(value)
        if number.quantize(PRECISION) != number:
            raise errors.too_precise(name)
        return number

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        if not INTEGER_PATTERN.fullmatch(value):
            raise errors.illegal_chars(name, "^[0-9]{1,20}$")
        return int(value)

    def limit(self, *, default: int, maximum: int) -> int:
        value = self.integer("limit")
        if value is None or value <= 0:
            return default
        return min(value, maximum)

    def symbol(self, *, required: bool = True) -> str | None:
        value = self.text("symbol", required=required)
        if value is None:
            return None
        if not SYMBOL_PATTERN.fullmatch(value):
            raise errors.illegal_chars("symbol", "^[A-Z0-9-_.]{1,20}$")
        return value

    def symbols(self) -> list[str] | None:
        """`symbols=["BTCUSDT","ETHUSDT"]` (a JSON array), when sent."""
        value = self.text("symbols")
        if value is None:
            return None
        try:
            names = json.loads(value)
        except ValueError:
            names = None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise errors.illegal_chars("symbols", '^\\[("[A-Z0-9-_.]{1,20}"(,)?){1,100}]$')
        return names


def read_call(request) -> tuple[Call, str, str]:
    """The request's call (its parameters: the query string wins over the body, as on Binance), and the query string
    and body exactly as sent, which a signature covers."""
    query, body = _raw(request)
    return Call(request, _params(query, body, request.content_type or "")), query, body


def _raw(request) -> tuple[str, str]:
    """The query string and the body exactly as sent: the signature covers these bytes."""
    query = request.META.get("QUERY_STRING", "")
    body = request.body.decode("utf-8", errors="replace") if request.body else ""
    return query, body


def _params(query: str, body: str, content_type: str) -> dict[str, str]:
    params = {}
    if body and content_type in ("", "application/x-www-form-urlencoded"):
        params.update(parse_qsl(body, keep_blank_values=True))
    params.update(parse_qsl(query, keep_blank_values=True))
    return params


def _without_signature(text: str) -> str:
    return "&".join(part for part in text.split("&") if not part.startswith("signature="))


def authenticate(call: Call, query: str, body: str, *, permission: str) -> None:
    """Binance's checks of a SIGNED request, in its order; sets the call's key or raises its error."""
    raw_key = call.request.headers.get("X-MBX-APIKEY", "")
    if not API_KEY_PATTERN.fullmatch(raw_key):
        raise errors.bad_key_format()
    key = selectors.active_key(raw_key)
    owner = key.account.owner if key is not None else None
    if key is None or owner is None or not owner.is_active or key.account.is_external:
        raise errors.rejected_key()
    timestamp = call.integer("timestamp", required=True)
    if timestamp >= 10**15:  # microseconds
        timestamp //= 1000
    recv_window = call.text("recvWindow")
    if recv_window is not None and not RECV_WINDOW_PATTERN.fullmatch(recv_window):
        raise errors.illegal_chars("recvWindow", "^[0-9]{1,5}(\\.[0-9]{1,3})?$")
    window = Decimal(recv_window) if recv_window is not None else DEFAULT_RECV_WINDOW
    if window > MAX_RECV_WINDOW:
        raise BinanceApiError(-1131, "recvWindow must be less than 60000")
    signature = call.text("signature", required=True)
    payload = _without_signature(query) + _without_signature(body)
    if key.kind == BinanceKey.Kind.HMAC:
        secret = decrypt_secret(key.encrypted_secret)
        valid = secret is not None and hmac_matches(secret, payload, signature)
    else:
        valid = ed25519_matches(key.public_key, payload, signature)
    if not valid:
        raise errors.bad_signature()
    server_time = now_ms()
    if timestamp >= server_time + 1000:
        raise errors.ahead_of_server()
    if server_time - timestamp > window:
        raise errors.outside_recv_window()
    if permission and not owner.has_perm(permission):
        raise errors.rejected_key()
    call.key = key
