"""The portfolio: a ledger of trades (from fills of either venue, or direct), positions and equity snapshots.

Cost method: average cost, fees included. A BUY adds what it cost (quantity x price, plus a fee paid in the quote
asset) to the position's cost basis and what it delivered (quantity, minus a fee paid in the base asset) to its
quantity. A SELL takes the average cost of what it sold out of the basis; its realized P&L is the proceeds (net of
the fee) minus that cost.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from papertrading.models import Account, OrderFill, PaperOrder, Side, money_field


class Trade(models.Model):
    """One execution in the ledger; written once per fill (unique per fill) or once per direct decision."""

    class Source(models.TextChoices):
        FILL = "fill", "Paper order fill"
        DIRECT = "direct", "Direct trade (paper trading off)"
        OPENING = "opening", "Opening position (what the account started with)"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="trades")
    # The account's P&L period the trade belongs to; a reset starts the next one.
    period = models.PositiveIntegerField(default=1)
    symbol = models.CharField(max_length=20)
    base_asset = models.CharField(max_length=10)
    quote_asset = models.CharField(max_length=10)
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = money_field()
    price = money_field()
    fee = money_field(default=Decimal("0"))
    fee_asset = models.CharField(max_length=10, blank=True)
    # The fee valued in the quote asset when it was charged (a base fee at the trade price).
    fee_in_quote = money_field(default=Decimal("0"))
    # What the trade did to the holdings, fees included: BUY +base/-quote, SELL -base/+quote. Summing these per
    # agent or run and valuing the base at today's price gives their marked-to-market P&L.
    base_delta = money_field()
    quote_delta = money_field()
    # Only for sells: proceeds net of fee minus the average cost of what was sold.
    realized_pnl = money_field(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    order = models.ForeignKey(
        PaperOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="portfolio_trades"
    )
    # One trade per fill: the signal may be delivered again (sync re-applying a report) without a second row.
    fill = models.OneToOneField(
        OrderFill, null=True, blank=True, on_delete=models.SET_NULL, related_name="portfolio_trade"
    )
    run_id = models.UUIDField(null=True, blank=True)
    agent = models.CharField(max_length=100, blank=True)
    executed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-executed_at", "-id"]
        indexes = [
            # P&L per run and per agent (the analysis page and the leaderboard).
            models.Index(fields=["account", "run_id"], name="portfolio_trade_run_idx"),
            models.Index(fields=["account", "period", "agent", "symbol"], name="portfolio_trade_agent_idx"),
            # The ledger list and the realized-P&L curve, both in time order.
            models.Index(fields=["account", "period", "executed_at", "id"], name="portfolio_trade_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="portfolio_trade_quantity_positive"),
            # A retried direct decision must not book a second trade.
            models.UniqueConstraint(
                fields=["account", "run_id"], condition=Q(source="direct"), name="portfolio_trade_one_direct_per_run"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} @ {self.price}"


class Position(models.Model):
    """An account's running average-cost book of one symbol in the current period, updated under a row lock with
    every trade."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="positions")
    # The account's period this book belongs to (a reset closes it and opens the next); its trades carry it.
    period = models.PositiveIntegerField(default=1)
    symbol = models.CharField(max_length=20)
    base_asset = models.CharField(max_length=10)
    quote_asset = models.CharField(max_length=10)
    quantity = money_field(default=Decimal("0"))
    cost_basis = money_field(default=Decimal("0"))
    realized_pnl = money_field(default=Decimal("0"))
    fees_paid = money_field(default=Decimal("0"), help_text="In the quote asset.")
    trade_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol"], name="portfolio_position_per_account"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="portfolio_position_quantity_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.base_asset} {self.quantity}"

    @property
    def average_cost(self) -> Decimal | None:
        if not self.quantity:
            return None
        return (self.cost_basis / self.quantity).quantize(Decimal("0.00000001"))


class EquitySnapshot(models.Model):
    """An account's value at one moment, for the equity curve, the drawdown and the Sharpe ratio."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="equity_snapshots")
    period = models.PositiveIntegerField(default=1)
    taken_at = models.DateTimeField()
    cash = money_field()
    market_value = money_field()
    equity = money_field()
    cost_basis = money_field()
    realized_pnl = money_field()
    unrealized_pnl = money_field()
    total_pnl = money_field()
    # The period's highest equity up to this snapshot (its starting equity included) and the fall from it, as a
    # fraction: the maximum drawdown is then one aggregate, not a walk over every snapshot of the period.
    peak = money_field(null=True, blank=True)
    drawdown = money_field(null=True, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        get_latest_by = "taken_at"
        indexes = [models.Index(fields=["account", "period", "-taken_at"], name="portfolio_equity_account_idx")]

    def __str__(self) -> str:
        return f"{self.taken_at:%Y-%m-%d %H:%M} equity {self.equity}"
