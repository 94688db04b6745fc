"""Writes of the portfolio: the trade ledger, positions, equity snapshots, and the manager that executes decisions."""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from papertrading import selectors as papertrading_selectors
from papertrading.errors import OrderRejected, OrderValidationError, RiskLimitExceeded, VenueUnavailable
from papertrading.models import Account, OrderEvent, OrderFill, OrderType, PaperOrder, Side, SymbolRule
from papertrading.money import ZERO, MoneySum, to_money
from papertrading.services import check_order, fill_directly, place_order, record_refusal

from . import metrics, selectors
from .book import Book, trade_flows
from .models import EquitySnapshot, Position, Trade
from .signals import trades_recorded

logger = logging.getLogger(__name__)

KNOWN_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY")


# --- the ledger --------------------------------------------------------------------------------------------------


def symbol_assets(symbol: str) -> tuple[str, str]:
    """(base, quote) of a symbol from its rule; guessed from the name for a symbol the desk has no rule for."""
    rule = papertrading_selectors.stored_symbol_rule(symbol)
    if rule:
        return rule.base_asset, rule.quote_asset
    for quote in KNOWN_QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return symbol, ""


def _third_asset_fee_in_quote(fee: Decimal, fee_asset: str, quote_asset: str) -> Decimal:
    """A fee paid in neither asset of the pair (BNB), valued at that asset's last price in the quote asset."""
    price = papertrading_selectors.last_price(f"{fee_asset}{quote_asset}")
    return to_money(fee * price) if price else ZERO


def record_trade(
    *,
    account: Account | int,
    symbol: str,
    side: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_asset: str,
    source: str,
    executed_at: datetime,
    order: PaperOrder | None = None,
    fill: OrderFill | None = None,
    run_id: uuid.UUID | None = None,
    agent: str = "",
) -> Trade:
    """Book one trade of an account: the ledger row and the symbol's position, together, under the position's row
    lock. The trade belongs to the position's period (the account's current one)."""
    account_id = account if isinstance(account, int) else account.pk
    base_asset, quote_asset = symbol_assets(symbol)
    third = ZERO
    if fee and fee_asset not in (base_asset, quote_asset):
        third = _third_asset_fee_in_quote(fee, fee_asset, quote_asset)
    flows = trade_flows(
        side=side,
        quantity=quantity,
        price=price,
        fee=fee,
        fee_asset=fee_asset,
        base_asset=base_asset,
        quote_asset=quote_asset,
        third_asset_fee_in_quote=third,
    )
    # No savepoint: inside a fill's transaction this joins it (a failure undoes the fill too), alone it is one.
    with transaction.atomic(savepoint=False):
        # Two fills of the same symbol take turns here, so each sell sees the average cost the one before left.
        positions = Position.objects.select_for_update().filter(account_id=account_id, symbol=symbol)
        position = positions.first()
        if position is None:
            period = account.period if isinstance(account, Account) else Account.objects.get(pk=account_id).period
            Position.objects.get_or_create(
                account_id=account_id,
                symbol=symbol,
                defaults={"base_asset": base_asset, "quote_asset": quote_asset, "period": period},
            )
            position = positions.get()
        book = Book(position.quantity, position.cost_basis, position.realized_pnl, position.fees_paid)
        realized = book.apply(side=side, flows=flows)
        trade = Trade.objects.create(
            account_id=account_id,
            period=position.period,
            symbol=symbol,
            base_asset=base_asset,
            quote_asset=quote_asset,
            side=side,
            quantity=quantity,
            price=price,
            fee=fee,
            fee_asset=fee_asset,
            fee_in_quote=flows.fee_in_quote,
            base_delta=flows.base_delta,
            quote_delta=flows.quote_delta,
            realized_pnl=realized,
            source=source,
            order=order,
            fill=fill,
            run_id=run_id,
            agent=agent,
            executed_at=executed_at,
        )
        position.quantity, position.cost_basis = book.quantity, book.cost_basis
        position.realized_pnl, position.fees_paid = book.realized_pnl, book.fees_paid
        position.trade_count += 1
        position.save(
            update_fields=["quantity", "cost_basis", "realized_pnl", "fees_paid", "trade_count", "updated_at"]
        )
    return trade


