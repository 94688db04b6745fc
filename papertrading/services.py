"""Writes of the order lifecycle: the one door into papertrading for views, the API, the admin, commands, tasks
and the other apps. Each service asks the configured venue through its interface and never branches on which
venue it is."""

import contextlib
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import accounts, prices, risk
from .balances import InsufficientBalance, move_free_amounts, open_balances
from .errors import (
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    LEG_ID_TAKEN,
    DuplicateOrder,
    OrderNotWorking,
    OrderRejected,
    OrderValidationError,
    PaperTradingError,
    RiskLimitExceeded,
    VenueUnavailable,
)
from .fees import fill_moves
from .models import (
    Account,
    BalanceAdjustment,
    MarketPrice,
    OrderEvent,
    OrderList,
    OrderType,
    PaperOrder,
    RiskEvent,
    Side,
    SimulatedBalance,
    Venue,
    new_venue_order_ref,
)
from .money import MoneySum, format_decimal, round_to_step
from .signals import account_opened
from .symbols import get_symbol_rule
from .sync_status import record_successful_sync
from .validation import (
    CLIENT_ORDER_ID_RE,
    oco_leg_price_errors,
    oco_leg_type_error,
    validate_client_order_id,
    validate_order,
)
from .venues import get_venue
from .venues.base import FillReport, SyncProgress, SyncReport

Status = PaperOrder.Status
# What makes two orders "the same order" when a client_order_id comes again.
ORDER_TERMS = (
    "symbol",
    "side",
    "order_type",
    "quantity",
    "price",
    "stop_price",
    "time_in_force",
    "iceberg_quantity",
    "trailing_delta",
    "run_id",
)


@dataclass
class PlaceResult:
    order: PaperOrder
    created: bool


def check_order(
    *,
    symbol: str,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    time_in_force: str = "",
    iceberg_quantity: Decimal | None = None,
    trailing_delta: int | None = None,
    market_price: Decimal | None = None,
    on_venue: bool = True,
) -> Decimal | None:
    """Validate an order without writing, reserving or sending anything; returns the market price it was judged at.

    `on_venue` judges it by the configured venue's rules and price (the testnet refreshes the symbol's filters
    from the exchange and refuses early, with VenueUnavailable, when it cannot be used); otherwise by the stored
    rules and the price table. `market_price`, when given, is used instead of asking. Raises
    OrderValidationError with a message per field.
    """
    symbol = (symbol or "").upper()
    if on_venue:
        venue = get_venue()
        rule = venue.symbol_rule(symbol)
        if rule is not None and market_price is None:
            market_price = venue.market_price(rule.symbol)
    else:
        rule = get_symbol_rule(symbol)
        if rule is not None and market_price is None:
            row = prices.ensure_price(symbol)
            market_price = row.price if row else None
    validate_order(
        rule=rule,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        stop_price=stop_price,
        time_in_force=time_in_force or "",
        market_price=market_price,
        iceberg_quantity=iceberg_quantity,
        trailing_delta=trailing_delta,
    )
    return market_price


def place_order(
    *,
    account: Account,
    symbol: str,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    time_in_force: str = "",
    iceberg_quantity: Decimal | None = None,
    trailing_delta: int | None = None,
    client_order_id: str | None = None,
    run_id: uuid.UUID | None = None,
    placed_by=None,
    source: str = OrderEvent.Source.API,
) -> PlaceResult:
    """Validate, write the order, then execute it on the configured venue, exactly once.

    A `client_order_id` that exists returns that order unchanged (created=False) when the terms are the same,
    and raises DuplicateOrder (409) when they differ. Invalid input raises OrderValidationError before anything
    is written or reserved; a venue refusal leaves a REJECTED order and raises OrderRejected with the venue's
    own code (or none). `client_order_id` is the account's own: another account's orders are never looked at.
    """
    validate_client_order_id(client_order_id)
    if run_id is not None and not run_belongs_to(account, run_id):
        raise OrderValidationError({"run_id": ["No analysis run of this account has this id."]})
    symbol = (symbol or "").upper()
    fields = dict(
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        stop_price=stop_price,
        time_in_force=time_in_force or "",
        iceberg_quantity=iceberg_quantity,
        trailing_delta=trailing_delta,
        run_id=run_id,
    )
    try:
        market_price = check_order(**{name: fields[name] for name in ORDER_TERMS if name != "run_id"})
    except (OrderValidationError, VenueUnavailable):
        # A retry of an order placed before the market moved or the venue paused still gets its order back.
        if result := _replayed(account, client_order_id, fields):
            return result
        raise
    venue = get_venue()
    fields.update(
        account=account,
        venue=venue.name,
        client_order_id=client_order_id or new_venue_order_ref(),
        placed_by=placed_by if getattr(placed_by, "pk", None) else None,
    )
    actor = getattr(placed_by, "username", "")
    try:
        order = venue.submit(fields, market_price=market_price, source=source, actor=actor)
    except RiskLimitExceeded as exc:
        record_refusal(account, exc, source=source, actor=actor)
        raise
    except IntegrityError:
        # Looking only when the insert fails saves every new order a query: the unique index refuses a duplicate
        # client_order_id inside the transaction, which undoes whatever it moved.
        if result := _replayed(account, client_order_id, fields):
            return result
        raise
    if order.status == Status.REJECTED:
        raise OrderRejected(order.reject_code, order.reject_reason, order=order)
    return PlaceResult(order, created=True)


