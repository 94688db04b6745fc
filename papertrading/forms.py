"""The desk's forms: the order form (shapes and types only; the trading rules live in validate_order, via
place_order) and the kill switch's reason."""

from django import forms
from django.conf import settings

from .errors import OrderValidationError
from .models import OrderType, Side, SymbolRule, TimeInForce

# Which optional fields each order type takes (Binance semantics); the others are neither shown nor sent.
FIELDS_BY_TYPE = {
    OrderType.MARKET: (),
    OrderType.LIMIT: ("price", "time_in_force"),
    OrderType.LIMIT_MAKER: ("price",),
    OrderType.STOP_LOSS_LIMIT: ("price", "stop_price", "time_in_force"),
    OrderType.TAKE_PROFIT_LIMIT: ("price", "stop_price", "time_in_force"),
    OrderType.STOP_LOSS: ("stop_price",),
    OrderType.TAKE_PROFIT: ("stop_price",),
}
# Fields a type may take but does not need: shown for it, never required.
EXTRA_FIELDS_BY_TYPE = {
    OrderType.LIMIT: ("iceberg_quantity",),
    OrderType.LIMIT_MAKER: ("iceberg_quantity",),
    OrderType.STOP_LOSS_LIMIT: ("trailing_delta",),
    OrderType.TAKE_PROFIT_LIMIT: ("trailing_delta",),
    OrderType.STOP_LOSS: ("trailing_delta",),
    OrderType.TAKE_PROFIT: ("trailing_delta",),
}
OPTIONAL_FIELDS = ("trailing_delta", "price", "stop_price", "time_in_force", "iceberg_quantity")
DEFAULT_SYMBOL = "BTCUSDT"


class AmountField(forms.DecimalField):
    """Reads what was typed with Binance's number grammar (`money.parse_amount`), like the API."""

    def to_python(self, value):
        from .money import parse_amount

        if value in self.empty_values:
            return None
        try:
            return parse_amount(value if isinstance(value, str) else str(value))
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from None


def amount_field(label: str, *, required: bool) -> forms.DecimalField:
    # A text input with a decimal keypad keeps exactly what was typed (no browser step or locale rounding).
    return AmountField(
        label=label,
        required=required,
        max_digits=settings.MONEY_MAX_DIGITS,
        decimal_places=settings.MONEY_DECIMAL_PLACES,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"}),
    )


class OrderForm(forms.Form):
    symbol = forms.ChoiceField(label="Symbol")
    side = forms.ChoiceField(label="Side", choices=Side.choices, initial=Side.BUY)
    order_type = forms.ChoiceField(label="Order type", choices=OrderType.choices, initial=OrderType.LIMIT)
    quantity = amount_field("Quantity", required=True)
    price = amount_field("Price", required=False)
    stop_price = amount_field("Stop price", required=False)
    time_in_force = forms.ChoiceField(
        label="Time in force", choices=TimeInForce.choices, required=False, initial=TimeInForce.GTC
    )
    iceberg_quantity = amount_field("Iceberg part (optional)", required=False)
    trailing_delta = forms.IntegerField(
        label="Trailing delta, basis points (optional)",
        required=False,
        min_value=1,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [
            (rule.symbol, f"{rule.base_asset}/{rule.quote_asset}")
            for rule in SymbolRule.objects.filter(status="TRADING").order_by("symbol")
        ]
        self.fields["symbol"].choices = choices
        if DEFAULT_SYMBOL in dict(choices):
            self.fields["symbol"].initial = DEFAULT_SYMBOL
        # The service decides (one place per rule); the markers tell the person what this type needs.
        for name, field in self.fields.items():
            field.needed = field.required or name in self.type_fields
            if name in self.type_fields:
                field.widget.attrs.update({"required": True, "aria-required": "true"})

    @property
    def chosen_type(self) -> str:
        """The chosen order type: from the submitted data, else the initial value."""
        value = self.data.get("order_type") if self.is_bound else None
        value = value or self.initial.get("order_type") or self.fields["order_type"].initial
        return value if value in FIELDS_BY_TYPE else OrderType.LIMIT

    @property
    def type_fields(self) -> tuple[str, ...]:
        return FIELDS_BY_TYPE[self.chosen_type]

    @property
    def shown_fields(self) -> tuple[str, ...]:
        """What this order type takes: what it needs and what it may have."""
        return (*self.type_fields, *EXTRA_FIELDS_BY_TYPE.get(self.chosen_type, ()))

    def visible_fields_for_type(self):
        """The fields this order type takes, in display order."""
        names = ("symbol", "side", "order_type", "quantity", *(n for n in OPTIONAL_FIELDS if n in self.shown_fields))
        return [self[name] for name in names]

    def clean(self):
        data = super().clean()
        # A field the type does not take may still hold a value typed before the type changed: drop it, so
        # switching from LIMIT to MARKET does not send a stale price.
        for name in OPTIONAL_FIELDS:
            if name not in self.shown_fields:
                data[name] = "" if name == "time_in_force" else None
        return data

    def order_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "symbol": data["symbol"],
            "side": data["side"],
            "order_type": data["order_type"],
            "quantity": data["quantity"],
            "price": data.get("price"),
            "stop_price": data.get("stop_price"),
            "time_in_force": data.get("time_in_force") or "",
            "iceberg_quantity": data.get("iceberg_quantity"),
            "trailing_delta": data.get("trailing_delta"),
        }

    def add_service_errors(self, exc: OrderValidationError) -> None:
        """Put the service's {field: [messages]} beside the fields; unknown fields become form-wide errors."""
        for field, messages in exc.errors.items():
            target = field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)


class HaltForm(forms.Form):
    """The kill switch's one input: why the account stops trading (recorded with who halted it)."""

    reason = forms.CharField(
        label="Reason for halting",
        max_length=255,
        error_messages={"required": "Say why the account is halted."},
        # The risk panel refreshes while a reason is typed: htmx keeps this input as it is (hx-preserve).
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "placeholder": "e.g. the agent loops on one symbol", "hx-preserve": "true"}
        ),
    )
