"""Reads of orders and balances, shared by the API, the pages and the admin."""

from datetime import timedelta

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.utils import timezone

from .models import OrderEvent, OrderFill, PaperOrder, Venue


def order_list() -> QuerySet[PaperOrder]:
    """Every order, newest first."""
    return PaperOrder.objects.select_related("placed_by").order_by("-created_at", "-id")


def open_order_list() -> QuerySet[PaperOrder]:
    return order_list().filter(status__in=PaperOrder.WORKING_STATUSES)


def _history() -> tuple[Prefetch, Prefetch]:
    return (
        Prefetch("fills", queryset=OrderFill.objects.order_by("id")),
        Prefetch("events", queryset=OrderEvent.objects.order_by("id")),
    )


def order_with_history() -> QuerySet[PaperOrder]:
    return order_list().prefetch_related(*_history())


def with_history(order: PaperOrder) -> PaperOrder:
    """Attach fills and events to an order already in hand (at most two queries, no re-read of the order)."""
    if "fills" not in getattr(order, "_prefetched_objects_cache", {}):
        prefetch_related_objects([order], *_history())
    return order


def attach_history(order: PaperOrder, *, fills: list[OrderFill], events: list[OrderEvent]) -> None:
    """Store known fills and events as if prefetched, the way prefetch_related_objects does."""
    cache = order.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, rows in (("fills", fills), ("events", events)):
        queryset = getattr(order, name).all()
        queryset._result_cache, queryset._prefetch_done = list(rows), True
        cache[name] = queryset


def testnet_notices(*, reset_window: timedelta = timedelta(days=7)) -> list[str]:
    """What a trader on the testnet should know now: a rate-limit pause, orders closed by a testnet reset."""
    from .binance import RateLimitState
    from .venues.testnet import RESET_REASON

    notices = []
    limits = RateLimitState().status()
    if limits["orders_paused"] and not limits["paused"]:
        notices.append(
            f"New orders are paused by the exchange's order rate limit until {limits['orders_until']:%H:%M:%S} UTC."
        )
    closed = PaperOrder.objects.filter(
        venue=Venue.TESTNET, reject_reason=RESET_REASON, updated_at__gte=timezone.now() - reset_window
    )
    if count := closed.count():
        notices.append(
            f"{count} order(s) were closed because the testnet was reset and no longer knew them; nothing was resent."
        )
    return notices
