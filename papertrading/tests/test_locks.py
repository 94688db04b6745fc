from django.core.cache import cache

from papertrading import tasks
from papertrading.locks import job_lock


def test_second_holder_of_a_job_lock_is_refused_until_the_first_releases():
    with job_lock("refresh_prices") as first, job_lock("refresh_prices") as second:
        assert (first, second) == (True, False)
    with job_lock("refresh_prices") as again:
        assert again is True


def test_a_lock_left_by_another_process_is_not_released_by_a_refused_run():
    cache.set("job-lock:sync_orders", "someone-else", 60)
    with job_lock("sync_orders") as acquired:
        assert acquired is False
    assert cache.get("job-lock:sync_orders") == "someone-else"


def test_match_task_skips_and_says_so_while_another_run_holds_the_lock(db):
    with job_lock("match_simulated_orders"):
        assert tasks.match_simulated_orders.apply().get() == {"skipped": "already running"}
