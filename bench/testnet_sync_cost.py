"""Requests and weight of one testnet sync cycle, ours against the naive way, on the local Binance stand-in.

    .venv/bin/python bench/testnet_sync_cost.py                       # 500 working orders, 10 symbols, 20 changed
    .venv/bin/python bench/testnet_sync_cost.py --orders 100 --symbols 5 --changed 5

Places the orders through the order service (real HTTP, signed, against papertrading/tests/standin.py), then, for
two situations (nothing changed; `--changed` orders filled on the exchange, spread over the symbols), measures in
the same run:

- naive: one GET order per working order (+ its trades when it executed more than the desk stored), read only;
- ours: services.sync_orders(), one openOrders per symbol with working orders + one GET order and one myTrades
  per order that left the open list having executed (what the scheduled task and `manage.py sync_orders` run).

Naive runs first and changes nothing, so both see the same exchange. Requests are what the stand-in received;
weight is what it charged (documented weights, REFERENCE.md §4) next to what our client accounted. Each cycle
starts a fresh rate-limit minute, as the beat interval would. Figures, not pass/fail; tests/test_testnet_e2e.py
and tests/test_sync_command.py assert the per-call weights.
"""

import argparse
import copy
import logging
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.gettempdir()}/testnet_sync_cost.sqlite3")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402

# symbol → (quantity, stand-in market, limit price well below it so the orders rest). The first five are the
# stand-in's own; the other five are cloned from SOLUSDT's filters under new names so ten symbols trade.
PLAN = {
    "BTCUSDT": ("0.001", "68000.00", "34000"),
    "ETHUSDT": ("0.01", "3500.00", "1750"),
    "BNBUSDT": ("0.02", "600.00", "300"),
    "SOLUSDT": ("0.1", "150.00", "75"),
    "XRPUSDT": ("40", "0.5000", "0.25"),
    "ADAUSDT": ("0.1", "120.00", "60"),
    "DOTUSDT": ("0.1", "110.00", "55"),
    "LTCUSDT": ("0.1", "100.00", "50"),
    "AVAXUSDT": ("0.2", "90.00", "45"),
    "LINKUSDT": ("0.2", "80.00", "40"),
}
KEY, SECRET = "bench-key-0123456789abcdef", "bench-secret-0123456789abcdef"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="working orders in all (default 500)")
    parser.add_argument("--symbols", type=int, default=10, choices=range(1, len(PLAN) + 1), metavar="1-10")
    parser.add_argument("--changed", type=int, default=20, help="orders filled on the exchange (default 20)")
    args = parser.parse_args()
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(orders=args.orders, symbols=list(PLAN)[: args.symbols], changed=args.changed)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def add_symbols(standin, symbols: list[str]) -> None:
    """Teach the stand-in the cloned symbols (exchangeInfo entry, market price, a base-asset balance)."""
    template = standin.symbols["SOLUSDT"]
    for symbol in symbols:
        if symbol in standin.symbols:
            continue
        entry = copy.deepcopy(template)
        entry["symbol"], entry["baseAsset"] = symbol, symbol.removesuffix("USDT")
        standin.symbols[symbol] = entry
        standin.info["symbols"].append(entry)
    for symbol in symbols:
        standin.prices[symbol] = Decimal(PLAN[symbol][1])


def fresh_minute(standin) -> None:
    """Start a cycle on an empty rate-limit minute, on both sides (the stand-in's counter and the shared cache)."""
    standin._minute_weight = 0
    cache.clear()


def naive_cycle(client) -> None:
    """One GET order per working order, and its trades when it executed more than the desk stored. Read only."""
    from django.db.models import Sum

    from papertrading.models import OrderFill, PaperOrder

    working = PaperOrder.objects.filter(venue="testnet", status__in=PaperOrder.WORKING_STATUSES).order_by("id")
    stored = dict(
        OrderFill.objects.filter(order__in=working)
        .values("order_id")
        .annotate(q=Sum("quantity"))
        .values_list("order_id", "q")
    )
    for order in working:
        data = client.get_order(order.symbol, order_id=order.binance_order_id)
        if Decimal(data["executedQty"]) > (stored.get(order.pk) or 0):
            client.my_trades(order.symbol, order_id=order.binance_order_id)


