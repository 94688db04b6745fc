"""What many order tests share: the orders endpoint, two standard orders, the balances table, running jobs at once."""

import threading
from decimal import Decimal

from django.db import connections

from papertrading.models import SimulatedBalance

ORDERS_URL = "/api/paper-trading/orders"
# A LIMIT BUY that rests just below the 68000 market of the `market` fixture, and a small MARKET BUY.
LIMIT_BUY = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": "0.01",
    "price": "67000",
    "time_in_force": "GTC",
}
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"}


def balances(account=None) -> dict[str, tuple[Decimal, Decimal]]:
    """An account's balances (every account's, keyed by account id and asset, when none is given) as
    asset -> (free, locked): compare before and after to prove nothing moved."""
    if account is None:
        return {(row.account_id, row.asset): (row.free, row.locked) for row in SimulatedBalance.objects.all()}
    return {row.asset: (row.free, row.locked) for row in SimulatedBalance.objects.filter(account=account)}


def prepare_race(user=None):
    """Skip unless on PostgreSQL (concurrent transactions and row locks need it), then reload the shipped symbol
    rules, which an earlier transactional test may have flushed; returns the default account of `user` (a new
    "racer" when none is given), opened with the starting balances."""
    import pytest
    from django.contrib.auth.models import User
    from django.db import connection

    from papertrading.services import default_account_for
    from papertrading.symbols import load_default_symbol_rules

    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions and row locks need PostgreSQL (set DATABASE_URL)")
    load_default_symbol_rules()
    user = user or User.objects.get_or_create(username="racer")[0]
    return default_account_for(user)


def run_together(*jobs) -> list:
    """Start every job at the same moment in its own thread; return each one's result or exception."""
    results: list = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def worker(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:  # the outcome of each side is what the test inspects
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results
