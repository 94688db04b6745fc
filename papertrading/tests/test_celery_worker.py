"""A real Celery worker process on the machine's Redis, against the PostgreSQL test database.

It proves the beat tasks work outside the test process: the match task fills a resting simulated order that the
stored price crosses, and the sync task brings a testnet order (on the local Binance stand-in) up to date.
Needs PostgreSQL (DATABASE_URL) and Redis (CELERY_TEST_BROKER_URL, default redis://127.0.0.1:6379/15); skipped
without them, except in CI, where a missing service fails the run.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.db import connection

from papertrading import services
from papertrading.models import PaperOrder
from papertrading.symbols import load_default_symbol_rules
from papertrading.tests.standin import StandIn
from papertrading.tests.support import balances

BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]
API_KEY, SECRET = "worker-key-7d1e", "worker-secret-2b9c"
pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _redis_up() -> bool:
    url = urlparse(BROKER_URL)
    try:
        with socket.create_connection((url.hostname, url.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def requires_services():
    missing = []
    if connection.vendor != "postgresql":
        missing.append("PostgreSQL (set DATABASE_URL=postgres://...)")
    if not _redis_up():
        missing.append(f"Redis at {BROKER_URL}")
    if missing:
        message = "needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def standin():
    with StandIn(api_key=API_KEY, secret=SECRET) as server:
        yield server


@pytest.fixture
def worker(requires_services, standin, settings):
    """A worker process consuming a queue of its own, configured for testnet mode on the stand-in."""
    load_default_symbol_rules()  # a no-op unless an earlier transactional test flushed them
    queue = f"test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,  # what the worker itself queues (a webhook's deliveries) stays here
        "CACHE_URL": "locmemcache://worker",
        "PAPER_TRADING_MODE": "testnet",
        "BINANCE_TESTNET_API_KEY": API_KEY,
        "BINANCE_TESTNET_API_SECRET": SECRET,
        "BINANCE_TESTNET_BASE_URL": standin.base_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "DEMO_AGENTS_ENABLED": "false",
    }
    celery = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue]
    process = subprocess.Popen(
        [*celery, "--loglevel=INFO", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    from config.celery import app

    app.conf.broker_url = BROKER_URL
    try:
        yield queue
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output[-4000:])  # shown by pytest when the test failed
        app.conf.broker_url = django_settings.CELERY_BROKER_URL


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_worker_fills_a_resting_simulated_order_when_the_match_task_runs(worker, market, account):
    order = services.place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Decimal("0.001"),
        price=Decimal("67000"), time_in_force="GTC",
    ).order  # fmt: skip
    assert order.status == PaperOrder.Status.PENDING
    market.set("BTCUSDT", "66900")  # crossed, but nothing has matched yet

    from config.celery import app

    app.send_task("papertrading.tasks.match_simulated_orders", queue=worker)

    assert wait_for(lambda: PaperOrder.objects.get(pk=order.pk).status == PaperOrder.Status.FILLED)
    order.refresh_from_db()
    fill = order.fills.get()
    assert (fill.price, fill.quantity, fill.rule) == (Decimal("67000"), Decimal("0.001"), "LIMIT_CROSSED")


def test_worker_syncs_a_testnet_order_that_filled_on_the_exchange(worker, standin, settings, trader):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY, settings.BINANCE_TESTNET_API_SECRET = API_KEY, SECRET
    settings.BINANCE_TESTNET_BASE_URL = standin.base_url
    desk = services.default_account_for(trader)  # on the testnet, with the starting balances the stand-in holds
    order = services.place_order(
        account=desk, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Decimal("0.001"),
        price=Decimal("60000"), time_in_force="GTC",
    ).order  # fmt: skip
    assert order.status == PaperOrder.Status.PENDING and order.binance_order_id
    standin.fill(order.binance_order_id)

    from config.celery import app

    app.send_task("papertrading.tasks.sync_testnet_orders", queue=worker)

    assert wait_for(lambda: PaperOrder.objects.get(pk=order.pk).status == PaperOrder.Status.FILLED)
    order.refresh_from_db()
    assert order.executed_quantity == Decimal("0.001")
    assert order.fills.count() == 1
    assert len(standin.calls("POST", "/api/v3/order")) == 1
    # The worker moved the desk's balances with the fill: 60 USDT paid, 0.001 BTC received.
    assert balances(desk)["USDT"] == (Decimal("100000") - 60, Decimal("0"))
    assert balances(desk)["BTC"] == (Decimal("1.001"), Decimal("0"))
