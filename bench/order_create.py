"""Order creation through the API, in-process, next to a bare DRF create of a model of the same shape.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/paper_trading_bench .venv/bin/python bench/order_create.py

Prints orders per second for both (and their ratio), SQL statements per create (a resting LIMIT with few and with
many existing orders, and a filled MARKET with its ledger entry), and list queries for two page sizes. Figures, not
pass/fail: run it by hand.
"""

import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paper_trading_bench")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

N = int(os.environ.get("BENCH_ORDERS", "300"))
ROUNDS = 3


# (symbol, quantity, price): resting well below the market, inside PERCENT_PRICE_BY_SIDE, worth 10–20 USDT. The
# creates take turns over the five symbols, so none reaches Binance's 200 open orders (MAX_NUM_ORDERS).
RESTING = [
    ("BTCUSDT", "0.001", "20000"),
    ("ETHUSDT", "0.01", "1000"),
    ("BNBUSDT", "0.1", "200"),
    ("SOLUSDT", "0.2", "50"),
    ("XRPUSDT", "100", "0.2"),
]


def order_payload(i: int, **overrides) -> dict:
    # Every create validates, reserves balance (checking the open-order limit in the same UPDATE) and writes events.
    symbol, quantity, price = RESTING[i % len(RESTING)]
    payload = {
        "symbol": symbol,
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": quantity,
        "price": price,
        "time_in_force": "GTC",
        "client_order_id": f"bench-{os.getpid()}-{time.monotonic_ns()}-{i}",
    }
    return {**payload, **overrides}


MARKET = {"order_type": "MARKET", "price": None, "time_in_force": None}


def timed_creates(client: APIClient, url: str, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        response = client.post(url, order_payload(i), format="json")
        assert response.status_code == 201, response.content
    return n / (time.perf_counter() - start)


def queries_per_create(client: APIClient, url: str, **overrides) -> int:
    payload = {key: value for key, value in order_payload(0, **overrides).items() if value is not None}
    with CaptureQueriesContext(connection) as ctx:
        assert client.post(url, payload, format="json").status_code == 201
    return len(ctx.captured_queries)


def list_queries(client: APIClient, page_size: int) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/api/paper-trading/orders?page_size={page_size}").status_code == 200
    return len(ctx.captured_queries)


def seed_orders(count: int) -> None:
    from papertrading.models import PaperOrder

    PaperOrder.objects.bulk_create(
        PaperOrder(
            symbol="ETHUSDT",
            side="SELL",
            order_type="LIMIT",
            quantity="0.01",
            price="9000",
            time_in_force="GTC",
            status="CANCELLED",
            venue="simulation",
            client_order_id=f"seed-{i}",
        )
        for i in range(count)
    )


def main() -> None:
    setup_test_environment()
    engine = connection.vendor
    # A fresh database per run (test_<name>), migrated, with the floor app's table made by syncdb.
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(engine)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(engine: str) -> None:
    from papertrading.models import PaperOrder

    user = User.objects.create(username="bench", is_superuser=True)
    client = APIClient()
    client.force_authenticate(user)
    call_command("refresh_prices", verbosity=0, stdout=io.StringIO())

    # Warm up both paths, then alternate rounds so drift on the machine hits both alike.
    timed_creates(client, "/api/paper-trading/orders", 20)
    timed_creates(client, "/floor/orders", 20)
    ours, floor = [], []
    for _ in range(ROUNDS):
        ours.append(timed_creates(client, "/api/paper-trading/orders", N))
        floor.append(timed_creates(client, "/floor/orders", N))
    ours_rate, floor_rate = max(ours), max(floor)

    queries_per_create(client, "/api/paper-trading/orders", **MARKET)  # the first fill opens the position
    market = queries_per_create(client, "/api/paper-trading/orders", **MARKET)
    few = queries_per_create(client, "/api/paper-trading/orders")
    seed_orders(20000)
    many = queries_per_create(client, "/api/paper-trading/orders")
    floor_queries = queries_per_create(client, "/floor/orders")
    list_10, list_100 = list_queries(client, 10), list_queries(client, 100)

    print(f"database: {engine}; {N} creates per round, best of {ROUNDS}")
    print(f"our create:   {ours_rate:8.1f} orders/s")
    print(f"floor create: {floor_rate:8.1f} orders/s")
    print(f"ratio ours/floor: {ours_rate / floor_rate:.2f} (target >= 0.5)")
    print(
        f"statements per LIMIT create: {few} with {PaperOrder.objects.count() - 20001} orders, {many} with 20000"
        f" more (floor: {floor_queries}); per MARKET create, ledger included: {market}"
    )
    print(f"list queries: {list_10} for page_size=10, {list_100} for page_size=100")


if __name__ == "__main__":
    main()
