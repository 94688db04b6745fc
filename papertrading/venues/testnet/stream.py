"""The testnet user data stream: Binance pushes each order change over its WebSocket API; we apply it at once.

One long-running process (``manage.py user_stream``) keeps a connection to ``BINANCE_TESTNET_WS_URL``, subscribes
with ``userDataStream.subscribe.signature`` (signed like a REST request) and applies every ``executionReport``
through the same path as sync: ``apply_with_funds`` on the locked order row, only while the order is still working
or unknown. Trade ids make a fill count once, whichever of the stream, the placing request or sync records it first.

Events can be missed while the connection is down, so after every (re)connect the caller's ``reconcile`` (a REST
sync) runs once, after the subscription is in place. The connection is retried with capped exponential backoff.
The process records its state in the shared cache for ``/healthz``; nothing here logs the key or the signature.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from ...binance import BinanceError, BinanceTestnetClient
from ...models import OrderEvent, PaperOrder, Venue
from ..base import ExecutionReport
from .answers import MalformedAnswer, report_from_event
from .funds import apply_with_funds
from .lists import apply_list_reports

logger = logging.getLogger(__name__)

STATE_KEY = "papertrading:testnet:user_stream"
ACTOR = "user data stream"
SUBSCRIBE_METHOD = "userDataStream.subscribe.signature"
# How often the process proves it is alive in the cache even when no event arrives, and after how long without
# such a proof /healthz calls it "not running".
HEARTBEAT_SECONDS = 5
HEARTBEAT_STALE_SECONDS = 30
# Binance ends a connection after 24 h; reconnect (and reconcile) a little before.
MAX_CONNECTION_SECONDS = 23 * 3600
# A connection that lasted this long resets the backoff; one that drops sooner keeps backing off.
STABLE_SECONDS = 60


class StreamError(Exception):
    """The stream cannot go on on this connection (subscription refused or ended): reconnect."""


# --- state for /healthz --------------------------------------------------------------------------------------
def read_state() -> dict | None:
    return cache.get(STATE_KEY)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def stream_health(now: datetime | None = None) -> dict:
    """What /healthz says about the stream: connected, reconnecting or not running; ``ok`` is False only when it
    has been down longer than USER_STREAM_DOWN_AFTER_SECONDS (a process that never ran is reported, not red)."""
    now = now or timezone.now()
    allowed = settings.USER_STREAM_DOWN_AFTER_SECONDS
    state = read_state()
    if not state:
        return {"ok": True, "state": "not running", "down_after_seconds": allowed}
    heartbeat = datetime.fromisoformat(state["heartbeat_at"])
    name = state["state"]
    down_since = datetime.fromisoformat(state["down_since"]) if state.get("down_since") else None
    if name != "stopped" and (now - heartbeat).total_seconds() > HEARTBEAT_STALE_SECONDS:
        name = "not running"
    if name in ("not running", "stopped"):
        name = "not running"
        down_since = down_since or heartbeat
    down_seconds = None if name == "connected" or down_since is None else (now - down_since).total_seconds()
    body = {
        "ok": down_seconds is None or down_seconds <= allowed,
        "state": name,
        "connected_since": state.get("connected_since"),
        "last_event_at": state.get("last_event_at"),
        "reconnects": state.get("reconnects", 0),
        "down_after_seconds": allowed,
    }
    if down_seconds is not None:
        body["down_seconds"] = round(down_seconds, 1)
    if state.get("last_error"):
        body["last_error"] = state["last_error"]
    return body


# --- executionReport → the order -----------------------------------------------------------------------------
def find_order(event: dict) -> PaperOrder | None:
    """The local testnet order an executionReport is about: by client id (``C``, the original one, on a cancel;
    else ``c``) or by exchange order id ``i``."""
    client_ids = {str(event[key]) for key in ("C", "c") if event.get(key)}
    match = Q(venue_order_ref__in=client_ids) if client_ids else Q(pk__in=[])
    with contextlib.suppress(KeyError, TypeError, ValueError):
        match |= Q(binance_order_id=int(event["i"]), symbol=str(event.get("s") or ""))
    return PaperOrder.objects.filter(match, venue=Venue.TESTNET).order_by("pk").first()


class UserStream:
    """Keeps the subscription alive and applies its events. ``reconcile`` is the REST sync run after every
    (re)connect; ``stop`` (checked at least every second) ends :meth:`run`."""

    def __init__(
        self,
        venue,
        *,
        reconcile: Callable[[], Any],
        url: str | None = None,
        initial_backoff: float = 1.0,
        max_backoff: float = 60.0,
        open_timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        on_applied: Callable[[PaperOrder, ExecutionReport], None] | None = None,
    ) -> None:
        self.venue = venue
        self.client: BinanceTestnetClient = venue.client
        self.reconcile = reconcile
        self.url = url or settings.BINANCE_TESTNET_WS_URL
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.open_timeout = open_timeout
        self.sleep = sleep
        self.on_applied = on_applied
        self.request_id = 0
        self.state: dict[str, Any] = {
            "pid": os.getpid(),
            "state": "starting",
            "connected_since": None,
            "down_since": _iso(timezone.now()),
            "last_event_at": None,
            "last_error": "",
            "reconnects": 0,
        }
        self._last_heartbeat = 0.0
        self.applied = 0

    # --- state -------------------------------------------------------------------------------------------------
    def save_state(self, **changes: Any) -> None:
        self.state.update(changes, heartbeat_at=_iso(timezone.now()))
        cache.set(STATE_KEY, dict(self.state), timeout=None)
        self._last_heartbeat = time.monotonic()

    def heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self.save_state()

    # --- the loop ----------------------------------------------------------------------------------------------
    def run(self, stop: Callable[[], bool] = lambda: False) -> None:
        attempt = 0
        self.save_state()
        try:
            while not stop():
                started = time.monotonic()
                try:
                    self.run_connection(stop)
                except (OSError, TimeoutError, WebSocketException, BinanceError, StreamError) as exc:
                    # The exception text may name the URL (never a key or signature: those travel in frames).
                    error = f"{type(exc).__name__}: {str(exc)[:200]}"
                    logger.warning("user data stream: connection lost (%s)", error)
                    self.save_state(last_error=error)
                if stop():
                    break
                if time.monotonic() - started >= STABLE_SECONDS:
                    attempt = 0
                delay = min(self.max_backoff, self.initial_backoff * 2**attempt)
                attempt += 1
                if self.state["state"] == "connected":
                    self.state["down_since"] = _iso(timezone.now())
                self.save_state(state="reconnecting", connected_since=None, reconnects=self.state["reconnects"] + 1)
                self.wait(delay, stop)
        finally:
            self.save_state(state="stopped", connected_since=None, down_since=_iso(timezone.now()))

    def wait(self, seconds: float, stop: Callable[[], bool]) -> None:
        deadline = time.monotonic() + seconds
        while not stop() and (left := deadline - time.monotonic()) > 0:
            self.sleep(min(left, 1.0))
            self.heartbeat()

    def run_connection(self, stop: Callable[[], bool]) -> None:
        with connect(self.url, open_timeout=self.open_timeout, close_timeout=2, max_size=2**20) as ws:
            subscription = self.subscribe(ws)
            opened = time.monotonic()
            now = _iso(timezone.now())
            self.save_state(state="connected", connected_since=now, down_since=None)
            logger.info("user data stream: subscribed (subscription %s)", subscription)
            # Subscribed first, then the REST sync: whatever changed during the gap is either in the sync's answers
            # or in the events queued on the connection meanwhile (applied next; trade ids dedupe the overlap).
            self.run_reconcile()
            while not stop():
                if time.monotonic() - opened > MAX_CONNECTION_SECONDS:
                    raise StreamError("connection renewed before Binance's 24 h limit")
                try:
                    message = ws.recv(timeout=1.0)
                except TimeoutError:
                    self.heartbeat()
                    continue
                self.handle_message(message)
                self.heartbeat()

    def run_reconcile(self) -> None:
        try:
            self.reconcile()
        except Exception as exc:  # the stream goes on; the periodic sync (the reconciler) will try again
            logger.warning("user data stream: the REST sync after (re)connecting failed (%s)", type(exc).__name__)
            self.save_state(last_error=f"REST sync after reconnect failed: {type(exc).__name__}")

    # --- subscribing -------------------------------------------------------------------------------------------
    def subscribe_request(self) -> dict:
        """``userDataStream.subscribe.signature``: apiKey and timestamp (on the exchange's clock, as REST), signed
        over the params sorted by name, as for REST."""
        if not self.client.is_configured():
            raise StreamError("no testnet API key/secret configured")
        params = self.client.signed_ws_params()
        self.request_id += 1
        return {"id": f"subscribe-{self.request_id}", "method": SUBSCRIBE_METHOD, "params": params}

    def subscribe(self, ws: ClientConnection) -> int:
        request = self.subscribe_request()
        ws.send(json.dumps(request))
        deadline = time.monotonic() + self.open_timeout
        while (left := deadline - time.monotonic()) > 0:
            answer = json.loads(ws.recv(timeout=left))
            if not isinstance(answer, dict) or answer.get("id") != request["id"]:
                continue  # nothing else is expected before the answer; ignore it
            if answer.get("status") != 200:
                error = answer.get("error") or {}
                raise StreamError(f"subscription refused ({error.get('code')}: {str(error.get('msg'))[:120]})")
            return (answer.get("result") or {}).get("subscriptionId")
        raise TimeoutError("no answer to the subscription request")

    # --- events ------------------------------------------------------------------------------------------------
    def handle_message(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            logger.warning("user data stream: a message was not JSON; skipped")
            return
        event = data.get("event") if isinstance(data, dict) else None
        if not isinstance(event, dict):
            return  # answers to requests, or anything else that is not an event
        self.save_state(last_event_at=_iso(timezone.now()))
        kind = event.get("e")
        if kind == "eventStreamTerminated":
            raise StreamError("the exchange ended the subscription")
        if kind == "executionReport":
            self.apply_event(event)

    def apply_event(self, event: dict) -> bool:
        """Apply one executionReport; True when the order changed."""
        try:
            report = report_from_event(event)
        except MalformedAnswer as exc:
            logger.warning("user data stream: an executionReport was not readable (%s); left to sync", exc)
            return False
        order = find_order(event)
        if order is None:
            logger.info(
                "user data stream: executionReport for order #%s (%s) not known here; left to sync",
                event.get("i"),
                event.get("s"),
            )
            return False
        if order.status not in PaperOrder.OPEN_STATUSES:
            return False
        try:
            # A gap may have hidden earlier trades of the order: fetch them (myTrades) before recording a status
            # that would close the order without them.
            self.venue.complete_fills(report, symbol=order.symbol, stored=self.venue.stored_fill_quantity(order.pk))
        except (BinanceError, MalformedAnswer) as exc:
            logger.warning("user data stream: order %s's trades could not be read (%s); left to sync", order.pk, exc)
            return False
        return self.apply(order.pk, report)

    def apply(self, pk: int, report: ExecutionReport) -> bool:
        """Under the order's row lock, only while it is still working or unknown (as sync does); a leg of an order
        list with its list (``lists.apply_list_reports``)."""
        list_id = PaperOrder.objects.filter(pk=pk).values_list("order_list_id", flat=True).first()
        try:
            if list_id is not None:
                outcome = apply_list_reports(list_id, {pk: report}, source=OrderEvent.Source.SYNC, actor=ACTOR)
                return self._applied(outcome.leg(pk), report, changed=pk in outcome.changed)
            with transaction.atomic():
                order = (
                    PaperOrder.objects.select_for_update().filter(pk=pk, status__in=PaperOrder.OPEN_STATUSES).first()
                )
                if order is None:
                    return False
                before = (order.status, order.executed_quantity, order.binance_order_id)
                fills_before = order.fills.count()
                apply_with_funds(order, report, source=OrderEvent.Source.SYNC, actor=ACTOR)
                changed = (order.status, order.executed_quantity, order.binance_order_id) != before
                changed = changed or order.fills.count() != fills_before
        except DatabaseError as exc:
            logger.warning("user data stream: order %s could not be updated (%s); left to sync", pk, type(exc).__name__)
            return False
        return self._applied(order, report, changed=changed)

    def _applied(self, order: PaperOrder, report: ExecutionReport, *, changed: bool) -> bool:
        if changed:
            self.applied += 1
            logger.info(
                "user data stream: order %s is %s (executed %s)", order.pk, order.status, order.executed_quantity
            )
            if self.on_applied is not None:
                self.on_applied(order, report)
        return changed
