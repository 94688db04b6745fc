"""The testnet user data stream against local stand-ins: the WebSocket API (ws_standin.py) for the events and the
REST stand-in (standin.py) for placing orders and for the REST sync after every (re)connect.

The stream runs in the test's own thread (so it shares the test's database transaction); a scenario thread drives
the stand-ins, which touch no database, and waits for the stream's callbacks before it moves on.
"""

import json
import logging
import os
import queue
import signal
import threading
import time
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from papertrading import services
from papertrading.balances import check_balances
from papertrading.models import PaperOrder
from papertrading.tests.standin import standin_in_testnet_mode
from papertrading.tests.ws_standin import WsStandIn, execution_report
from papertrading.venues import get_venue
from papertrading.venues.testnet.answers import report_from_event
from papertrading.venues.testnet.stream import STATE_KEY, UserStream, stream_health

API_KEY = "ws-key-5b8e2c1f0a9d4e7b6c3a2f1e0d9c8b7a"
SECRET = "ws-secret-9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c"
ORDERS_URL = "/api/paper-trading/orders"
Status = PaperOrder.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(name="standin")
def standin_fixture(settings, monkeypatch):
    with standin_in_testnet_mode(settings, monkeypatch, api_key=API_KEY, secret=SECRET) as server:
        yield server


@pytest.fixture(name="ws")
def ws_fixture(standin, settings):
    with WsStandIn(api_key=API_KEY, secret=SECRET) as server:
        settings.BINANCE_TESTNET_WS_URL = server.url
        yield server


@pytest.fixture(name="desk")
def desk_fixture(standin, trader):
    account = services.default_account_for(trader)
    assert account.venue == "testnet"
    return account


class Harness:
    """A UserStream on the stand-ins whose applied events and REST syncs are visible to a scenario thread."""

    def __init__(self, **options) -> None:
        self.applied: queue.Queue = queue.Queue()
        self.syncs: queue.Queue = queue.Queue()
        self.stream = UserStream(
            get_venue(),
            reconcile=self.reconcile,
            initial_backoff=0.05,
            max_backoff=0.2,
            open_timeout=3,
            on_applied=lambda order, report: self.applied.put((time.perf_counter(), order.pk, order.status)),
            **options,
        )

    def reconcile(self) -> None:
        report = services.sync_orders()
        self.syncs.put(report)

    def run(self, scenario, timeout: float = 15.0) -> None:
        """Run the stream until `scenario(self)` (in its own thread) returns; re-raise what it raised."""
        done, errors = threading.Event(), []

        def target():
            try:
                scenario(self)
            except BaseException as exc:  # handed back to the test below
                errors.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        self.stream.run(stop=lambda: done.is_set() or time.monotonic() > deadline)
        thread.join(5)
        if errors:
            raise errors[0]
        assert done.is_set(), "the scenario did not finish in time"


