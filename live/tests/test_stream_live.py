"""The stream over HTTP with the process's reader (PostgreSQL: LISTEN/NOTIFY), and the log's order under
concurrent transactions. PostgreSQL only: SQLite writes one transaction at a time, and pytest's in-memory SQLite
database cannot be shared with the reader's thread."""

import json
import threading
import time
from decimal import Decimal as D

import psycopg
import pytest
import requests
from django.db import connection

from live import log
from live.models import LiveEvent
from papertrading.accounts import issue_api_key
from papertrading.services import place_order
from papertrading.tests.support import prepare_race

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def racer(market):
    return prepare_race()


def events_of(response, until, *, timeout: float = 10) -> list[tuple[float, str, dict | None]]:
    """(arrival time, event name or ':comment', data) read from a streaming answer until `until(list)` holds."""
    got, name = [], None
    deadline = time.monotonic() + timeout
    for raw in response.iter_lines(chunk_size=1, decode_unicode=True):
        if raw.startswith(":"):
            got.append((time.time(), raw, None))
        elif raw.startswith("event: "):
            name = raw[7:]
        elif raw.startswith("data: "):
            got.append((time.time(), name, json.loads(raw[6:])))
        if until(got) or time.monotonic() > deadline:
            return got
    return got


def test_a_fill_committed_elsewhere_reaches_the_stream_within_a_second(live_server, racer, settings):
    settings.LIVE_SAFETY_SECONDS = 30  # so only the notification can wake the reader in time
    raw = issue_api_key(racer, name="watcher").raw
    with requests.get(
        f"{live_server.url}/api/stream", headers={"Authorization": f"Token {raw}"}, stream=True, timeout=15
    ) as response:
        assert response.status_code == 200 and response.headers["Content-Type"] == "text/event-stream"
        opened = events_of(response, lambda got: any(name == "balance" for _, name, _ in got))
        assert [name for _, name, _ in opened if not name.startswith(":")] == ["balance"]

        latencies = []
        for _ in range(5):
            order = place_order(
                account=racer, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.001")
            ).order
            committed = time.time()
            got = events_of(response, lambda got: any(name == "balance" for _, name, _ in got))
            order_events = [(at, data) for at, name, data in got if name == "order"]
            assert [data["order"]["id"] for _, data in order_events] == [order.pk]
            assert order_events[0][1]["status"] == "FILLED"
            latencies.append(order_events[0][0] - committed)
    assert max(latencies) < 1.0, latencies


def test_a_silent_stream_sends_a_heartbeat_comment(live_server, racer, settings):
    settings.LIVE_HEARTBEAT_SECONDS = 0.2
    raw = issue_api_key(racer, name="watcher").raw
    with requests.get(
        f"{live_server.url}/api/stream", headers={"Authorization": f"Token {raw}"}, stream=True, timeout=15
    ) as response:
        got = events_of(response, lambda got: any(name == ": heartbeat" for _, name, _ in got), timeout=5)
    assert [name for _, name, _ in got][-1] == ": heartbeat"


def _params():
    params = connection.get_connection_params()
    return {key: value for key, value in params.items() if key not in {"cursor_factory", "context"}}


def _insert_event(conn, account_id: int, subject_id: int) -> None:
    conn.execute(
        "INSERT INTO live_liveevent (txid, account_id, kind, subject_id, data, created_at) "
        f"VALUES ({log.TXID_SQL}, %s, 'order', %s, '{{}}', now())",
        [account_id, subject_id],
    )


def test_a_row_that_took_a_smaller_id_but_committed_later_is_still_read_after(racer):
    # T2 gets its transaction id first; T1 then takes the smaller event id; T2 commits while T1 is still open.
    earlier_xid, later_xid = psycopg.connect(**_params()), psycopg.connect(**_params())
    try:
        earlier_xid.execute("SELECT pg_current_xact_id()")
        later_xid.execute("SELECT pg_current_xact_id()")
        _insert_event(later_xid, racer.pk, 1)  # the smaller id, the larger transaction id
        _insert_event(earlier_xid, racer.pk, 2)
        earlier_xid.commit()

        seen = log.after(log.START)
        assert [row.subject_id for row in seen] == [2]  # 1 is still being written
        position = log.position_of(seen[-1])
        assert log.after(position) == []

        later_xid.commit()
        # Read on from where the reader was: the row with the smaller id is not skipped.
        assert [row.subject_id for row in log.after(position)] == [1]
        assert [row.subject_id for row in log.after(log.START, account_id=racer.pk)] == [2, 1]
    finally:
        earlier_xid.close()
        later_xid.close()


def test_the_stream_started_mid_transaction_sees_each_event_once(live_server, racer, settings):
    """Events committed around a stream's start reach it once each, in commit order."""
    raw = issue_api_key(racer, name="watcher").raw
    stop = threading.Event()

    def place_many():
        while not stop.is_set():
            place_order(account=racer, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.001"))
        connection.close()

    placer = threading.Thread(target=place_many)
    placer.start()
    try:
        time.sleep(0.2)
        first = LiveEvent.objects.filter(account=racer).order_by("txid", "id").first()
        with requests.get(
            f"{live_server.url}/api/stream",
            headers={"Authorization": f"Token {raw}", "Last-Event-ID": first.position},
            stream=True,
            timeout=15,
        ) as response:
            got = events_of(response, lambda got: sum(1 for _, name, _ in got if name == "order") >= 30)
    finally:
        stop.set()
        placer.join(10)
    ids = [data["order"]["id"] for _, name, data in got if name == "order"]
    expected = list(
        LiveEvent.objects.filter(account=racer).order_by("txid", "id").values_list("subject_id", flat=True)
    )[1 : 1 + len(ids)]
    assert len(ids) >= 30 and ids == expected
    assert len(set(ids)) == len(ids)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the reader's LISTEN and concurrent transactions need PostgreSQL (set DATABASE_URL)")
