"""The Binance Spot Testnet venue, along its seams: `answers` maps what the exchange says onto the venue's types,
`venue` places, cancels and reads orders and order lists, `sync` brings local orders up to date, `funds` and
`lists` move what orders (and the legs of a list, together) hold, `messages` says what went wrong."""

from .answers import map_status, report_from_order
from .messages import NO_SUCH_ORDER_REASON, NOT_CONFIGURED_MESSAGE, NOT_SENT_REASON, RESET_REASON
from .sync import max_send_delay
from .venue import TestnetVenue

__all__ = [
    "NOT_CONFIGURED_MESSAGE",
    "NOT_SENT_REASON",
    "NO_SUCH_ORDER_REASON",
    "RESET_REASON",
    "TestnetVenue",
    "map_status",
    "max_send_delay",
    "report_from_order",
]