def run(*, orders: int, symbols: list[str], changed: int) -> None:
    from papertrading import services
    from papertrading.binance import BinanceTestnetClient, reset_clock_offsets
    from papertrading.models import PaperOrder
    from papertrading.tests.standin import StandIn

    balances = {"BTC": "1", "ETH": "10", "BNB": "10", "SOL": "100", "XRP": "10000", "USDT": "100000000"}
    with StandIn(api_key=KEY, secret=SECRET, balances=balances) as standin:
        add_symbols(standin, symbols)
        caches = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(uuid.uuid4())}
        }
        with override_settings(
            CACHES=caches,
            PAPER_TRADING_MODE="testnet",
            BINANCE_TESTNET_API_KEY=KEY,
            BINANCE_TESTNET_API_SECRET=SECRET,
            BINANCE_TESTNET_BASE_URL=standin.base_url,
            LOGGING_CONFIG=None,
        ):
            logging.getLogger("papertrading").setLevel(logging.WARNING)
            reset_clock_offsets()
            # One desk account holding the whole exchange account, as its allocation.
            account = services.open_account(owner=None, name="Bench", venue="testnet", starting_balances=balances)
            started = time.perf_counter()
            for i in range(orders):
                symbol = symbols[i % len(symbols)]
                quantity, _, price = PLAN[symbol]
                if i % 50 == 0:
                    fresh_minute(standin)  # placing is not what is measured; keep the ORDERS budget out of it
                services.place_order(account=account, symbol=symbol, side="BUY", order_type="LIMIT",
                                     quantity=Decimal(quantity), price=Decimal(price), time_in_force="GTC")  # fmt: skip
            print(
                f"{orders} working orders over {len(symbols)} symbols placed on the stand-in at {standin.base_url} "
                f"in {time.perf_counter() - started:.1f} s"
            )
            services.sync_orders()  # a first sync stamps every order, as the running schedule would have

            rows = []

            def measure(situation: str, way: str, cycle) -> None:
                fresh_minute(standin)
                client = BinanceTestnetClient()
                requests_before, weight_before = len(standin.requests), standin.weight_used
                begun = time.perf_counter()
                accounted = cycle(client)
                rows.append((
                    situation, way, len(standin.requests) - requests_before, standin.weight_used - weight_before,
                    accounted if accounted is not None else client.weight_used, time.perf_counter() - begun,
                ))  # fmt: skip

            def ours(client) -> int:
                return services.sync_orders().request_weight

            measure("nothing changed", "naive: GET order each", naive_cycle)
            measure("nothing changed", "ours: sync_orders()", ours)

            # `changed` orders fill on the exchange, spread round-robin over the symbols.
            by_symbol = {
                s: list(
                    PaperOrder.objects.filter(symbol=s, status="PENDING").values_list("binance_order_id", flat=True)
                )
                for s in symbols
            }
            for i in range(changed):
                standin.fill(by_symbol[symbols[i % len(symbols)]][i // len(symbols)])
            label = f"{changed} filled on the exchange"
            measure(label, "naive: GET order each", naive_cycle)
            measure(label, "ours: sync_orders()", ours)
            filled = PaperOrder.objects.filter(status="FILLED").count()

            # Another `changed` orders cancelled from elsewhere (the testnet web page): no trades to fetch.
            for i in range(changed):
                symbol = symbols[i % len(symbols)]
                order_id = by_symbol[symbol][len(by_symbol[symbol]) - 1 - i // len(symbols)]
                standin.cancel({"symbol": symbol, "orderId": str(order_id)})
            label = f"{changed} cancelled elsewhere"
            measure(label, "naive: GET order each", naive_cycle)
            measure(label, "ours: sync_orders()", ours)
            cancelled = PaperOrder.objects.filter(status="CANCELLED").count()

            print()
            print(
                f"| {'situation':<26} | {'way':<22} | {'requests':>8} | {'weight':>6} | {'client':>6} | {'time':>6} |"
            )
            print(f"|{'-' * 28}|{'-' * 24}|{'-' * 9}:|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|")
            for situation, way, requests_made, weight, accounted, seconds in rows:
                print(
                    f"| {situation:<26} | {way:<22} | {requests_made:>8} | {weight:>6} | {accounted:>6} | "
                    f"{seconds:>5.2f}s |"
                )
            print()
            print(
                f"target for ours: openOrders per symbol ({len(symbols)}) + one order query per changed order "
                f"({changed}) = {len(symbols) + changed} requests, plus one myTrades per changed order that executed"
            )
            print(
                f"after our syncs: {filled} FILLED and {cancelled} CANCELLED locally "
                f"(of {changed} each on the exchange)"
            )
            print("weights: openOrders(symbol) 6, GET order 4, myTrades(orderId) 5 (REFERENCE.md §4)")


if __name__ == "__main__":
    main()
