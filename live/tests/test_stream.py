"""The live log and the stream: one row per change, replay after Last-Event-ID, what each account sees."""

import json
import re
from decimal import Decimal as D

import pytest

from conftest import api_client_for
from live import log
from live.hub import Hub
from live.models import LiveEvent
from papertrading.models import PaperOrder
from papertrading.services import cancel_order, halt_account, place_order
from papertrading.tests.support import LIMIT_BUY, MARKET_BUY, ORDERS_URL

STREAM_URL = "/api/stream"


@pytest.fixture(autouse=True)
def hub(settings, monkeypatch) -> Hub:
    """The hub the streams use here: no reader thread (pytest's SQLite database cannot be shared with one); a
    stream sends what it has (replay, balances) and ends, so the test client can read it whole."""
    settings.LIVE_STREAM_SECONDS = 0
    hub = Hub(reader=False)
    monkeypatch.setattr("live.api.views.get_hub", lambda: hub)
    return hub


def read_events(response) -> list[dict]:
    """The events of a whole streamed answer: [{"event", "id", "data"}], comments left out."""
    text = b"".join(response.streaming_content).decode()
    events = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            events.append({"event": fields["event"], "id": fields.get("id"), "data": json.loads(fields["data"])})
    return events


def limit_buy(account, price="67000"):
    return place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D(price),
        time_in_force="GTC",
    ).order  # fmt: skip


def test_each_change_of_an_order_writes_one_event_in_its_transaction(account, market):
    order = limit_buy(account)
    cancel_order(account=account, order_id=order.pk)
    filled = place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01")).order

    rows = list(LiveEvent.objects.filter(account=account).order_by("id"))
    assert [(r.kind, r.subject_id, r.data["change"], r.data["status"]) for r in rows] == [
        ("order", order.pk, "created", "PENDING"),
        ("order", order.pk, "status", "CANCELLED"),
        ("order", filled.pk, "created", "FILLED"),
    ]
    assert rows[2].data["executed_quantity"] == "0.01"
    assert [f["quantity"] for f in rows[2].data["fills"]] == ["0.01"]


def test_a_refused_order_writes_no_order_event_but_a_risk_event(account, market):
    from papertrading.errors import RiskLimitExceeded
    from papertrading.services import set_limits

    set_limits(account=account, values={"max_order_notional": D("100")}, user=None, may_loosen=True)
    with pytest.raises(RiskLimitExceeded):
        limit_buy(account)
    rows = LiveEvent.objects.filter(account=account).order_by("id")
    assert list(rows.values_list("kind", "data__kind", "data__limit")) == [
        ("risk", "limits", ""),  # the new limit itself
        ("risk", "refused", "max_order_notional"),
    ]
    assert not PaperOrder.objects.filter(account=account).exists()


def test_the_stream_replays_what_came_after_last_event_id_then_the_balances(api, account, market):
    first, second = limit_buy(account, "67000"), limit_buy(account, "66000")
    cancel_order(account=account, order_id=first.pk)
    ids = [row.position for row in LiveEvent.objects.filter(account=account).order_by("id")]

    response = api.get(STREAM_URL, HTTP_ACCEPT="text/event-stream", HTTP_LAST_EVENT_ID=ids[0])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache, no-transform" and response["X-Accel-Buffering"] == "no"
    events = read_events(response)
    assert [(e["event"], e["id"]) for e in events] == [("order", ids[1]), ("order", ids[2]), ("balance", None)]
    assert events[0]["data"]["change"] == "created" and events[0]["data"]["order"]["id"] == second.pk
    # The order as the API shows it now.
    shown = api.get(f"{ORDERS_URL}/{first.pk}").json()
    assert events[1]["data"]["order"] == {k: v for k, v in shown.items() if k not in {"fills", "events"}}
    assert events[1]["data"]["order"]["status"] == "CANCELLED"
    usdt = next(b for b in events[2]["data"]["balances"] if b["asset"] == "USDT")
    assert (usdt["free"], usdt["locked"]) == ("99340.00000000", "660.00000000")


def test_a_new_stream_starts_at_the_end_with_the_balances(api, account, market):
    limit_buy(account)
    events = read_events(api.get(STREAM_URL))
    assert [e["event"] for e in events] == ["balance"]
    assert events[0]["data"]["account"] == account.pk


def test_replaying_from_the_last_event_sends_nothing_twice(api, account, market):
    limit_buy(account)
    last = LiveEvent.objects.get(account=account).position
    assert [e["event"] for e in read_events(api.get(STREAM_URL, HTTP_LAST_EVENT_ID=last))] == ["balance"]


def test_a_bad_last_event_id_is_a_400_naming_the_field(api, account):
    response = api.get(STREAM_URL, {"last_event_id": "yesterday"})
    assert response.status_code == 400
    assert response.json() == {"last_event_id": ["'yesterday' is not an event id of this stream."]}


def test_the_stream_needs_a_caller(client):
    response = client.get(STREAM_URL)
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


def test_an_account_sees_only_its_own_events(api, account, rival, rival_account, market):
    limit_buy(rival_account)
    rival_first = LiveEvent.objects.get(account=rival_account).position
    limit_buy(rival_account, "66000")
    # Asking for the rival's account is answered like an account that does not exist.
    assert api.get(STREAM_URL, {"account": rival_account.pk}).status_code == 404
    # The trader's own stream, resumed from the rival's event id, replays none of the rival's.
    events = read_events(api.get(STREAM_URL, HTTP_LAST_EVENT_ID=rival_first))
    assert [e["event"] for e in events] == ["balance"] and events[0]["data"]["account"] == account.pk
    rival_events = read_events(api_client_for(rival).get(STREAM_URL, HTTP_LAST_EVENT_ID=rival_first))
    assert [e["event"] for e in rival_events] == ["order", "balance"]


