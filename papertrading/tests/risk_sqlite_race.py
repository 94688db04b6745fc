"""Twenty orders at once against max_open_orders=5 on a SQLite file database; prints what came of them as JSON.

Run by test_risk_races.py in a process of its own (pytest's SQLite test database lives in memory, where concurrent
writers fail instead of waiting), against a fresh database file:

    DATABASE_URL=sqlite:///tmp/race.sqlite3 DJANGO_SETTINGS_MODULE=config.settings \
        python -m papertrading.tests.risk_sqlite_race

It migrates, opens an account with max_open_orders=5, places the orders from 20 threads released together by a
barrier (each thread with its own connection), and prints {"working", "placed", "refused": {limit: count},
"errors", "locked", "risk_events", "drifts"}. It refuses any database but a SQLite file.
"""

import json
import os
import sys
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path

ORDERS = 20
MAX_OPEN_ORDERS = 5


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

    import django

    django.setup()

    from django.conf import settings
    from django.db import connection

    name = str(settings.DATABASES["default"]["NAME"])
    if connection.vendor != "sqlite" or name in ("", ":memory:") or "mode=memory" in name:
        print(json.dumps({"errors": [f"needs a SQLite file database, not {connection.vendor} {name!r}"]}))
        return 2
    return race()


def race() -> int:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from papertrading.balances import check_balances
    from papertrading.errors import RiskLimitExceeded
    from papertrading.models import MarketPrice, PaperOrder, RiskEvent, SimulatedBalance
    from papertrading.money import format_decimal
    from papertrading.services import default_account_for, place_order, set_limits
    from papertrading.symbols import load_default_symbol_rules

    call_command("migrate", verbosity=0, interactive=False)
    load_default_symbol_rules()
    MarketPrice.objects.update_or_create(
        symbol="BTCUSDT", defaults={"price": Decimal("68000"), "source": "test", "updated_at": timezone.now()}
    )
    user = User.objects.create_user("sqlite-racer")
    account = set_limits(
        account=default_account_for(user), values={"max_open_orders": MAX_OPEN_ORDERS}, user=user, may_loosen=True
    )
    connections.close_all()

    barrier = threading.Barrier(ORDERS)
    outcomes: list = [None] * ORDERS

    def place(i: int) -> None:
        try:
            barrier.wait()
            # 0.01 BTC at 67000 rests below the 68000 market, locking 670 USDT.
            order = place_order(
                account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Decimal("0.01"),
                price=Decimal("67000"), time_in_force="GTC",
            ).order  # fmt: skip
            outcomes[i] = ("placed", order.status)
        except RiskLimitExceeded as exc:
            outcomes[i] = exc
        except Exception as exc:  # a "database is locked" or any other failure is what the test must see
            outcomes[i] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=place, args=(i,)) for i in range(ORDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    refused = Counter(outcome.limit for outcome in outcomes if isinstance(outcome, RiskLimitExceeded))
    errors = [outcome for outcome in outcomes if isinstance(outcome, str)]
    errors += [f"thread {i} did not finish" for i, outcome in enumerate(outcomes) if outcome is None]
    usdt = SimulatedBalance.objects.get(account=account, asset="USDT")
    summary = {
        "working": account.orders.filter(status__in=PaperOrder.WORKING_STATUSES).count(),
        "placed": sorted(outcome[1] for outcome in outcomes if isinstance(outcome, tuple)),
        "refused": dict(refused),
        "errors": errors,
        "locked": format_decimal(usdt.locked),
        "risk_events": RiskEvent.objects.filter(account=account, kind=RiskEvent.Kind.REFUSED).count(),
        "drifts": [str(drift) for drift in check_balances()],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
