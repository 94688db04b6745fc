"""Standalone Binance Spot Testnet REST client (no Django models; uses settings and the shared cache).

Typical use::

    from papertrading.binance import BinanceTestnetClient, BinanceOutcomeUnknown

    client = BinanceTestnetClient()
    try:
        report = client.place_order("BTCUSDT", "BUY", "LIMIT", Decimal("0.001"), Decimal("60000"), time_in_force="GTC",
                                    client_order_id=order.client_order_id)
    except BinanceOutcomeUnknown:
        ...  # re-query with client.get_order(symbol, client_order_id=...) before deciding anything
"""

from .client import BinanceTestnetClient, format_decimal, get_session, masked_api_key, reset_clock_offsets
from .errors import (
    BinanceAPIError,
    BinanceAuthError,
    BinanceClockSkew,
    BinanceError,
    BinanceNoSuchOrder,
    BinanceNotConfigured,
    BinanceOutcomeUnknown,
    BinanceRateLimited,
    BinanceRejected,
    BinanceUnavailable,
)
from .ratelimit import RateLimitState
from .signing import build_signed_query, sign_payload

__all__ = [
    "BinanceAPIError",
    "BinanceAuthError",
    "BinanceClockSkew",
    "BinanceError",
    "BinanceNoSuchOrder",
    "BinanceNotConfigured",
    "BinanceOutcomeUnknown",
    "BinanceRateLimited",
    "BinanceRejected",
    "BinanceTestnetClient",
    "BinanceUnavailable",
    "RateLimitState",
    "build_signed_query",
    "format_decimal",
    "get_session",
    "masked_api_key",
    "reset_clock_offsets",
    "sign_payload",
]