def _replayed(account: Account, client_order_id: str | None, fields: dict) -> PlaceResult | None:
    """The account's order already stored under this client_order_id (a retry, or two requests racing), if any."""
    existing = client_order_id and account.orders.filter(client_order_id=client_order_id).first()
    if not existing:
        return None
    if any(getattr(existing, name) != fields[name] for name in ORDER_TERMS):
        raise DuplicateOrder(existing)
    return PlaceResult(existing, created=False)


# --- order lists (OCO, OTO, OTOCO) -------------------------------------------------------------------------------

# A leg's terms: its type and, as the type needs them, its limit price, stop price and time in force.
OCO_LEG_FIELDS = ("type", "price", "stop_price", "time_in_force", "client_order_id")
# An OTO / OTOCO's working order: a LIMIT or LIMIT_MAKER with its own side and quantity (Binance's working*).
WORKING_FIELDS = ("side", "type", "quantity", "price", "time_in_force", "iceberg_quantity", "client_order_id")
WORKING_TYPES = (OrderType.LIMIT, OrderType.LIMIT_MAKER)
# An OTO's pending order: any type, with the fields its type takes (Binance's pending*).
PENDING_FIELDS = (
    "side",
    "type",
    "quantity",
    "price",
    "stop_price",
    "trailing_delta",
    "time_in_force",
    "client_order_id",
)
CLIENT_ID_MESSAGE = "Use 1 to 36 characters from A-Z, a-z, 0-9, '-' and '_'."


class DuplicateOrderList(OrderRejected):
    """A `list_client_order_id` already used by a list with other terms (Binance: -2010 "Duplicate order sent.")."""

    http_status = 409

    def __init__(self, order_list: OrderList):
        super().__init__(
            DUPLICATE_ORDER[0],
            f"{DUPLICATE_ORDER[1]} list_client_order_id {order_list.list_client_order_id!r} is already order list "
            f"{order_list.pk}, placed with other terms.",
        )
        self.order_list = order_list


@dataclass
class PlaceListResult:
    order_list: OrderList
    created: bool


class _ListForm:
    """Collects a list's errors under the API's field names (`above_price`, `working_type`, `pending_above_type`)
    while each leg is checked like an order of its type."""

    def __init__(self, symbol: str, list_client_order_id: str | None):
        self.symbol = (symbol or "").upper()
        self.errors: dict[str, list[str]] = {}
        # The market price the list was judged at (an OTO / OTOCO's working order sets it).
        self.market_price: Decimal | None = None
        if list_client_order_id and not CLIENT_ORDER_ID_RE.match(list_client_order_id):
            self.errors["list_client_order_id"] = [CLIENT_ID_MESSAGE]
        self.venue = get_venue()
        if not hasattr(self.venue, "submit_list"):
            raise OrderValidationError({"symbol": [f"Order lists are not available on the {self.venue.label} yet."]})

    def add(self, key: str, messages) -> None:
        bucket = self.errors.setdefault(key, [])
        bucket.extend(m for m in messages if m not in bucket)

    def leg_fields(self, prefix: str, leg: dict, allowed: tuple) -> dict:
        leg = dict(leg or {})
        for field in sorted(set(leg) - set(allowed)):
            self.add(f"{prefix}_{field}", ["Not a field of this leg."])
        if leg.get("client_order_id") and not CLIENT_ORDER_ID_RE.match(leg["client_order_id"]):
            self.add(f"{prefix}_client_order_id", [CLIENT_ID_MESSAGE])
        return {k: v for k, v in leg.items() if k in allowed}

    def check(
        self, prefix: str, leg: dict, *, side, quantity, market_price, shared=("symbol",), ignore=()
    ) -> Decimal | None:
        """Check one leg as an order of its type (judged at `market_price` when given): the market price it was
        judged at, or None when it failed. Errors of the fields in `ignore` are dropped."""
        try:
            return check_order(
                symbol=self.symbol,
                side=side,
                order_type=leg.get("type"),
                quantity=quantity,
                price=leg.get("price"),
                stop_price=leg.get("stop_price"),
                time_in_force=leg.get("time_in_force") or "",
                iceberg_quantity=leg.get("iceberg_quantity"),
                trailing_delta=leg.get("trailing_delta"),
                market_price=market_price,
            )
        except OrderValidationError as exc:
            if judged_at_working_price := (market_price is not None and prefix.startswith("pending")):
                market = f"the market ({format_decimal(market_price)})"
                working = f"the working order's price ({format_decimal(market_price)})"
            for field, messages in exc.errors.items():
                if field in ignore:
                    continue
                if judged_at_working_price:
                    messages = [message.replace(market, working) for message in messages]
                key = field if field in shared else f"{prefix}_{field}"
                self.add(f"{prefix}_type" if field == "order_type" else key, messages)
            return None

    def check_oco_pair(self, prefix: str, legs: dict, *, side, quantity, market_price) -> Decimal | None:
        """An OCO's two legs (`prefix` "" for an OCO, "pending_" for an OTOCO's pair), each on its side of
        `market_price` (None: today's market)."""
        if side not in Side.values:
            return market_price
        for name, leg in legs.items():
            key = f"{prefix}{name}"
            if type_error := oco_leg_type_error(side=side, leg=name, order_type=leg.get("type")):
                self.add(f"{key}_type", [type_error])
                continue
            shared = ("symbol", "quantity", "side") if not prefix else ("symbol",)
            judged_at = self.check(key, leg, side=side, quantity=quantity, market_price=market_price, shared=shared)
            if judged_at is None:
                continue
            if not prefix:
                market_price = judged_at
            for field, messages in oco_leg_price_errors(
                leg=name,
                order_type=leg["type"],
                price=leg.get("price"),
                stop_price=leg.get("stop_price"),
                market_price=judged_at,
                reference="the working order's price" if prefix else "the market",
            ).items():
                self.add(f"{key}_{field}", messages)
        return market_price

    def raise_errors(self) -> None:
        if self.errors:
            raise OrderValidationError(self.errors)


