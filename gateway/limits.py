"""Binance's rate limits, per key: request weight per minute, new orders per 10 seconds and per day.

Counted in the shared cache (every web process sees the same counts) in fixed windows, as Binance counts them;
a request past a limit is answered 429 with Retry-After, the seconds until its window ends.
"""

import time

from django.conf import settings
from django.core.cache import cache

from . import errors

WEIGHT_WINDOW = 60
ORDER_WINDOWS = (("10S", 10, "10 SECOND"), ("1D", 86400, "1 DAY"))


def _window(seconds: int, now: float) -> tuple[int, int]:
    """The current window's start, and the whole seconds until it ends (at least 1)."""
    start = int(now // seconds) * seconds
    return start, max(1, int(start + seconds - now + 0.999))


def _add(key: str, amount: int, timeout: int) -> int:
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key, amount)
    except ValueError:  # expired between the two calls
        cache.set(key, amount, timeout)
        return amount


def spend_weight(bucket: str, weight: int) -> int:
    """Add a request's weight to the bucket's minute; the weight used so far, or -1003 (429) past the limit."""
    now = time.time()
    start, retry_after = _window(WEIGHT_WINDOW, now)
    used = _add(f"gateway:weight:{bucket}:{start}", weight, WEIGHT_WINDOW + 5)
    limit = settings.GATEWAY_WEIGHT_LIMIT_1M
    if used > limit:
        raise errors.too_much_weight(limit, retry_after)
    return used


def used_weight(bucket: str) -> int:
    start, _ = _window(WEIGHT_WINDOW, time.time())
    return cache.get(f"gateway:weight:{bucket}:{start}", 0)


def _order_limits() -> dict[str, int]:
    return {"10S": settings.GATEWAY_ORDER_LIMIT_10S, "1D": settings.GATEWAY_ORDER_LIMIT_1D}


def order_counts(bucket: str) -> dict[str, int]:
    now = time.time()
    return {
        suffix: cache.get(f"gateway:orders:{suffix}:{bucket}:{_window(seconds, now)[0]}", 0)
        for suffix, seconds, _ in ORDER_WINDOWS
    }


def check_order_room(bucket: str, orders: int = 1) -> None:
    """-1015 (429) when `orders` new orders (an order list counts each leg) would pass an order-count limit;
    nothing is counted."""
    now = time.time()
    limits = _order_limits()
    for suffix, seconds, interval in ORDER_WINDOWS:
        start, retry_after = _window(seconds, now)
        if cache.get(f"gateway:orders:{suffix}:{bucket}:{start}", 0) + orders > limits[suffix]:
            raise errors.too_many_orders(limits[suffix], interval, retry_after)


def count_order(bucket: str, orders: int = 1) -> dict[str, int]:
    """Count `orders` new orders (one, or a list's legs) in every window; the counts after them."""
    now = time.time()
    return {
        suffix: _add(f"gateway:orders:{suffix}:{bucket}:{_window(seconds, now)[0]}", orders, seconds + 5)
        for suffix, seconds, _ in ORDER_WINDOWS
    }
