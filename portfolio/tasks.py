from celery import shared_task

from papertrading.locks import job_lock

from . import services


@shared_task(name="portfolio.tasks.snapshot_equity", ignore_result=True)
def snapshot_equity() -> int | None:
    """Store one equity snapshot of every account (positions at the last prices plus cash); returns how many."""
    with job_lock("snapshot_equity", timeout=60) as acquired:
        if not acquired:
            return None
        return len(services.snapshot_all_accounts())
