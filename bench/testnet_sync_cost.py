"""Request weight of one testnet sync cycle, measured against the local Binance stand-in (no network needed).

    .venv/bin/python bench/testnet_sync_cost.py            # 100 working orders over 5 symbols
    BENCH_ORDERS_PER_SYMBOL=50 .venv/bin/python bench/testnet_sync_cost.py

Places the orders through the order service (real HTTP, signed, against papertrading/tests/standin.py), then runs
sync in three situations: nothing changed, one symbol's orders all filled, every order filled. Prints the weight
the client accounted (documented weights, REFERENCE.md §4) next to what the stand-in counted. Figures, not
pass/fail; tests/test_testnet_e2e.py asserts the same numbers.
"""

import os
import sys
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.gettempdir()}/testnet_sync_cost.sqlite3")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402

PER_SYMBOL = int(os.environ.get("BENCH_ORDERS_PER_SYMBOL", "20"))
# symbol → (quantity, limit price well below the stand-in's market, so the orders rest)
PLAN = {
    "BTCUSDT": ("0.001", "34000"),
    "ETHUSDT": ("0.01", "1750"),
    "BNBUSDT": ("0.02", "300"),
    "SOLUSDT": ("0.1", "75"),
    "XRPUSDT": ("40", "0.25"),
}
KEY, SECRET = "bench-key-0123456789abcdef", "bench-secret-0123456789abcdef"


def main() -> None:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run() -> None:
    from papertrading import services
    from papertrading.binance import reset_clock_offsets
    from papertrading.tests.standin import StandIn

    balances = {"BTC": "1", "ETH": "10", "BNB": "10", "SOL": "100", "XRP": "10000", "USDT": "10000000"}
    with StandIn(api_key=KEY, secret=SECRET, balances=balances) as standin:
        cache = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(uuid.uuid4())}}
        with override_settings(
            CACHES=cache,
            PAPER_TRADING_MODE="testnet",
            BINANCE_TESTNET_API_KEY=KEY,
            BINANCE_TESTNET_API_SECRET=SECRET,
            BINANCE_TESTNET_BASE_URL=standin.base_url,
            LOGGING_CONFIG=None,
        ):
            import logging

            logging.getLogger("papertrading").setLevel(logging.WARNING)
            reset_clock_offsets()
            for symbol, (quantity, price) in PLAN.items():
                for _ in range(PER_SYMBOL):
                    services.place_order(symbol=symbol, side="BUY", order_type="LIMIT", quantity=Decimal(quantity),
                                         price=Decimal(price), time_in_force="GTC")  # fmt: skip
            total = PER_SYMBOL * len(PLAN)
            print(f"{total} working orders over {len(PLAN)} symbols on the stand-in at {standin.base_url}")
            print(f"{'situation':<42} {'changed':<22} {'weight':>6} {'stand-in':>9}")

            def cycle(label: str) -> None:
                before = standin.weight_used
                report = services.sync_orders()
                changed = ", ".join(f"{k}={v}" for k, v in sorted(report.changed.items())) or "-"
                print(f"{label:<42} {changed:<22} {report.request_weight:>6} {standin.weight_used - before:>9}")

            cycle("nothing changed")
            cycle("nothing changed (again)")
            first = next(iter(PLAN))
            standin.set_price(first, PLAN[first][1])
            cycle(f"all {PER_SYMBOL} {first} orders filled")
            for symbol, (_, price) in PLAN.items():
                standin.set_price(symbol, price)
            cycle(f"the other {total - PER_SYMBOL} orders filled")
            print("weights: openOrders(symbol) 6, GET order 4, myTrades(orderId) 5 (REFERENCE.md §4)")


if __name__ == "__main__":
    main()
