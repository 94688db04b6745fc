import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_venue_order_ref() -> str:
    """34 characters from Binance's newClientOrderId charset."""
    return f"pt{uuid.uuid4().hex}"


def money_field(**kwargs) -> models.DecimalField:
    """A DecimalField with the project's one precision (8 decimals, as Binance reports amounts)."""
    kwargs.setdefault("max_digits", settings.MONEY_MAX_DIGITS)
    kwargs.setdefault("decimal_places", settings.MONEY_DECIMAL_PLACES)
    return models.DecimalField(**kwargs)


class Venue(models.TextChoices):
    SIMULATION = "simulation", "Simulation"
    TESTNET = "testnet", "Binance Spot Testnet"


class Side(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"


class OrderType(models.TextChoices):
    MARKET = "MARKET", "Market"
    LIMIT = "LIMIT", "Limit"
    LIMIT_MAKER = "LIMIT_MAKER", "Limit maker"
    STOP_LOSS = "STOP_LOSS", "Stop loss"
    TAKE_PROFIT = "TAKE_PROFIT", "Take profit"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT", "Stop loss limit"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT", "Take profit limit"


class TimeInForce(models.TextChoices):
    GTC = "GTC", "Good till cancelled"
    IOC = "IOC", "Immediate or cancel"
    FOK = "FOK", "Fill or kill"


class Account(models.Model):
    """The unit of money: its own balances, orders, fills, ledger, runs and P&L. Agents are labels inside one.

    `starting_balances` is what the account opened with (and returns to on a reset); each reset starts a new P&L
    `period`, and the ledger of earlier periods stays readable. The external account holds orders found on the
    exchange that no desk account placed; it has no owner and no starting balances.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="paper_accounts"
    )
    name = models.CharField(max_length=100)
    venue = models.CharField(max_length=12, choices=Venue.choices)
    starting_balances = models.JSONField(default=dict, help_text="Asset to amount, as decimal strings.")
    is_default = models.BooleanField(default=False, help_text="Where the owner's own token and session act.")
    is_external = models.BooleanField(default=False, help_text="Orders on the exchange not placed by this desk.")
    period = models.PositiveIntegerField(default=1, help_text="The P&L period; a reset starts the next one.")
    period_started_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Risk limits (papertrading.risk): empty means the default from settings (RISK_*).
    max_order_notional = money_field(null=True, blank=True, help_text="Largest order value, in the quote asset.")
    max_position_notional = money_field(
        null=True, blank=True, help_text="Largest holding of a symbol's base asset after a BUY, valued in its quote."
    )
    max_open_orders = models.PositiveIntegerField(null=True, blank=True, help_text="Most working orders at once.")
    max_orders_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most orders placed in any 60 seconds."
    )
    max_daily_loss = money_field(
        null=True, blank=True, help_text="Largest fall of equity since 00:00 UTC before orders adding exposure stop."
    )
    allowed_symbols = models.JSONField(null=True, blank=True, help_text="Symbols it may trade (empty: any).")
    halt_on_daily_loss = models.BooleanField(null=True, blank=True, help_text="Halt when the daily loss is breached.")
    # The kill switch: while halted, every new order is refused and nothing works.
    halted_at = models.DateTimeField(null=True, blank=True)
    halted_reason = models.CharField(max_length=255, blank=True)
    halted_by = models.CharField(max_length=150, blank=True)
    # The equity at the day's start (00:00 UTC, marked at the prices of the moment it was taken) for max_daily_loss.
    day_started_on = models.DateField(null=True, blank=True)
    day_start_equity = money_field(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="account_name_unique_per_owner"),
            models.UniqueConstraint(fields=["owner"], condition=Q(is_default=True), name="account_one_default"),
            models.UniqueConstraint(fields=["venue"], condition=Q(is_external=True), name="account_one_external"),
        ]

    def __str__(self) -> str:
        return self.name


class RiskEvent(models.Model):
    """A risk limit refusing an order, the account halted or resumed, or its limits changed: who, why, the values."""

    class Kind(models.TextChoices):
        REFUSED = "refused", "Order refused"
        HALTED = "halted", "Account halted"
        RESUMED = "resumed", "Account resumed"
        LIMITS = "limits", "Limits changed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="risk_events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    limit = models.CharField(max_length=30, blank=True)
    limit_value = models.CharField(max_length=255, blank=True)
    value = models.CharField(max_length=255, blank=True)
    detail = models.TextField(blank=True)
    # The refused order's terms, for people to read ("BUY 0.5 BTCUSDT LIMIT @ 68000").
    order = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=10, blank=True)
    actor = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="risk_event_account_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.limit or self.detail[:40]}"


class ApiKey(models.Model):
    """A key that acts as one account and nothing else; only its hash and a short prefix are stored."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it by.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.account})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SymbolRule(models.Model):
    """One tradable symbol and the exchange filters every order on it must pass."""

    symbol = models.CharField(max_length=20, unique=True)
    base_asset = models.CharField(max_length=10)
    quote_asset = models.CharField(max_length=10)
    status = models.CharField(max_length=20, default="TRADING")
    order_types = models.JSONField(default=list)
    tick_size = money_field()
    min_price = money_field(default=Decimal("0"))
    max_price = money_field(default=Decimal("0"))
    step_size = money_field()
    min_quantity = money_field(default=Decimal("0"))
    max_quantity = money_field(default=Decimal("0"))
    min_notional = money_field(default=Decimal("0"))
    max_notional = money_field(default=Decimal("0"))
    apply_min_notional_to_market = models.BooleanField(default=True)
    apply_max_notional_to_market = models.BooleanField(default=False)
    # MARKET_LOT_SIZE: the LOT_SIZE rule for MARKET quantities; each part is off when zero.
    market_min_quantity = money_field(default=Decimal("0"))
    market_max_quantity = money_field(default=Decimal("0"))
    market_step_size = money_field(default=Decimal("0"))
    # PERCENT_PRICE_BY_SIDE: a BUY's price within [bid down, bid up] × the average price, a SELL's within the ask
    # multipliers; zero means the bound is off.
    bid_multiplier_up = money_field(default=Decimal("0"))
    bid_multiplier_down = money_field(default=Decimal("0"))
    ask_multiplier_up = money_field(default=Decimal("0"))
    ask_multiplier_down = money_field(default=Decimal("0"))
    # MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS: open orders of the account on the symbol; zero means no limit.
    max_num_orders = models.PositiveIntegerField(default=0)
    max_num_algo_orders = models.PositiveIntegerField(default=0)
    # ICEBERG_PARTS: an iceberg's quantity in at most this many visible parts (0: no limit); icebergAllowed.
    iceberg_parts = models.PositiveIntegerField(default=0)
    iceberg_allowed = models.BooleanField(default=True)
    # TRAILING_DELTA, in basis points (zero: that bound is off): the "above" bounds hold STOP_LOSS BUY and
    # TAKE_PROFIT SELL (and their _LIMIT kinds), the "below" bounds the others; allowTrailingStop.
    trailing_allowed = models.BooleanField(default=True)
    min_trailing_above_delta = models.PositiveIntegerField(default=0)
    max_trailing_above_delta = models.PositiveIntegerField(default=0)
    min_trailing_below_delta = models.PositiveIntegerField(default=0)
    max_trailing_below_delta = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class MarketPrice(models.Model):
    """The last known price of a symbol; the simulator fills against it and the matcher watches it."""

    symbol = models.CharField(max_length=20, unique=True)
    price = money_field()
    source = models.CharField(max_length=20)
    # The synthetic random walk's step counter, so a seeded walk continues where it stopped.
    sequence = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.price}"