def place_oco(
    *,
    account: Account,
    symbol: str,
    side: str,
    quantity: Decimal | None,
    above: dict,
    below: dict,
    list_client_order_id: str | None = None,
    placed_by=None,
    source: str = OrderEvent.Source.API,
) -> PlaceListResult:
    """Place an OCO: two legs of `quantity`, one above the market and one below, the first reached expiring the
    other (Binance's orderList/oco). `above` and `below` hold a leg's OCO_LEG_FIELDS.

    Each leg is validated like an order of its type, plus the OCO's rules: the leg types its side allows, and
    each leg's price on its side of the market. The funds are held once for the list. A `list_client_order_id`
    that exists returns that list (created=False) when the terms are the same, and raises DuplicateOrderList (409)
    when they differ. OrderValidationError names each field as the API does (`above_price`, `below_type`, ...);
    OrderRejected (-2010) when the account cannot pay, with nothing written.
    """
    form = _ListForm(symbol, list_client_order_id)
    if side not in Side.values:
        form.add("side", [f"Must be one of {', '.join(Side.values)}."])
    legs = {name: form.leg_fields(name, leg, OCO_LEG_FIELDS) for name, leg in (("above", above), ("below", below))}
    market_price = form.check_oco_pair("", legs, side=side, quantity=quantity, market_price=None)
    form.raise_errors()
    legs = {name: {**leg, "side": side, "quantity": quantity} for name, leg in legs.items()}
    return _place_list(
        account,
        form,
        OrderList.ContingencyType.OCO,
        legs,
        market_price=market_price,
        list_client_order_id=list_client_order_id,
        placed_by=placed_by,
        source=source,
    )


def place_oto(
    *,
    account: Account,
    symbol: str,
    working: dict,
    pending: dict,
    list_client_order_id: str | None = None,
    placed_by=None,
    source: str = OrderEvent.Source.API,
) -> PlaceListResult:
    """Place an OTO (Binance's orderList/oto): a LIMIT or LIMIT_MAKER `working` order that works now, and a
    `pending` order that is accepted with it but goes to work only once the working order has filled.

    The pending order is judged at the working order's price, where it will start work. Its quantity defaults to
    what the working order receives (see pending_quantity_for). Errors are named `working_price`,
    `pending_stop_price`, ...; the rest as place_oco.
    """
    form = _ListForm(symbol, list_client_order_id)
    working = form.leg_fields("working", working, WORKING_FIELDS)
    pending = form.leg_fields("pending", pending, PENDING_FIELDS)
    reference = _check_working(form, working)
    pending.setdefault("quantity", None)
    defaulted = pending["quantity"] is None
    if defaulted and reference is not None:
        pending["quantity"] = pending_quantity_for(form, working, pending.get("side"))
    form.check(
        "pending",
        pending,
        side=pending.get("side"),
        quantity=pending["quantity"],
        market_price=reference or None,
        # A default quantity that could not be worked out (the working order is refused) is not the pending leg's
        # fault: its own fields are still checked.
        ignore=("quantity",) if defaulted and reference is None else (),
    )
    form.raise_errors()
    return _place_list(
        account,
        form,
        OrderList.ContingencyType.OTO,
        {"working": working, "pending": pending},
        market_price=form.market_price,
        list_client_order_id=list_client_order_id,
        placed_by=placed_by,
        source=source,
    )


