from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from papertrading import risk
from papertrading.api.fields import BinanceDecimalField
from papertrading.api.serializers import BalanceSerializer, amount_field
from papertrading.models import ApiKey, RiskEvent

from ..models import EquitySnapshot, Trade


class PositionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    asset = serializers.CharField(source="base_asset")
    quote_asset = serializers.CharField()
    quantity = amount_field()
    average_cost = amount_field(allow_null=True)
    cost_basis = amount_field()
    price = amount_field(allow_null=True, help_text="The last market price.")
    market_value = amount_field(allow_null=True)
    unrealized_pnl = amount_field(allow_null=True)
    realized_pnl = amount_field()
    fees_paid = amount_field(help_text="In the quote asset.")
    trade_count = serializers.IntegerField()


class PnLSerializer(serializers.Serializer):
    trade_count = serializers.IntegerField()
    realized_pnl = amount_field(help_text="Realized P&L of the sells, at the portfolio's average cost.")
    pnl = amount_field(
        help_text="Marked to market: quote received minus quote paid (fees included), plus the base left at the "
        "last price."
    )
    fees_paid = amount_field()
    last_trade_at = serializers.DateTimeField(allow_null=True)


class AgentPnLSerializer(PnLSerializer):
    agent = serializers.CharField(source="key")


class EquitySnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = EquitySnapshot
        fields = ["taken_at", "equity", "cash", "market_value", "realized_pnl", "unrealized_pnl", "total_pnl"]


class SummarySerializer(serializers.Serializer):
    starting_cash = amount_field()
    cash = amount_field()
    market_value = amount_field()
    equity = amount_field()
    cost_basis = amount_field()
    realized_pnl = amount_field()
    unrealized_pnl = amount_field()
    total_pnl = amount_field()
    fees_paid = amount_field()
    open_positions = serializers.IntegerField()
    trade_count = serializers.IntegerField()
    positions = PositionSerializer(many=True)
    agents = AgentPnLSerializer(many=True)
    equity_curve = EquitySnapshotSerializer(many=True)


class TradeSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField(allow_null=True, read_only=True)
    fill_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Trade
        fields = [
            "id",
            "executed_at",
            "symbol",
            "side",
            "quantity",
            "price",
            "fee",
            "fee_asset",
            "fee_in_quote",
            "base_delta",
            "quote_delta",
            "realized_pnl",
            "source",
            "order_id",
            "fill_id",
            "run_id",
            "agent",
        ]
        read_only_fields = fields


# --- accounts, their keys and the leaderboard ---------------------------------------------------------------------


def ratio_field(**kwargs) -> serializers.DecimalField:
    """A fraction such as a return or a win rate (0.0125 = 1.25 %), as a string with 8 decimals."""
    return serializers.DecimalField(max_digits=40, decimal_places=8, allow_null=True, **kwargs)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "example": {"USDT": "5000", "BTC": "0.1"},
        "nullable": True,
    }
)
class StartingBalancesField(serializers.JSONField):
    """Passed on as it came: the account service reads and checks it (one place for the rule)."""


class AccountCreateSerializer(serializers.Serializer):
    """Shapes only; the account service checks the name and the balances."""

    name = serializers.CharField(allow_blank=True, help_text="At most 100 characters, unique among your accounts.")
    starting_balances = StartingBalancesField(
        required=False,
        allow_null=True,
        help_text="Asset to amount as decimal strings; the desk's default starting balances when left out.",
    )
    key_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text="A label for the account's API key."
    )


class KeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100, help_text="A label to recognise the key by."
    )


class ApiKeySerializer(serializers.ModelSerializer):
    """An API key as it is stored: its prefix and dates, never the key itself."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    is_active = serializers.BooleanField(read_only=True, help_text="False once revoked.")

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at", "is_active"]
        read_only_fields = fields


class IssuedKeySerializer(ApiKeySerializer):
    """A key just issued, with the key itself (`context["raw_key"]`): the only answer that ever shows it."""

    api_key = serializers.SerializerMethodField(help_text="The key itself: shown in this answer only, store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "api_key"]
        read_only_fields = fields

    def get_api_key(self, key) -> str:
        return self.context["raw_key"]


class PerformanceSerializer(serializers.Serializer):
    """The current period's figures beyond the totals; the formulas are in the README."""

    max_drawdown = ratio_field(help_text="Largest peak-to-trough fall of equity, as a fraction of the peak.")
    sharpe_ratio = ratio_field(
        help_text="Mean / sample standard deviation of daily returns × √365; null with fewer than 2 daily returns."
    )
    win_rate = ratio_field(help_text="Sells with a realized gain / sells; null without sells.")


