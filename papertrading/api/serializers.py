import copy

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import risk
from ..errors import RiskLimitExceeded
from ..models import OrderEvent, OrderFill, OrderList, OrderType, PaperOrder, Side, TimeInForce


def amount_field(**kwargs) -> serializers.DecimalField:
    """A quantity, price or amount: read with Binance's number grammar, written with the stored precision."""
    from .fields import BinanceDecimalField

    return BinanceDecimalField(
        max_digits=settings.MONEY_MAX_DIGITS, decimal_places=settings.MONEY_DECIMAL_PLACES, **kwargs
    )


class CachedFieldsMixin:
    """Build a ModelSerializer's fields once per class, not per instance: they depend only on Meta.

    DRF introspects the model on every instantiation, which was a third of an order create's time.
    """

    def get_fields(self):
        cls = type(self)
        if "_field_template" not in cls.__dict__:
            cls._field_template = super().get_fields()
        return copy.deepcopy(cls._field_template)


class OrderCreateSerializer(serializers.Serializer):
    """Shapes and types only; the trading rules are checked by the order service (validate_order)."""

    symbol = serializers.CharField(max_length=20)
    side = serializers.ChoiceField(choices=Side.choices)
    order_type = serializers.ChoiceField(choices=OrderType.choices)
    quantity = amount_field()
    price = amount_field(required=False, allow_null=True)
    stop_price = amount_field(required=False, allow_null=True)
    time_in_force = serializers.ChoiceField(choices=TimeInForce.choices, required=False, allow_blank=True)
    iceberg_quantity = amount_field(
        required=False, allow_null=True, help_text="Show only this much at a time (LIMIT GTC and LIMIT_MAKER)."
    )
    trailing_delta = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="A trailing stop (the four stop types): trigger after the market moves this many basis points "
        "back from its best price since tracking started (at placement, or once `stop_price` is reached).",
    )
    client_order_id = serializers.CharField(max_length=36, required=False, allow_blank=True)
    run_id = serializers.UUIDField(required=False, allow_null=True)

    def validate(self, attrs):
        errors = {
            field: ["Must be greater than zero."]
            for field in ("quantity", "price", "stop_price", "iceberg_quantity", "trailing_delta")
            if attrs.get(field) is not None and attrs[field] <= 0
        }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class OrderFillSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    """One fill: price, quantity and fee, and why it happened (the rule, the market price seen, the rates)."""

    class Meta:
        model = OrderFill
        fields = [
            "price",
            "quantity",
            "commission",
            "commission_asset",
            "trade_id",
            "rule",
            "market_price",
            "slippage_rate",
            "fee_rate",
            "is_maker",
            "created_at",
        ]


class OrderEventSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    """One change of the order: when, from and to which status, the cause (source), who, and details."""

    class Meta:
        model = OrderEvent
        fields = ["created_at", "from_status", "to_status", "source", "actor", "detail"]


class OrderSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    """A paper order as it stands now."""

    placed_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who placed it; null for orders imported from the exchange.",
    )
    average_price = amount_field(read_only=True, allow_null=True)
    trailing_stop_price = amount_field(
        read_only=True,
        allow_null=True,
        help_text="A tracking trailing stop's trigger price now (simulation; null otherwise).",
    )
    # Declared, not derived: DRF drops allow_blank from read-only model fields, so the schema would miss "".
    time_in_force = serializers.ChoiceField(
        choices=TimeInForce.choices, allow_blank=True, read_only=True, help_text="Empty unless a LIMIT order."
    )
    list_leg = serializers.ChoiceField(
        choices=PaperOrder.ListLeg.choices,
        allow_blank=True,
        read_only=True,
        help_text="The leg's place in its `order_list`: `above` or `below` (an OCO's legs, and an OTOCO's pending "
        "pair), `working` (an OTO or OTOCO's working order) or `pending` (an OTO's pending order); empty for an "
        "order on its own.",
    )
    waits_for_list = serializers.BooleanField(
        read_only=True,
        help_text="A pending leg of an OTO or OTOCO that is not working yet (Binance's PENDING_NEW): it holds no "
        "funds and goes to work once the list's working order has filled.",
    )

    class Meta:
        model = PaperOrder
        fields = [
            "id",
            "client_order_id",
            "binance_order_id",
            "venue",
            "symbol",
            "side",
            "order_type",
            "quantity",
            "price",
            "stop_price",
            "time_in_force",
            "iceberg_quantity",
            "trailing_delta",
            "trailing_price",
            "trailing_started_at",
            "trailing_stop_price",
            "status",
            "executed_quantity",
            "cumulative_quote_quantity",
            "average_price",
            "locked_asset",
            "locked_amount",
            "reject_code",
            "reject_reason",
            "run_id",
            "order_list",
            "list_leg",
            "waits_for_list",
            "is_external",
            "stop_triggered_at",
            "placed_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


OCO_LEG_TYPES = [
    OrderType.LIMIT_MAKER,
    OrderType.STOP_LOSS,
    OrderType.STOP_LOSS_LIMIT,
    OrderType.TAKE_PROFIT,
    OrderType.TAKE_PROFIT_LIMIT,
]


# Both legs take the same choices: one named component, rather than a name per field.
@extend_schema_field(
    {"type": "string", "enum": [str(value) for value in OCO_LEG_TYPES]}, component_name="OcoLegTypeEnum"
)
class OcoLegTypeField(serializers.ChoiceField):
    """An OCO leg's type (the same enum for both legs, inline in the schema)."""

    def __init__(self, **kwargs):
        super().__init__(choices=[(str(value), value.label) for value in OCO_LEG_TYPES], **kwargs)


@extend_schema_field({"type": "string", "enum": [*TimeInForce.values, ""]}, component_name="LegTimeInForceEnum")
class LegTimeInForceField(serializers.ChoiceField):
    """A list leg's time in force: required for a LIMIT or *_LIMIT leg, empty otherwise."""

    def __init__(self, **kwargs):
        super().__init__(choices=TimeInForce.choices, required=False, allow_blank=True, **kwargs)


# Both legs' sides take the same choices as an order's side: named once in the schema.
@extend_schema_field({"type": "string", "enum": Side.values}, component_name="LegSideEnum")
class LegSideField(serializers.ChoiceField):
    """A list leg's side (BUY or SELL)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Side.choices, **kwargs)


# An OTO's pending order may be of any type, as an order: named apart from `order_type` in the schema.
@extend_schema_field({"type": "string", "enum": OrderType.values}, component_name="PendingTypeEnum")
class PendingTypeField(serializers.ChoiceField):
    """An OTO's pending order's type (any type; the order service checks the fields each type takes)."""

    def __init__(self, **kwargs):
        super().__init__(choices=OrderType.choices, **kwargs)


def client_order_id_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=36, required=False, allow_blank=True, **kwargs)


def _positive(attrs: dict, fields) -> None:
    """Amounts and trailing deltas must be greater than zero; the trading rules are the order service's."""
    errors = {
        field: ["Must be greater than zero."] for field in fields if attrs.get(field) is not None and attrs[field] <= 0
    }
    if errors:
        raise serializers.ValidationError(errors)


def _leg(data: dict, prefix: str, fields) -> dict:
    """Pop a leg's `<prefix>_<field>` values out of `data`, leaving out those not given."""
    leg = {}
    for field in fields:
        value = data.pop(f"{prefix}_{field}", None)
        if value not in (None, ""):
            leg[field] = value
    return leg


# The leg fields the order list services take, by kind of leg.
OCO_LEG_KEYS = ("type", "price", "stop_price", "time_in_force", "client_order_id")
WORKING_KEYS = ("side", "type", "quantity", "price", "time_in_force", "iceberg_quantity", "client_order_id")
PENDING_KEYS = ("side", "type", "quantity", "price", "stop_price", "trailing_delta", "time_in_force", "client_order_id")
WORKING_TYPES = [OrderType.LIMIT, OrderType.LIMIT_MAKER]


class OcoCreateSerializer(serializers.Serializer):
    """An OCO (Binance's orderList/oco): one `quantity`, an above leg and a below leg, each named by its prefix.

    SELL: the above leg is LIMIT_MAKER, TAKE_PROFIT or TAKE_PROFIT_LIMIT and the below leg STOP_LOSS or
    STOP_LOSS_LIMIT; a BUY is the mirror. Each leg's price or stop price is on its side of the market, and each leg
    takes the fields its type takes. Shapes and types only here; the rules are checked by the order service.
    """

    symbol = serializers.CharField(max_length=20)
    side = serializers.ChoiceField(choices=Side.choices)
    quantity = amount_field(help_text="The quantity of each leg.")
    list_client_order_id = serializers.CharField(max_length=36, required=False, allow_blank=True)
    above_type = OcoLegTypeField()
    above_price = amount_field(required=False, allow_null=True)
    above_stop_price = amount_field(required=False, allow_null=True)
    above_time_in_force = LegTimeInForceField()
    above_client_order_id = serializers.CharField(max_length=36, required=False, allow_blank=True)
    below_type = OcoLegTypeField()
    below_price = amount_field(required=False, allow_null=True)
    below_stop_price = amount_field(required=False, allow_null=True)
    below_time_in_force = LegTimeInForceField()
    below_client_order_id = serializers.CharField(max_length=36, required=False, allow_blank=True)

    def validate(self, attrs):
        _positive(attrs, ("quantity", "above_price", "above_stop_price", "below_price", "below_stop_price"))
        return attrs

    def service_arguments(self) -> dict:
        """The validated input as place_oco takes it."""
        data = dict(self.validated_data)
        legs = {name: _leg(data, name, OCO_LEG_KEYS) for name in ("above", "below")}
        return {**data, "list_client_order_id": data.get("list_client_order_id") or None, **legs}


class WorkingOrderListSerializer(serializers.Serializer):
    """What an OTO and an OTOCO share: the symbol, the list's id, and the working order (Binance's working*), a
    LIMIT or LIMIT_MAKER that works at once."""

    symbol = serializers.CharField(max_length=20)
    list_client_order_id = client_order_id_field()
    working_side = LegSideField()
    working_type = serializers.ChoiceField(choices=[(str(value), value.label) for value in WORKING_TYPES])
    working_quantity = amount_field()
    working_price = amount_field()
    working_time_in_force = LegTimeInForceField(help_text="Required for a LIMIT working order.")
    working_iceberg_quantity = amount_field(
        required=False, allow_null=True, help_text="Show only this much at a time (LIMIT GTC and LIMIT_MAKER)."
    )
    working_client_order_id = client_order_id_field()

    positive_fields = ("working_quantity", "working_price", "working_iceberg_quantity")

    def validate(self, attrs):
        _positive(attrs, self.positive_fields)
        return attrs

    def _common_arguments(self, data: dict) -> dict:
        return {
            "symbol": data.pop("symbol"),
            "list_client_order_id": data.pop("list_client_order_id", None) or None,
            "working": _leg(data, "working", WORKING_KEYS),
        }


PENDING_QUANTITY_HELP = (
    "Defaults to what the working order receives: for a BUY working order and a SELL pending one, its quantity "
    "less the fee, on the symbol's step grid; otherwise the working order's quantity."
)


class OtoCreateSerializer(WorkingOrderListSerializer):
    """An OTO (Binance's orderList/oto): a working order, and a pending order accepted with it that goes to work
    only once the working order has filled completely.

    The pending order takes the fields its type takes and is judged at the working order's price, where it will
    start work. Shapes and types only here; the rules are checked by the order service.
    """

    pending_side = LegSideField()
    pending_type = PendingTypeField()
    pending_quantity = amount_field(required=False, allow_null=True, help_text=PENDING_QUANTITY_HELP)
    pending_price = amount_field(required=False, allow_null=True)
    pending_stop_price = amount_field(required=False, allow_null=True)
    pending_trailing_delta = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="A trailing stop (the four stop types), in basis points, as for a single order.",
    )
    pending_time_in_force = LegTimeInForceField()
    pending_client_order_id = client_order_id_field()

    positive_fields = (
        *WorkingOrderListSerializer.positive_fields,
        "pending_quantity",
        "pending_price",
        "pending_stop_price",
        "pending_trailing_delta",
    )

    def service_arguments(self) -> dict:
        """The validated input as place_oto takes it."""
        data = dict(self.validated_data)
        return {**self._common_arguments(data), "pending": _leg(data, "pending", PENDING_KEYS)}


