"""REST client for the Binance Spot Testnet (REFERENCE.md §2–§8).

Design points (each protects against a real failure mode):

- One ``requests.Session`` per process, created lazily, so TLS connections are pooled; a forked child gets its
  own session instead of sharing sockets with the parent.
- The query string is encoded once, signed, and sent verbatim as part of the URL (also for POST/DELETE), so the
  bytes Binance verifies are exactly the bytes we signed.
- Only GETs are retried (with a short, injectable back-off). A POST/DELETE that may have reached the exchange is
  never resent: it raises ``BinanceOutcomeUnknown`` and the caller re-queries by client order id. The single
  exception is -1021, which Binance produces before the matching engine, so resending is safe.
- Rate-limit headers, 429 pauses and 418 bans go to the shared cache (see ``ratelimit.py``) and are checked
  before every request.
- Logs carry method, path, status, weight and latency only — never the query string, signature, key or secret.

Instances are cheap and not thread-safe (they keep per-call weight counters); create one per request/task.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import NewConnectionError

from .errors import (
    ORDER_RATE_LIMIT_CODE,
    BinanceClockSkew,
    BinanceNotConfigured,
    BinanceOutcomeUnknown,
    BinanceUnavailable,
    error_from_response,
)
from .ratelimit import RateLimitState
from .signing import build_signed_query, encode_params, sign_payload

logger = logging.getLogger("papertrading.binance")

# Documented REQUEST_WEIGHT per call (REFERENCE.md §4). POST/DELETE order cost 0 when successful, 1 when not.
WEIGHTS: dict[str, int] = {
    "time": 1,
    "exchange_info": 20,
    "ticker_price_one": 2,
    "ticker_price_many": 4,
    "account": 20,
    "order_post": 1,
    "order_get": 4,
    "order_delete": 1,
    "order_list_post": 1,
    "order_list_get": 4,
    "order_list_delete": 1,
    "open_order_lists": 6,
    "open_orders_symbol": 6,
    "open_orders_all": 80,
    "all_orders": 20,
    "my_trades": 20,
    "my_trades_order": 5,
    "ticker_24hr_one": 2,
    "ticker_24hr_many": 80,
    "book_ticker_one": 2,
    "book_ticker_many": 4,
    "klines": 2,
}

SIDES = frozenset({"BUY", "SELL"})
ORDER_TYPES = frozenset(
    {"MARKET", "LIMIT", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
)
TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK"})
RESPONSE_TYPES = frozenset({"ACK", "RESULT", "FULL"})
# Types that take a limit price + timeInForce, and types triggered by stopPrice (REFERENCE.md §5.1).
_NEEDS_PRICE = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_NEEDS_TIF = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_NEEDS_STOP = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
CLIENT_ORDER_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,36}$")

EXCHANGE_INFO_CACHE_SECONDS = 3600
CLOCK_RESYNC_SECONDS = 300


# --- shared per-process state ---------------------------------------------------------------------------------
_session: requests.Session | None = None
_session_pid: int | None = None
_session_lock = threading.Lock()

# base_url -> (offset_ms, measured_at epoch seconds). Per process: every process has its own clock reading.
_clock_offsets: dict[str, tuple[int, float]] = {}


def get_session() -> requests.Session:
    """The process-wide HTTP session (created on first use, recreated after a fork)."""
    global _session, _session_pid
    pid = os.getpid()
    with _session_lock:
        if _session is None or _session_pid != pid:
            session = requests.Session()
            session.headers["User-Agent"] = "papertrading-desk/1.0"
            _session, _session_pid = session, pid
        return _session


def reset_clock_offsets() -> None:
    """Forget measured server-time offsets (tests, or after changing the base URL)."""
    _clock_offsets.clear()


# --- helpers --------------------------------------------------------------------------------------------------
def format_decimal(value: Decimal | int | str) -> str:
    """Plain decimal text without exponent or trailing zeros (``Decimal("1E-5")`` → ``"0.00001"``).

    Floats are refused: a binary float cannot represent most prices exactly.
    """
    if isinstance(value, float | bool):
        raise TypeError(f"Use Decimal for prices and quantities, not {type(value).__name__}.")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError("Prices and quantities must be finite.")
    return format(number.normalize(), "f")


def masked_api_key(key: str | None) -> str:
    """Display form of an API key: first 4 + "…" + last 4; short keys are fully masked."""
    if not key:
        return ""
    if len(key) < 12:
        return "…" * 3
    return f"{key[:4]}…{key[-4:]}"


def _history_params(
    symbol: str,
    *,
    order_id: int | None = None,
    start_time: int | datetime | None = None,
    end_time: int | datetime | None = None,
    from_id: int | None = None,
    limit: int | None = None,
) -> list[tuple[str, str]]:
    """The query of allOrders/myTrades: the symbol, then each optional filter that was given, in Binance's names."""
    params = [("symbol", symbol)]
    for name, value in (("orderId", order_id), ("fromId", from_id), ("limit", limit)):
        if value is not None:
            params.append((name, str(int(value))))
    for name, value in (("startTime", start_time), ("endTime", end_time)):
        if value is not None:
            params.append((name, _to_ms(value)))
    return params