class OrderList(models.Model):
    """Orders placed together under one contingency (Binance's order lists); cancelling any leg cancels the list.

    - OCO: an above and a below leg; the first to fill or trigger expires the other.
    - OTO: a working order and a pending one that goes to work only once the working order has filled.
    - OTOCO: a working order and a pending OCO pair (a bracket: take profit above, stop below).
    """

    class ContingencyType(models.TextChoices):
        OCO = "OCO", "One cancels the other"
        OTO = "OTO", "One triggers the other"
        OTOCO = "OTOCO", "One triggers an OCO"

    class ListStatusType(models.TextChoices):
        EXEC_STARTED = "EXEC_STARTED", "Executing"
        ALL_DONE = "ALL_DONE", "All done"

    class ListOrderStatus(models.TextChoices):
        EXECUTING = "EXECUTING", "Executing"
        ALL_DONE = "ALL_DONE", "All done"
        REJECT = "REJECT", "Rejected"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="order_lists")
    symbol = models.CharField(max_length=20)
    contingency_type = models.CharField(max_length=8, choices=ContingencyType.choices, default=ContingencyType.OCO)
    list_client_order_id = models.CharField(max_length=36, default=new_venue_order_ref)
    list_status_type = models.CharField(
        max_length=12, choices=ListStatusType.choices, default=ListStatusType.EXEC_STARTED
    )
    list_order_status = models.CharField(
        max_length=9, choices=ListOrderStatus.choices, default=ListOrderStatus.EXECUTING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "paper_order_lists"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "list_client_order_id"], name="order_list_client_id_per_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contingency_type} list #{self.pk} {self.symbol} {self.list_order_status}"

    @property
    def is_executing(self) -> bool:
        return self.list_order_status == self.ListOrderStatus.EXECUTING


