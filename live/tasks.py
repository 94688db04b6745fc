"""Live work for the Celery beat: forget events older than any page may still replay."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import log


@shared_task
def prune_live_events() -> int:
    return log.prune(before=timezone.now() - timedelta(hours=settings.LIVE_RETENTION_HOURS))