def place_otoco(
    *,
    account: Account,
    symbol: str,
    working: dict,
    pending_side: str,
    pending_quantity: Decimal | None,
    pending_above: dict,
    pending_below: dict,
    list_client_order_id: str | None = None,
    placed_by=None,
    source: str = OrderEvent.Source.API,
) -> PlaceListResult:
    """Place an OTOCO, a bracket (Binance's orderList/otoco): a `working` order as for place_oto and a pending
    OCO pair that goes to work once it has filled, its above leg (a take profit, for a SELL pair) above the working
    order's price and its below leg (the stop) below it. The pair's funds are then held once, as an OCO's.
    Errors are named `working_price`, `pending_side`, `pending_above_stop_price`, ...; the rest as place_oco."""
    form = _ListForm(symbol, list_client_order_id)
    working = form.leg_fields("working", working, WORKING_FIELDS)
    pair = {
        name: form.leg_fields(f"pending_{name}", leg, OCO_LEG_FIELDS)
        for name, leg in (("above", pending_above), ("below", pending_below))
    }
    reference = _check_working(form, working)
    if pending_side not in Side.values:
        form.add("pending_side", [f"Must be one of {', '.join(Side.values)}."])
    if pending_quantity is None and reference is not None:
        pending_quantity = pending_quantity_for(form, working, pending_side)
    if reference is not None:
        form.check_oco_pair("pending_", pair, side=pending_side, quantity=pending_quantity, market_price=reference)
    form.raise_errors()
    legs = {"working": working}
    legs.update(
        {f"pending_{name}": {**leg, "side": pending_side, "quantity": pending_quantity} for name, leg in pair.items()}
    )
    return _place_list(
        account,
        form,
        OrderList.ContingencyType.OTOCO,
        legs,
        market_price=form.market_price,
        list_client_order_id=list_client_order_id,
        placed_by=placed_by,
        source=source,
    )


def _check_working(form: _ListForm, working: dict) -> Decimal | None:
    """Check an OTO / OTOCO's working order at today's market; its price (where the pending legs will start work)
    when it is valid, else None. Stores the market price it was judged at on the form."""
    if working.get("type") not in WORKING_TYPES:
        form.add("working_type", [f"The working order of a list is one of {', '.join(WORKING_TYPES)}."])
        return None
    form.market_price = form.check(
        "working", working, side=working.get("side"), quantity=working.get("quantity"), market_price=None
    )
    return working["price"] if form.market_price is not None else None


def pending_quantity_for(form: _ListForm, working: dict, pending_side: str | None) -> Decimal:
    """A pending order's default quantity, "what the working order bought": a BUY receives its quantity less the
    fee (Binance takes it in the asset bought), on the symbol's step grid, so a SELL of it can be paid; otherwise
    the working order's quantity."""
    quantity = working["quantity"]
    if working.get("side") == Side.BUY and pending_side == Side.SELL:
        rule = form.venue.symbol_rule(form.symbol)
        quantity = round_to_step(quantity * (1 - settings.SIMULATOR_FEE_RATE), rule.step_size, up=False)
    return quantity


