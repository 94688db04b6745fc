"""The desk's forms: the order form and the order-list forms (OCO, OTO, bracket), shapes and types only (the
trading rules live in validate_order and the list services), and the kill switch's reason."""

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.urls import reverse

from .errors import OrderValidationError
from .models import OrderList, OrderType, Side, SymbolRule, TimeInForce
from .validation import OCO_LEG_TYPES, oco_leg_type_error

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


def symbol_choices() -> list[tuple[str, str]]:
    return [
        (rule.symbol, f"{rule.base_asset}/{rule.quote_asset}")
        for rule in SymbolRule.objects.filter(status="TRADING").order_by("symbol")
    ]


class ServiceErrorsMixin:
    def add_service_errors(self, exc: OrderValidationError) -> None:
        """Put the service's {field: [messages]} beside the fields; unknown fields become form-wide errors."""
        for field, messages in exc.errors.items():
            target = field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)


class OrderForm(ServiceErrorsMixin, forms.Form):
    kind = "single"  # the order form's kind among ORDER_KINDS

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
        choices = symbol_choices()
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


# --- order lists ------------------------------------------------------------------------------------------------

SINGLE = "single"
# What the form places: one order, or a list (Binance's orderList/oco, /oto and /otoco).
ORDER_KINDS = (
    (SINGLE, "Single order"),
    (OrderList.ContingencyType.OCO, "OCO"),
    (OrderList.ContingencyType.OTO, "OTO"),
    (OrderList.ContingencyType.OTOCO, "Bracket (OTOCO)"),
)
# A leg's terms after its side, type and quantity, in display order; which it takes follows its type.
LEG_TERMS = ("price", "stop_price", "time_in_force", "trailing_delta")
WORKING_TYPES = (OrderType.LIMIT, OrderType.LIMIT_MAKER)
PENDING_TYPES = tuple(value for value in OrderType.values if value != OrderType.MARKET)
# What the take-profit and the stop of an OCO are on each side: a SELL takes profit above, a BUY below.
OCO_LEG_ROLES = {
    (Side.SELL, "above"): "take profit",
    (Side.SELL, "below"): "stop",
    (Side.BUY, "above"): "stop",
    (Side.BUY, "below"): "take profit",
}


def field_name(prefix: str, term: str) -> str:
    """A leg's field, named as the list services name its errors ('above_price', 'pending_below_stop_price')."""
    return f"{prefix}_{term}" if prefix else term


@dataclass(frozen=True)
class LegGroup:
    """One group of a list form's fields: a leg, or the terms several legs share (an OCO's side and quantity).

    `types` are the order types the leg may be; an OCO leg (`oco_leg` "above" or "below") takes the types its
    list's side allows, that side read from `side_field`. A group without either has no type field.
    """

    prefix: str
    legend: str
    types: tuple[str, ...] = ()
    oco_leg: str = ""
    side_field: str = ""
    own_side: bool = False
    default_side: str = Side.BUY
    quantity: str = ""  # "required", "optional" (the service's default), or "" (none)
    trailing: bool = False  # takes a trailing delta when its type is a stop

    @property
    def has_type(self) -> bool:
        return bool(self.types or self.oco_leg)