class PaperOrder(models.Model):
    class Status(models.TextChoices):
        """An order's life.

            (row written) --> UNKNOWN --> PENDING --> PARTIALLY_FILLED --> FILLED
                                 |           |  \\____________|_________> CANCELLED
                                 |           |                \\_______> EXPIRED
                                 \\---------> REJECTED / FILLED / EXPIRED

        UNKNOWN means "sent to the venue, outcome not known yet" (timeout or 5xx): only sync may resolve it,
        and only the exchange saying "no such order" turns it into REJECTED. The simulator answers at once, so
        its orders go straight to PENDING, FILLED, EXPIRED or REJECTED.
        """

        PENDING = "PENDING", "Pending"
        PARTIALLY_FILLED = "PARTIALLY_FILLED", "Partially filled"
        FILLED = "FILLED", "Filled"
        CANCELLED = "CANCELLED", "Cancelled"
        REJECTED = "REJECTED", "Rejected"
        EXPIRED = "EXPIRED", "Expired"
        UNKNOWN = "UNKNOWN", "Outcome unknown"

    WORKING_STATUSES = (Status.PENDING, Status.PARTIALLY_FILLED)
    # Working, or sent with the outcome not known yet: what sync must look at.
    OPEN_STATUSES = (*WORKING_STATUSES, Status.UNKNOWN)
    FINAL_STATUSES = (Status.FILLED, Status.CANCELLED, Status.REJECTED, Status.EXPIRED)

    class Trigger(models.TextChoices):
        """Which way the market must move to reach a working order (drives the matcher's index)."""

        AT_OR_BELOW = "BELOW", "Market at or below trigger price"
        AT_OR_ABOVE = "ABOVE", "Market at or above trigger price"

    class ListLeg(models.TextChoices):
        """A leg's place in its order list."""

        ABOVE = "above", "Above"
        BELOW = "below", "Below"
        WORKING = "working", "Working"
        PENDING = "pending", "Pending"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="orders")
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4, choices=Side.choices)
    order_type = models.CharField(max_length=20, choices=OrderType.choices)
    quantity = money_field()
    price = money_field(null=True, blank=True)
    stop_price = money_field(null=True, blank=True)
    # An iceberg shows only this much of its quantity at a time (Binance's icebergQty).
    iceberg_quantity = money_field(null=True, blank=True)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    venue = models.CharField(max_length=12, choices=Venue.choices)
    # Unique per account; the venue knows the order by `venue_order_ref`, unique across accounts (the testnet's
    # one key backs every account, and the exchange's client ids must not clash).
    client_order_id = models.CharField(max_length=36)
    venue_order_ref = models.CharField(max_length=36, unique=True, default=new_venue_order_ref)
    binance_order_id = models.BigIntegerField(null=True, blank=True)
    # A leg of an order list (an OCO): its funds are held once for the list, by one of its legs.
    order_list = models.ForeignKey(OrderList, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    list_leg = models.CharField(max_length=8, choices=ListLeg.choices, blank=True)
    # A pending leg of an OTO / OTOCO (Binance's PENDING_NEW): accepted, but neither on the book nor holding funds
    # until its list's working order has filled. Its status is PENDING meanwhile, as DESIGN.md maps PENDING_NEW.
    waits_for_list = models.BooleanField(default=False)
    run_id = models.UUIDField(null=True, blank=True)
    executed_quantity = money_field(default=Decimal("0"))
    cumulative_quote_quantity = money_field(default=Decimal("0"))
    reject_code = models.IntegerField(null=True, blank=True)
    reject_reason = models.CharField(max_length=255, blank=True)
    # What a working order holds in the simulated account; released on fill, cancel or expiry.
    locked_asset = models.CharField(max_length=10, blank=True)
    locked_amount = money_field(default=Decimal("0"))
    trigger_price = money_field(null=True, blank=True)
    trigger_direction = models.CharField(max_length=5, choices=Trigger.choices, blank=True)
    is_external = models.BooleanField(default=False, help_text="Found on the exchange, not placed by this desk.")
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="paper_orders"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # A STOP_LOSS_LIMIT / TAKE_PROFIT_LIMIT whose stop was reached: its limit is working (Binance's isWorking).
    stop_triggered_at = models.DateTimeField(null=True, blank=True)
    # A trailing stop (Binance's trailingDelta, in basis points). It tracks the market from placement, or once its
    # stop price is reached when it has one (Binance's trailingTime): `trailing_price` is the best price seen since
    # (the highest for a SELL, the lowest for a BUY), and the order triggers when the market moves the delta back.
    trailing_delta = models.PositiveIntegerField(null=True, blank=True)
    trailing_price = money_field(null=True, blank=True)
    trailing_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "paper_orders"
        ordering = ["-created_at", "-id"]
        indexes = [
            # List filters and the open-orders view.
            models.Index(fields=["account", "status", "-created_at"], name="paper_order_status_idx"),
            models.Index(fields=["account", "symbol", "-created_at"], name="paper_order_symbol_idx"),
            models.Index(fields=["account", "run_id"], name="paper_order_run_idx"),
            models.Index(fields=["account", "-created_at", "-id"], name="paper_order_newest_idx"),
            # The matcher: "working orders on SYMBOL whose trigger the new price reached", one range scan per
            # direction, touching only working orders (partial index), never a scan of every open order.
            models.Index(
                fields=["symbol", "trigger_direction", "trigger_price"],
                name="paper_order_trigger_idx",
                condition=Q(status__in=["PENDING", "PARTIALLY_FILLED"], venue="simulation"),
            ),
            # MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS in the reservation's UPDATE: "the account's working orders on
            # SYMBOL" (of some types), read without touching its finished orders or other accounts' orders.
            models.Index(
                fields=["account", "symbol", "order_type"],
                name="paper_order_working_idx",
                condition=Q(status__in=["PENDING", "PARTIALLY_FILLED"]),
            ),
            # The matcher: "tracking trailing stops on SYMBOL whose best price the new price beats".
            models.Index(
                fields=["symbol", "side", "trailing_price"],
                name="paper_order_trailing_idx",
                condition=Q(
                    status__in=["PENDING", "PARTIALLY_FILLED"],
                    venue="simulation",
                    trailing_price__isnull=False,
                    stop_triggered_at__isnull=True,
                ),
            ),
            # Sync: "working or unknown orders of this venue".
            models.Index(
                fields=["venue", "symbol"],
                name="paper_order_sync_idx",
                condition=Q(status__in=["PENDING", "PARTIALLY_FILLED", "UNKNOWN"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="paper_order_client_id_per_account"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="paper_order_quantity_positive"),
            models.CheckConstraint(condition=Q(executed_quantity__gte=0), name="paper_order_executed_not_negative"),
            models.CheckConstraint(
                condition=Q(executed_quantity__lte=models.F("quantity")), name="paper_order_executed_le_quantity"
            ),
            models.CheckConstraint(condition=Q(locked_amount__gte=0), name="paper_order_locked_not_negative"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.side} {self.quantity} {self.symbol} {self.order_type} {self.status}"

    @property
    def is_working(self) -> bool:
        return self.status in self.WORKING_STATUSES

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.executed_quantity

    @property
    def trailing_stop_price(self) -> Decimal | None:
        """A tracking trailing stop's trigger price now (known in simulation only: the exchange keeps its own)."""
        if self.trailing_started_at is None or self.stop_triggered_at is not None or self.venue != Venue.SIMULATION:
            return None
        return self.trigger_price

    @property
    def average_price(self) -> Decimal | None:
        if not self.executed_quantity:
            return None
        return (self.cumulative_quote_quantity / self.executed_quantity).quantize(Decimal("0.00000001"))


class OrderFill(models.Model):
    class Rule(models.TextChoices):
        MARKETABLE_ON_ARRIVAL = "MARKETABLE_ON_ARRIVAL", "Marketable on arrival"
        LIMIT_CROSSED = "LIMIT_CROSSED", "Limit price crossed"
        STOP_TRIGGERED = "STOP_TRIGGERED", "Stop price triggered"
        EXCHANGE = "EXCHANGE", "Reported by the exchange"

    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="fills")
    price = money_field()
    quantity = money_field()
    commission = money_field(default=Decimal("0"))
    commission_asset = models.CharField(max_length=10)
    trade_id = models.CharField(max_length=40, blank=True)
    # Why the simulator filled it: the market it saw, the rule, and the costs it applied.
    rule = models.CharField(max_length=24, choices=Rule.choices, default=Rule.EXCHANGE)
    market_price = money_field(null=True, blank=True)
    slippage_rate = money_field(default=Decimal("0"))
    fee_rate = money_field(default=Decimal("0"))
    is_maker = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "trade_id"], condition=~Q(trade_id=""), name="order_fill_unique_trade"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} @ {self.price}"


class OrderEvent(models.Model):
    class Source(models.TextChoices):
        API = "api", "API"
        PAGE = "page", "Page"
        AGENT = "agent", "Agent"
        SYNC = "sync", "Sync"
        MATCHER = "matcher", "Matcher"
        ADMIN = "admin", "Admin"

    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    source = models.CharField(max_length=10, choices=Source.choices)
    detail = models.TextField(blank=True)
    actor = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status} ({self.source})"


class SimulatedBalance(models.Model):
    """An account's holding of one asset, free and locked, never negative (on the testnet: its share of the
    exchange account)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="balances")
    asset = models.CharField(max_length=10)
    free = money_field(default=Decimal("0"))
    locked = money_field(default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "asset"]
        constraints = [
            models.UniqueConstraint(fields=["account", "asset"], name="balance_asset_per_account"),
            models.CheckConstraint(condition=Q(free__gte=0), name="balance_free_not_negative"),
            models.CheckConstraint(condition=Q(locked__gte=0), name="balance_locked_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.asset}: {self.free} free, {self.locked} locked"

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class BalanceAdjustment(models.Model):
    """A deliberate change to a balance with its reason (starting balances, an operator's change, a direct trade,
    a reset); the balance check counts it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="adjustments")
    asset = models.CharField(max_length=10)
    amount = money_field(help_text="Added to the free amount; negative to remove.")
    reason = models.CharField(max_length=255)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.asset} {self.amount:+} ({self.reason})"