def test_an_api_key_streams_its_own_account(account, market):
    from rest_framework.test import APIClient

    from papertrading.accounts import issue_api_key

    raw = issue_api_key(account, name="agent").raw
    client = APIClient(HTTP_AUTHORIZATION=f"Token {raw}")
    limit_buy(account)
    first = LiveEvent.objects.get(account=account).position
    limit_buy(account, "66000")
    assert [e["event"] for e in read_events(client.get(STREAM_URL, HTTP_LAST_EVENT_ID=first))] == ["order", "balance"]


def test_the_hub_hands_each_account_its_own_batch(account, rival_account, market):
    hub = Hub(reader=False)
    mine, theirs = hub.subscribe(account.pk), hub.subscribe(rival_account.pk)
    try:
        order = limit_buy(account)
        halt_account(account=account, reason="Stop", actor="desk")

        assert hub.step() == 3  # created, the halt's risk event, cancelled by the halt
        batch = mine.queue.get_nowait()
        assert [(m.event, m.data.get("status") or m.data.get("kind")) for m in batch] == [
            ("order", "PENDING"),
            ("risk", "halted"),
            ("order", "CANCELLED"),
            ("balance", None),
        ]
        assert batch[0].data["order"]["id"] == order.pk
        assert theirs.queue.empty()
        assert hub.step() == 0
    finally:
        hub.unsubscribe(mine)
        hub.unsubscribe(theirs)
        hub.stop()


def test_positions_parse_only_as_the_stream_writes_them():
    assert log.parse_position("12-345") == (12, 345)
    assert log.parse_position("0-1") == (0, 1)
    for bad in ["", "12", "-1-2", "a-b", "1-2-3", "1 -2", "9" * 30 + "-1"]:
        assert log.parse_position(bad) is None


def test_the_api_order_endpoint_writes_the_same_events(api, account, market):
    assert api.post(ORDERS_URL, LIMIT_BUY, format="json").status_code == 201
    assert api.post(ORDERS_URL, MARKET_BUY, format="json").status_code == 201
    assert list(LiveEvent.objects.filter(account=account).order_by("id").values_list("data__status", flat=True)) == [
        "PENDING",
        "FILLED",
    ]


def test_a_process_full_of_streams_answers_503_and_the_page_polls(api, account, hub, settings):
    settings.LIVE_MAX_STREAMS = 1
    held = hub.subscribe(account.pk)
    try:
        response = api.get(STREAM_URL)
        assert response.status_code == 503 and response["Retry-After"] == "5"
        assert response.json() == {"detail": "Too many open streams here; poll the API and try again shortly."}
    finally:
        hub.unsubscribe(held)
    streamed = api.get(STREAM_URL)
    assert streamed.status_code == 200 and hub.streams == 1
    assert [e["event"] for e in read_events(streamed)] == ["balance"]
    assert hub.streams == 0  # the stream that ended let go of its place


def test_a_reader_on_an_in_memory_database_refuses_streams(api, account, monkeypatch):
    # pytest's SQLite database lives in one connection: a reader thread of its own would see an empty database.
    monkeypatch.setattr("live.api.views.get_hub", lambda: Hub())
    monkeypatch.setattr("live.hub.streams_possible", lambda: False)
    response = api.get(STREAM_URL)
    assert response.status_code == 503
    assert response.json() == {"detail": "The live stream needs a database file or server; poll the API instead."}


def test_pages_subscribe_where_the_server_can_stream(trader, account, monkeypatch):
    from conftest import page_client_for

    client = page_client_for(trader)
    monkeypatch.setattr("live.context_processors.streams_possible", lambda: True)
    html = client.get("/paper-trading/").content.decode()
    assert f'data-live-stream="/api/stream?account={account.pk}"' in html
    assert 'id="live-status"' in html and "js/live.js" in html
    assert "{#" not in html and "{% comment" not in html  # template comments never reach the page
    # The panels poll only while the stream is down.
    assert "every 5s [deskShouldPoll()], orders-changed from:body" in html
    assert re.search(r'<span id="orders-live" hidden hx-get="[^"]+"[^>]*hx-trigger="live-order from:body"', html)

    monkeypatch.setattr("live.context_processors.streams_possible", lambda: False)
    assert "data-live-stream" not in client.get("/paper-trading/").content.decode()


def test_a_page_that_missed_too_much_is_told_to_reload(api, account, market, monkeypatch):
    monkeypatch.setattr("live.stream.REPLAY_LIMIT", 1)
    limit_buy(account)
    first = LiveEvent.objects.get(account=account).position
    limit_buy(account, "66000")
    limit_buy(account, "65000")
    events = read_events(api.get(STREAM_URL, HTTP_LAST_EVENT_ID=first))
    last = LiveEvent.objects.filter(account=account).order_by("-id").first().position
    assert [(e["event"], e["id"]) for e in events] == [("reset", last), ("balance", None)]


def test_the_beat_forgets_events_older_than_the_retention_and_pages_past_it_reload(api, account, market, settings):
    from datetime import timedelta

    from django.utils import timezone

    from live.tasks import prune_live_events

    assert settings.CELERY_BEAT_SCHEDULE["prune-live-events"]["task"] == "live.tasks.prune_live_events"
    limit_buy(account)
    old = LiveEvent.objects.get(account=account)
    limit_buy(account, "66000")
    LiveEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))

    assert prune_live_events() == 1
    assert LiveEvent.objects.filter(account=account).count() == 1
    # A page whose last event was pruned cannot know what else went: it reloads.
    events = read_events(api.get(STREAM_URL, HTTP_LAST_EVENT_ID=old.position))
    assert [e["event"] for e in events] == ["reset", "balance"]