def _place_list(
    account, form: _ListForm, contingency_type, legs: dict, *, market_price, list_client_order_id, placed_by, source
) -> PlaceListResult:
    """Write and execute a checked list on the venue, exactly once. `legs` maps each leg's name (above, below,
    working, pending, pending_above, pending_below) to its order terms (side, quantity, type, ...)."""
    seen: dict[str, str] = {}
    for name, leg in legs.items():
        if (client_id := leg.get("client_order_id")) and seen.setdefault(client_id, name) != name:
            raise OrderValidationError(
                {f"{name}_client_order_id": [f"{LEG_ID_TAKEN[:-1]}: the {seen[client_id]} leg's."]}
            )
    terms = _list_terms(form.symbol, contingency_type, legs)
    if list_client_order_id and (result := _replayed_list(account, list_client_order_id, terms)):
        return result
    actor = getattr(placed_by, "username", "")
    placed_by = placed_by if getattr(placed_by, "pk", None) else None
    list_fields = dict(account=account, symbol=form.symbol, contingency_type=contingency_type)
    if list_client_order_id:
        list_fields["list_client_order_id"] = list_client_order_id
    leg_fields = [
        dict(
            account=account,
            symbol=form.symbol,
            side=leg["side"],
            order_type=leg["type"],
            quantity=leg["quantity"],
            price=leg.get("price"),
            stop_price=leg.get("stop_price"),
            time_in_force=leg.get("time_in_force") or "",
            iceberg_quantity=leg.get("iceberg_quantity"),
            trailing_delta=leg.get("trailing_delta"),
            venue=form.venue.name,
            client_order_id=leg.get("client_order_id") or new_venue_order_ref(),
            placed_by=placed_by,
            list_leg=name.removeprefix("pending_") if name != "pending" else name,
            waits_for_list=name.startswith("pending"),
        )
        for name, leg in legs.items()
    ]
    try:
        order_list, _ = form.venue.submit_list(
            list_fields, leg_fields, market_price=market_price, source=source, actor=actor
        )
    except RiskLimitExceeded as exc:
        record_refusal(account, exc, source=source, actor=actor)
        raise
    except InsufficientBalance:
        raise OrderRejected(*INSUFFICIENT_BALANCE) from None
    except IntegrityError:
        # Two requests with the same list id raced (the unique index refused the second), or a leg's
        # client_order_id is taken.
        if list_client_order_id and (result := _replayed_list(account, list_client_order_id, terms)):
            return result
        given = {leg["client_order_id"]: name for name, leg in legs.items() if leg.get("client_order_id")}
        taken = account.orders.filter(client_order_id__in=list(given)).values_list("client_order_id", flat=True)
        raise OrderValidationError(
            {f"{given[c]}_client_order_id": [LEG_ID_TAKEN] for c in taken}
            or {"list_client_order_id": ["Already a list of this account."]}
        ) from None
    if order_list.list_order_status == OrderList.ListOrderStatus.REJECT:
        # Refused by the venue as a whole (kept, every leg REJECTED), answered as a refused order is.
        leg = order_list.orders.order_by("id").first()
        raise OrderRejected(leg.reject_code, leg.reject_reason, order=leg)
    return PlaceListResult(order_list, created=True)


def _leg_terms(side, quantity, order_type, price, stop_price, time_in_force, iceberg_quantity, trailing_delta):
    return (side, quantity, order_type, price, stop_price, time_in_force or "", iceberg_quantity, trailing_delta)


def _list_terms(symbol: str, contingency_type: str, legs: dict) -> tuple:
    return (
        symbol,
        contingency_type,
        sorted(
            _leg_terms(
                leg["side"],
                leg["quantity"],
                leg["type"],
                leg.get("price"),
                leg.get("stop_price"),
                leg.get("time_in_force"),
                leg.get("iceberg_quantity"),
                leg.get("trailing_delta"),
            )
            for leg in legs.values()
        ),
    )


def _replayed_list(account, list_client_order_id, terms: tuple) -> PlaceListResult | None:
    """The account's list already stored under this list_client_order_id (a retry, or two requests racing)."""
    existing = account.order_lists.filter(list_client_order_id=list_client_order_id).first()
    if existing is None:
        return None
    stored = (
        existing.symbol,
        existing.contingency_type,
        sorted(
            _leg_terms(
                o.side,
                o.quantity,
                o.order_type,
                o.price,
                o.stop_price,
                o.time_in_force,
                o.iceberg_quantity,
                o.trailing_delta,
            )
            for o in existing.orders.all()
        ),
    )
    if stored != terms:
        raise DuplicateOrderList(existing)
    return PlaceListResult(existing, created=False)


def cancel_order_list(
    *, account: Account, list_id: int, source: str = OrderEvent.Source.API, actor: str = ""
) -> OrderList:
    """Cancel an executing order list of the account (both legs), releasing its funds once; OrderList.DoesNotExist
    for another account's list, OrderNotWorking (409) when it is done."""
    order_list = account.order_lists.filter(pk=list_id).first()
    if order_list is None:
        raise OrderList.DoesNotExist(list_id)
    leg = order_list.orders.order_by("id").first()
    get_venue(leg.venue).cancel_list(order_list, source=source, actor=actor)
    order_list.refresh_from_db()
    return order_list