class OtocoCreateSerializer(WorkingOrderListSerializer):
    """An OTOCO (Binance's orderList/otoco), a bracket: a working order, and a pending OCO pair (one side and
    quantity, an above and a below leg, each named by its prefix) that goes to work once the working order has
    filled completely.

    The pair follows the OCO's rules, judged at the working order's price rather than today's market: for a SELL
    pair the above leg is LIMIT_MAKER, TAKE_PROFIT or TAKE_PROFIT_LIMIT and the below leg STOP_LOSS or
    STOP_LOSS_LIMIT; a BUY pair is the mirror. Shapes and types only here; the rules are checked by the order
    service.
    """

    pending_side = LegSideField()
    pending_quantity = amount_field(
        required=False, allow_null=True, help_text=f"The quantity of each pending leg. {PENDING_QUANTITY_HELP}"
    )
    pending_above_type = OcoLegTypeField()
    pending_above_price = amount_field(required=False, allow_null=True)
    pending_above_stop_price = amount_field(required=False, allow_null=True)
    pending_above_time_in_force = LegTimeInForceField()
    pending_above_client_order_id = client_order_id_field()
    pending_below_type = OcoLegTypeField()
    pending_below_price = amount_field(required=False, allow_null=True)
    pending_below_stop_price = amount_field(required=False, allow_null=True)
    pending_below_time_in_force = LegTimeInForceField()
    pending_below_client_order_id = client_order_id_field()

    positive_fields = (
        *WorkingOrderListSerializer.positive_fields,
        "pending_quantity",
        "pending_above_price",
        "pending_above_stop_price",
        "pending_below_price",
        "pending_below_stop_price",
    )

    def service_arguments(self) -> dict:
        """The validated input as place_otoco takes it."""
        data = dict(self.validated_data)
        return {
            **self._common_arguments(data),
            "pending_side": data.pop("pending_side"),
            "pending_quantity": data.pop("pending_quantity", None),
            "pending_above": _leg(data, "pending_above", OCO_LEG_KEYS),
            "pending_below": _leg(data, "pending_below", OCO_LEG_KEYS),
        }


