from celery import shared_task

from papertrading.locks import job_lock

from . import services


@shared_task(name="portfolio.tasks.snapshot_equity", ignore_result=True)
def snapshot_equity() -> int | None:
    """Store one equity snapshot (positions at the last prices plus cash); returns its id."""
    with job_lock("snapshot_equity", timeout=60) as acquired:
        if not acquired:
            return None
        return services.snapshot_equity().pk
