"""GET /healthz: what an operator or a load balancer needs to know, without auth and without secrets."""

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Max
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from .models import MarketPrice

LAST_SYNC_KEY = "health:last-successful-sync"


def record_successful_sync() -> None:
    cache.set(LAST_SYNC_KEY, timezone.now().isoformat(), None)


def _age_seconds(moment) -> float | None:
    return None if moment is None else round((timezone.now() - moment).total_seconds(), 1)


def health_report() -> tuple[bool, dict]:
    checks: dict[str, dict] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True}
    except Exception as exc:  # the point of a health check is to report any failure, not raise it
        checks["database"] = {"ok": False, "error": type(exc).__name__}

    try:
        from config.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = {"ok": True, "transport": conn.transport_cls}
    except Exception as exc:
        checks["broker"] = {"ok": False, "error": type(exc).__name__}

    if checks["database"]["ok"]:
        last_price = MarketPrice.objects.aggregate(at=Max("updated_at"))["at"]
        age = _age_seconds(last_price)
        checks["prices"] = {
            "ok": age is not None and age <= settings.PRICE_STALE_AFTER_SECONDS,
            "last_refresh_age_seconds": age,
            "stale_after_seconds": settings.PRICE_STALE_AFTER_SECONDS,
        }

    if settings.PAPER_TRADING_MODE == "testnet":
        from .binance import RateLimitState

        last_sync = cache.get(LAST_SYNC_KEY)
        sync_age = _age_seconds(timezone.datetime.fromisoformat(last_sync)) if last_sync else None
        checks["sync"] = {
            "ok": sync_age is not None and sync_age <= settings.PRICE_STALE_AFTER_SECONDS,
            "last_success_age_seconds": sync_age,
        }
        limits = RateLimitState().status()
        checks["rate_limit"] = {
            "ok": not limits["paused"],
            "paused": limits["paused"],
            "banned": limits["banned"],
            "until": limits["until"].isoformat() if limits["until"] else None,
            "used_weight_1m": limits["used_weight_1m"],
        }
    healthy = all(check["ok"] for check in checks.values())
    return healthy, {"status": "ok" if healthy else "degraded", "mode": settings.PAPER_TRADING_MODE, "checks": checks}


@require_GET
def healthz(request):
    healthy, body = health_report()
    return JsonResponse(body, status=200 if healthy else 503)
