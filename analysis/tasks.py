from celery import shared_task
from django.conf import settings

from . import agents


@shared_task(name="analysis.tasks.run_demo_agents", ignore_result=True)
def run_demo_agents() -> dict[str, str]:
    """One round of the built-in demo agents, when DEMO_AGENTS_ENABLED; returns what each symbol did."""
    if not settings.DEMO_AGENTS_ENABLED:
        return {}
    return agents.run_demo_agents()
