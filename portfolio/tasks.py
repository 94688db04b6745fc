from celery import shared_task

from . import services


@shared_task(name="portfolio.tasks.snapshot_equity", ignore_result=True)
def snapshot_equity() -> int:
    """Store one equity snapshot (positions at the last prices plus cash); returns its id."""
    return services.snapshot_equity().pk
