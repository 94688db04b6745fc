"""GET /healthz: what an operator or a load balancer needs to know, without auth and without secrets."""

from celery import current_app
from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import selectors
from .models import MarketPrice, Venue
from .sync_status import is_sync_stale, last_successful_sync
from .venues.testnet.stream import stream_health


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
        with current_app.connection_for_write() as conn:
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

    if settings.PAPER_TRADING_MODE == Venue.TESTNET:
        # A sync that succeeds has heard the exchange answer (it asks even with no order to check), so a stale
        # sync means an exchange that is unreachable, refusing the credentials, or a worker that stopped.
        last_sync = last_successful_sync()
        status = selectors.venue_status()
        checks["sync"] = {
            "ok": not is_sync_stale(last_sync) and not status.error,
            "last_success_age_seconds": _age_seconds(last_sync),
        }
        if status.error:
            checks["sync"]["error"] = status.error
        checks["rate_limit"] = {
            "ok": not status.paused,
            "paused": status.paused,
            "banned": status.banned,
            "until": status.paused_until.isoformat() if status.paused_until else None,
            "used_weight_1m": status.used_weight_1m,
        }
        # The user data stream (manage.py user_stream): connected, reconnecting or not running; red only when it
        # has been down longer than USER_STREAM_DOWN_AFTER_SECONDS (the REST sync still reconciles meanwhile).
        checks["user_stream"] = stream_health()
    healthy = all(check["ok"] for check in checks.values())
    return healthy, {"status": "ok" if healthy else "degraded", "mode": settings.PAPER_TRADING_MODE, "checks": checks}


@require_GET
def healthz(request):
    healthy, body = health_report()
    return JsonResponse(body, status=200 if healthy else 503)