def _to_ms(value: int | datetime) -> str:
    if isinstance(value, datetime):
        return str(int(value.timestamp() * 1000))
    return str(int(value))


def _symbol_params(symbols: str | Sequence[str] | None) -> tuple[list[tuple[str, str]], int]:
    """The query naming one symbol, a list (a compact JSON array, as Binance wants it) or none (all), and how many
    were named (0 for all)."""
    if isinstance(symbols, str):
        return [("symbol", symbols)], 1
    if symbols:
        names = list(symbols)
        return [("symbols", json.dumps(names, separators=(",", ":")))], len(names)
    return [], 0


def _never_sent(exc: BaseException) -> bool:
    """True only when the request provably never left: connect timeout or connection refused / DNS failure.

    Read timeouts, resets and everything else after the connection was made are "maybe sent".
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectionRefusedError):
            return True
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__, *current.args])
    return False


def _side(side: str) -> str:
    side = (side or "").upper()
    if side not in SIDES:
        raise ValueError(f"side must be one of {sorted(SIDES)}")
    return side


def _quantity(quantity: Decimal) -> str:
    text = format_decimal(quantity)
    if Decimal(text) <= 0:
        raise ValueError("quantity must be positive")
    return text


def _list_client_order_id(list_client_order_id: str) -> list[tuple[str, str]]:
    if not CLIENT_ORDER_ID_RE.match(list_client_order_id or ""):
        raise ValueError("list_client_order_id must match ^[a-zA-Z0-9_-]{1,36}$")
    return [("listClientOrderId", list_client_order_id)]


def _working_params(working: dict[str, Any]) -> list[tuple[str, str]]:
    """An OTO / OTOCO's working order: LIMIT or LIMIT_MAKER, with its side and quantity."""
    if str(working.get("type", "")).upper() not in ("LIMIT", "LIMIT_MAKER"):
        raise ValueError("the working order of a list is LIMIT or LIMIT_MAKER")
    params = [("workingSide", _side(working.get("side", ""))), ("workingQuantity", _quantity(working["quantity"]))]
    return params + _leg_params("working", working)


def _leg_params(prefix: str, leg: dict[str, Any]) -> list[tuple[str, str]]:
    """One leg of an order list in Binance's prefixed names (``aboveType``, ``pendingBelowStopPrice``, ...), with
    the same local checks as a single order's terms, so a malformed leg never costs a round trip."""
    order_type = str(leg.get("type") or "").upper()
    if order_type not in ORDER_TYPES:
        raise ValueError(f"{prefix} type must be one of {sorted(ORDER_TYPES)}")
    client_order_id = leg.get("client_order_id") or ""
    if not CLIENT_ORDER_ID_RE.match(client_order_id):
        raise ValueError(f"{prefix} client_order_id must match ^[a-zA-Z0-9_-]{{1,36}}$")
    price, stop_price = leg.get("price"), leg.get("stop_price")
    time_in_force, trailing_delta = leg.get("time_in_force") or None, leg.get("trailing_delta")
    if (price is not None) != (order_type in _NEEDS_PRICE):
        raise ValueError(f"{prefix} price is {'required' if order_type in _NEEDS_PRICE else 'not allowed'}")
    if (time_in_force is not None) != (order_type in _NEEDS_TIF):
        raise ValueError(f"{prefix} time_in_force is {'required' if order_type in _NEEDS_TIF else 'not allowed'}")
    if (stop_price is not None or trailing_delta is not None) != (order_type in _NEEDS_STOP):
        raise ValueError(f"{prefix} stop_price is {'required' if order_type in _NEEDS_STOP else 'not allowed'}")
    params = [(f"{prefix}Type", order_type), (f"{prefix}ClientOrderId", client_order_id)]
    if price is not None:
        params.append((f"{prefix}Price", format_decimal(price)))
    if stop_price is not None:
        params.append((f"{prefix}StopPrice", format_decimal(stop_price)))
    if trailing_delta is not None:
        params.append((f"{prefix}TrailingDelta", str(int(trailing_delta))))
    if time_in_force is not None:
        tif = str(time_in_force).upper()
        if tif not in TIME_IN_FORCE:
            raise ValueError(f"{prefix} time_in_force must be one of {sorted(TIME_IN_FORCE)}")
        params.append((f"{prefix}TimeInForce", tif))
    if leg.get("iceberg_quantity") is not None:
        params.append((f"{prefix}IcebergQty", format_decimal(leg["iceberg_quantity"])))
    return params