def fill_directly(*, account: Account, symbol: str, side: str, quantity: Decimal, reason: str) -> FillReport:
    """An instant fill at the price table's last price, without an order (paper trading off).

    The same market as a paper order: the same validation (filters, funds), the simulator's fee in the asset
    received, no slippage. The simulated account's balances move, each move recorded as an adjustment saying
    `reason`, so the balance check accounts for it. Raises OrderValidationError, or OrderRejected with -2010
    when the account cannot pay, having moved nothing. Call it inside the transaction that books the trade.
    RiskLimitExceeded when a risk limit refuses it: the caller records it with `record_refusal` once that
    transaction is undone (recorded inside, the record and any halt it causes would be undone with it).
    """
    symbol = (symbol or "").upper()
    price = check_order(symbol=symbol, side=side, order_type=OrderType.MARKET, quantity=quantity, on_venue=False)
    rule = get_symbol_rule(symbol)
    commission, commission_asset, deltas = fill_moves(
        side=side, quantity=quantity, price=price, base_asset=rule.base_asset, quote_asset=rule.quote_asset
    )
    label = f"{side} {format_decimal(quantity)} {symbol} MARKET (direct)"
    terms = risk.Terms(symbol, side, quantity, price, rule.base_asset, label)
    try:
        with transaction.atomic():
            # The same risk limits as a paper order, judged under the account's row lock.
            check = risk.lock(account.pk, terms)
            check.precheck()
            try:
                move_free_amounts(account.pk, deltas, risk=check)
            except InsufficientBalance:
                check.enforce_by_reading()
                raise
            BalanceAdjustment.objects.bulk_create(
                BalanceAdjustment(account=account, asset=asset, amount=delta, reason=reason[:255])
                for asset, delta in deltas.items()
            )
    except InsufficientBalance:
        raise OrderRejected(*INSUFFICIENT_BALANCE) from None
    return FillReport(
        price=price,
        quantity=quantity,
        commission=commission,
        commission_asset=commission_asset,
        market_price=price,
        fee_rate=settings.SIMULATOR_FEE_RATE,
    )


def cancel_order(
    *, account: Account, order_id: int, source: str = OrderEvent.Source.API, actor: str = ""
) -> PaperOrder:
    """Cancel a working order of the account on its venue; PaperOrder.DoesNotExist for another account's order,
    OrderNotWorking (HTTP 409) when it has already finished."""
    order = account.orders.filter(pk=order_id).first()
    if order is None:
        raise PaperOrder.DoesNotExist(order_id)
    return get_venue(order.venue).cancel(order, source=source, actor=actor)


def match_orders(*, symbol: str, market_price: Decimal | None = None) -> int:
    """Fill the simulated orders on `symbol` that the market price reaches; returns how many changed."""
    report = get_venue(Venue.SIMULATION).match(symbol=symbol, market_price=market_price)
    return sum(report.changed.values())


def refresh_prices(*, symbols: list[str] | None = None, match: bool = True) -> list[MarketPrice]:
    """Fetch and store the next prices; then (simulation) fill the resting orders they reach."""
    rows = prices.refresh_prices(symbols=symbols)
    if match:
        for row in rows:
            match_orders(symbol=row.symbol, market_price=row.price)
    return rows


def sync_orders(
    *, account: Account | None = None, source: str = OrderEvent.Source.SYNC, progress: SyncProgress | None = None
) -> SyncReport:
    """Bring local orders of the active venue up to date with it now: every account's, or only `account`'s.

    `progress(done, total, symbol, orders)` is called after each symbol (the sync_orders command prints it).
    """
    venue = get_venue()
    if account is not None:
        open_ids = account.orders.filter(venue=venue.name, status__in=PaperOrder.OPEN_STATUSES).values_list(
            "pk", flat=True
        )
        return venue.sync_orders(list(open_ids), source=source)
    report = venue.sync(source=source, progress=progress)
    record_successful_sync()
    return report


# --- risk limits and the kill switch ---------------------------------------------------------------------------


def record_refusal(account: Account, exc: RiskLimitExceeded, *, source: str, actor: str = "") -> None:
    """Record a risk limit's refusal (after the order's transaction was undone), and halt the account when its
    daily loss was breached and it halts on that."""
    RiskEvent.objects.create(
        account=account,
        kind=RiskEvent.Kind.REFUSED,
        limit=exc.limit,
        limit_value="" if exc.limit_value is None else str(exc.limit_value)[:255],
        value="" if exc.value is None else str(exc.value)[:255],
        detail=exc.message,
        order=exc.order[:255],
        source=source,
        actor=actor,
    )
    if exc.limit == "max_daily_loss" and risk.effective_limits(account).get("halt_on_daily_loss"):
        halt_account(account=account, reason=f"Daily loss limit breached: {exc.message}", actor="risk limits")


def mark_day_start() -> int:
    """Record every account's equity as its starting equity of the UTC day, once a day."""
    return risk.mark_day_start()


@dataclass
class HaltResult:
    account: Account
    cancelled: list[int]
    not_cancelled: dict[int, str]


