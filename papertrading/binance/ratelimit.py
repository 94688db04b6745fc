"""Rate-limit bookkeeping shared by every process through the Django cache (REFERENCE.md §8).

Binance counts REQUEST_WEIGHT per IP and ORDERS per account, so the web server, workers and shell sessions all
draw on the same budget. Each response's ``X-MBX-USED-WEIGHT-<n><S|M|H|D>`` / ``X-MBX-ORDER-COUNT-<n><S|M|H|D>``
headers are written to the cache; a 429 records a pause and a 418 a ban until ``now + Retry-After`` that every
process honours before sending anything.

The cache must be shared (Redis, database, file) for this to be cross-process; the default locmem cache is
per process. Updates are last-writer-wins (no locking): the counters come from the exchange, so the freshest
answer is the best one anyway.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .errors import BinanceRateLimited

INTERVAL_SECONDS = {"S": 1, "M": 60, "H": 3600, "D": 86400}
EXCHANGE_INTERVAL_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}

# Defaults from the docs / exchangeInfo examples; replaced by exchangeInfo.rateLimits when it has been fetched.
DEFAULT_LIMITS: dict[str, dict[str, int]] = {
    "REQUEST_WEIGHT": {"1M": 6000},
    "ORDERS": {"10S": 50, "1D": 160000},
}

# Without a Retry-After header: the weight window is one minute; bans start at two minutes.
DEFAULT_PAUSE_SECONDS = 60.0
DEFAULT_BAN_SECONDS = 120.0

_HEADER_RE = re.compile(r"^x-mbx-(used-weight|order-count)-(\d+)([smhd])$", re.IGNORECASE)
_BANNED_UNTIL_RE = re.compile(r"banned until (\d{12,})")

CACHE_PREFIX = "papertrading:binance:ratelimit"


def _default_cache() -> Any:
    # Imported lazily so this module can be imported before Django settings are configured.
    from django.core.cache import cache

    return cache


def _interval_seconds(key: str) -> int:
    """``"10S"`` → 10, ``"1M"`` → 60, ``"1D"`` → 86400."""
    return int(key[:-1]) * INTERVAL_SECONDS[key[-1].upper()]


def parse_retry_after(value: str | None, default: float) -> float:
    """Seconds from a ``Retry-After`` header (Binance sends integer seconds); ``default`` if absent/garbled."""
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


class RateLimitState:
    """Read/write the shared rate-limit state.

    ``clock`` returns epoch seconds and ``sleep`` waits; both are injectable so tests need no real time.
    ``max_wait_seconds`` bounds how long :meth:`before_request` may block (a web request must never hang).
    """

    def __init__(
        self,
        cache: Any = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_seconds: float = 2.0,
        prefix: str = CACHE_PREFIX,
    ) -> None:
        self._cache = cache
        self.clock = clock
        self.sleep = sleep
        self.max_wait_seconds = max_wait_seconds
        self.prefix = prefix

    # --- cache plumbing -----------------------------------------------------------------------------------
    @property
    def cache(self) -> Any:
        return self._cache if self._cache is not None else _default_cache()

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def _get_pause(self, name: str) -> dict[str, Any] | None:
        pause = self.cache.get(self._key(name))
        if pause and pause["until"] > self.clock():
            return pause
        return None

    def _set_pause(self, name: str, seconds: float, *, banned: bool, reason: str) -> dict[str, Any]:
        now = self.clock()
        until = now + seconds
        current = self._get_pause(name)
        # Never shorten a pause/ban another process recorded, and never downgrade a ban to a pause.
        if current:
            until = max(until, current["until"])
            banned = banned or current["banned"]
        pause = {"until": until, "banned": banned, "reason": reason, "recorded_at": now}
        self.cache.set(self._key(name), pause, timeout=int(until - now) + 5)
        return pause

    # --- limits --------------------------------------------------------------------------------------------
    def limits(self) -> dict[str, dict[str, int]]:
        """Current limits: ``{"REQUEST_WEIGHT": {"1M": 6000}, "ORDERS": {"10S": 50, "1D": 160000}}``."""
        return self.cache.get(self._key("limits")) or DEFAULT_LIMITS

    def update_limits(self, rate_limits: Iterable[Mapping[str, Any]]) -> None:
        """Store the ``rateLimits`` array of exchangeInfo (RAW_REQUESTS has no header, so it is ignored)."""
        limits: dict[str, dict[str, int]] = {}
        for item in rate_limits:
            kind = item.get("rateLimitType")
            letter = EXCHANGE_INTERVAL_LETTER.get(str(item.get("interval", "")).upper())
            if kind not in ("REQUEST_WEIGHT", "ORDERS") or not letter:
                continue
            limits.setdefault(kind, {})[f"{int(item['intervalNum'])}{letter}"] = int(item["limit"])
        if limits:
            self.cache.set(self._key("limits"), limits, timeout=86400)

    # --- usage from headers --------------------------------------------------------------------------------
    def record_headers(self, headers: Mapping[str, str]) -> None:
        """Store every ``X-MBX-USED-WEIGHT-*`` / ``X-MBX-ORDER-COUNT-*`` header of a response."""
        found: dict[str, dict[str, int]] = {}
        for name, value in headers.items():
            match = _HEADER_RE.match(name)
            if not match:
                continue
            kind = "REQUEST_WEIGHT" if match.group(1).lower() == "used-weight" else "ORDERS"
            try:
                found.setdefault(kind, {})[f"{match.group(2)}{match.group(3).upper()}"] = int(value)
            except ValueError:
                continue
        if not found:
            return
        now = self.clock()
        usage = self.cache.get(self._key("usage")) or {}
        for kind, counts in found.items():
            for interval, count in counts.items():
                usage[f"{kind}:{interval}"] = {"count": count, "at": now}
        self.cache.set(self._key("usage"), usage, timeout=86400 + 60)

    def _current_count(self, kind: str, interval: str, usage: Mapping[str, Any], now: float) -> int:
        entry = usage.get(f"{kind}:{interval}")
        if not entry:
            return 0
        seconds = _interval_seconds(interval)
        # Windows are taken as aligned to the epoch (minute/day boundaries) [unverified]; a count recorded in an
        # earlier window no longer applies.
        if int(entry["at"] // seconds) != int(now // seconds):
            return 0
        return int(entry["count"])

    # --- gate ----------------------------------------------------------------------------------------------
    def before_request(self, weight: int, is_order: bool = False) -> None:
        """Raise ``BinanceRateLimited`` if a pause/ban is active or the budget would be exceeded.

        If the exhausted window resets within ``max_wait_seconds`` this sleeps instead of raising.
        """
        for name in ("pause", "orders_pause") if is_order else ("pause",):
            pause = self._get_pause(name)
            if pause:
                remaining = pause["until"] - self.clock()
                raise BinanceRateLimited(
                    remaining,
                    banned=pause["banned"],
                    until=datetime.fromtimestamp(pause["until"], UTC),
                    scope="orders" if name == "orders_pause" else "all",
                )

        now = self.clock()
        usage = self.cache.get(self._key("usage")) or {}
        limits = self.limits()
        checks: list[tuple[str, int]] = [("REQUEST_WEIGHT", weight)]
        if is_order:
            checks.append(("ORDERS", 1))
        wait = 0.0
        for kind, cost in checks:
            for interval, limit in limits.get(kind, {}).items():
                if self._current_count(kind, interval, usage, now) + cost <= limit:
                    continue
                seconds = _interval_seconds(interval)
                wait = max(wait, (now // seconds + 1) * seconds - now)
        if wait <= 0:
            return
        if wait <= self.max_wait_seconds:
            self.sleep(wait)
            return
        raise BinanceRateLimited(
            wait, banned=False, until=datetime.fromtimestamp(now + wait, UTC), scope="orders" if is_order else "all"
        )

    # --- 429 / 418 -----------------------------------------------------------------------------------------
    def record_rate_limited(
        self, retry_after: str | None, *, banned: bool, orders_only: bool = False, msg: str = ""
    ) -> BinanceRateLimited:
        """Record a 429 pause (or, with ``banned``, a 418 ban) for every process and return the exception."""
        if banned:
            seconds = parse_retry_after(retry_after, DEFAULT_BAN_SECONDS)
            if retry_after is None:
                # The 418 message carries "IP banned until <epoch ms>"; use it when the header is missing.
                match = _BANNED_UNTIL_RE.search(msg)
                if match:
                    seconds = max(seconds, int(match.group(1)) / 1000 - self.clock())
        else:
            seconds = parse_retry_after(retry_after, DEFAULT_PAUSE_SECONDS)
        name = "orders_pause" if orders_only and not banned else "pause"
        pause = self._set_pause(name, seconds, banned=banned, reason=msg[:200])
        return BinanceRateLimited(
            pause["until"] - self.clock(),
            banned=pause["banned"],
            until=datetime.fromtimestamp(pause["until"], UTC),
            scope="orders" if name == "orders_pause" else "all",
            msg=msg or None,
            http_status=418 if banned else 429,
        )

    def clear_pause(self) -> None:
        """Forget any recorded pause/ban (admin action; Binance's ban is not lifted by this)."""
        self.cache.delete_many([self._key("pause"), self._key("orders_pause")])

    # --- reporting -----------------------------------------------------------------------------------------
    def paused_until(self) -> datetime | None:
        """End of the active all-requests pause/ban (UTC), or ``None``."""
        pause = self._get_pause("pause")
        return datetime.fromtimestamp(pause["until"], UTC) if pause else None

    def status(self) -> dict[str, Any]:
        """Snapshot for the health endpoint and the desk."""
        now = self.clock()
        pause = self._get_pause("pause")
        orders_pause = self._get_pause("orders_pause")
        usage = self.cache.get(self._key("usage")) or {}
        limits = self.limits()
        updated = max((entry["at"] for entry in usage.values()), default=None)
        return {
            "paused": pause is not None,
            "banned": bool(pause and pause["banned"]),
            "until": datetime.fromtimestamp(pause["until"], UTC) if pause else None,
            "reason": pause["reason"] if pause else "",
            "orders_paused": orders_pause is not None,
            "orders_until": datetime.fromtimestamp(orders_pause["until"], UTC) if orders_pause else None,
            "used_weight_1m": self._current_count("REQUEST_WEIGHT", "1M", usage, now),
            "weight_limit_1m": limits.get("REQUEST_WEIGHT", {}).get("1M"),
            "order_count_10s": self._current_count("ORDERS", "10S", usage, now),
            "order_limit_10s": limits.get("ORDERS", {}).get("10S"),
            "order_count_1d": self._current_count("ORDERS", "1D", usage, now),
            "order_limit_1d": limits.get("ORDERS", {}).get("1D"),
            "updated_at": datetime.fromtimestamp(updated, UTC) if updated is not None else None,
        }