def record_fills(*, order: PaperOrder, fills: list[OrderFill], new: bool = False) -> list[Trade]:
    """Put fills of a paper order into the ledger; a fill already booked is skipped (idempotent).

    `new` says the fills were inserted in this very transaction (what fills_recorded announces), so none can be
    booked yet and the look-up is skipped.
    """
    booked = (
        set() if new else set(Trade.objects.filter(fill__in=[f.pk for f in fills]).values_list("fill_id", flat=True))
    )
    trades = []
    for fill in fills:
        if fill.pk is None or fill.pk in booked:
            continue
        trades.append(
            record_trade(
                account=order.account_id,
                symbol=order.symbol,
                side=order.side,
                quantity=fill.quantity,
                price=fill.price,
                fee=fill.commission,
                fee_asset=fill.commission_asset,
                source=Trade.Source.FILL,
                executed_at=fill.created_at or timezone.now(),
                order=order,
                fill=fill,
                run_id=order.run_id,
            )
        )
    if trades:
        trades_recorded.send(sender=Trade, trades=trades)
    return trades


def on_fills_recorded(sender, *, order: PaperOrder, fills: list[OrderFill], **kwargs) -> None:
    """Receiver of papertrading's `fills_recorded`; runs inside the fill's transaction, so both land together."""
    record_fills(order=order, fills=fills, new=True)


def rebuild_positions(accounts=None) -> int:
    """Replay each account's ledger of its current period in booking order and rewrite its positions and realized
    P&L; returns trades seen. The incremental path (record_trade) must always agree with this; an operator runs it
    after editing trades."""
    accounts = Account.objects.order_by("id") if accounts is None else accounts
    return sum(_rebuild_account(account) for account in accounts)


@transaction.atomic
def _rebuild_account(account: Account) -> int:
    books: dict[str, Book] = {}
    trades = Trade.objects.select_for_update().filter(account=account, period=account.period).order_by("id")
    firsts: dict[str, Trade] = {}
    counts: dict[str, int] = {}
    for trade in trades:
        book = books.setdefault(trade.symbol, Book())
        firsts.setdefault(trade.symbol, trade)
        counts[trade.symbol] = counts.get(trade.symbol, 0) + 1
        flows = trade_flows(
            side=trade.side,
            quantity=trade.quantity,
            price=trade.price,
            fee=trade.fee,
            fee_asset=trade.fee_asset,
            base_asset=trade.base_asset,
            quote_asset=trade.quote_asset,
            third_asset_fee_in_quote=trade.fee_in_quote,
        )
        realized = book.apply(side=trade.side, flows=flows)
        if realized != trade.realized_pnl:
            trade.realized_pnl = realized
            trade.save(update_fields=["realized_pnl"])
    Position.objects.filter(account=account).exclude(symbol__in=books).delete()
    for symbol, book in books.items():
        Position.objects.update_or_create(
            account=account,
            symbol=symbol,
            defaults={
                "period": account.period,
                "base_asset": firsts[symbol].base_asset,
                "quote_asset": firsts[symbol].quote_asset,
                "quantity": book.quantity,
                "cost_basis": book.cost_basis,
                "realized_pnl": book.realized_pnl,
                "fees_paid": book.fees_paid,
                "trade_count": counts[symbol],
            },
        )
    return sum(counts.values())


def on_account_opened(sender, *, account: Account, prices: dict[str, Decimal], **kwargs) -> None:
    """Receiver of papertrading's `account_opened` (a new account, or a reset's new period): close the book and
    enter what the account holds as opening positions at the prices of the moment, so selling them later counts
    only what the price did since, and equity = starting equity + P&L from the first moment."""
    Position.objects.filter(account=account).delete()
    valuation = settings.PORTFOLIO_VALUATION_ASSET
    now = timezone.now()
    for asset, amount in sorted(account.starting_balances.items()):
        amount = Decimal(amount)
        if asset == valuation or not amount or asset not in prices:
            continue
        record_trade(
            account=account,
            symbol=f"{asset}{valuation}",
            side=Side.BUY,
            quantity=amount,
            price=prices[asset],
            fee=ZERO,
            fee_asset="",
            source=Trade.Source.OPENING,
            executed_at=now,
        )


def snapshot_equity(account: Account, *, now: datetime | None = None) -> EquitySnapshot:
    """Store the account's value now (positions at the last prices plus cash) for its equity curve."""
    summary = selectors.portfolio_summary(account)
    previous = (
        EquitySnapshot.objects.filter(account=account, period=account.period).order_by("-taken_at", "-id").first()
    )
    peak = metrics.running_peak(previous.peak if previous else None, summary.starting_equity, summary.equity)
    return EquitySnapshot.objects.create(
        account=account,
        period=account.period,
        taken_at=now or timezone.now(),
        peak=peak,
        drawdown=metrics.fall_from(peak, summary.equity),
        cash=summary.cash,
        market_value=summary.market_value,
        equity=summary.equity,
        cost_basis=summary.cost_basis,
        realized_pnl=summary.realized_pnl,
        unrealized_pnl=summary.unrealized_pnl,
        total_pnl=summary.total_pnl,
    )