class AccountSummarySerializer(serializers.Serializer):
    """An account with its balances and the current P&L period's totals, valued in the valuation asset."""

    id = serializers.IntegerField(source="account.pk")
    name = serializers.CharField(source="account.name")
    owner = serializers.CharField(source="account.owner.username", allow_null=True, help_text="Null: external.")
    venue = serializers.CharField(source="account.venue")
    is_default = serializers.BooleanField(
        source="account.is_default", help_text="Where the owner's own token and session act."
    )
    is_external = serializers.BooleanField(
        source="account.is_external", help_text="Orders found on the exchange that no desk account placed."
    )
    period = serializers.IntegerField(source="account.period", help_text="The P&L period; a reset starts the next.")
    period_started_at = serializers.DateTimeField(source="account.period_started_at")
    created_at = serializers.DateTimeField(source="account.created_at")
    starting_balances = serializers.DictField(
        source="account.starting_balances", child=amount_field(), help_text="What each period starts with."
    )
    balances = BalanceSerializer(many=True)
    valuation_asset = serializers.SerializerMethodField()
    starting_equity = amount_field(
        source="summary.starting_equity", help_text="The starting balances at the prices when the period began."
    )
    cash = amount_field(source="summary.cash")
    market_value = amount_field(source="summary.market_value")
    equity = amount_field(source="summary.equity", help_text="Cash plus positions at the last prices.")
    realized_pnl = amount_field(source="summary.realized_pnl")
    unrealized_pnl = amount_field(source="summary.unrealized_pnl")
    total_pnl = amount_field(source="summary.total_pnl", help_text="Equity − starting equity.")
    fees_paid = amount_field(source="summary.fees_paid")
    return_rate = ratio_field(help_text="Total P&L / starting equity (0.0125 = 1.25 %).")
    trade_count = serializers.IntegerField(source="summary.trade_count")
    open_positions = serializers.IntegerField(source="summary.open_positions")

    def get_valuation_asset(self, overview) -> str:
        return settings.PORTFOLIO_VALUATION_ASSET


class AccountDetailSerializer(AccountSummarySerializer):
    performance = PerformanceSerializer()


class AccountCreatedSerializer(AccountDetailSerializer):
    """A new account with its first API key (`context["issued"]`, an IssuedKey): the only answer that shows it."""

    api_key = serializers.SerializerMethodField(
        help_text="The new account's API key: shown in this answer only, store it now."
    )
    key = serializers.SerializerMethodField(help_text="The key as it will be listed.")

    def get_api_key(self, overview) -> str:
        return self.context["issued"].raw

    @extend_schema_field(ApiKeySerializer)
    def get_key(self, overview) -> dict:
        return ApiKeySerializer(self.context["issued"].key).data


class AgentStandingSerializer(serializers.Serializer):
    agent = serializers.CharField(help_text="Empty: not from an agent (by hand, and the opening positions' move).")
    pnl = amount_field(help_text="Marked to market; an account's lines add up to its total P&L.")
    realized_pnl = amount_field()
    fees_paid = amount_field()
    trade_count = serializers.IntegerField()
    win_rate = ratio_field()


class LeaderboardEntrySerializer(serializers.Serializer):
    """One account's figures in its current period; its balances, positions and orders stay with its owner."""

    id = serializers.IntegerField(source="account_id")
    name = serializers.CharField()
    owner = serializers.CharField(allow_null=True)
    venue = serializers.CharField()
    period = serializers.IntegerField()
    period_started_at = serializers.DateTimeField()
    is_own = serializers.BooleanField(help_text="One of your accounts.")
    return_rate = ratio_field(source="performance.return_rate")
    realized_pnl = amount_field(source="performance.realized_pnl")
    unrealized_pnl = amount_field(source="performance.unrealized_pnl")
    total_pnl = amount_field(source="performance.total_pnl")
    fees_paid = amount_field(source="performance.fees_paid")
    max_drawdown = ratio_field(source="performance.max_drawdown")
    sharpe_ratio = ratio_field(source="performance.sharpe_ratio")
    win_rate = ratio_field(source="performance.win_rate")
    trade_count = serializers.IntegerField(source="performance.trade_count")
    agents = AgentStandingSerializer(many=True)


# --- risk limits and the kill switch ------------------------------------------------------------------------------

EFFECTIVE = "What new orders are judged by: the account's own value, else the default; null: no limit."
OWN = "The account's own value; null: the default applies."
DEFAULT = "The desk's default (settings `RISK_*`); null: no limit."


class MoneyLimitSerializer(serializers.Serializer):
    """A limit on an amount in the quote (or valuation) asset."""

    effective = amount_field(allow_null=True, help_text=EFFECTIVE)
    own = amount_field(allow_null=True, help_text=OWN)
    default = amount_field(allow_null=True, help_text=DEFAULT)
    used = amount_field(
        allow_null=True,
        help_text="What the account uses of it now (today's loss since 00:00 UTC, for `max_daily_loss`); null where "
        "the limit is judged on each order alone.",
    )


class CountLimitSerializer(serializers.Serializer):
    """A limit on a number of orders."""

    effective = serializers.IntegerField(allow_null=True, help_text=EFFECTIVE)
    own = serializers.IntegerField(allow_null=True, help_text=OWN)
    default = serializers.IntegerField(allow_null=True, help_text=DEFAULT)
    used = serializers.IntegerField(
        help_text="Working orders now (`max_open_orders`), or orders placed in the last 60 seconds "
        "(`max_orders_per_minute`)."
    )


