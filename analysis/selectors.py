"""Reads of analysis runs with their orders and P&L, and the agents' leaderboard."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from papertrading import selectors as papertrading_selectors
from papertrading.models import Account
from portfolio import selectors as portfolio_selectors

from .models import AnalysisRun


def run_list(account: Account) -> QuerySet[AnalysisRun]:
    """The account's runs, newest first."""
    return AnalysisRun.objects.filter(account=account).select_related("posted_by").order_by("-created_at", "-id")


def attach_outcomes(account: Account, runs) -> list[AnalysisRun]:
    """Give each run of the account `.orders` (the paper orders it caused, through run_id), `.trades` and `.pnl`
    (or None)."""
    runs = list(runs)
    run_ids = [run.run_id for run in runs]
    orders: dict = {}
    for order in papertrading_selectors.orders_for_runs(account, run_ids):
        orders.setdefault(order.run_id, []).append(order)
    trades: dict = {}
    for trade in portfolio_selectors.trade_list(account).filter(run_id__in=run_ids).order_by("id"):
        trades.setdefault(trade.run_id, []).append(trade)
    pnl = portfolio_selectors.pnl_by_run(account, run_ids)
    for run in runs:
        run.orders = orders.get(run.run_id, [])
        run.trades = trades.get(run.run_id, [])
        run.pnl = pnl.get(run.run_id)
    return runs


def agent_names(account: Account) -> list[str]:
    return list(run_list(account).order_by("agent").values_list("agent", flat=True).distinct())


def symbol_names(account: Account) -> list[str]:
    return list(run_list(account).order_by("symbol").values_list("symbol", flat=True).distinct())


@dataclass
class LeaderboardRow:
    agent: str
    runs: int
    executed: int
    failed: int
    skipped: int
    trade_count: int
    realized_pnl: Decimal
    pnl: Decimal


def leaderboard(account: Account) -> list[LeaderboardRow]:
    """The account's agents by marked-to-market P&L of their trades, best first (see portfolio.selectors.PnL)."""
    Status = AnalysisRun.Status
    counts = (
        AnalysisRun.objects.filter(account=account)
        .order_by()
        .values("agent")
        .annotate(
            runs=Count("id"),
            executed=Count("id", filter=Q(status=Status.EXECUTED)),
            failed=Count("id", filter=Q(status=Status.FAILED)),
            skipped=Count("id", filter=Q(status=Status.SKIPPED)),
        )
    )
    pnl = {row.key: row for row in portfolio_selectors.pnl_by_agent(account)}
    rows = []
    for count in counts:
        agent_pnl = pnl.get(count["agent"])
        rows.append(
            LeaderboardRow(
                agent=count["agent"],
                runs=count["runs"],
                executed=count["executed"],
                failed=count["failed"],
                skipped=count["skipped"],
                trade_count=agent_pnl.trade_count if agent_pnl else 0,
                realized_pnl=agent_pnl.realized_pnl if agent_pnl else Decimal("0"),
                pnl=agent_pnl.pnl if agent_pnl else Decimal("0"),
            )
        )
    return sorted(rows, key=lambda row: (-row.pnl, row.agent))
