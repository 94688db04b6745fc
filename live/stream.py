"""One page's or agent's stream: what it missed (from its Last-Event-ID), its balances, then every change as the
process's reader hands it over, with a comment every `LIVE_HEARTBEAT_SECONDS` of silence.

The stream holds no database connection while it waits. It ends after `LIVE_STREAM_SECONDS` (the browser
reconnects at once with its Last-Event-ID, so nothing is lost) and when it falls too far behind.
"""

import queue
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import connection

from papertrading.models import Account

from . import log, render
from .hub import Hub, Subscription

REPLAY_LIMIT = 1000
RETRY_MS = 1000
HEARTBEAT = b": heartbeat\n\n"


def open_stream(hub: Hub, account: Account, last: log.Position | None) -> Iterator[bytes]:
    """Subscribe now (StreamUnavailable when this process cannot), and return what the response sends."""
    subscription = hub.subscribe(account.pk)
    return _stream(hub, subscription, account, last)


def _stream(hub: Hub, subscription: Subscription, account: Account, last: log.Position | None) -> Iterator[bytes]:
    try:
        yield f"retry: {RETRY_MS}\n: account {account.pk}\n\n".encode()
        if last is None:
            position = log.head(account_id=account.pk)
        else:
            missed = log.after(last, account_id=account.pk, limit=REPLAY_LIMIT + 1)
            if len(missed) > REPLAY_LIMIT or _forgotten(account, last):
                # Too much, or older than the log keeps: the page reloads what it shows instead.
                position = log.head(account_id=account.pk)
                yield render.Message("reset", {"reason": "Too much was missed to replay; reload."}, position).frame()
            else:
                position = last
                for message in render.messages(missed).get(account.pk, []):
                    if message.position is not None:  # the balances follow once, below
                        yield message.frame()
                        position = message.position
        yield render.balance_message(account).frame()
        _release_connection()  # nothing is read while waiting
        deadline = time.monotonic() + settings.LIVE_STREAM_SECONDS
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                batch = subscription.queue.get(timeout=min(settings.LIVE_HEARTBEAT_SECONDS, remaining))
            except queue.Empty:
                yield HEARTBEAT
                continue
            if subscription.overflowed:
                return  # the page reconnects with its Last-Event-ID and replays
            fresh = [m for m in batch if m.position is None or m.position > position]
            if all(m.position is None for m in fresh):
                continue  # everything in it was replayed already
            for message in fresh:
                yield message.frame()
                position = message.position or position
    finally:
        hub.unsubscribe(subscription)
        _release_connection()


def _release_connection() -> None:
    # Inside a transaction (a test's), closing would break it; a request's connection is never in one here.
    if not connection.in_atomic_block:
        connection.close()


def _forgotten(account: Account, last: log.Position) -> bool:
    """Whether `last` is older than the oldest row the log still has of the account (pruned since)."""
    oldest = account.live_events.order_by("txid", "id").values_list("txid", "id").first()
    return oldest is not None and tuple(oldest) > last and last != log.START
