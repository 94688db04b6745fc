"""When the venue last answered a sync, and how old that may get: one rule for health and reconciliation."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

LAST_SYNC_KEY = "health:last-successful-sync"


def record_successful_sync() -> None:
    cache.set(LAST_SYNC_KEY, timezone.now().isoformat(), None)


def last_successful_sync() -> datetime | None:
    value = cache.get(LAST_SYNC_KEY)
    return datetime.fromisoformat(value) if value else None


def sync_stale_after() -> timedelta:
    """How long sync may go without the venue answering before health and the admin call it stale."""
    seconds = getattr(settings, "SYNC_STALE_AFTER_SECONDS", None) or settings.PRICE_STALE_AFTER_SECONDS
    return timedelta(seconds=seconds)


def is_sync_stale(moment: datetime | None, *, now: datetime | None = None) -> bool:
    return moment is None or (now or timezone.now()) - moment > sync_stale_after()
