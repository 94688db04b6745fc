"""The period's drawdown and Sharpe ratio come from the snapshots' stored running peak and each day's last equity,
in a fixed number of queries; they must equal the walk over the whole equity series that metrics.py defines."""

from datetime import UTC, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papertrading.services import open_account
from portfolio import metrics
from portfolio.models import EquitySnapshot
from portfolio.selectors import period_drawdown_and_sharpe, portfolio_summary
from portfolio.services import snapshot_equity

pytestmark = pytest.mark.django_db


def full_walk(account, now):
    """metrics.py's definition, over every point of the period."""
    summary = portfolio_summary(account)
    points = [(account.period_started_at, summary.starting_equity)]
    snapshots = EquitySnapshot.objects.filter(account=account, period=account.period).order_by("taken_at", "id")
    points += list(snapshots.values_list("taken_at", "equity"))
    points.append((now, summary.equity))
    return metrics.equity_metrics(points)


# Each example opens an account of its own, so the fixtures' rows shared between examples change nothing.
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.integers(1, 400), st.integers(0, 30)), min_size=1, max_size=25))
def test_stored_peaks_give_the_same_figures_as_walking_every_snapshot(market, trader, moves):
    # Each move: BTC's price in dollars × 100, and hours after the previous snapshot (several per day, days apart;
    # two at the same moment count in the order they were taken).
    account = open_account(
        owner=trader, name=f"walk-{EquitySnapshot.objects.count()}", starting_balances={"USDT": "1000", "BTC": "1"}
    )
    moment = timezone.now().astimezone(UTC) - timedelta(days=40)
    account.period_started_at = moment
    account.save(update_fields=["period_started_at"])
    for price, hours in moves:
        moment += timedelta(hours=hours)
        market.set("BTCUSDT", D(price) * 100)
        snapshot_equity(account, now=moment)
    market.set("BTCUSDT", "20000")
    now = moment + timedelta(hours=1)
    assert period_drawdown_and_sharpe(account, portfolio_summary(account), now=now) == full_walk(account, now)


def test_the_figures_cost_three_queries_however_many_snapshots(market, trader):
    account = open_account(owner=trader, name="busy", starting_balances={"USDT": "1000", "BTC": "1"})
    start = timezone.now() - timedelta(days=30)
    counts = []
    for batch in (10, 300):
        for n in range(batch):
            market.set("BTCUSDT", 60000 + (n * 37) % 5000)
            snapshot_equity(account, now=start + timedelta(minutes=37 * n))
        summary = portfolio_summary(account)
        with CaptureQueriesContext(connection) as queries:
            drawdown, _ = period_drawdown_and_sharpe(account, summary)
        counts.append(len(queries))
        assert drawdown == full_walk(account, timezone.now())[0]
    assert counts == [3, 3]
