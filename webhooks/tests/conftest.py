import pytest

from config.celery import app as celery_app

from .receiver import Receiver


@pytest.fixture
def receiver():
    """Start receivers: `receiver(answers=[(500, "no", {})], delay=0)`; each stops after the test."""
    started = []

    def start(answers=(), *, delay: float = 0.0) -> Receiver:
        server = Receiver(answers, delay=delay).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def eager():
    """Celery runs tasks in the test's process as they are queued, retries at once (their countdowns ignored).

    Not propagating: an eager retry is an exception that Celery only turns into the next attempt when it is not
    re-raised."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before
    # Even eager, Celery acquires a producer, which caches a connection to the configured broker: forget it, so a
    # later test that points Celery at another broker (test_celery_worker's Redis) publishes there.
    celery_app._pool = None
    if "amqp" in celery_app.__dict__:
        celery_app.amqp._producer_pool = None
