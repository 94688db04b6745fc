"""One reader of the live log per process, shared by every stream the process serves.

The reader (a daemon thread, started by the first stream) wakes when PostgreSQL notifies that rows were written
(a trigger on the table, delivered at commit), and at least every `LIVE_SAFETY_SECONDS`; elsewhere it reads every
`LIVE_POLL_SECONDS`. Each wake-up is one indexed read of the rows after its position, however many pages are
open; the rows of accounts nobody here watches are skipped, the others rendered once per batch and handed to each
of their streams' queues. A stream that falls too far behind is closed; its page reconnects and replays.
"""

import logging
import queue
import threading
from collections import defaultdict

from django.conf import settings
from django.db import close_old_connections, connection

from . import log, render

logger = logging.getLogger(__name__)

CHANNEL = "paper_live"
BATCH = 500


class Subscription:
    """What one stream receives: batches of its account's messages."""

    def __init__(self, account_id: int, *, capacity: int = 1000) -> None:
        self.account_id = account_id
        self.queue: queue.Queue[list[render.Message]] = queue.Queue(maxsize=capacity)
        self.overflowed = False

    def deliver(self, batch: list[render.Message]) -> None:
        try:
            self.queue.put_nowait(batch)
        except queue.Full:
            self.overflowed = True


class StreamUnavailable(Exception):
    """This process cannot serve a stream now; the message says why (the page polls meanwhile)."""


def streams_possible() -> bool:
    """False on an in-memory SQLite database (pytest's): it lives in one connection, which a reader thread of its
    own cannot open."""
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


class Hub:
    def __init__(self, *, reader: bool = True) -> None:
        # reader=False: no thread; whoever owns the hub calls `step` (the tests).
        self._reader = reader
        self._lock = threading.Lock()
        self._subscriptions: dict[int, set[Subscription]] = defaultdict(set)
        self._count = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.position: log.Position | None = None

    # --- streams ------------------------------------------------------------------------------------------------

    def subscribe(self, account_id: int) -> Subscription:
        subscription = Subscription(account_id)
        if self._reader and not streams_possible():
            raise StreamUnavailable("The live stream needs a database file or server; poll the API instead.")
        with self._lock:
            if self._count >= settings.LIVE_MAX_STREAMS:
                raise StreamUnavailable("Too many open streams here; poll the API and try again shortly.")
            if self.position is None:
                # Before the stream reads where it starts from, so nothing falls between the two.
                self.position = log.head()
            self._subscriptions[account_id].add(subscription)
            self._count += 1
            if self._reader and (self._thread is None or not self._thread.is_alive()):
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            watchers = self._subscriptions.get(subscription.account_id)
            if watchers and subscription in watchers:
                watchers.discard(subscription)
                self._count -= 1
                if not watchers:
                    del self._subscriptions[subscription.account_id]

    @property
    def streams(self) -> int:
        return self._count

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None

    # --- reading ------------------------------------------------------------------------------------------------

    def step(self) -> int:
        """Read what was written since the last step and hand it to the streams watching; how many rows were read."""
        with self._lock:
            watched = set(self._subscriptions)
            if not watched:
                self.position = None  # nobody to tell: the next stream starts the reader at the end
                return 0
        read = 0
        while True:
            rows = log.after(self.position, limit=BATCH)
            if not rows:
                return read
            read += len(rows)
            self.position = log.position_of(rows[-1])
            wanted = [row for row in rows if row.account_id in watched]
            if wanted:
                for account_id, batch in render.messages(wanted).items():
                    with self._lock:
                        targets = list(self._subscriptions.get(account_id, ()))
                    for subscription in targets:
                        subscription.deliver(batch)
            if len(rows) < BATCH:
                return read

    def _run(self) -> None:
        listener = None
        while not self._stop.is_set():
            try:
                if listener is None and connection.vendor == "postgresql":
                    listener = _listen()
                if listener is not None:
                    _wait_for_notice(listener, settings.LIVE_SAFETY_SECONDS)
                else:
                    self._wake.wait(settings.LIVE_POLL_SECONDS)
                    self._wake.clear()
                if self._stop.is_set():
                    break
                self.step()
            except Exception:
                logger.exception("The live reader failed; retrying in a second")
                if listener is not None:
                    listener.close()
                    listener = None
                connection.close()
                self._stop.wait(1)
            finally:
                close_old_connections()
        if listener is not None:
            listener.close()
        connection.close()


def _listen():
    """A connection of its own, in autocommit, LISTENing on the live channel."""
    import psycopg

    params = connection.get_connection_params()
    conninfo = {key: value for key, value in params.items() if key not in {"cursor_factory", "context"}}
    listener = psycopg.connect(**conninfo, autocommit=True)
    listener.execute(f"LISTEN {CHANNEL}")
    return listener


def _wait_for_notice(listener, timeout: float) -> None:
    for _ in listener.notifies(timeout=timeout, stop_after=1):
        pass


_hub: Hub | None = None
_hub_lock = threading.Lock()


def get_hub() -> Hub:
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = Hub()
        return _hub
