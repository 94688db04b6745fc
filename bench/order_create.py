"""Order creation through the API, in-process, next to a bare DRF create of a model of the same shape.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/paper_trading_bench .venv/bin/python bench/order_create.py

Prints orders per second for both (and their ratio), SQL statements per create (a resting LIMIT with few and with
many existing orders, and a filled MARKET with its ledger entry), and list queries for two page sizes. Then the
same account becomes one of 100, the other 99 with 1,000 resting LIMIT orders each: statements per create and per
read (orders list, open orders, account) and MARKET creates per second with 1 account and with 100, side by side;
each of them again with every risk limit of the account set (generous values that never refuse).
The bar: with every limit set, a create costs at most two statements more than with accounts and no limits (7
for a LIMIT, 11 for a MARKET): the account's lock, which carries the limits (what they read rides on the funds'
statement), and the live stream's event; reads do not grow with the number of accounts.
Figures, not pass/fail: run it by hand.
"""

import io
import os
import sys
import time
from datetime import timedelta
from decimal import Decimal
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
from django.utils import timezone  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

N = int(os.environ.get("BENCH_ORDERS", "300"))
ROUNDS = 3
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "100"))
ORDERS_PER_ACCOUNT = 1000
# What a create cost with accounts, before risk limits and the live stream's event (README, "Benchmarks"): the bar
# is at most two statements more (the account's lock for the limits, the live event).
WITH_ACCOUNTS = {"LIMIT": 7, "MARKET": 11}


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

# Every limit set, each far above what the bench's orders reach: they are judged on every create and never refuse.
GENEROUS_LIMITS = {
    "max_order_notional": "1000000000",
    "max_position_notional": "1000000000000",
    "max_open_orders": 1_000_000,
    "max_orders_per_minute": 1_000_000,
    "max_daily_loss": "1000000000000",
    "allowed_symbols": sorted({symbol for symbol, _, _ in RESTING}),
}


def set_every_limit(account, on: bool) -> None:
    """Set every risk limit of the account to GENEROUS_LIMITS, or back to the defaults (RISK_*: none unless set)."""
    from papertrading import risk
    from papertrading.services import set_limits

    values = GENEROUS_LIMITS if on else dict.fromkeys(GENEROUS_LIMITS)
    set_limits(account=account, values=values, user=None, may_loosen=True)
    account.refresh_from_db()
    in_force = {name: risk.effective_limits(account)[name] for name in GENEROUS_LIMITS}
    expected = risk.default_limits() if not on else {name: risk.parse_limit(name, v) for name, v in values.items()}
    assert in_force == {name: expected[name] for name in GENEROUS_LIMITS}, in_force


def timed_creates(client: APIClient, url: str, n: int, *, market: bool = False) -> float:
    start = time.perf_counter()
    for i in range(n):
        payload = order_payload(i, **MARKET) if market else order_payload(i)
        payload = {key: value for key, value in payload.items() if value is not None}
        response = client.post(url, payload, format="json")
        assert response.status_code == 201, response.content
    return n / (time.perf_counter() - start)


def queries_per_create(client: APIClient, url: str, *, limits_read: bool = False, **overrides) -> int:
    """Statements of one create; `limits_read` checks that the funds' UPDATE returned what the limits read."""
    payload = {key: value for key, value in order_payload(0, **overrides).items() if value is not None}
    with CaptureQueriesContext(connection) as ctx:
        assert client.post(url, payload, format="json").status_code == 201
    if limits_read:
        from papertrading.models import SimulatedBalance

        table = connection.ops.quote_name(SimulatedBalance._meta.db_table)
        funds = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith(f"UPDATE {table}")]
        assert any(" RETURNING " in sql for sql in funds), "the limits were not read by the funds' statement"
    return len(ctx.captured_queries)


def list_queries(client: APIClient, page_size: int) -> int:
    return read_queries(client, f"/api/paper-trading/orders?page_size={page_size}")


def read_queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


