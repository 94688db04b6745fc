"""Reads of the portfolio: positions at the last prices, totals, P&L per agent and per run, the curves."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from papertrading.models import Account
from papertrading.money import ZERO, MoneySum, to_money
from papertrading.selectors import account_balances, last_prices

from . import metrics
from .models import EquitySnapshot, Position, Trade


def period_trades(account: Account, period: int | None = None) -> QuerySet[Trade]:
    """The account's ledger in one P&L period (the current one unless asked)."""
    return Trade.objects.filter(account=account, period=account.period if period is None else period)


def _marks(symbols) -> dict[str, Decimal]:
    """The last market price of each symbol, or its last trade price when the price table has none."""
    symbols = set(symbols)
    prices = last_prices(symbols)
    missing = symbols - prices.keys()
    for symbol in missing:
        last = Trade.objects.filter(symbol=symbol).order_by("-executed_at", "-id").values_list("price", flat=True)
        if last:
            prices[symbol] = last[0]
    return prices


@dataclass
class PositionView:
    symbol: str
    base_asset: str
    quote_asset: str
    quantity: Decimal
    cost_basis: Decimal
    average_cost: Decimal | None
    price: Decimal | None
    market_value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    fees_paid: Decimal
    trade_count: int

    @property
    def is_open(self) -> bool:
        return self.quantity > 0


def position_list(account: Account, *, include_closed: bool = False) -> list[PositionView]:
    """The account's positions with market value and unrealized P&L at the last price; open ones unless asked."""
    positions = Position.objects.filter(account=account).order_by("symbol")
    if not include_closed:
        positions = positions.filter(quantity__gt=0)
    positions = list(positions)
    prices = _marks(p.symbol for p in positions)
    views = []
    for p in positions:
        price = prices.get(p.symbol)
        market_value = to_money(p.quantity * price) if price is not None else None
        views.append(
            PositionView(
                symbol=p.symbol,
                base_asset=p.base_asset,
                quote_asset=p.quote_asset,
                quantity=p.quantity,
                cost_basis=p.cost_basis,
                average_cost=p.average_cost,
                price=price,
                market_value=market_value,
                unrealized_pnl=market_value - p.cost_basis if market_value is not None else None,
                realized_pnl=p.realized_pnl,
                fees_paid=p.fees_paid,
                trade_count=p.trade_count,
            )
        )
    return views


@dataclass
class PortfolioSummary:
    """An account's totals in its current period, in the valuation asset (USDT for every shipped symbol).

    The ledger identity: equity = starting_equity + total_pnl, where starting_equity is what the account held
    when the period began, valued at that moment's prices (cash plus the opening positions).
    """

    starting_cash: Decimal
    starting_equity: Decimal
    cash: Decimal
    market_value: Decimal
    equity: Decimal
    cost_basis: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_pnl: Decimal
    fees_paid: Decimal
    open_positions: int
    trade_count: int
    positions: list[PositionView] = field(default_factory=list)


def portfolio_summary(account: Account) -> PortfolioSummary:
    """Cash is the starting cash plus every trade's quote flow; equity is cash plus positions at the last price.

    Opening positions are booked as buys at the opening price, so the starting equity is the starting cash plus
    what they cost, and their quote flow does not leave the cash.
    """
    positions = position_list(account, include_closed=True)
    trades = period_trades(account)
    totals = trades.exclude(source=Trade.Source.OPENING).aggregate(quote=MoneySum("quote_delta"), count=Count("id"))
    opening = trades.filter(source=Trade.Source.OPENING).aggregate(quote=MoneySum("quote_delta"))["quote"] or ZERO
    starting_cash = Decimal(account.starting_balances.get(settings.PORTFOLIO_VALUATION_ASSET, "0"))
    cash = starting_cash + (totals["quote"] or ZERO)
    market_value = sum((p.market_value or ZERO for p in positions), ZERO)
    cost_basis = sum((p.cost_basis for p in positions), ZERO)
    realized = sum((p.realized_pnl for p in positions), ZERO)
    unrealized = sum((p.unrealized_pnl or ZERO for p in positions), ZERO)
    return PortfolioSummary(
        starting_cash=starting_cash,
        starting_equity=starting_cash - opening,
        cash=cash,
        market_value=market_value,
        equity=cash + market_value,
        cost_basis=cost_basis,
        realized_pnl=realized,
        unrealized_pnl=unrealized,
        total_pnl=realized + unrealized,
        fees_paid=sum((p.fees_paid for p in positions), ZERO),
        open_positions=sum(1 for p in positions if p.is_open),
        trade_count=totals["count"],
        positions=[p for p in positions if p.is_open],
    )


@dataclass
class PnL:
    """P&L of a group of trades (an agent's, a run's).

    `pnl` is marked to market: the quote the trades received minus what they paid (fees included), plus the base
    they left in the account valued at the last price. These add up across agents to the portfolio's total P&L.
    `realized_pnl` adds the realized P&L of the group's sells under the portfolio's average cost.
    """

    key: str | uuid.UUID | None
    trade_count: int = 0
    realized_pnl: Decimal = ZERO
    pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    last_trade_at: datetime | None = None
    symbols: list[str] = field(default_factory=list)


