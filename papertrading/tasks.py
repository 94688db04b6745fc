"""Periodic work. Each task takes a lock, calls one service and returns a small summary."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from . import selectors, services
from .errors import VenueUnavailable
from .locks import job_lock

logger = logging.getLogger(__name__)
# Network failures (requests' errors are OSErrors) and a database that went away are worth another try; each
# attempt runs in its own transaction, so a failed one leaves the orders as they were.
RETRY = {
    "autoretry_for": (OSError, OperationalError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(**{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], VenueUnavailable)})
def refresh_prices() -> dict:
    """Fetch the next prices; in simulation mode, then match the resting orders they reach."""
    with job_lock("refresh_prices", timeout=60) as acquired:
        if not acquired:
            return {"skipped": "already running"}
        rows = services.refresh_prices(match=False)
    if settings.PAPER_TRADING_MODE == "simulation":
        match_simulated_orders.delay()
    return {row.symbol: str(row.price) for row in rows}


@shared_task
def match_simulated_orders() -> dict:
    """Fill every simulated order the stored prices reach."""
    with job_lock("match_simulated_orders", timeout=120) as acquired:
        if not acquired:
            return {"skipped": "already running"}
        return {
            symbol: services.match_orders(symbol=symbol, market_price=price)
            for symbol, price in selectors.last_prices().items()
        }


@shared_task(**RETRY)
def sync_testnet_orders() -> dict:
    """Bring testnet orders up to date (testnet mode only)."""
    if settings.PAPER_TRADING_MODE != "testnet":
        return {"skipped": "not in testnet mode"}
    with job_lock("sync_orders", timeout=120) as acquired:
        if not acquired:
            return {"skipped": "already running"}
        try:
            report = services.sync_orders()
        except VenueUnavailable as exc:
            logger.warning("testnet sync skipped: %s", exc.message)
            return {"skipped": exc.message}
    return {"changed": report.changed, "request_weight": report.request_weight}


@shared_task(**RETRY)
def mark_day_start() -> int:
    """Record each account's equity at the start of the UTC day, for the daily loss limit (runs every minute, acts
    once a day); returns how many accounts started their day."""
    return services.mark_day_start()
