"""No race passes a risk limit: twenty orders of one account at once, each in its own thread and transaction.

The limits are judged in the transaction that reserves the order's funds, under the account's row lock, so every
order sees what the ones before it committed. The PostgreSQL races are skipped elsewhere (SQLite serialises
every write); the SQLite race runs in a process of its own against a database file (risk_sqlite_race.py), since
pytest's SQLite test database lives in memory, where concurrent writers fail instead of waiting.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal as D
from pathlib import Path

import pytest

from papertrading import risk
from papertrading.balances import check_balances
from papertrading.errors import RiskLimitExceeded
from papertrading.models import Account, OrderFill, PaperOrder, RiskEvent, SimulatedBalance
from papertrading.services import (
    PlaceResult,
    halt_account,
    mark_day_start,
    place_order,
    set_limits,
)
from papertrading.tests.support import balances, prepare_race, run_together

ROOT = Path(__file__).resolve().parents[2]
RACERS = 20
race = pytest.mark.django_db(transaction=True)


@pytest.fixture
def racer(market) -> Account:
    """PostgreSQL only: the account that races (USDT 100000, BTC 1, ETH 10; BTCUSDT at 68000)."""
    return prepare_race()


def limited(account: Account, **values) -> Account:
    return set_limits(account=account, values=values, user=None, may_loosen=True)


def limit_buy(account: Account, quantity: str = "0.01", price: str = "67000", symbol: str = "BTCUSDT"):
    """A LIMIT BUY that rests below the market (0.01 BTC at 67000 locks 670 USDT)."""
    return lambda: place_order(
        account=account, symbol=symbol, side="BUY", order_type="LIMIT", quantity=D(quantity), price=D(price),
        time_in_force="GTC",
    )  # fmt: skip


def market_buy(account: Account, quantity: str = "0.01"):
    return lambda: place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D(quantity))


def outcomes(results: list) -> tuple[list[PaperOrder], list[RiskLimitExceeded]]:
    """The orders placed and the risk refusals; anything else (a deadlock, a funds refusal) fails the test."""
    others = [r for r in results if not isinstance(r, (PlaceResult, RiskLimitExceeded))]
    assert others == [], others
    return [r.order for r in results if isinstance(r, PlaceResult)], [
        r for r in results if isinstance(r, RiskLimitExceeded)
    ]


def refusals_recorded(account: Account) -> Counter:
    return Counter(account.risk_events.filter(kind=RiskEvent.Kind.REFUSED).values_list("limit", flat=True))


# --- PostgreSQL: real concurrent transactions -------------------------------------------------------------------
@race
def test_twenty_orders_at_once_against_max_open_orders_5_leave_exactly_five_working(racer):
    limited(racer, max_open_orders=5)

    placed, refused = outcomes(run_together(*[limit_buy(racer)] * RACERS))

    assert [order.status for order in placed] == ["PENDING"] * 5
    assert racer.orders.filter(status__in=PaperOrder.WORKING_STATUSES).count() == 5
    assert racer.orders.count() == 5  # a refused order is not written
    # Each refused order saw the five that were working: it would have been the sixth.
    assert [(r.limit, r.limit_value, r.value) for r in refused] == [("max_open_orders", 5, 6)] * 15
    assert refusals_recorded(racer) == {"max_open_orders": 15}
    assert balances(racer)["USDT"] == (D("96650"), D("3350"))  # 5 x 670 reserved, nothing for the refused
    assert check_balances() == []


@race
def test_twenty_orders_at_once_against_max_orders_per_minute_5_place_exactly_five(racer):
    limited(racer, max_orders_per_minute=5)

    placed, refused = outcomes(run_together(*[limit_buy(racer)] * RACERS))

    assert len(placed) == 5 and racer.orders.count() == 5
    assert [(r.limit, r.limit_value, r.value) for r in refused] == [("max_orders_per_minute", 5, 6)] * 15
    assert refusals_recorded(racer) == {"max_orders_per_minute": 15}
    assert balances(racer)["USDT"] == (D("96650"), D("3350"))
    assert check_balances() == []


@race
def test_concurrent_buys_never_take_the_position_past_max_position_notional(racer):
    # 1 BTC at 68000 held. Each MARKET BUY of 0.01 adds 0.00999 BTC (the fee is taken in BTC) and is judged at
    # (held + 0.01) x 68000: the fifth passes at 1.04996 x 68000 = 71397.28, a sixth would make 72076.60.
    limited(racer, max_position_notional="71400")

    placed, refused = outcomes(run_together(*[market_buy(racer)] * RACERS))

    assert [order.status for order in placed] == ["FILLED"] * 5
    assert {r.limit for r in refused} == {"max_position_notional"} and len(refused) == 15
    assert all(r.value > D("71400") and r.limit_value == D("71400") for r in refused)
    btc = SimulatedBalance.objects.get(account=racer, asset="BTC")
    assert btc.free + btc.locked == D("1.04995")
    assert (btc.free + btc.locked) * D("68000") <= D("71400")
    assert OrderFill.objects.filter(order__account=racer).count() == 5
    assert check_balances() == []


@race
def test_concurrent_buys_after_a_price_drop_stop_at_max_daily_loss(racer, market):
    # The day starts at BTC 68000 (equity 100000 + 68000 + 35000), then BTC drops to 67000: 1000 lost. Each MARKET
    # BUY of 0.01 then costs 670.335 (67033.50 slipped) for 0.00999 BTC worth 669.33: 1.005 more lost. Orders are
    # judged on the loss before them: 1000, 1001.005 and 1002.010 pass the 1002.5125 limit, 1003.015 does not.
    assert mark_day_start() >= 1
    racer.refresh_from_db()
    assert racer.day_start_equity == D("203000")
    market.set("BTCUSDT", "67000")
    limited(racer, max_daily_loss="1002.5125")

    placed, refused = outcomes(run_together(*[market_buy(racer)] * RACERS))

    assert [order.status for order in placed] == ["FILLED"] * 3
    assert {r.limit for r in refused} == {"max_daily_loss"} and len(refused) == 17
    assert {r.value for r in refused} == {D("1003.015")}
    racer.refresh_from_db()
    assert racer.halted_at is None  # halt_on_daily_loss is off by default
    assert risk.usage(racer)["max_daily_loss"]["used"] == D("1003.015")
    # An order that reduces exposure still passes.
    sell = place_order(account=racer, symbol="BTCUSDT", side="SELL", order_type="MARKET", quantity=D("0.01"))
    assert sell.order.status == "FILLED"
    assert check_balances() == []


@race
def test_max_order_notional_under_concurrency_passes_exactly_the_orders_at_or_below_it(racer):
    limited(racer, max_order_notional="670")
    # Alternately worth exactly 670 (0.01 at 67000) and 737 (0.011 at 67000).
    jobs = [limit_buy(racer, quantity="0.01" if i % 2 == 0 else "0.011") for i in range(RACERS)]

    placed, refused = outcomes(run_together(*jobs))

    assert sorted(order.quantity for order in placed) == [D("0.01")] * 10
    assert [(r.limit, r.limit_value, r.value) for r in refused] == [("max_order_notional", D("670"), D("737"))] * 10
    assert refusals_recorded(racer) == {"max_order_notional": 10}
    assert balances(racer)["USDT"] == (D("93300"), D("6700"))
    assert check_balances() == []


@race
def test_allowed_symbols_under_concurrency_passes_only_the_listed_symbol(racer):
    limited(racer, allowed_symbols=["ETHUSDT"])
    # Alternately 0.1 ETH at 3400 (340 USDT) and 0.01 BTC at 67000.
    jobs = [
        limit_buy(racer, quantity="0.1", price="3400", symbol="ETHUSDT") if i % 2 == 0 else limit_buy(racer)
        for i in range(RACERS)
    ]

    placed, refused = outcomes(run_together(*jobs))

    assert [order.symbol for order in placed] == ["ETHUSDT"] * 10
    assert [(r.limit, r.value) for r in refused] == [("allowed_symbols", "BTCUSDT")] * 10
    assert not racer.orders.filter(symbol="BTCUSDT").exists()
    assert balances(racer)["USDT"] == (D("96600"), D("3400"))
    assert check_balances() == []


@race
def test_halting_while_twenty_orders_are_placed_leaves_none_working_and_refuses_the_later_ones(racer):
    halting, halted_now = threading.Event(), threading.Event()

    def halt():
        # Halt once a few orders are in, while the first ten still queue for the account's lock.
        deadline = time.monotonic() + 10
        while PaperOrder.objects.filter(account=racer).count() < 3 and time.monotonic() < deadline:
            time.sleep(0.002)
        halting.set()
        try:
            return halt_account(account=racer, reason="Stop everything", actor="risk desk")
        finally:
            halted_now.set()

    def after(event: threading.Event, job):
        def run():
            event.wait(10)
            return job()

        return run

    # The first ten set off at once; five more as the halt does, racing its transaction and its cancels; the last
    # five once the halt has committed, so at least those meet the halted account whatever the scheduler does.
    first = [limit_buy(racer)] * 10
    racing = [after(halting, limit_buy(racer))] * 5
    late = [after(halted_now, limit_buy(racer))] * 5
    *results, halted = run_together(*first, *racing, *late, halt)

    placed, refused = outcomes(results)
    assert len(placed) + len(refused) == RACERS
    assert len(placed) >= 3 and refused, (len(placed), len(refused))
    assert {r.limit for r in refused} == {"halted"}
    # Every order that got in was cancelled by the halt; none is working or open now.
    assert sorted(halted.cancelled) == sorted(order.pk for order in placed)
    assert halted.not_cancelled == {}
    assert not racer.orders.filter(status__in=PaperOrder.OPEN_STATUSES).exists()
    assert set(racer.orders.values_list("status", flat=True)) == {"CANCELLED"}
    # The orders that got in were written before the account was halted; the refused ones came after.
    racer.refresh_from_db()
    assert racer.halted_at is not None and racer.halted_reason == "Stop everything"
    assert all(order.created_at < racer.halted_at for order in racer.orders.all())
    refusal_times = racer.risk_events.filter(kind=RiskEvent.Kind.REFUSED).values_list("created_at", flat=True)
    assert len(refusal_times) == len(refused) and all(at > racer.halted_at for at in refusal_times)
    assert balances(racer)["USDT"] == (D("100000"), D("0"))
    # A new order gets the halted refusal.
    with pytest.raises(RiskLimitExceeded) as refusal:
        limit_buy(racer)()
    assert refusal.value.limit == "halted" and "Stop everything" in refusal.value.message
    assert racer.orders.count() == len(placed)
    assert check_balances() == []


# --- SQLite: a file database in a process of its own -------------------------------------------------------------
def test_twenty_orders_at_once_against_max_open_orders_5_on_sqlite_leave_exactly_five_working(tmp_path):
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RISK_", "SIMULATOR_", "BINANCE_", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'race.sqlite3'}",
        CACHE_URL="locmemcache://",
        PAPER_TRADING_MODE="simulation",
        MARKET_DATA_SOURCE="synthetic",
        SIMULATOR_STARTING_BALANCES="USDT=100000,BTC=1",
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "papertrading.tests.risk_sqlite_race"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["errors"] == []  # "database is locked" or any other failure of a racing order
    assert summary["working"] == 5 and summary["placed"] == ["PENDING"] * 5
    assert summary["refused"] == {"max_open_orders": 15}
    assert summary["risk_events"] == 15
    assert summary["locked"] == "3350"
    assert summary["drifts"] == []
    assert time.monotonic() - started < 20