def halt_account(*, account: Account, reason: str, actor: str = "", source: str = OrderEvent.Source.API) -> HaltResult:
    """The kill switch: refuse every new order from now on, then cancel every working order of the account (on
    the exchange in testnet mode). An order whose outcome is not known yet cannot be cancelled until sync settles
    it: it is reported as not cancelled, with why, as is a cancel the venue refused. Halting a halted account
    keeps its first reason and cancels what is still working.
    """
    reason = (reason or "").strip()
    if not reason:
        raise accounts.AccountInputError({"reason": ["Say why the account is halted."]})
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        already = locked.halted_at is not None
        if not already:
            locked.halted_at, locked.halted_reason, locked.halted_by = timezone.now(), reason[:255], actor[:150]
            locked.save(update_fields=["halted_at", "halted_reason", "halted_by"])
            RiskEvent.objects.create(
                account=locked, kind=RiskEvent.Kind.HALTED, detail=reason, source=source, actor=actor
            )
    # Every order placed from here on is refused under the account's lock, so the working set only shrinks.
    cancelled, not_cancelled = [], {}
    for order in locked.orders.filter(status__in=PaperOrder.OPEN_STATUSES).order_by("id"):
        if order.status == PaperOrder.Status.UNKNOWN:
            not_cancelled[order.pk] = "Its outcome is not known yet; sync settles it, then cancel it."
            continue
        try:
            get_venue(order.venue).cancel(order, source=source, actor=actor)
        except OrderNotWorking:
            continue  # it finished meanwhile
        except PaperTradingError as exc:
            not_cancelled[order.pk] = exc.message
        else:
            cancelled.append(order.pk)
    return HaltResult(locked, cancelled, not_cancelled)


def resume_account(*, account: Account, actor: str = "", source: str = OrderEvent.Source.API) -> Account:
    """Lift the kill switch: new orders are judged by the limits again."""
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if locked.halted_at is not None:
            was = locked.halted_reason
            locked.halted_at, locked.halted_reason, locked.halted_by = None, "", ""
            locked.save(update_fields=["halted_at", "halted_reason", "halted_by"])
            RiskEvent.objects.create(
                account=locked, kind=RiskEvent.Kind.RESUMED, detail=f"Was halted: {was}", source=source, actor=actor
            )
    return locked


def set_limits(*, account: Account, values: dict, user, may_loosen: bool, tighten_only: bool = False) -> Account:
    """Change the account's limits: each of `values` (a limit name to a value, or None for the default).

    Anyone who may act on the account may tighten a limit (a value at or inside the default); loosening it past
    the default needs `may_loosen` (staff with change permission on accounts). With `tighten_only` (an account's
    own API key: the agent the limits guard) no limit may become looser than it is now. AccountInputError, with a
    message per limit, and nothing changed otherwise.
    """
    defaults = risk.default_limits()
    current = risk.effective_limits(account)
    errors, changes = {}, {}
    for name, raw in values.items():
        if name not in risk.SETTINGS:
            errors[name] = [f"Not a limit; the limits are {', '.join(risk.SETTINGS)}."]
            continue
        try:
            value = risk.parse_limit(name, raw)
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        if not may_loosen and risk.loosens(name, value, defaults.get(name)):
            errors[name] = [f"Only staff may set it past the default ({risk.describe(defaults.get(name))})."]
            continue
        after = defaults.get(name) if value is None else value
        if tighten_only and (
            risk.loosens(name, after, current.get(name)) or (after is None and current.get(name) is not None)
        ):
            errors[name] = [
                f"An account's API key may only tighten its limits; it is {risk.describe(current.get(name))} now."
            ]
            continue
        changes[name] = value
    if errors:
        raise accounts.AccountInputError(errors)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        before = {name: getattr(locked, name) for name in changes}
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=list(changes))
        changed = {name: (before[name], value) for name, value in changes.items() if before[name] != value}
        if changed:
            RiskEvent.objects.create(
                account=locked,
                kind=RiskEvent.Kind.LIMITS,
                detail="; ".join(
                    f"{name}: {risk.describe(old)} -> {risk.describe(new)}" for name, (old, new) in changed.items()
                ),
                actor=getattr(user, "username", ""),
            )
    return locked


# --- accounts ----------------------------------------------------------------------------------------------------

# Checks that an order's run_id names a run of its account; the analysis app registers one (papertrading does not
# know runs). With none registered, no run_id is accepted.
RUN_OWNERSHIP_CHECKS: list = []


def run_belongs_to(account: Account, run_id: uuid.UUID) -> bool:
    return any(check(account, run_id) for check in RUN_OWNERSHIP_CHECKS)


def opening_prices(assets) -> dict[str, Decimal]:
    """Each asset's price in the valuation asset now (from the price table; a first price is fetched), where known."""
    valuation = settings.PORTFOLIO_VALUATION_ASSET
    found = {}
    for asset in assets:
        if asset == valuation:
            continue
        try:
            row = prices.ensure_price(f"{asset}{valuation}")
        except VenueUnavailable:
            row = None
        if row is not None:
            found[asset] = row.price
    return found