def _pnl_by(key: str, trades: QuerySet[Trade]) -> dict:
    rows = list(
        trades.values(key, "symbol").annotate(
            base=MoneySum("base_delta"),
            quote=MoneySum("quote_delta"),
            realized=MoneySum("realized_pnl"),
            fees=MoneySum("fee_in_quote"),
            count=Count("id"),
            last=Max("executed_at"),
        )
    )
    prices = _marks({row["symbol"] for row in rows})
    result: dict = {}
    for row in rows:
        pnl = result.setdefault(row[key], PnL(key=row[key]))
        price = prices.get(row["symbol"], ZERO)
        pnl.trade_count += row["count"]
        pnl.realized_pnl += row["realized"] or ZERO
        pnl.pnl += to_money(row["quote"] + row["base"] * price)
        pnl.fees_paid += row["fees"] or ZERO
        pnl.symbols.append(row["symbol"])
        pnl.last_trade_at = max(filter(None, [pnl.last_trade_at, row["last"]]), default=None)
    return result


def pnl_by_run(account: Account, run_ids=None) -> dict[uuid.UUID, PnL]:
    trades = Trade.objects.filter(account=account).exclude(run_id=None)
    if run_ids is not None:
        trades = trades.filter(run_id__in=list(run_ids))
    return _pnl_by("run_id", trades)


def pnl_by_agent(account: Account) -> list[PnL]:
    """The account's agents by P&L in the current period, best first. What no agent decided (trades placed by
    hand, and the opening positions' move since the period began) is the line under the empty name; the lines add
    up to the account's total P&L."""
    by_agent = _pnl_by("agent", period_trades(account))
    return sorted(by_agent.values(), key=lambda p: (-p.pnl, str(p.key)))


def trade_list(account: Account) -> QuerySet[Trade]:
    """The account's whole ledger, every period, newest first."""
    return Trade.objects.filter(account=account).select_related("order").order_by("-executed_at", "-id")


def realized_pnl_curve(account: Account, *, limit: int = 1000) -> list[tuple[datetime, Decimal]]:
    """Cumulative realized P&L after each sell in the current period, oldest first (the last `limit` sells)."""
    ledger = period_trades(account)
    rows = list(
        ledger.exclude(realized_pnl=None)
        .order_by("-executed_at", "-id")
        .values_list("executed_at", "realized_pnl")[:limit]
    )
    rows.reverse()
    before = ledger.exclude(realized_pnl=None).aggregate(total=MoneySum("realized_pnl"))["total"] or ZERO
    before -= sum((r for _, r in rows), ZERO)
    curve, running = [], before
    if rows:
        # The staircase starts flat at the first trade, so a single sell already draws a step.
        first = ledger.order_by("executed_at", "id").values_list("executed_at", flat=True).first()
        curve.append((min(first, rows[0][0]), before))
    for at, realized in rows:
        running += realized
        curve.append((at, running))
    return curve


def equity_curve(account: Account, *, limit: int = 500) -> list[EquitySnapshot]:
    """The account's last `limit` snapshots in the current period, oldest first."""
    snapshots = list(
        EquitySnapshot.objects.filter(account=account, period=account.period).order_by("-taken_at")[:limit]
    )
    snapshots.reverse()
    return snapshots


# --- accounts: what each holds and how it performs ----------------------------------------------------------------


@dataclass
class Performance:
    """An account's figures in its current period (formulas in portfolio.metrics). Ratios are fractions."""

    return_rate: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_pnl: Decimal
    fees_paid: Decimal
    max_drawdown: Decimal
    sharpe_ratio: Decimal | None
    win_rate: Decimal | None
    trade_count: int


@dataclass
class AccountOverview:
    """An account with its balances and totals: what its owner (and staff) may see."""

    account: Account
    balances: list
    summary: PortfolioSummary
    return_rate: Decimal | None
    performance: Performance | None = None


def account_overview(account: Account, *, with_performance: bool = False) -> AccountOverview:
    summary = portfolio_summary(account)
    _, balances = account_balances(account)
    return AccountOverview(
        account=account,
        balances=balances,
        summary=summary,
        return_rate=metrics.total_return(summary.total_pnl, summary.starting_equity),
        performance=account_performance(account, summary=summary) if with_performance else None,
    )