class _RedactSignedUrls(logging.Filter):
    """Strip query strings from urllib3's DEBUG request lines, which would otherwise log the signature."""

    _query = re.compile(r"\?[^\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._query.sub("?<redacted>", arg) if isinstance(arg, str) and "signature=" in arg else arg
                for arg in record.args
            )
        if isinstance(record.msg, str) and "signature=" in record.msg:
            record.msg = self._query.sub("?<redacted>", record.msg)
        return True


def _install_urllib3_redaction() -> None:
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactSignedUrls) for f in target.filters):
        target.addFilter(_RedactSignedUrls())


_install_urllib3_redaction()


# --- client ---------------------------------------------------------------------------------------------------
class BinanceTestnetClient:
    """Thin, typed wrapper over the Spot REST endpoints the desk uses. Every method returns parsed JSON.

    JSON numbers with a fraction are parsed as ``Decimal``; Binance sends prices/quantities as strings anyway.
    After each call ``last_request_weight`` holds the documented weight spent (incl. retries and clock syncs),
    ``weight_used`` the running total for this instance and ``last_used_weight_1m`` the exchange's own counter.
    """

    retry_backoff_seconds: tuple[float, ...] = (0.2, 0.4)
    max_get_retries = 2

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str | None = None,
        *,
        recv_window_ms: int | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        rate_limits: RateLimitState | None = None,
        max_wait_seconds: float = 2.0,
    ) -> None:
        self.api_key = settings.BINANCE_TESTNET_API_KEY if api_key is None else api_key
        # Private: never rendered, logged or put into exception messages.
        self._secret = settings.BINANCE_TESTNET_API_SECRET if api_secret is None else api_secret
        self.base_url = (settings.BINANCE_TESTNET_BASE_URL if base_url is None else base_url).rstrip("/")
        self.recv_window_ms = recv_window_ms or settings.BINANCE_RECV_WINDOW_MS
        self.timeout = (
            connect_timeout if connect_timeout is not None else settings.BINANCE_CONNECT_TIMEOUT,
            read_timeout if read_timeout is not None else settings.BINANCE_READ_TIMEOUT,
        )
        self._session = session
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self.rate_limits = rate_limits or RateLimitState(
            clock=self._clock, sleep=self._sleep, max_wait_seconds=max_wait_seconds
        )
        self.last_request_weight = 0
        self.weight_used = 0
        self.last_used_weight_1m: int | None = None
        self._call_weight = 0

    def __repr__(self) -> str:
        return f"<BinanceTestnetClient {self.base_url} key={masked_api_key(self.api_key) or '-'}>"

    # --- configuration ---------------------------------------------------------------------------------------
    def is_configured(self) -> bool:
        """True when both an API key and a secret (HMAC or PEM) are set."""
        return bool(self.api_key and self._secret)

    @property
    def masked_api_key(self) -> str:
        return masked_api_key(self.api_key)

    @property
    def session(self) -> requests.Session:
        return self._session or get_session()

    # --- clock -----------------------------------------------------------------------------------------------
    def sync_clock(self) -> int:
        """Measure ``serverTime - local midpoint`` via /api/v3/time and remember it for this process."""
        self._measure_server_time()
        return _clock_offsets[self.base_url][0]

    @property
    def clock_offset_ms(self) -> int | None:
        entry = _clock_offsets.get(self.base_url)
        return entry[0] if entry else None

    def _measure_server_time(self) -> dict[str, Any]:
        sent = self._clock()
        data = self._request("GET", "/api/v3/time", [], signed=False, weight=WEIGHTS["time"])
        received = self._clock()
        offset = int(data["serverTime"]) - round((sent + received) / 2 * 1000)
        _clock_offsets[self.base_url] = (offset, received)
        return data

    def signed_ws_params(self, params: dict[str, str] | None = None) -> dict[str, str]:
        """A WebSocket API request's params, signed: apiKey, recvWindow and timestamp (on the exchange's clock, as
        REST) added, and the signature over all of them sorted by name, as the WebSocket API asks."""
        signed = {
            **(params or {}),
            "apiKey": self.api_key,
            "recvWindow": str(self.recv_window_ms),
            "timestamp": str(self._timestamp_ms()),
        }
        signed["signature"] = sign_payload(encode_params(sorted(signed.items())), self._secret)
        return signed

    def _timestamp_ms(self) -> int:
        entry = _clock_offsets.get(self.base_url)
        if entry is None or self._clock() - entry[1] > CLOCK_RESYNC_SECONDS:
            self._measure_server_time()
            entry = _clock_offsets[self.base_url]
        return int(self._clock() * 1000) + entry[0]

    # --- transport -------------------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]],
        *,
        signed: bool,
        weight: int,
        is_order: bool = False,
        success_weight: int | None = None,
    ) -> Any:
        """One logical API call: credentials check, one resend after -1021, weight accounting."""
        if signed and not self.is_configured():
            raise BinanceNotConfigured("Binance testnet API key/secret are not configured.")
        self._call_weight = 0
        try:
            clock_retried = False
            while True:
                try:
                    return self._request(
                        method,
                        path,
                        params,
                        signed=signed,
                        weight=weight,
                        is_order=is_order,
                        success_weight=success_weight,
                    )
                except BinanceClockSkew:
                    # -1021 is decided before the matching engine: nothing happened, so one resend is safe.
                    if not signed or clock_retried:
                        raise
                    clock_retried = True
                    logger.warning(
                        "binance %s %s -1021 clock skew: re-measuring server time, resending once", method, path
                    )
                    self._measure_server_time()
        finally:
            self.last_request_weight = self._call_weight
            self.weight_used += self._call_weight

    def _request(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]],
        *,
        signed: bool,
        weight: int,
        is_order: bool = False,
        success_weight: int | None = None,
    ) -> Any:
        """Send with GET-only retries; each attempt is re-stamped and re-signed."""
        idempotent = method == "GET"
        retries = self.max_get_retries if idempotent else 0
        attempt = 0
        while True:
            self.rate_limits.before_request(weight, is_order)
            if signed:
                stamped = [*params, ("recvWindow", str(self.recv_window_ms)), ("timestamp", str(self._timestamp_ms()))]
                query = build_signed_query(stamped, self._secret)
            else:
                query = encode_params(params)
            try:
                return self._send_once(method, path, query, signed=signed, weight=weight, success_weight=success_weight)
            except BinanceUnavailable:
                # Only reads can raise Unavailable for transient reasons worth retrying; writes have retries=0.
                if attempt >= retries:
                    raise
                delay = self.retry_backoff_seconds[min(attempt, len(self.retry_backoff_seconds) - 1)]
                attempt += 1
                self._sleep(delay)

    def _send_once(
        self, method: str, path: str, query: str, *, signed: bool, weight: int, success_weight: int | None
    ) -> Any:
        is_write = method != "GET"
        url = f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}"
        headers = {"X-MBX-APIKEY": self.api_key} if signed else {}
        started = time.monotonic()
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            latency_ms = (time.monotonic() - started) * 1000
            self._call_weight += weight
            not_sent = _never_sent(exc)
            # The exception text embeds the URL (and so the signature): log and re-raise only its type.
            logger.warning(
                "binance %s %s failed: %s (%s) latency_ms=%.0f",
                method,
                path,
                type(exc).__name__,
                "not sent" if not_sent else "may have been sent",
                latency_ms,
            )
            if not_sent or not is_write:
                raise BinanceUnavailable(f"Binance unreachable ({type(exc).__name__}) on {method} {path}") from None
            raise BinanceOutcomeUnknown(
                f"No answer ({type(exc).__name__}) on {method} {path}: the request may or may not have been executed"
            ) from None

        latency_ms = (time.monotonic() - started) * 1000
        used = response.headers.get("X-MBX-USED-WEIGHT-1M")
        if used is not None and used.isdigit():
            self.last_used_weight_1m = int(used)
        self.rate_limits.record_headers(response.headers)
        status = response.status_code
        body = self._parse_body(response)
        code = body.get("code") if isinstance(body, dict) else None
        logger.log(
            logging.INFO if status < 400 else logging.WARNING,
            "binance %s %s status=%s code=%s used_weight_1m=%s latency_ms=%.0f",
            method,
            path,
            status,
            code,
            used,
            latency_ms,
        )

        if 200 <= status < 300:
            self._call_weight += weight if success_weight is None else success_weight
            if isinstance(body, dict | list):
                return body
            # A 2xx we cannot read: for a write the order may exist, for a read just try again.
            if is_write:
                raise BinanceOutcomeUnknown(f"Unreadable {status} answer on {method} {path}", http_status=status)
            raise BinanceUnavailable(f"Unreadable {status} answer on {method} {path}", http_status=status)

        self._call_weight += weight
        if status in (418, 429):
            msg = str(body.get("msg", "")) if isinstance(body, dict) else ""
            error = self.rate_limits.record_rate_limited(
                response.headers.get("Retry-After"),
                banned=status == 418,
                orders_only=code == ORDER_RATE_LIMIT_CODE,
                msg=msg,
            )
            error.code = code if isinstance(code, int) else None
            raise error
        raise error_from_response(status, body, is_write=is_write)

    @staticmethod
    def _parse_body(response: requests.Response) -> Any:
        text = response.content.decode("utf-8", errors="replace")
        try:
            # parse_float=Decimal: no binary floats ever enter money code.
            return json.loads(text, parse_float=Decimal)
        except ValueError:
            return text

    # --- public market data ----------------------------------------------------------------------------------
    def server_time(self) -> dict[str, Any]:
        """GET /api/v3/time → ``{"serverTime": ms}`` (also refreshes the clock offset)."""
        self._call_weight = 0
        try:
            return self._measure_server_time()
        finally:
            self.last_request_weight = self._call_weight
            self.weight_used += self._call_weight

    def exchange_info(self, symbols: str | Sequence[str] | None = None, *, use_cache: bool = True) -> dict[str, Any]:
        """GET /api/v3/exchangeInfo, cached ~1 h in the shared cache; also refreshes the rate-limit table."""
        from django.core.cache import cache

        params: list[tuple[str, str]] = []
        if isinstance(symbols, str):
            params.append(("symbol", symbols))
        elif symbols:
            # Binance wants a compact JSON array: symbols=["BTCUSDT","ETHUSDT"].
            params.append(("symbols", json.dumps(list(symbols), separators=(",", ":"))))
        digest = hashlib.sha256(f"{self.base_url}?{encode_params(params)}".encode()).hexdigest()[:32]
        cache_key = f"papertrading:binance:exchange_info:{digest}"
        if use_cache:
            cached = cache.get(cache_key)
            if cached is not None:
                self.last_request_weight = 0
                return cached
        data = self._call("GET", "/api/v3/exchangeInfo", params, signed=False, weight=WEIGHTS["exchange_info"])
        if isinstance(data, dict):
            self.rate_limits.update_limits(data.get("rateLimits") or [])
        cache.set(cache_key, data, EXCHANGE_INFO_CACHE_SECONDS)
        return data

    def ticker_price(self, symbols: str | Sequence[str] | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """GET /api/v3/ticker/price: one symbol → dict; a list or ``None`` (all) → list of dicts."""
        if isinstance(symbols, str):
            params = [("symbol", symbols)]
            weight = WEIGHTS["ticker_price_one"]
        else:
            params = [("symbols", json.dumps(list(symbols), separators=(",", ":")))] if symbols else []
            weight = WEIGHTS["ticker_price_many"]
        return self._call("GET", "/api/v3/ticker/price", params, signed=False, weight=weight)

    def ticker_24hr(self, symbols: str | Sequence[str] | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """GET /api/v3/ticker/24hr: one symbol → dict; a list or ``None`` (all) → list of dicts. Weight 2 for up to
        20 symbols, 40 up to 100, 80 beyond or for all."""
        params, count = _symbol_params(symbols)
        weight = WEIGHTS["ticker_24hr_one"]
        if not count or count > 100:
            weight = WEIGHTS["ticker_24hr_many"]
        elif count > 20:
            weight = 40
        return self._call("GET", "/api/v3/ticker/24hr", params, signed=False, weight=weight)

    def book_ticker(self, symbols: str | Sequence[str] | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """GET /api/v3/ticker/bookTicker (best bid and ask): one symbol → dict; a list or ``None`` → list."""
        params, _ = _symbol_params(symbols)
        weight = WEIGHTS["book_ticker_one"] if isinstance(symbols, str) else WEIGHTS["book_ticker_many"]
        return self._call("GET", "/api/v3/ticker/bookTicker", params, signed=False, weight=weight)

    def depth(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        """GET /api/v3/depth (``limit`` levels a side, Binance's default 100; weight 5 up to 100, 25 up to 500, 50
        up to 1000, 250 beyond)."""
        params = [("symbol", symbol)]
        if limit is not None:
            params.append(("limit", str(int(limit))))
        levels = 100 if limit is None else int(limit)
        weight = 5 if levels <= 100 else 25 if levels <= 500 else 50 if levels <= 1000 else 250
        return self._call("GET", "/api/v3/depth", params, signed=False, weight=weight)

    def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_time: int | datetime | None = None,
        end_time: int | datetime | None = None,
        limit: int | None = None,
    ) -> list[list[Any]]:
        """GET /api/v3/klines: rows ``[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades,
        takerBuyBase, takerBuyQuote, "0"]``, the most recent bars unless a window is given."""
        params = [("symbol", symbol), ("interval", interval)]
        for name, value in (("startTime", start_time), ("endTime", end_time)):
            if value is not None:
                params.append((name, _to_ms(value)))
        if limit is not None:
            params.append(("limit", str(int(limit))))
        return self._call("GET", "/api/v3/klines", params, signed=False, weight=WEIGHTS["klines"])

    # --- account / orders (signed) ---------------------------------------------------------------------------
    def account(self, omit_zero_balances: bool = True) -> dict[str, Any]:
        """GET /api/v3/account (balances, commission rates, permissions)."""
        params = [("omitZeroBalances", "true")] if omit_zero_balances else []
        return self._call("GET", "/api/v3/account", params, signed=True, weight=WEIGHTS["account"])

    def place_order(
        self,
        symbol: str,
        side: str,
        order_type: str,
        quantity: Decimal,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: str | None = None,
        *,
        client_order_id: str,
        new_order_resp_type: str | None = None,
        iceberg_quantity: Decimal | None = None,
        trailing_delta: int | None = None,
    ) -> dict[str, Any]:
        """POST /api/v3/order. Never resent except after -1021; ambiguous failures raise BinanceOutcomeUnknown.

        ``newOrderRespType`` defaults to FULL for MARKET/LIMIT (fills inline) and RESULT otherwise (the
        exchange's own default for stops would be ACK, which lacks the status).
        """
        side, order_type = side.upper(), order_type.upper()
        if side not in SIDES:
            raise ValueError(f"side must be one of {sorted(SIDES)}")
        if order_type not in ORDER_TYPES:
            raise ValueError(f"order_type must be one of {sorted(ORDER_TYPES)}")
        if not CLIENT_ORDER_ID_RE.match(client_order_id or ""):
            raise ValueError("client_order_id must match ^[a-zA-Z0-9_-]{1,36}$")
        # Catch the -1102/-1106 combinations locally instead of spending a round trip (REFERENCE.md §5.1).
        if (price is not None) != (order_type in _NEEDS_PRICE):
            raise ValueError(f"price is {'required' if order_type in _NEEDS_PRICE else 'not allowed'} for {order_type}")
        if (time_in_force is not None) != (order_type in _NEEDS_TIF):
            raise ValueError(
                f"time_in_force is {'required' if order_type in _NEEDS_TIF else 'not allowed'} for {order_type}"
            )
        if trailing_delta is not None and order_type not in _NEEDS_STOP:
            raise ValueError(f"trailing_delta is not allowed for {order_type}")
        # A trailing stop (trailingDelta) may leave its stop price out: it then tracks from placement.
        if (stop_price is not None or trailing_delta is not None) != (order_type in _NEEDS_STOP):
            raise ValueError(
                f"stop_price is {'required' if order_type in _NEEDS_STOP else 'not allowed'} for {order_type}"
            )
        resp_type = (new_order_resp_type or ("FULL" if order_type in ("MARKET", "LIMIT") else "RESULT")).upper()
        if resp_type not in RESPONSE_TYPES:
            raise ValueError(f"new_order_resp_type must be one of {sorted(RESPONSE_TYPES)}")

        params: list[tuple[str, str]] = [("symbol", symbol), ("side", side), ("type", order_type)]
        if time_in_force is not None:
            tif = time_in_force.upper()
            if tif not in TIME_IN_FORCE:
                raise ValueError(f"time_in_force must be one of {sorted(TIME_IN_FORCE)}")
            params.append(("timeInForce", tif))
        quantity_text = format_decimal(quantity)
        if Decimal(quantity_text) <= 0:
            raise ValueError("quantity must be positive")
        params.append(("quantity", quantity_text))
        if price is not None:
            params.append(("price", format_decimal(price)))
        if stop_price is not None:
            params.append(("stopPrice", format_decimal(stop_price)))
        if trailing_delta is not None:
            params.append(("trailingDelta", str(int(trailing_delta))))
        if iceberg_quantity is not None:
            params.append(("icebergQty", format_decimal(iceberg_quantity)))
        params += [("newClientOrderId", client_order_id), ("newOrderRespType", resp_type)]
        return self._call(
            "POST",
            "/api/v3/order",
            params,
            signed=True,
            weight=WEIGHTS["order_post"],
            is_order=True,
            success_weight=0,
        )

    @staticmethod
    def _order_ref(symbol: str, order_id: int | None, client_order_id: str | None) -> list[tuple[str, str]]:
        if order_id is None and not client_order_id:
            raise ValueError("Give order_id or client_order_id.")
        params = [("symbol", symbol)]
        if order_id is not None:
            params.append(("orderId", str(int(order_id))))
        if client_order_id:
            params.append(("origClientOrderId", client_order_id))
        return params

    def get_order(self, symbol: str, order_id: int | None = None, client_order_id: str | None = None) -> dict[str, Any]:
        """GET /api/v3/order by exchange id and/or our client id. -2013 → BinanceNoSuchOrder."""
        params = self._order_ref(symbol, order_id, client_order_id)
        return self._call("GET", "/api/v3/order", params, signed=True, weight=WEIGHTS["order_get"])

    def cancel_order(
        self, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> dict[str, Any]:
        """DELETE /api/v3/order. Not retried: on Unavailable/OutcomeUnknown the caller re-queries the order."""
        params = self._order_ref(symbol, order_id, client_order_id)
        return self._call(
            "DELETE", "/api/v3/order", params, signed=True, weight=WEIGHTS["order_delete"], success_weight=0
        )

    # --- order lists (REFERENCE.md §4 OCO, §9.2 OTO / OTOCO) --------------------------------------------------
    def place_order_list_oco(
        self,
        symbol: str,
        side: str,
        quantity: Decimal,
        *,
        above: dict[str, Any],
        below: dict[str, Any],
        list_client_order_id: str,
        new_order_resp_type: str = "FULL",
    ) -> dict[str, Any]:
        """POST /api/v3/orderList/oco: two legs of `quantity` on `side`, the first reached expiring the other.

        `above` and `below` hold a leg's terms: type, price, stop_price, time_in_force, trailing_delta,
        iceberg_quantity, client_order_id. Never resent, as a single order (BinanceOutcomeUnknown: re-query).
        """
        side = _side(side)
        params: list[tuple[str, str]] = [("symbol", symbol), ("side", side), ("quantity", _quantity(quantity))]
        params += _list_client_order_id(list_client_order_id)
        params += _leg_params("above", above)
        params += _leg_params("below", below)
        return self._place_order_list("/api/v3/orderList/oco", params, new_order_resp_type)

    def place_order_list_oto(
        self,
        symbol: str,
        *,
        working: dict[str, Any],
        pending: dict[str, Any],
        list_client_order_id: str,
        new_order_resp_type: str = "FULL",
    ) -> dict[str, Any]:
        """POST /api/v3/orderList/oto: a working LIMIT / LIMIT_MAKER and a pending order that goes on the book once
        the working order has filled. Each leg dict holds side, type, quantity and the terms its type takes."""
        params: list[tuple[str, str]] = [("symbol", symbol), *_list_client_order_id(list_client_order_id)]
        params += _working_params(working)
        params += [("pendingSide", _side(pending.get("side", ""))), ("pendingQuantity", _quantity(pending["quantity"]))]
        params += _leg_params("pending", pending)
        return self._place_order_list("/api/v3/orderList/oto", params, new_order_resp_type)

    def place_order_list_otoco(
        self,
        symbol: str,
        *,
        working: dict[str, Any],
        pending_side: str,
        pending_quantity: Decimal,
        pending_above: dict[str, Any],
        pending_below: dict[str, Any],
        list_client_order_id: str,
        new_order_resp_type: str = "FULL",
    ) -> dict[str, Any]:
        """POST /api/v3/orderList/otoco: a working LIMIT / LIMIT_MAKER and a pending OCO pair that goes on the book
        once the working order has filled."""
        params: list[tuple[str, str]] = [("symbol", symbol), *_list_client_order_id(list_client_order_id)]
        params += _working_params(working)
        params += [("pendingSide", _side(pending_side)), ("pendingQuantity", _quantity(pending_quantity))]
        params += _leg_params("pendingAbove", pending_above)
        params += _leg_params("pendingBelow", pending_below)
        return self._place_order_list("/api/v3/orderList/otoco", params, new_order_resp_type)

    def _place_order_list(self, path: str, params: list[tuple[str, str]], resp_type: str) -> dict[str, Any]:
        resp_type = (resp_type or "FULL").upper()
        if resp_type not in RESPONSE_TYPES:
            raise ValueError(f"new_order_resp_type must be one of {sorted(RESPONSE_TYPES)}")
        params.append(("newOrderRespType", resp_type))
        return self._call(
            "POST", path, params, signed=True, weight=WEIGHTS["order_list_post"], is_order=True, success_weight=0
        )

    @staticmethod
    def _list_ref(order_list_id: int | None, list_client_order_id: str | None, *, name: str) -> list[tuple[str, str]]:
        if order_list_id is None and not list_client_order_id:
            raise ValueError("Give order_list_id or list_client_order_id.")
        if order_list_id is not None:
            return [("orderListId", str(int(order_list_id)))]
        return [(name, list_client_order_id)]

    def get_order_list(
        self, order_list_id: int | None = None, list_client_order_id: str | None = None
    ) -> dict[str, Any]:
        """GET /api/v3/orderList by its exchange id or our listClientOrderId (sent as origClientOrderId)."""
        params = self._list_ref(order_list_id, list_client_order_id, name="origClientOrderId")
        return self._call("GET", "/api/v3/orderList", params, signed=True, weight=WEIGHTS["order_list_get"])

    def cancel_order_list(
        self, symbol: str, order_list_id: int | None = None, list_client_order_id: str | None = None
    ) -> dict[str, Any]:
        """DELETE /api/v3/orderList: every leg still working is cancelled. Not retried (re-query the legs)."""
        params = [("symbol", symbol), *self._list_ref(order_list_id, list_client_order_id, name="listClientOrderId")]
        return self._call(
            "DELETE", "/api/v3/orderList", params, signed=True, weight=WEIGHTS["order_list_delete"], success_weight=0
        )

    def open_order_lists(self) -> list[dict[str, Any]]:
        """GET /api/v3/openOrderList: the account's executing order lists (weight 6)."""
        return self._call("GET", "/api/v3/openOrderList", [], signed=True, weight=WEIGHTS["open_order_lists"])

    def open_orders(self, symbol: str | None) -> list[dict[str, Any]]:
        """GET /api/v3/openOrders for one symbol (weight 6); ``None`` lists every symbol (weight 80)."""
        params = [("symbol", symbol)] if symbol else []
        weight = WEIGHTS["open_orders_symbol"] if symbol else WEIGHTS["open_orders_all"]
        return self._call("GET", "/api/v3/openOrders", params, signed=True, weight=weight)

    def all_orders(
        self,
        symbol: str,
        order_id: int | None = None,
        start_time: int | datetime | None = None,
        end_time: int | datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """GET /api/v3/allOrders (orders with id ≥ ``order_id``, or within a ≤ 24 h time window)."""
        params = _history_params(symbol, order_id=order_id, start_time=start_time, end_time=end_time, limit=limit)
        return self._call("GET", "/api/v3/allOrders", params, signed=True, weight=WEIGHTS["all_orders"])

    def my_trades(
        self,
        symbol: str,
        order_id: int | None = None,
        *,
        start_time: int | datetime | None = None,
        end_time: int | datetime | None = None,
        from_id: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """GET /api/v3/myTrades; with ``order_id`` the fills of one order (weight 5 instead of 20)."""
        params = _history_params(
            symbol, order_id=order_id, start_time=start_time, end_time=end_time, from_id=from_id, limit=limit
        )
        weight = WEIGHTS["my_trades_order"] if order_id is not None else WEIGHTS["my_trades"]
        return self._call("GET", "/api/v3/myTrades", params, signed=True, weight=weight)
