"""Typed exceptions for the Binance Spot Testnet client.

The split follows what a caller must *do* (REFERENCE.md §7), not the HTTP status:

- ``BinanceRejected`` / ``BinanceNoSuchOrder``: the exchange answered and definitely did not act → safe to record.
- ``BinanceOutcomeUnknown``: a write was (or may have been) sent and we do not know whether it was executed →
  re-query by ``origClientOrderId``; never mark the order rejected.
- ``BinanceUnavailable``: nothing was done (could not connect, or a read failed after retries) → try later.
- ``BinanceRateLimited``: a 429/418 was recorded for every process; wait ``retry_after_seconds``.

Exception messages never contain the request URL, query string, signature or credentials.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Codes that mean "the engine may or may not have executed this" whatever the HTTP status (REFERENCE.md §7.1).
OUTCOME_UNKNOWN_CODES = frozenset({-1006, -1007})
AUTH_CODES = frozenset({-1022, -2014, -2015})
CLOCK_SKEW_CODE = -1021
NO_SUCH_ORDER_CODE = -2013
# -1000 UNKNOWN: on a write its outcome is unknown, on a read it is just a failed (retryable) read.
UNKNOWN_ERROR_CODE = -1000
ORDER_RATE_LIMIT_CODE = -1015


class BinanceError(Exception):
    """Base class of every error raised by ``papertrading.binance``.

    ``code``/``msg``/``http_status`` are filled when the exchange answered; ``None`` otherwise.
    """

    def __init__(
        self, message: str = "", *, code: int | None = None, msg: str | None = None, http_status: int | None = None
    ) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        super().__init__(message or msg or self.__class__.__name__)


class BinanceNotConfigured(BinanceError):
    """A signed call was attempted without an API key and secret."""


class BinanceAPIError(BinanceError):
    """The exchange answered with a ``{code, msg}`` body (``code`` is 0 when the body had none)."""

    def __init__(self, code: int, msg: str, http_status: int) -> None:
        super().__init__(
            f"Binance error {code} (HTTP {http_status}): {msg}", code=code, msg=msg, http_status=http_status
        )
        # Narrow the Optional types of the base class: an API error always has all three.
        self.code: int = code
        self.msg: str = msg
        self.http_status: int = http_status


class BinanceRejected(BinanceAPIError):
    """A 4xx answer with a code (e.g. -2010, -1013, -2011): the exchange refused; nothing was executed."""


class BinanceNoSuchOrder(BinanceAPIError):
    """-2013 "Order does not exist": the only answer that proves an order was not placed."""


class BinanceClockSkew(BinanceAPIError):
    """-1021: timestamp outside recvWindow; rejected before the matching engine (safe to resend)."""


class BinanceAuthError(BinanceAPIError):
    """-1022 / -2014 / -2015 / HTTP 401: wrong key, secret, signature encoding, IP whitelist or permission."""


class BinanceOutcomeUnknown(BinanceError):
    """A write was sent (or may have been) and its result is unknown: the order may or may not exist.

    Raised after read timeouts, connection resets, 5xx, -1006, -1007 (and -1000) on POST/DELETE.
    """


class BinanceUnavailable(BinanceError):
    """The exchange could not be used: no connection before sending, or a read kept failing after retries.

    For writes this is only raised when the request provably never left (connect timeout / refused).
    """


class BinanceRateLimited(BinanceError):
    """HTTP 429 (pause) or 418 (IP ban), or a locally recorded pause/ban that is not over yet."""

    def __init__(
        self,
        retry_after_seconds: float,
        banned: bool = False,
        *,
        until: datetime | None = None,
        scope: str = "all",
        code: int | None = None,
        msg: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.retry_after_seconds = max(0.0, float(retry_after_seconds))
        self.banned = banned
        self.until = until
        # "all" = every request is paused; "orders" = only new orders (-1015 unfilled order count).
        self.scope = scope
        kind = "IP banned" if banned else "rate limited"
        what = "new orders" if scope == "orders" else "requests"
        super().__init__(
            f"Binance {kind}: {what} paused for {self.retry_after_seconds:.0f}s",
            code=code,
            msg=msg,
            http_status=http_status,
        )


def error_from_response(http_status: int, body: Any, *, is_write: bool) -> BinanceError:
    """Map a non-2xx answer (other than 429/418, which need state) to a typed exception.

    ``body`` is the parsed JSON (or ``None``/text when it was not JSON). ``is_write`` is True for POST/DELETE,
    where anything ambiguous must become ``BinanceOutcomeUnknown`` rather than "rejected".
    """
    code: int | None = None
    msg = ""
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        code = body["code"]
        msg = str(body.get("msg", ""))
    elif isinstance(body, str):
        # Non-JSON bodies (proxy/WAF pages) are trimmed: they are for humans, not for matching.
        msg = body.strip()[:200]

    if code in OUTCOME_UNKNOWN_CODES or code == UNKNOWN_ERROR_CODE or http_status >= 500:
        if is_write:
            return BinanceOutcomeUnknown(
                f"Outcome unknown (HTTP {http_status}, code {code}): the order may or may not exist",
                code=code,
                msg=msg,
                http_status=http_status,
            )
        return BinanceUnavailable(
            f"Binance unavailable (HTTP {http_status}, code {code})", code=code, msg=msg, http_status=http_status
        )
    if code == CLOCK_SKEW_CODE:
        return BinanceClockSkew(code, msg, http_status)
    if code in AUTH_CODES or http_status == 401:
        return BinanceAuthError(code if code is not None else 0, msg, http_status)
    if code == NO_SUCH_ORDER_CODE:
        return BinanceNoSuchOrder(code, msg, http_status)
    # Any other 4xx (incl. a 403 WAF page without code) was refused before anything happened.
    return BinanceRejected(code if code is not None else 0, msg, http_status)