def period_drawdown_and_sharpe(
    account: Account, summary: PortfolioSummary, *, now: datetime | None = None
) -> tuple[Decimal, Decimal | None]:
    """The period's maximum drawdown and Sharpe ratio in three queries, however many snapshots it has: each
    snapshot carries the running peak and its drawdown, and the Sharpe ratio needs only each day's last equity."""
    snapshots = EquitySnapshot.objects.filter(account=account, period=account.period)
    stored = snapshots.aggregate(peak=Max("peak"), worst=Max("drawdown"))
    peak = metrics.running_peak(stored["peak"], summary.starting_equity, summary.equity)
    drawdown = max(stored["worst"] or ZERO, metrics.fall_from(peak, summary.equity))
    last_of_day = (
        snapshots.annotate(day=TruncDate("taken_at", tzinfo=UTC))
        .order_by()
        .values("day")
        .annotate(last=Max("taken_at"))
        .values_list("last", flat=True)
    )
    closes = (
        snapshots.filter(taken_at__in=list(last_of_day)).order_by("taken_at", "id").values_list("taken_at", "equity")
    )
    points = [(account.period_started_at, summary.starting_equity), *closes, (now or timezone.now(), summary.equity)]
    return metrics.ratio(drawdown), metrics.equity_metrics(points)[1]


def account_performance(
    account: Account, *, summary: PortfolioSummary | None = None, now: datetime | None = None
) -> Performance:
    summary = summary or portfolio_summary(account)
    drawdown, sharpe = period_drawdown_and_sharpe(account, summary, now=now)
    realized = period_trades(account).exclude(realized_pnl=None).values_list("realized_pnl", flat=True)
    return Performance(
        return_rate=metrics.total_return(summary.total_pnl, summary.starting_equity),
        realized_pnl=summary.realized_pnl,
        unrealized_pnl=summary.unrealized_pnl,
        total_pnl=summary.total_pnl,
        fees_paid=summary.fees_paid,
        max_drawdown=drawdown,
        sharpe_ratio=sharpe,
        win_rate=metrics.win_rate(realized),
        trade_count=summary.trade_count,
    )


def _percent(value: Decimal | None) -> Decimal | None:
    """A fraction as a percentage, for pages (the API gives the fraction)."""
    return None if value is None else value * 100


@dataclass
class AgentStanding:
    """One agent of an account on the leaderboard; the agent "" is what no agent decided (trades by hand and the
    opening positions' move). An account's lines add up to its total P&L."""

    agent: str
    pnl: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    trade_count: int
    win_rate: Decimal | None

    @property
    def win_rate_percent(self) -> Decimal | None:
        return _percent(self.win_rate)


@dataclass
class AccountStanding:
    """One account on the leaderboard: its figures only, never its balances, positions or orders."""

    account_id: int
    name: str
    owner: str | None
    venue: str
    period: int
    period_started_at: datetime
    is_own: bool
    performance: Performance
    agents: list[AgentStanding]

    @property
    def return_percent(self) -> Decimal | None:
        return _percent(self.performance.return_rate)

    @property
    def max_drawdown_percent(self) -> Decimal | None:
        return _percent(self.performance.max_drawdown)

    @property
    def win_rate_percent(self) -> Decimal | None:
        return _percent(self.performance.win_rate)


def agent_standings(account: Account) -> list[AgentStanding]:
    """The account's agents in the current period, by P&L, best first, with the "not from an agent" line.

    Trade counts and win rates leave the opening positions out: they are what the account started with, not
    trades anyone made.
    """
    counts = {
        row["agent"]: row
        for row in period_trades(account)
        .exclude(source=Trade.Source.OPENING)
        .order_by()
        .values("agent")
        .annotate(
            trades=Count("id"),
            sells=Count("id", filter=Q(realized_pnl__isnull=False)),
            wins=Count("id", filter=Q(realized_pnl__gt=0)),
        )
    }
    pnl = {row.key: row for row in pnl_by_agent(account)}
    pnl.setdefault("", PnL(key=""))
    standings = []
    for agent, row in pnl.items():
        count = counts.get(agent, {"trades": 0, "sells": 0, "wins": 0})
        standings.append(
            AgentStanding(
                agent=agent,
                pnl=row.pnl,
                realized_pnl=row.realized_pnl,
                fees_paid=row.fees_paid,
                trade_count=count["trades"],
                win_rate=metrics.win_rate_of(wins=count["wins"], sells=count["sells"]),
            )
        )
    return sorted(standings, key=lambda s: (-s.pnl, s.agent))


def account_leaderboard(user, *, now: datetime | None = None) -> list[AccountStanding]:
    """Every account but the external ones, best return first (accounts without one last), with their agents.

    Any signed-in user sees every account's figures; `is_own` marks the user's own accounts.
    """
    now = now or timezone.now()
    standings = []
    for account in Account.objects.filter(is_external=False).select_related("owner").order_by("id"):
        standings.append(
            AccountStanding(
                account_id=account.pk,
                name=account.name,
                owner=account.owner.get_username() if account.owner else None,
                venue=account.venue,
                period=account.period,
                period_started_at=account.period_started_at,
                is_own=account.owner_id is not None and account.owner_id == getattr(user, "pk", None),
                performance=account_performance(account, now=now),
                agents=agent_standings(account),
            )
        )
    return sorted(
        standings,
        key=lambda s: (s.performance.return_rate is None, -(s.performance.return_rate or 0), s.name, s.account_id),
    )
