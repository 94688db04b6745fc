"""Reads of the portfolio: positions at the last prices, totals, P&L per agent and per run, the curves."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Max, QuerySet

from papertrading.models import Account
from papertrading.money import ZERO, MoneySum, to_money
from papertrading.selectors import last_prices

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