def open_account(
    *, owner, name: str, starting_balances=None, venue: str | None = None, is_default: bool = False
) -> Account:
    """Open an account with its starting balances (SIMULATOR_STARTING_BALANCES when none are given).

    On the testnet, the balances are an allocation of the one exchange account: they must fit in what it holds
    and the other accounts have not taken (AccountInputError otherwise). Raises AccountInputError for a blank or
    taken name or unreadable balances, having written nothing.
    """
    venue = venue or settings.PAPER_TRADING_MODE
    errors: dict[str, list[str]] = {}
    try:
        name = accounts.check_name(owner, name)
    except accounts.AccountInputError as error:
        errors |= error.errors
    try:
        balances = accounts.parse_starting_balances(starting_balances)
    except accounts.AccountInputError as error:
        errors |= error.errors
    if errors:  # every field's problem at once, as the order checks report theirs
        raise accounts.AccountInputError(errors)
    if venue == Venue.TESTNET:
        check_allocation(balances)
    return accounts.create_account(
        owner=owner,
        name=name,
        starting_balances=balances,
        venue=venue,
        prices=opening_prices(balances),
        is_default=is_default,
    )


def testnet_holdings(*, exclude: Account | None = None) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Per asset, free + locked: what the testnet account holds, and what the desk's accounts on it (but
    `exclude`) hold of that. VenueUnavailable when the exchange cannot be asked."""
    held = {b.asset: b.free + b.locked for b in get_venue(Venue.TESTNET).balances()}
    rows = (
        SimulatedBalance.objects.filter(account__venue=Venue.TESTNET, account__is_external=False)
        .exclude(account=exclude)
        .order_by()
        .values("asset")
        .annotate(free=MoneySum("free"), locked=MoneySum("locked"))
    )
    allocated = {row["asset"]: (row["free"] or Decimal("0")) + (row["locked"] or Decimal("0")) for row in rows}
    return held, allocated


def unallocated_balances(*, exclude: Account | None = None) -> dict[str, Decimal]:
    """What the testnet account holds that no desk account has been given (VenueUnavailable when it cannot be
    asked)."""
    held, allocated = testnet_holdings(exclude=exclude)
    return {asset: held.get(asset, Decimal("0")) - allocated.get(asset, Decimal("0")) for asset in held | allocated}


def check_allocation(balances: dict[str, Decimal], *, exclude: Account | None = None) -> None:
    free = unallocated_balances(exclude=exclude)
    problems = [
        f"{asset}: {amount} asked, {max(free.get(asset, Decimal('0')), Decimal('0'))} not allocated on the testnet."
        for asset, amount in sorted(balances.items())
        if amount > free.get(asset, Decimal("0"))
    ]
    if problems:
        raise accounts.AccountInputError({"starting_balances": problems})


def default_account_for(user) -> Account:
    """The user's own account, where their token and session act; opened on first use."""
    account = accounts.stored_default_account(user)
    if account is not None:
        return account
    starting = None
    if settings.PAPER_TRADING_MODE == Venue.TESTNET:
        # On the testnet the default balances are capped at what no other account has taken, so a user's first
        # request never fails for an allocation they did not ask for (VenueUnavailable when it cannot be asked).
        free = unallocated_balances()
        starting = {
            asset: str(min(Decimal(amount), max(free.get(asset, Decimal("0")), Decimal("0"))))
            for asset, amount in settings.SIMULATOR_STARTING_BALANCES.items()
        }
    try:
        with transaction.atomic():
            return open_account(
                owner=user, name=f"{user.get_username()}'s desk", starting_balances=starting, is_default=True
            )
    except (IntegrityError, accounts.AccountInputError):
        # Opened by a concurrent request, or the name is taken by an account the user made: fall back to it.
        account = accounts.stored_default_account(user) or user.paper_accounts.order_by("id").first()
        if account is None:
            raise  # none to fall back to (say, the testnet cannot fund it): never act as no account
        return account


def reset_account(*, account: Account, actor: str = "", source: str = OrderEvent.Source.API) -> Account:
    """Cancel the account's working orders, restore its starting balances, close the book and start a new P&L
    period. Orders, fills and the ledger of earlier periods stay readable.

    Refused (OrderNotWorking, 409) while an order's outcome is unknown: sync must settle it first; refused
    (AccountInputError) for the external account, whose orders were placed by someone else on the exchange.
    """
    if account.is_external:
        raise accounts.AccountInputError({"account": ["The external account holds others' orders; it has no reset."]})
    if account.orders.filter(status=PaperOrder.Status.UNKNOWN).exists():
        raise OrderNotWorking("An order's outcome is not known yet; sync the account, then reset it.")
    for order in account.orders.filter(status__in=PaperOrder.WORKING_STATUSES).order_by("id"):
        # An order that finished meanwhile is history of the closing period.
        with contextlib.suppress(OrderNotWorking):
            get_venue(order.venue).cancel(order, source=source, actor=actor)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account.pk)
        if account.orders.filter(status__in=PaperOrder.OPEN_STATUSES).exists():
            raise OrderNotWorking("An order was placed while resetting; try again.")
        starting = accounts.starting_balances_of(account)
        account.period += 1
        account.period_started_at = timezone.now()
        account.save(update_fields=["period", "period_started_at"])
        open_balances(account, starting)
        account_opened.send(sender=Account, account=account, prices=opening_prices(starting))
    return account