class SymbolsLimitSerializer(serializers.Serializer):
    """The symbols the account may trade."""

    effective = serializers.ListField(child=serializers.CharField(), allow_null=True, help_text=EFFECTIVE)
    own = serializers.ListField(child=serializers.CharField(), allow_null=True, help_text=OWN)
    default = serializers.ListField(child=serializers.CharField(), allow_null=True, help_text=DEFAULT)


class SwitchLimitSerializer(serializers.Serializer):
    """A setting that is on or off."""

    effective = serializers.BooleanField(help_text="Whether it is on: the account's own setting, else the default.")
    own = serializers.BooleanField(allow_null=True, help_text=OWN)
    default = serializers.BooleanField(help_text=DEFAULT)


class LimitsSerializer(serializers.Serializer):
    """Each risk limit of the account. A new order is refused (400, `code` "RISK_LIMIT") when it would take a limit's
    value past it; exactly at the limit passes."""

    max_order_notional = MoneyLimitSerializer(
        help_text="The largest order value in the quote asset (at its price or stop price, or the market's for a "
        "MARKET order)."
    )
    max_position_notional = MoneyLimitSerializer(
        help_text="The largest holding of a symbol's base asset (free + locked) after a BUY, valued at the order's "
        "price; SELLs pass."
    )
    max_open_orders = CountLimitSerializer(help_text="The most working orders at once.")
    max_orders_per_minute = CountLimitSerializer(help_text="The most orders placed in any 60 seconds.")
    max_daily_loss = MoneyLimitSerializer(
        help_text="The largest fall of equity since 00:00 UTC, in the valuation asset; past it, BUYs are refused and "
        "SELLs pass."
    )
    allowed_symbols = SymbolsLimitSerializer(help_text="The symbols the account may trade; null: any.")
    halt_on_daily_loss = SwitchLimitSerializer(help_text="Halt the account when a BUY is refused by `max_daily_loss`.")


class HaltSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="When the account was halted.")
    reason = serializers.CharField()
    by = serializers.CharField(help_text="Who halted it: a username, or `risk limits` when the daily loss did.")


class RiskStateSerializer(serializers.Serializer):
    """An account's risk limits with what it uses of them, and whether it is halted."""

    account = serializers.IntegerField(help_text="The account's id.")
    limits = LimitsSerializer()
    halted = HaltSerializer(
        allow_null=True, help_text="Set while the kill switch is on: every new order is refused (limit `halted`)."
    )


class HaltResultSerializer(RiskStateSerializer):
    """The account, now halted, and what became of its working orders."""

    cancelled = serializers.ListField(child=serializers.IntegerField(), help_text="The orders cancelled (ids).")
    not_cancelled = serializers.DictField(
        child=serializers.CharField(),
        help_text="Order id to why it is still working (e.g. its outcome is not known yet: sync, then cancel it).",
    )


class LimitAmountField(BinanceDecimalField):
    """An amount limit, read with Binance's number grammar; zero is a limit too (it refuses what it judges)."""

    def __init__(self, **kwargs):
        super().__init__(
            max_digits=settings.MONEY_MAX_DIGITS,
            decimal_places=settings.MONEY_DECIMAL_PLACES,
            required=False,
            allow_null=True,
            **kwargs,
        )

    def to_internal_value(self, data):
        if isinstance(data, str | int) and str(data).startswith("-"):
            raise serializers.ValidationError("A limit is zero or more.", code="invalid")
        return super().to_internal_value(data)


class LimitsUpdateSerializer(serializers.Serializer):
    """Shapes only; the limits service checks the values (and who may loosen them). Only the limits given change;
    null restores the default."""

    max_order_notional = LimitAmountField(help_text="Largest order value, in the quote asset.")
    max_position_notional = LimitAmountField(help_text="Largest position value, in the quote asset.")
    max_open_orders = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="Most working orders at once."
    )
    max_orders_per_minute = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="Most orders placed in any 60 seconds."
    )
    max_daily_loss = LimitAmountField(help_text="Largest loss since 00:00 UTC, in the valuation asset.")
    allowed_symbols = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        help_text='Symbols it may trade, e.g. ["BTCUSDT", "ETHUSDT"]; null or [] for the default.',
    )
    halt_on_daily_loss = serializers.BooleanField(
        required=False, allow_null=True, help_text="Halt the account when the daily loss limit refuses an order."
    )

    def to_internal_value(self, data):
        errors = {}
        try:
            values = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors = dict(exc.detail)
            values = {}
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        for name in unknown:
            errors[name] = [f"Not a limit; the limits are {', '.join(risk.SETTINGS)}."]
        if errors:
            raise serializers.ValidationError(errors)
        return values


class HaltRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=255,
        allow_blank=True,
        help_text="Why the account is halted (kept with the account and its risk events).",
        error_messages={"required": "Say why the account is halted.", "null": "Say why the account is halted."},
    )


class RiskEventSerializer(serializers.ModelSerializer):
    """A risk limit refusing an order, the account halted or resumed, or its limits changed."""

    class Meta:
        model = RiskEvent
        fields = ["id", "created_at", "kind", "limit", "limit_value", "value", "detail", "order", "source", "actor"]
        read_only_fields = fields