class OrderListSerializer(serializers.ModelSerializer):
    """An order list (an OCO, OTO or OTOCO) and its legs as they stand now; each leg names its `list_leg`."""

    orders = OrderSerializer(many=True, read_only=True, help_text="The legs, oldest first.")

    class Meta:
        model = OrderList
        fields = [
            "id",
            "list_client_order_id",
            "contingency_type",
            "list_status_type",
            "list_order_status",
            "symbol",
            "orders",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ListEventSerializer(OrderEventSerializer):
    """A change of one of the list's legs, naming the leg."""

    order = serializers.IntegerField(source="order_id", read_only=True, help_text="The leg that changed.")

    class Meta(OrderEventSerializer.Meta):
        fields = ["order", *OrderEventSerializer.Meta.fields]


class OrderListDetailSerializer(OrderListSerializer):
    """An order list with its legs and its history: every leg's events, oldest first."""

    events = serializers.SerializerMethodField()

    class Meta(OrderListSerializer.Meta):
        fields = [*OrderListSerializer.Meta.fields, "events"]
        read_only_fields = fields

    @extend_schema_field(ListEventSerializer(many=True))
    def get_events(self, order_list: OrderList) -> list:
        events = sorted((e for leg in order_list.orders.all() for e in leg.events.all()), key=lambda e: e.pk)
        return ListEventSerializer(events, many=True).data


class OrderDetailSerializer(OrderSerializer):
    """A paper order with its fills and events."""

    fills = OrderFillSerializer(many=True, read_only=True)
    events = OrderEventSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "fills", "events"]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    """Any error that is not about a field of the input."""

    detail = serializers.CharField()


class OrderErrorSerializer(ErrorSerializer):
    """A body that could not be read (`detail`), or the venue's refusal: its `code` and the order kept as REJECTED."""

    code = serializers.IntegerField(
        required=False, allow_null=True, help_text="The exchange's error code, e.g. -2010; null when it gave none."
    )
    order = OrderSerializer(required=False)


@extend_schema_field({"type": "string", "enum": [RiskLimitExceeded.code]})
class RiskCodeField(serializers.CharField):
    """The code of a risk limit's refusal."""


@extend_schema_field({"type": "string", "enum": [*risk.LIMITS, risk.HALTED]})
class RiskLimitNameField(serializers.CharField):
    """The name of the risk limit that refused an order (an enum in the schema)."""


class RiskLimitErrorSerializer(serializers.Serializer):
    """A risk limit of the account refused the order, or the account is halted (`limit` "halted"): nothing was
    written, reserved or sent, and the refusal is recorded as a risk event."""

    code = RiskCodeField(help_text='Always "RISK_LIMIT".')
    limit = RiskLimitNameField(help_text="The limit that refused it, or `halted` (the account is halted).")
    detail = serializers.CharField()
    limit_value = serializers.CharField(
        allow_null=True, help_text="The limit's value (symbols comma-separated); null when halted."
    )
    value = serializers.CharField(
        allow_null=True, help_text="What the order would have made it (or its symbol); null when halted."
    )


class FieldErrorsSerializer(serializers.Serializer):
    """Invalid input: a list of messages per field, `non_field_errors` for the input as a whole."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    """The field names vary, so the schema is a map of message lists rather than fixed properties."""

    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "description": FieldErrorsSerializer.__doc__,
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "example": {"price": ["A LIMIT order needs a price."]},
        }


class BalanceSerializer(serializers.Serializer):
    asset = serializers.CharField()
    free = amount_field()
    locked = amount_field()


class AccountSerializer(serializers.Serializer):
    venue = serializers.CharField()
    balances = BalanceSerializer(many=True)


class SyncResultSerializer(serializers.Serializer):
    """What one sync did (from the venue's SyncReport)."""

    venue = serializers.CharField()
    orders_checked = serializers.IntegerField(help_text="Working (or unknown) orders looked at.")
    symbols_checked = serializers.IntegerField(help_text="Symbols those orders are on.")
    changed = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Orders changed, by outcome: filled, partially_filled, cancelled, expired, rejected, resolved, "
        "reset_closed, imported, updated, still_unknown, skipped_external.",
    )
    request_weight = serializers.IntegerField(help_text="Exchange request weight the sync used.")
    notes = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField(help_text="One line for people, as the desk shows it.")
