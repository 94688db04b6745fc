"""A lock in the shared cache so a periodic job never overlaps with itself across processes."""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

logger = logging.getLogger(__name__)


@contextmanager
def job_lock(name: str, *, timeout: int = 300) -> Iterator[bool]:
    """Yield True when this process holds the lock `name`, False when another run holds it.

    `cache.add` is atomic on Redis and in-process caches; `timeout` frees the lock of a run that died.
    """
    key, token = f"job-lock:{name}", uuid.uuid4().hex
    acquired = cache.add(key, token, timeout)
    if not acquired:
        logger.info("%s is already running elsewhere; skipping this run", name)
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)