def snapshot_all_accounts(*, now: datetime | None = None) -> list[EquitySnapshot]:
    """One snapshot of every account that trades (the external account holds no money of the desk's)."""
    now = now or timezone.now()
    return [snapshot_equity(account, now=now) for account in Account.objects.filter(is_external=False).order_by("id")]


# Each amount in the ledger is rounded to 8 decimals once; the identity may differ by that much per trade.
ROUNDING_PER_TRADE = Decimal("0.00000002")


def ledger_problems(account: Account) -> list[str]:
    """What breaks the account's ledger identity now, as sentences (empty: it adds up).

    - equity (cash plus every holding at the last price) = starting equity + realized + unrealized P&L;
    - each position's quantity = what the period's trades of that symbol delivered;
    - the agents' P&L lines (with the "not from an agent" line) add up to the total P&L.
    """
    summary = selectors.portfolio_summary(account)
    tolerance = ROUNDING_PER_TRADE * (summary.trade_count + len(summary.positions) + 1)
    problems = []
    if abs(summary.equity - (summary.starting_equity + summary.total_pnl)) > tolerance:
        problems.append(
            f"{account} (#{account.pk}): equity {summary.equity} != starting equity {summary.starting_equity} "
            f"+ P&L {summary.total_pnl}"
        )
    delivered = dict(
        selectors.period_trades(account)
        .order_by()
        .values("symbol")
        .annotate(q=MoneySum("base_delta"))
        .values_list("symbol", "q")
    )
    for position in Position.objects.filter(account=account):
        if position.quantity != (delivered.get(position.symbol) or ZERO):
            problems.append(
                f"{account} (#{account.pk}) {position.symbol}: position {position.quantity} != trades "
                f"{delivered.get(position.symbol) or ZERO}"
            )
    agents_total = sum((row.pnl for row in selectors.pnl_by_agent(account)), ZERO)
    if abs(agents_total - summary.total_pnl) > tolerance:
        problems.append(f"{account} (#{account.pk}): agents' P&L {agents_total} != total P&L {summary.total_pnl}")
    return problems


def on_ledger_checks(sender, **kwargs) -> list[str]:
    """Receiver of papertrading's `ledger_checks` (the check_balances command)."""
    problems = []
    for account in Account.objects.filter(is_external=False).order_by("id"):
        problems += ledger_problems(account)
    return problems


# --- the manager -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the analysis pipeline hands over: BUY or SELL a base quantity of a symbol, for a run and an agent."""

    run_id: uuid.UUID
    agent: str
    symbol: str
    side: str
    quantity: Decimal
    placed_by: Any = None


@dataclass
class ExecutionResult:
    """The orders and trades a decision caused; `reason` (and `error_code`, Binance's) when it failed."""

    orders: list[PaperOrder] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    error_code: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def risk_reason(exc: RiskLimitExceeded) -> str:
    """A run refused by a risk limit fails with the limit named."""
    return f"Refused by the risk limit {exc.limit}: {exc.message}"


def client_order_id_for(run_id: uuid.UUID) -> str:
    """One run, one order: a retried decision reuses this id and gets the order it already made (35 chars)."""
    return f"run{run_id.hex}"


