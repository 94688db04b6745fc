"""One matching pass over many resting simulated orders: the cost must not grow with orders that do not trigger.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/paper_trading_bench .venv/bin/python bench/matching.py

Prints the time and SQL queries of a pass with 1,000 and with 100,000 resting orders of which none trigger (and
their ratio; target <= 2), then a pass in which 1,000 orders trigger (orders filled per second).
"""

import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/paper_trading_bench")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

MARKET = Decimal("68000.00")
QUANTITY = Decimal("0.001")


def seed_resting(account, count: int, *, triggering: bool = False) -> None:
    """Resting BUY limits below and SELL limits above the market, or BUY limits above it when `triggering`, in
    `account`, with the balances they lock."""
    from papertrading.models import PaperOrder, SimulatedBalance

    orders, locked_quote, locked_base = [], Decimal("0"), Decimal("0")
    for i in range(count):
        buy = triggering or i % 2 == 0
        offset = Decimal(i % 5000 + 1) / 100
        price = MARKET + offset if triggering else (MARKET - 1000 - offset if buy else MARKET + 1000 + offset)
        locked = (price * QUANTITY).quantize(Decimal("0.00000001")) if buy else QUANTITY
        if buy:
            locked_quote += locked
        else:
            locked_base += locked
        orders.append(
            PaperOrder(
                account=account,
                symbol="BTCUSDT",
                side="BUY" if buy else "SELL",
                order_type="LIMIT",
                quantity=QUANTITY,
                price=price,
                time_in_force="GTC",
                status="PENDING",
                venue="simulation",
                client_order_id=f"bench-{triggering}-{time.monotonic_ns()}-{i}",
                locked_asset="USDT" if buy else "BTC",
                locked_amount=locked,
                trigger_price=price,
                trigger_direction="BELOW" if buy else "ABOVE",
            )
        )
    PaperOrder.objects.bulk_create(orders, batch_size=5000)
    for asset, amount in (("USDT", locked_quote), ("BTC", locked_base)):
        balance, _ = SimulatedBalance.objects.get_or_create(account=account, asset=asset)
        balance.locked += amount
        balance.free += Decimal("10000000")
        balance.save()


def timed_pass(price: Decimal, repeat: int = 20) -> tuple[float, int, int]:
    from papertrading.services import match_orders

    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            filled = match_orders(symbol="BTCUSDT", market_price=price)
            times.append(time.perf_counter() - start)
    return statistics.median(times), len(ctx.captured_queries), filled


def main() -> None:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from papertrading.services import open_account

        account = open_account(owner=None, name="Bench")
        seed_resting(account, 1000)
        small, small_queries, _ = timed_pass(MARKET)
        seed_resting(account, 99000)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE paper_orders")
        large, large_queries, _ = timed_pass(MARKET)
        print(f"database: {connection.vendor}")
        print(f"no trigger,   1,000 resting: {small * 1000:7.2f} ms, {small_queries} queries")
        print(f"no trigger, 100,000 resting: {large * 1000:7.2f} ms, {large_queries} queries")
        print(f"ratio 100k/1k: {large / small:.2f} (target <= 2)")

        seed_resting(account, 1000, triggering=True)
        start = time.perf_counter()
        _, _, filled = timed_pass(MARKET, repeat=1)
        elapsed = time.perf_counter() - start
        print(f"1,000 triggered: filled {filled} in {elapsed:.2f} s = {filled / elapsed:.0f} orders/s")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