READS = {
    "GET orders (a page of 50)": "/api/paper-trading/orders",
    "GET orders/open": "/api/paper-trading/orders/open",
    "GET account": "/api/paper-trading/account",
}


def statement_counts(client: APIClient, *, limits_read: bool = False) -> dict[str, int]:
    """Statements per create and per read of the account the client acts as."""
    orders = "/api/paper-trading/orders"
    counts = {
        "POST a resting LIMIT": queries_per_create(client, orders, limits_read=limits_read),
        "POST a filled MARKET (ledger included)": queries_per_create(client, orders, limits_read=limits_read, **MARKET),
    }
    counts.update({label: read_queries(client, url) for label, url in READS.items()})
    return counts


def seed_orders(account, count: int) -> None:
    from papertrading.models import PaperOrder

    PaperOrder.objects.bulk_create(
        PaperOrder(
            account=account,
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


def seed_accounts(count: int, orders_each: int) -> None:
    """`count` accounts of other users, opened as the desk opens them, each with `orders_each` resting LIMIT BUYs
    (bulk-inserted, spread over the five symbols) and the balances they lock."""
    from papertrading.models import PaperOrder, SimulatedBalance
    from papertrading.money import to_money
    from papertrading.services import open_account

    owners = User.objects.bulk_create(User(username=f"bench-owner-{i}") for i in range(count))
    locked = to_money(
        sum(Decimal(quantity) * Decimal(price) for _, quantity, price in RESTING) * orders_each / len(RESTING)
    )
    for owner in owners:
        account = open_account(owner=owner, name="Desk", is_default=True)
        orders = []
        for i in range(orders_each):
            symbol, quantity, price = RESTING[i % len(RESTING)]
            orders.append(
                PaperOrder(
                    account=account,
                    symbol=symbol,
                    side="BUY",
                    order_type="LIMIT",
                    quantity=Decimal(quantity),
                    price=Decimal(price),
                    time_in_force="GTC",
                    status="PENDING",
                    venue="simulation",
                    client_order_id=f"seed-{account.pk}-{i}",
                    locked_asset="USDT",
                    locked_amount=to_money(Decimal(quantity) * Decimal(price)),
                    trigger_price=Decimal(price),
                    trigger_direction="BELOW",
                    placed_by=owner,
                )
            )
        PaperOrder.objects.bulk_create(orders, batch_size=5000)
        balance = SimulatedBalance.objects.get(account=account, asset="USDT")
        balance.free -= locked
        balance.locked += locked
        balance.save(update_fields=["free", "locked", "updated_at"])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


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
    existing = PaperOrder.objects.count()
    few = queries_per_create(client, "/api/paper-trading/orders")
    account = user.paper_accounts.get(is_default=True)
    seed_orders(account, 20000)
    many = queries_per_create(client, "/api/paper-trading/orders")
    floor_queries = queries_per_create(client, "/floor/orders")
    list_10, list_100 = list_queries(client, 10), list_queries(client, 100)

    # The same account, alone and then one of ACCOUNTS, the others with ORDERS_PER_ACCOUNT resting orders each.
    alone = statement_counts(client)
    market_alone = timed_creates(client, "/api/paper-trading/orders", 100, market=True)
    set_every_limit(account, True)
    alone_limited = statement_counts(client, limits_read=True)
    market_alone_limited = timed_creates(client, "/api/paper-trading/orders", 100, market=True)
    set_every_limit(account, False)
    # Resting creates of a second account, which has room under MAX_NUM_ORDERS for both timings.
    resting_client = APIClient()
    resting_client.force_authenticate(User.objects.create(username="bench-resting", is_superuser=True))
    limit_alone = timed_creates(resting_client, "/api/paper-trading/orders", 100)
    started = time.perf_counter()
    seed_accounts(ACCOUNTS - 1, ORDERS_PER_ACCOUNT)
    seeding = time.perf_counter() - started
    among = statement_counts(client)
    ours_among = timed_creates(client, "/api/paper-trading/orders", 100, market=True)
    set_every_limit(account, True)
    among_limited = statement_counts(client, limits_read=True)
    market_among_limited = timed_creates(client, "/api/paper-trading/orders", 100, market=True)
    # What max_orders_per_minute counts on every create: the seeded orders are stamped now, so they count too.
    last_minute = account.orders.filter(created_at__gt=timezone.now() - timedelta(seconds=60)).count()
    set_every_limit(account, False)
    limit_among = timed_creates(resting_client, "/api/paper-trading/orders", 100)
    # An agent's client: the account's API key finds the key, its account and its owner in one statement, where a
    # user's token finds the token and its user (and the default account then takes one more).
    from papertrading.accounts import issue_api_key
    from papertrading.services import default_account_for, open_account

    agent = User.objects.create(username="bench-agent", is_superuser=True)
    default_account_for(agent)
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_key(open_account(owner=agent, name='Bot')).raw}")
    keyed.get("/api/paper-trading/account")  # the key's first use records it; later ones within a minute do not
    tokened = APIClient()
    tokened.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")
    by_credentials = {
        "an account's API key": (statement_counts(keyed), timed_creates(keyed, "/api/paper-trading/orders", 100)),
        "the user's own token": (statement_counts(tokened), timed_creates(tokened, "/api/paper-trading/orders", 100)),
    }

    print(f"database: {engine}; {N} creates per round, best of {ROUNDS}")
    print(f"our create:   {ours_rate:8.1f} orders/s")
    print(f"floor create: {floor_rate:8.1f} orders/s")
    print(f"ratio ours/floor: {ours_rate / floor_rate:.2f} (target >= 0.5)")
    print(
        f"statements per LIMIT create: {few} with {existing} orders, {many} with 20000"
        f" more (floor: {floor_queries}); per MARKET create, ledger included: {market}"
    )
    print(f"list queries: {list_10} for page_size=10, {list_100} for page_size=100")
    resting = account.orders.filter(status="PENDING").count()
    print()
    print(
        f"{ACCOUNTS} accounts: this one ({account.orders.count():,} orders, {resting} resting) and "
        f"{ACCOUNTS - 1} more of {ORDERS_PER_ACCOUNT:,} resting LIMIT orders each "
        f"({PaperOrder.objects.count():,} orders in all; seeded in {seeding:.1f} s)"
    )
    columns = ["1 account", "every limit", f"{ACCOUNTS} accounts", "every limit"]
    print(f"| {'statements per request':<40} | " + " | ".join(f"{c:>12}" for c in columns) + f" | {'bar':>5} |")
    print(f"|{'-' * 42}|" + "|".join(f"{'-' * 13}:" for _ in columns) + f"|{'-' * 6}:|")
    for label in alone:
        kind = next((k for k in WITH_ACCOUNTS if k in label), None)
        bar = f"<= {WITH_ACCOUNTS[kind] + 2}" if kind else "same"
        figures = (alone[label], alone_limited[label], among[label], among_limited[label])
        print(f"| {label:<40} | " + " | ".join(f"{f:>12}" for f in figures) + f" | {bar:>5} |")
    print(
        f"MARKET creates: {market_alone:.1f} orders/s with 1 account, {ours_among:.1f} with {ACCOUNTS}; "
        f"with every limit set: {market_alone_limited:.1f} and {market_among_limited:.1f} (max_orders_per_minute "
        f"counting the account's {last_minute:,} orders of the last 60 seconds on each)"
    )
    print(f"LIMIT creates: {limit_alone:.1f} orders/s with 1 account, {limit_among:.1f} with {ACCOUNTS}")
    print()
    print("With real credentials (authentication included; the rows above authenticate without a statement):")
    for name, (counts, rate) in by_credentials.items():
        limit, market = counts["POST a resting LIMIT"], counts["POST a filled MARKET (ledger included)"]
        print(f"  {name}: LIMIT {limit}, MARKET {market} statements per create; {rate:.1f} LIMIT creates/s")


if __name__ == "__main__":
    main()