class PortfolioManager:
    """Turns a BUY/SELL decision into a paper order (paper trading on) or a direct ledger trade (off).

    Callers never branch on the mode: `check`, `market_price` and `execute` behave alike in both.
    """

    def __init__(self, *, account: Account, use_paper_trading: bool | None = None):
        self.account = account
        self.use_paper_trading = settings.PAPER_TRADING_ENABLED if use_paper_trading is None else use_paper_trading

    @property
    def mode(self) -> str:
        return f"paper:{settings.PAPER_TRADING_MODE}" if self.use_paper_trading else "direct"

    def symbol_rule(self, symbol: str) -> SymbolRule | None:
        """The symbol's filters; a remote venue refreshes them from the exchange (and refuses early when unusable)."""
        if self.use_paper_trading:
            return papertrading_selectors.symbol_rule(symbol)
        return papertrading_selectors.stored_symbol_rule(symbol)

    def market_price(self, symbol: str) -> Decimal | None:
        """The price a MARKET decision would trade at now (the venue's in paper mode, the price table's otherwise)."""
        if self.use_paper_trading:
            return papertrading_selectors.market_price(symbol)
        return papertrading_selectors.table_price(symbol)

    def fill_price(self, symbol: str, side: str) -> Decimal | None:
        """The price a MARKET decision on `side` would fill at now: with the venue's slippage in paper mode, the
        last price when trading directly. Sizing by a quote amount divides by this, so it never spends more."""
        if self.use_paper_trading:
            return papertrading_selectors.market_fill_price(symbol, side)
        return papertrading_selectors.table_price(symbol)

    def check(self, decision: Decision, *, market_price: Decimal | None = None) -> None:
        """The exchange's rules for the order this decision makes; OrderValidationError before anything is written."""
        check_order(
            symbol=decision.symbol,
            side=decision.side,
            order_type=OrderType.MARKET,
            quantity=decision.quantity,
            market_price=market_price,
            on_venue=self.use_paper_trading,
        )

    def execute(self, decision: Decision) -> ExecutionResult:
        if self.use_paper_trading:
            return self._place_paper_order(decision)
        return self._trade_directly(decision)

    def _place_paper_order(self, decision: Decision) -> ExecutionResult:
        try:
            result = place_order(
                account=self.account,
                symbol=decision.symbol,
                side=decision.side,
                order_type=OrderType.MARKET,
                quantity=decision.quantity,
                client_order_id=client_order_id_for(decision.run_id),
                run_id=decision.run_id,
                placed_by=decision.placed_by,
                source=OrderEvent.Source.AGENT,
            )
        except OrderRejected as exc:
            orders = [exc.order] if exc.order is not None else []
            return ExecutionResult(orders=orders, error_code=exc.code, reason=exc.message)
        except RiskLimitExceeded as exc:
            return ExecutionResult(reason=risk_reason(exc))
        except OrderValidationError as exc:
            # The market moved between the check and the order (e.g. the notional fell below the minimum).
            return ExecutionResult(reason=exc.message)
        except VenueUnavailable as exc:
            return ExecutionResult(reason=exc.message)
        order = result.order
        trades = list(Trade.objects.filter(order=order).order_by("id"))  # the order is the account's own
        if order.status == PaperOrder.Status.REJECTED:  # a retry that found its earlier, rejected order
            return ExecutionResult(orders=[order], error_code=order.reject_code, reason=order.reject_reason)
        return ExecutionResult(orders=[order], trades=trades)

    def _trade_directly(self, decision: Decision) -> ExecutionResult:
        """Trade at the last price at once, like an instant fill: the account pays, the ledger books it, together."""
        ledger = Trade.objects.filter(account=self.account, run_id=decision.run_id, source=Trade.Source.DIRECT)
        existing = ledger.first()
        if existing:
            return ExecutionResult(trades=[existing])
        try:
            with transaction.atomic():
                fill = fill_directly(
                    account=self.account,
                    symbol=decision.symbol,
                    side=decision.side,
                    quantity=decision.quantity,
                    reason=f"Direct trade of run {decision.run_id} ({decision.agent})",
                )
                trade = record_trade(
                    account=self.account,
                    symbol=decision.symbol,
                    side=decision.side,
                    quantity=decision.quantity,
                    price=fill.price,
                    fee=fill.commission,
                    fee_asset=fill.commission_asset,
                    source=Trade.Source.DIRECT,
                    executed_at=timezone.now(),
                    run_id=decision.run_id,
                    agent=decision.agent,
                )
        except OrderRejected as exc:
            return ExecutionResult(error_code=exc.code, reason=exc.message)
        except RiskLimitExceeded as exc:
            # Recorded now that the trade's transaction is undone, so the record (and a halt it causes) stays.
            record_refusal(
                self.account, exc, source=OrderEvent.Source.AGENT, actor=getattr(decision.placed_by, "username", "")
            )
            return ExecutionResult(reason=risk_reason(exc))
        except OrderValidationError as exc:
            return ExecutionResult(reason=exc.message)
        except IntegrityError:
            # The same run executed twice at once; the first trade is the answer (this one moved nothing).
            return ExecutionResult(trades=list(ledger))
        trades_recorded.send(sender=Trade, trades=[trade])
        return ExecutionResult(trades=[trade])