class OrderListForm(ServiceErrorsMixin, forms.Form):
    """The fields of an order list, by group; a type or a side that decides what a leg takes redraws the form
    (the type select of the single order does the same). Without JavaScript the chosen values still decide what
    the form takes, and the server answers errors beside the fields."""

    kind: str
    service: str  # the services function that places it
    groups_spec: tuple[LegGroup, ...]
    help_text: str
    submit_label: str

    symbol = forms.ChoiceField(label="Symbol")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = symbol_choices()
        self.fields["symbol"].choices = choices
        if DEFAULT_SYMBOL in dict(choices):
            self.fields["symbol"].initial = DEFAULT_SYMBOL
        for group in self.groups_spec:
            self._add_group_fields(group)
        if not self.is_bound:
            # A redraw shows what decides the fields as chosen, also where a carried-over value no longer fits (a
            # type the new side does not allow falls back to the side's first).
            self.initial = dict(self.initial)
            for group in self.groups_spec:
                if group.own_side:
                    name = field_name(group.prefix, "side")
                    self.initial[name] = self.chosen_side(name)
                if group.has_type:
                    self.initial[field_name(group.prefix, "type")] = self.chosen_type(group)
        redraw_url = reverse("papertrading:order_form")
        shaping = {group.side_field for group in self.groups_spec if group.side_field}
        for group in self.groups_spec:
            if group.has_type:
                shaping.add(field_name(group.prefix, "type"))
        for name in shaping:
            self.fields[name].widget.attrs.update(
                {
                    "hx-get": redraw_url,
                    "hx-trigger": "change",
                    "hx-target": "#order-panel",
                    "hx-swap": "outerHTML",
                    "hx-include": "#order-fields",
                }
            )
        needed = {"symbol"}
        for group in self.groups_spec:
            needed.update(field_name(group.prefix, term) for term in self.needed_terms(group))
        for name, field in self.fields.items():
            field.needed = field.required or name in needed
            if name in needed:
                field.widget.attrs.update({"required": True, "aria-required": "true"})

    def _add_group_fields(self, group: LegGroup) -> None:
        def add(term: str, field: forms.Field) -> None:
            self.fields[field_name(group.prefix, term)] = field

        if group.own_side:
            add("side", forms.ChoiceField(label="Side", choices=Side.choices, initial=group.default_side))
        if group.has_type:
            allowed = self.allowed_types(group)
            field = forms.ChoiceField(label="Type", choices=[(t, OrderType(t).label) for t in allowed])
            if group.oco_leg:
                side = self.chosen_side(group.side_field)
                message = oco_leg_type_error(side=side, leg=group.oco_leg, order_type="")
                field.error_messages["invalid_choice"] = message
            add("type", field)
        if group.quantity:
            optional = group.quantity == "optional"
            field = amount_field("Quantity (optional)" if optional else "Quantity", required=not optional)
            if optional:
                field.help_text = "Empty: what the working order receives."
                field.widget.attrs["placeholder"] = "what the working order receives"
            add("quantity", field)
        if group.has_type:
            add("price", amount_field("Price", required=False))
            add("stop_price", amount_field("Stop price", required=False))
            add(
                "time_in_force",
                forms.ChoiceField(
                    label="Time in force", choices=TimeInForce.choices, required=False, initial=TimeInForce.GTC
                ),
            )
            if group.trailing:
                add(
                    "trailing_delta",
                    forms.IntegerField(
                        label="Trailing delta, basis points (optional)",
                        required=False,
                        min_value=1,
                        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
                    ),
                )

    # --- what was chosen decides what the form takes ---

    def raw_value(self, name: str):
        """What was submitted (or carried over by a redraw) for `name`; None when nothing was."""
        source = self.data if self.is_bound else self.initial
        value = source.get(name)
        return value if value not in (None, "") else None

    def chosen_side(self, name: str) -> str:
        group = next((g for g in self.groups_spec if field_name(g.prefix, "side") == name), None)
        value = self.raw_value(name)
        return value if value in Side.values else (group.default_side if group else Side.BUY)

    def allowed_types(self, group: LegGroup) -> tuple[str, ...]:
        if group.oco_leg:
            return tuple(OCO_LEG_TYPES[(self.chosen_side(group.side_field), group.oco_leg)])
        return group.types

    def chosen_type(self, group: LegGroup) -> str:
        allowed = self.allowed_types(group)
        value = self.raw_value(field_name(group.prefix, "type"))
        return value if value in allowed else allowed[0]

    def needed_terms(self, group: LegGroup) -> tuple[str, ...]:
        return FIELDS_BY_TYPE[self.chosen_type(group)] if group.has_type else ()

    def shown_terms(self, group: LegGroup) -> tuple[str, ...]:
        if not group.has_type:
            return ()
        order_type = self.chosen_type(group)
        extra = (
            ("trailing_delta",)
            if group.trailing and "trailing_delta" in EXTRA_FIELDS_BY_TYPE.get(order_type, ())
            else ()
        )
        return tuple(term for term in LEG_TERMS if term in (*FIELDS_BY_TYPE[order_type], *extra))

    def legend(self, group: LegGroup) -> str:
        if group.oco_leg:
            role = OCO_LEG_ROLES[(self.chosen_side(group.side_field), group.oco_leg)]
            return f"{group.legend}: {role}"
        return group.legend

    def groups(self) -> list[dict]:
        """Each group's legend and the fields it shows now, in display order."""
        shown = []
        for group in self.groups_spec:
            terms = [term for term in ("side", "type", "quantity") if field_name(group.prefix, term) in self.fields]
            terms += self.shown_terms(group)
            shown.append(
                {
                    "id": f"leg-{group.prefix or 'list'}",
                    "legend": self.legend(group),
                    "fields": [self[field_name(group.prefix, term)] for term in terms],
                }
            )
        return shown

    def clean(self):
        data = super().clean()
        # Values typed for a type the leg is no longer are dropped, as the single order's form does.
        for group in self.groups_spec:
            if not group.has_type:
                continue
            shown = self.shown_terms(group)
            for term in LEG_TERMS:
                name = field_name(group.prefix, term)
                if name in self.fields and term not in shown:
                    data[name] = "" if term == "time_in_force" else None
        return data

    # --- what the service takes ---

    def group_terms(self, prefix: str) -> dict:
        """A group's cleaned terms by the service's names, leaving out the ones not given."""
        terms = {}
        for term in ("side", "type", "quantity", *LEG_TERMS):
            value = self.cleaned_data.get(field_name(prefix, term))
            if value not in (None, ""):
                terms[term] = value
        return terms

    def service_arguments(self) -> dict:
        raise NotImplementedError

    def kept_values(self) -> dict:
        """What is usually repeated for the next list: the symbol, sides, types and times in force."""
        kept_terms = ("side", "type", "time_in_force")
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name == "symbol" or any(name == term or name.endswith(f"_{term}") for term in kept_terms)
            if value not in (None, "")
        }


