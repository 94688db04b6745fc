from celery import shared_task
from django.conf import settings

from papertrading.locks import job_lock

from . import agents


@shared_task(name="analysis.tasks.run_demo_agents", ignore_result=True)
def run_demo_agents() -> dict[str, str]:
    """One round of the built-in demo agents, when DEMO_AGENTS_ENABLED; returns what each symbol did."""
    if not settings.DEMO_AGENTS_ENABLED:
        return {}
    with job_lock("run_demo_agents", timeout=settings.DEMO_AGENTS_INTERVAL_SECONDS * 4) as acquired:
        if not acquired:
            return {"skipped": "already running"}
        return agents.run_demo_agents()
