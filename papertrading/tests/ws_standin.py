"""A stand-in for Binance's WebSocket API user data stream (REFERENCE.md §9.1), on 127.0.0.1, for the stream tests.

It accepts ``userDataStream.subscribe.signature`` only with the configured API key, a timestamp inside the
recvWindow and an HMAC-SHA256 signature over the params sorted by name (signature excluded), answering
``{"id", "status": 200, "result": {"subscriptionId": N}}``; anything else gets Binance's error shape. Test hooks:
``push(event)`` sends an event to every subscriber (returns when it was sent), ``drop()`` closes every connection,
``accepting`` (False: new connections are closed at once), ``execution_report(...)`` builds an event from an
order of the REST stand-in (standin.py).

    with WsStandIn(api_key=KEY, secret=SECRET) as ws:
        settings.BINANCE_TESTNET_WS_URL = ws.url
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from .standin import Order, fmt


class WsStandIn:
    def __init__(self, *, api_key: str, secret: str, recv_window_ms: int = 60000) -> None:
        self.api_key, self.secret, self.recv_window_ms = api_key, secret, recv_window_ms
        self.accepting = True
        self.requests: list[dict] = []  # every request received, as parsed
        self.refused: list[str] = []  # why each refused subscription or connection was refused
        self.connections_opened = 0
        self.subscribers: dict[ServerConnection, int] = {}
        self.next_subscription = 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._server: Server | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> WsStandIn:
        self._server = serve(self._handle, "127.0.0.1", 0, ping_interval=None)
        threading.Thread(target=self._server.serve_forever, name="ws-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.drop()
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> WsStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/ws-api/v3"

    # --- test hooks --------------------------------------------------------------------------------------------
    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout=timeout)

    def subscriptions(self) -> int:
        return self.next_subscription

    def push(self, event: dict) -> float:
        """Send the event to every current subscriber; the time.perf_counter() just before it went out."""
        with self.lock:
            targets = list(self.subscribers.items())
        sent_at = time.perf_counter()
        for connection, subscription in targets:
            with contextlib.suppress(ConnectionClosed):
                connection.send(json.dumps({"subscriptionId": subscription, "event": event}))
        return sent_at

    def drop(self) -> None:
        """Every connection ends (as when the network drops or Binance restarts the server)."""
        with self.lock:
            targets = list(self.subscribers)
            self.subscribers.clear()
        for connection in targets:
            connection.close(code=1001, reason="going away")

    # --- serving -----------------------------------------------------------------------------------------------
    def _handle(self, connection: ServerConnection) -> None:
        with self.changed:
            self.connections_opened += 1
            accepting = self.accepting
            if not accepting:
                self.refused.append("not accepting")
            self.changed.notify_all()
        if not accepting:
            connection.close(code=1013, reason="try again later")
            return
        try:
            for message in connection:
                request = json.loads(message)
                with self.changed:
                    self.requests.append(request)
                    self.changed.notify_all()
                connection.send(json.dumps(self._answer(connection, request)))
        except ConnectionClosed:
            pass
        finally:
            with self.changed:
                self.subscribers.pop(connection, None)
                self.changed.notify_all()

    def _answer(self, connection: ServerConnection, request: dict) -> dict:
        request_id = request.get("id")
        if request.get("method") != "userDataStream.subscribe.signature":
            return self._error(request_id, 400, -1100, "Unknown method.")
        params = dict(request.get("params") or {})
        signature = str(params.pop("signature", ""))
        if params.get("apiKey") != self.api_key:
            return self._error(request_id, 401, -2015, "Invalid API-key, IP, or permissions for action.")
        expected = hmac.new(
            self.secret.encode(), urlencode(sorted(params.items())).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return self._error(request_id, 400, -1022, "Signature for this request is not valid.")
        now = int(time.time() * 1000)
        window = int(params.get("recvWindow") or 5000)
        if not (now - min(window, self.recv_window_ms) <= int(params.get("timestamp") or 0) <= now + 1000):
            return self._error(request_id, 400, -1021, "Timestamp for this request is outside of the recvWindow.")
        with self.changed:
            self.next_subscription += 1
            self.subscribers[connection] = self.next_subscription
            self.changed.notify_all()
            subscription = self.next_subscription
        return {"id": request_id, "status": 200, "result": {"subscriptionId": subscription}, "rateLimits": []}

    def _error(self, request_id: Any, status: int, code: int, msg: str) -> dict:
        with self.changed:
            self.refused.append(f"{code} {msg}")
            self.changed.notify_all()
        return {"id": request_id, "status": status, "error": {"code": code, "msg": msg}}


def execution_report(order: Order, *, execution: str | None = None, fill: dict | None = None, **changes) -> dict:
    """The executionReport Binance would send for the REST stand-in's order as it is now: a TRADE with `fill`
    (one of ``order.fills``, default its last), else NEW/CANCELED by its status."""
    if execution is None:
        execution = "TRADE" if order.fills else {"CANCELED": "CANCELED"}.get(order.status, "NEW")
    if execution == "TRADE":
        fill = fill or order.fills[-1]
    event = {
        "e": "executionReport", "E": int(time.time() * 1000), "s": order.symbol, "c": order.client_order_id,
        "S": order.side, "o": order.type, "f": order.time_in_force or "GTC", "q": fmt(order.quantity),
        "p": fmt(order.price), "P": fmt(order.stop_price), "F": "0.00000000", "g": -1, "C": "", "x": execution,
        "X": order.status, "r": "NONE", "i": order.order_id,
        "l": fill["qty"] if fill else "0.00000000", "z": fmt(order.executed),
        "L": fill["price"] if fill else "0.00000000", "n": fill["commission"] if fill else "0",
        "N": fill["commissionAsset"] if fill else None, "T": int(time.time() * 1000),
        "t": fill["tradeId"] if fill else -1, "w": order.is_open, "m": True, "M": False,
        "O": order.created, "Z": fmt(order.quote),
        "Y": fmt(Decimal(fill["qty"]) * Decimal(fill["price"])) if fill else "0",
    }  # fmt: skip
    event.update(changes)
    return event