class OcoForm(OrderListForm):
    kind = OrderList.ContingencyType.OCO
    service = "place_oco"
    submit_label = "Place OCO"
    help_text = (
        "Two orders of one quantity: the above leg over the market, the below leg under it. The first reached "
        "expires the other."
    )
    groups_spec = (
        LegGroup("", "Both legs", own_side=True, default_side=Side.SELL, quantity="required"),
        LegGroup("above", "Above leg", oco_leg="above", side_field="side"),
        LegGroup("below", "Below leg", oco_leg="below", side_field="side"),
    )

    def service_arguments(self) -> dict:
        shared = self.group_terms("")
        return {
            "symbol": self.cleaned_data["symbol"],
            "side": shared.get("side"),
            "quantity": shared.get("quantity"),
            "above": self.group_terms("above"),
            "below": self.group_terms("below"),
        }


WORKING_GROUP = LegGroup("working", "Working order", types=WORKING_TYPES, own_side=True, quantity="required")


class OtoForm(OrderListForm):
    kind = OrderList.ContingencyType.OTO
    service = "place_oto"
    submit_label = "Place OTO"
    help_text = (
        "The working order rests on the book; the pending order goes to work only once the working order has "
        "filled completely."
    )
    groups_spec = (
        WORKING_GROUP,
        LegGroup(
            "pending",
            "Pending order, once the working order has filled",
            types=PENDING_TYPES,
            own_side=True,
            default_side=Side.SELL,
            quantity="optional",
            trailing=True,
        ),
    )

    def service_arguments(self) -> dict:
        return {
            "symbol": self.cleaned_data["symbol"],
            "working": self.group_terms("working"),
            "pending": self.group_terms("pending"),
        }


class OtocoForm(OrderListForm):
    kind = OrderList.ContingencyType.OTOCO
    service = "place_otoco"
    submit_label = "Place bracket"
    help_text = (
        "A working order, then a take profit and a stop that go to work once it has filled: an OCO judged against "
        "the working order's price, the first reached expiring the other."
    )
    groups_spec = (
        WORKING_GROUP,
        LegGroup("pending", "Then, once it has filled", own_side=True, default_side=Side.SELL, quantity="optional"),
        LegGroup("pending_above", "Above", oco_leg="above", side_field="pending_side"),
        LegGroup("pending_below", "Below", oco_leg="below", side_field="pending_side"),
    )

    def service_arguments(self) -> dict:
        pending = self.group_terms("pending")
        return {
            "symbol": self.cleaned_data["symbol"],
            "working": self.group_terms("working"),
            "pending_side": pending.get("side"),
            "pending_quantity": pending.get("quantity"),
            "pending_above": self.group_terms("pending_above"),
            "pending_below": self.group_terms("pending_below"),
        }


ORDER_FORMS: dict[str, type[forms.Form]] = {
    SINGLE: OrderForm,
    OcoForm.kind: OcoForm,
    OtoForm.kind: OtoForm,
    OtocoForm.kind: OtocoForm,
}


def chosen_kind(query) -> str:
    """The kind of order the form is for (one of ORDER_KINDS), a single order unless another is asked for."""
    kind = query.get("kind")
    return kind if kind in ORDER_FORMS else SINGLE


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