def place(api, **fields) -> dict:
    payload = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT", "quantity": "0.001", "price": "60000",
               "time_in_force": "GTC", **fields}  # fmt: skip
    response = api.post(ORDERS_URL, payload, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_the_subscription_is_signed_like_rest_and_checked_by_the_standin(ws, desk, caplog):
    caplog.set_level(logging.DEBUG)
    harness = Harness()

    def scenario(h):
        assert not h.syncs.get(timeout=5).notes  # subscribed, then the REST sync ran

    harness.run(scenario)

    assert ws.refused == []
    [request] = ws.requests
    assert request["method"] == "userDataStream.subscribe.signature"
    assert set(request["params"]) == {"apiKey", "recvWindow", "timestamp", "signature"}
    assert request["params"]["apiKey"] == API_KEY
    assert len(request["params"]["signature"]) == 64  # HMAC-SHA256, hex, as for REST
    # Never in the logs: the secret, the key, the signature.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert SECRET not in logged and API_KEY not in logged and request["params"]["signature"] not in logged
    assert "subscribed" in logged


def test_a_refused_signature_is_retried_with_backoff_and_reported(ws, desk, settings):
    ws.secret = "not-the-secret-the-desk-signs-with"
    harness = Harness()

    def scenario(h):
        assert ws.wait_for(lambda: len(ws.refused) >= 3, timeout=5)

    harness.run(scenario)
    assert all(reason.startswith("-1022") for reason in ws.refused)
    state = cache.get(STATE_KEY)
    assert state["reconnects"] >= 2 and "subscription refused (-1022" in state["last_error"]
    assert harness.syncs.empty()  # no subscription, no sync


def test_a_fill_event_is_applied_once_within_a_second(api, ws, standin, desk):
    order = place(api)
    assert order["status"] == "PENDING"
    exchange_order = standin.orders[order["binance_order_id"]]
    harness = Harness()
    latency = {}

    def scenario(h):
        h.syncs.get(timeout=5)
        standin.fill(exchange_order.order_id)  # the exchange fills it and tells the stream
        sent = ws.push(execution_report(exchange_order))
        applied_at, pk, status = h.applied.get(timeout=5)
        latency["seconds"] = applied_at - sent
        assert (pk, status) == (order["id"], Status.FILLED)
        # The same trade again (Binance may resend across a reconnect): nothing changes.
        ws.push(execution_report(exchange_order))
        ws.push(execution_report(exchange_order))
        time.sleep(0.3)
        assert h.applied.empty()

    harness.run(scenario)

    print(f"\nuser data stream: fill applied {latency['seconds'] * 1000:.1f} ms after the stand-in sent it")
    assert latency["seconds"] < 1.0
    row = PaperOrder.objects.get(pk=order["id"])
    assert row.status == Status.FILLED and row.executed_quantity == Decimal("0.001")
    [fill] = row.fills.all()
    assert (fill.trade_id, fill.quantity, fill.price) == (
        str(exchange_order.fills[0]["tradeId"]),
        Decimal("0.001"),
        Decimal("60000"),
    )
    assert row.events.filter(actor="user data stream", to_status=Status.FILLED).count() == 1
    assert check_balances() == []
    balances = {b.asset: (b.free, b.locked) for b in desk.balances.all()}
    assert balances["BTC"] == (Decimal("1.001"), Decimal("0"))
    assert balances["USDT"] == (Decimal("100000") - 60, Decimal("0"))
    # Then the REST sync (the reconciler) finds nothing left to do.
    assert services.sync_orders().changed == {}
    assert row.fills.count() == 1


def test_a_fill_sync_applied_first_is_not_applied_again_by_the_stream(api, ws, standin, desk):
    order = place(api, side="SELL", price="70000")
    exchange_order = standin.orders[order["binance_order_id"]]
    standin.fill(exchange_order.order_id)
    assert services.sync_orders().changed == {"filled": 1}
    harness = Harness()

    def scenario(h):
        h.syncs.get(timeout=5)
        ws.push(execution_report(exchange_order))
        time.sleep(0.3)
        assert h.applied.empty()

    harness.run(scenario)
    row = PaperOrder.objects.get(pk=order["id"])
    assert row.status == Status.FILLED and row.fills.count() == 1
    assert check_balances() == []


def test_partial_fills_then_a_cancel_by_original_client_id(api, ws, standin, desk):
    """Two TRADE events (a partial fill each), then the cancel, whose `c` is the cancel's own id and `C` ours."""
    order = place(api, quantity="0.004")
    exchange_order = standin.orders[order["binance_order_id"]]
    harness = Harness()

    def trade(trade_id: int, executed: str) -> dict:
        fill = {"qty": "0.00100000", "price": "60000.00000000", "commission": "0.00000000",
                "commissionAsset": "BTC", "tradeId": trade_id}  # fmt: skip
        return execution_report(
            exchange_order, execution="TRADE", fill=fill, X="PARTIALLY_FILLED", z=executed,
            Z=str(Decimal(executed) * 60000),
        )  # fmt: skip

    def scenario(h):
        h.syncs.get(timeout=5)
        ws.push(trade(9001, "0.001"))
        assert h.applied.get(timeout=5)[2] == Status.PARTIALLY_FILLED
        ws.push(trade(9002, "0.002"))
        assert h.applied.get(timeout=5)[2] == Status.PARTIALLY_FILLED
        ws.push(trade(9002, "0.002"))  # again: no change
        ws.push(
            execution_report(
                exchange_order, execution="CANCELED", X="CANCELED", z="0.00200000", Z="120.00000000",
                c="web_cancel_1", C=exchange_order.client_order_id, i=exchange_order.order_id,
            )
        )  # fmt: skip
        assert h.applied.get(timeout=5)[2] == Status.CANCELLED
        time.sleep(0.2)
        assert h.applied.empty()

    harness.run(scenario)
    row = PaperOrder.objects.get(pk=order["id"])
    assert row.status == Status.CANCELLED and row.executed_quantity == Decimal("0.002")
    assert sorted(row.fills.values_list("trade_id", flat=True)) == ["9001", "9002"]
    assert row.locked_amount == 0
    assert check_balances() == []
    balances = {b.asset: (b.free, b.locked) for b in desk.balances.all()}
    assert balances["USDT"] == (Decimal("100000") - 120, Decimal("0"))


def test_a_dropped_connection_reconnects_and_the_rest_sync_applies_the_fill_of_the_gap(api, ws, standin, desk):
    order = place(api)
    other = place(api, symbol="ETHUSDT", quantity="0.01", price="3000")
    exchange_order = standin.orders[order["binance_order_id"]]
    harness = Harness()
    gap = {}

    def scenario(h):
        h.syncs.get(timeout=5)
        ws.accepting = False
        ws.drop()
        gap["dropped"] = time.monotonic()
        # While the stream is away the exchange fills the order: no one is subscribed, the event is lost.
        standin.fill(exchange_order.order_id)
        assert ws.wait_for(lambda: ws.refused, timeout=5)  # it tried again (and was refused) meanwhile
        ws.accepting = True
        report = h.syncs.get(timeout=10)  # reconnected, resubscribed, then the REST sync ran
        gap["seconds"] = time.monotonic() - gap["dropped"]
        assert report.changed == {"filled": 1}
        # The event Binance may still deliver after the reconnect changes nothing.
        ws.push(execution_report(exchange_order))
        time.sleep(0.3)
        assert h.applied.empty()

    harness.run(scenario)

    print(f"\nuser data stream: back and reconciled {gap['seconds']:.2f} s after the drop")
    assert ws.subscriptions() == 2
    row = PaperOrder.objects.get(pk=order["id"])
    assert row.status == Status.FILLED and row.fills.count() == 1
    assert PaperOrder.objects.get(pk=other["id"]).status == Status.PENDING
    state = cache.get(STATE_KEY)
    assert state["reconnects"] >= 2 and state["state"] == "stopped"
    assert check_balances() == []


def test_a_trade_missed_in_a_gap_is_fetched_before_the_order_closes(api, ws, standin, desk):
    """The stream sees only the last trade of an order whose earlier trade it missed: it reads the order's trades
    (myTrades) so the order never closes with a fill missing."""
    order = place(api)
    exchange_order = standin.orders[order["binance_order_id"]]
    standin.fill(exchange_order.order_id)
    harness = Harness()
    harness.stream.reconcile = lambda: harness.syncs.put(None)  # no REST sync here: the event alone must suffice
    last = dict(exchange_order.fills[0], qty="0.00040000", tradeId=exchange_order.fills[0]["tradeId"])

    def scenario(h):
        h.syncs.get(timeout=5)
        # The event says 0.001 executed in all, but carries only a 0.0004 trade id the exchange never listed.
        ws.push(execution_report(exchange_order, fill=last))
        assert h.applied.get(timeout=5)[2] == Status.FILLED

    harness.run(scenario)
    row = PaperOrder.objects.get(pk=order["id"])
    assert row.status == Status.FILLED
    assert sum(f.quantity for f in row.fills.all()) == Decimal("0.001")
    assert check_balances() == []


def test_an_event_for_an_order_the_desk_does_not_know_is_left_to_sync(ws, standin, desk, caplog):
    caplog.set_level(logging.INFO, logger="papertrading.venues.testnet.stream")
    external_id = standin.add_external_order("ETHUSDT", "BUY", "0.02", "2900.00")
    harness = Harness()

    def scenario(h):
        h.syncs.get(timeout=5)
        ws.push(execution_report(standin.orders[external_id], i=999999, c="elsewhere-1"))
        time.sleep(0.3)
        assert h.applied.empty()

    harness.run(scenario)
    assert "order #999999 (ETHUSDT) not known here; left to sync" in caplog.text


def test_report_from_event_reads_binance_fields():
    event = {"e": "executionReport", "s": "BTCUSDT", "c": "abc", "x": "TRADE", "X": "PARTIALLY_FILLED",
             "i": 7, "l": "0.5", "z": "0.7", "L": "100.1", "n": "0.001", "N": "BNB", "t": 42, "Z": "70.07",
             "m": False}  # fmt: skip
    report = report_from_event(event)
    assert (report.status, report.executed_quantity, report.cumulative_quote_quantity) == (
        Status.PARTIALLY_FILLED, Decimal("0.7"), Decimal("70.07"))  # fmt: skip
    [fill] = report.fills
    assert (fill.trade_id, fill.quantity, fill.price, fill.commission, fill.commission_asset) == (
        "42", Decimal("0.5"), Decimal("100.1"), Decimal("0.001"), "BNB")  # fmt: skip
    new = report_from_event({**event, "x": "NEW", "X": "NEW", "z": "0", "t": -1})
    assert new.status == Status.PENDING and new.fills == []


def test_healthz_reports_the_stream_state(client, settings, standin):
    settings.USER_STREAM_DOWN_AFTER_SECONDS = 60
    now = timezone.now()
    assert stream_health()["state"] == "not running" and stream_health()["ok"]  # never started: said, not red

    def state(**fields):
        cache.set(STATE_KEY, {"state": "connected", "heartbeat_at": now.isoformat(), "connected_since":
                              now.isoformat(), "down_since": None, "last_event_at": None, "last_error": "",
                              "reconnects": 0, **fields})  # fmt: skip

    state()
    body = json.loads(client.get("/healthz").content)
    assert body["checks"]["user_stream"]["state"] == "connected" and body["checks"]["user_stream"]["ok"]

    state(state="reconnecting", down_since=(now - timezone.timedelta(seconds=10)).isoformat(), reconnects=3)
    check = stream_health()
    assert (check["state"], check["ok"], check["reconnects"]) == ("reconnecting", True, 3)

    state(state="reconnecting", down_since=(now - timezone.timedelta(seconds=120)).isoformat(), last_error="X")
    response = client.get("/healthz")
    check = json.loads(response.content)["checks"]["user_stream"]
    assert (response.status_code, check["state"], check["ok"], check["last_error"]) == (503, "reconnecting", False, "X")

    # A process that stopped sending heartbeats is not running, down since its last one.
    state(heartbeat_at=(now - timezone.timedelta(seconds=300)).isoformat())
    assert stream_health()["state"] == "not running" and not stream_health()["ok"]


def test_healthz_has_no_stream_check_in_simulation_mode(client, market):
    body = json.loads(client.get("/healthz").content)
    assert "user_stream" not in body["checks"]


def test_the_command_refuses_in_simulation_mode():
    with pytest.raises(CommandError, match="testnet mode only"):
        call_command("user_stream")


def stop_soon(after: float = 0.3, until=lambda: True) -> threading.Thread:
    """SIGTERM to this process once `until()` holds (checked every 50 ms, for at most 10 s), `after` s later."""

    def target():
        deadline = time.monotonic() + 10
        while not until() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(after)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_the_command_idles_in_simulation_mode_when_asked_and_stops_on_sigterm(capsys):
    handler = signal.getsignal(signal.SIGTERM)
    stop_soon()
    call_command("user_stream", "--idle-unless-testnet")
    assert "Simulation mode: no user data stream to run; idling." in capsys.readouterr().out
    assert signal.getsignal(signal.SIGTERM) is handler


def test_the_command_streams_in_testnet_mode_until_sigterm(ws, standin, desk, capsys):
    stop_soon(until=lambda: ws.subscriptions() >= 1)
    call_command("user_stream")
    out = capsys.readouterr().out
    assert "User data stream: ws://127.0.0.1" in out and "stopped" in out and SECRET not in out
    assert ws.subscriptions() == 1 and ws.refused == []
    assert cache.get(STATE_KEY)["state"] == "stopped"
