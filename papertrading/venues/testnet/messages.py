"""What the testnet venue tells people when the exchange cannot be used, and the reasons it records on orders."""

import math
from collections.abc import Iterator
from contextlib import contextmanager

from ...binance import (
    BinanceAuthError,
    BinanceError,
    BinanceNotConfigured,
    BinanceOutcomeUnknown,
    BinanceRateLimited,
    BinanceUnavailable,
)
from ...errors import VenueUnavailable

NOT_CONFIGURED_MESSAGE = (
    "Testnet mode needs BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_API_SECRET (an HMAC secret, or an Ed25519 "
    "private key in PEM form) from testnet.binance.vision. Set both, or switch PAPER_TRADING_MODE to simulation."
)
UNREACHABLE_MESSAGE = "The Binance Spot Testnet cannot be reached right now; try again shortly."
NOT_SENT_REASON = "Exchange unreachable; order not sent"
NO_SUCH_ORDER_REASON = "Exchange has no such order (-2013)"
RESET_REASON = "Testnet was reset: the exchange no longer knows this order"
NO_SUCH_ORDER_CODE = -2013
INVALID_SYMBOL_CODE = -1121


def retry_after(exc: BinanceRateLimited) -> int:
    return max(1, math.ceil(exc.retry_after_seconds))


def rate_limited_message(exc: BinanceRateLimited) -> str:
    until = f" until {exc.until:%H:%M:%S} UTC" if exc.until else ""
    if exc.banned:
        return f"The Binance testnet has banned this IP (HTTP 418){until}; every exchange call is paused."
    what = "New orders are" if exc.scope == "orders" else "Exchange calls are"
    return f"{what} paused by the Binance testnet's rate limit{until}; retry after {retry_after(exc)} s."


def credentials_refused_message(exc: BinanceAuthError) -> str:
    said = f"{exc.code}: {exc.msg}" if exc.code else f"HTTP {exc.http_status}"
    return (
        f"The Binance testnet refused the API credentials ({said}). Check "
        "BINANCE_TESTNET_API_KEY / BINANCE_TESTNET_API_SECRET and the key's permissions."
    )


def unavailable(exc: BinanceError) -> VenueUnavailable:
    """The one translation of "the exchange cannot be used now" into VenueUnavailable (API 503), for every call."""
    if isinstance(exc, BinanceNotConfigured):
        return VenueUnavailable(NOT_CONFIGURED_MESSAGE)
    if isinstance(exc, BinanceRateLimited):
        return VenueUnavailable(rate_limited_message(exc), retry_after=retry_after(exc))
    if isinstance(exc, BinanceAuthError):
        return VenueUnavailable(credentials_refused_message(exc))
    if isinstance(exc, BinanceUnavailable | BinanceOutcomeUnknown):
        return VenueUnavailable(UNREACHABLE_MESSAGE, retry_after=5)
    # Anything else the exchange refused on a read (e.g. -1021 twice): a clear 503, never a 500.
    return VenueUnavailable(f"The Binance testnet refused the request ({exc.code}: {exc.msg or exc}).")


@contextmanager
def exchange_errors() -> Iterator[None]:
    """Turn the client's "cannot use the exchange now" errors into VenueUnavailable, never a crash."""
    try:
        yield
    except BinanceError as exc:
        raise unavailable(exc) from None
