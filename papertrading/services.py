"""Writes of the order lifecycle. Views, serializers, admin actions, commands and tasks call these."""

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count

from .errors import OrderNotWorking, OrderRejected, OrderValidationError, VenueUnavailable
from .health import record_successful_sync
from .models import MarketPrice, OrderEvent, OrderFill, PaperOrder, Venue
from .selectors import attach_history
from .signals import fills_recorded, order_status_changed
from .validation import validate_client_order_id, validate_order
from .venues import get_venue
from .venues.base import BalanceReport, ExecutionReport, SyncReport

logger = logging.getLogger(__name__)
Status = PaperOrder.Status


@dataclass
class PlaceResult:
    order: PaperOrder
    created: bool


def new_client_order_id() -> str:
    """34 characters from Binance's newClientOrderId charset."""
    return f"pt{uuid.uuid4().hex}"


def place_order(
    *,
    symbol: str,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    time_in_force: str = "",
    client_order_id: str | None = None,
    run_id: uuid.UUID | None = None,
    placed_by=None,
    source: str = OrderEvent.Source.API,
) -> PlaceResult:
    """Validate, write the order, then execute it on the configured venue, exactly once.

    A `client_order_id` that exists returns that order unchanged (created=False). Invalid input raises
    OrderValidationError before anything is written or reserved; a venue refusal leaves a REJECTED order and
    raises OrderRejected. On a remote venue the row is written as UNKNOWN before the request, so a crash or a
    timeout leaves an order that sync can resolve, never a second order.
    """
    validate_client_order_id(client_order_id)

    def replayed() -> PlaceResult | None:
        # A repeated client_order_id (a retry, or two requests racing) answers with the first order, even if the
        # market has moved or the venue is paused since. Looking only when something fails saves every new order
        # a query: the unique index refuses a duplicate inside the transaction, which undoes whatever it moved.
        existing = client_order_id and PaperOrder.objects.filter(client_order_id=client_order_id).first()
        return PlaceResult(existing, created=False) if existing else None

    symbol = (symbol or "").upper()
    venue = get_venue()
    try:
        # The testnet refreshes the symbol's filters from the exchange (cached) and refuses early when unusable.
        rule = venue.symbol_rule(symbol)
        market_price = venue.market_price(symbol) if rule else None
        validate_order(
            rule=rule,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            stop_price=stop_price,
            time_in_force=time_in_force or "",
            market_price=market_price,
        )
    except (OrderValidationError, VenueUnavailable):
        if result := replayed():
            return result
        raise
    fields = dict(
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        stop_price=stop_price,
        time_in_force=time_in_force or "",
        venue=venue.name,
        client_order_id=client_order_id or new_client_order_id(),
        run_id=run_id,
        placed_by=placed_by if getattr(placed_by, "pk", None) else None,
    )
    actor = getattr(placed_by, "username", "")
    try:
        if venue.is_remote:
            order = _place_remote(venue, fields, market_price, source=source, actor=actor)
        else:
            with transaction.atomic():
                # The simulator decides before the row exists, so the order is inserted once, in its final state.
                order = PaperOrder(status=Status.PENDING, **fields)
                report = venue.place(order, market_price=market_price)
                apply_report(order, report, source=source, actor=actor, from_status="")
    except IntegrityError:
        if result := replayed():
            return result
        raise
    if order.status == Status.REJECTED:
        raise OrderRejected(order.reject_code or -2010, order.reject_reason, order=order)
    return PlaceResult(order, created=True)


def _place_remote(venue, fields: dict, market_price, *, source: str, actor: str) -> PaperOrder:
    with transaction.atomic():
        order = PaperOrder.objects.create(status=Status.UNKNOWN, **fields)
        record_event(order, "", Status.UNKNOWN, source=source, actor=actor, detail=f"Sending to {venue.name}.")
    # The network call runs outside any transaction: the row above is committed first, so whatever happens
    # next (timeout, crash), the order exists locally with its client_order_id and sync can find it.
    report = venue.place(order, market_price=market_price)
    with transaction.atomic():
        order = PaperOrder.objects.select_for_update().get(pk=order.pk)
        if order.status == Status.UNKNOWN:
            apply_report(order, report, source=source, actor=actor)
    return order


def apply_report(
    order: PaperOrder,
    report: ExecutionReport,
    *,
    source: str,
    actor: str = "",
    from_status: str | None = None,
) -> PaperOrder:
    """Bring a locked order row to the venue's view: status, amounts, new fills and one event per change.

    Call inside a transaction holding the order's row. Fills with a trade id already stored are skipped, so
    applying the same report twice changes nothing (sync is idempotent).
    """
    previous = order.status if from_status is None else from_status
    known_trades = set()
    if order.pk and any(fill.trade_id for fill in report.fills):
        known_trades = set(order.fills.exclude(trade_id="").values_list("trade_id", flat=True))
    order.status = report.status
    if report.executed_quantity is not None:
        order.executed_quantity = max(order.executed_quantity, report.executed_quantity)
        order.cumulative_quote_quantity = max(order.cumulative_quote_quantity, report.cumulative_quote_quantity)
    if report.exchange_order_id is not None:
        order.binance_order_id = report.exchange_order_id
    if report.reject_reason:
        order.reject_code, order.reject_reason = report.reject_code, report.reject_reason[:255]
    if order.status not in PaperOrder.WORKING_STATUSES:
        order.locked_amount = Decimal("0")
    order.save()
    new_fills = [
        OrderFill(order=order, **vars(fill))
        for fill in report.fills
        if not fill.trade_id or fill.trade_id not in known_trades
    ]
    OrderFill.objects.bulk_create(new_fills)
    events = []
    if previous != order.status:
        detail = report.detail or report.reject_reason
        events.append(record_event(order, previous, order.status, source=source, actor=actor, detail=detail))
        order_status_changed.send(sender=PaperOrder, order=order, from_status=previous, to_status=order.status)
    if from_status == "":
        # A new order's whole history is what was just written: hand it to the caller without reading it back.
        attach_history(order, fills=new_fills, events=events)
    if new_fills:
        fills_recorded.send(sender=PaperOrder, order=order, fills=new_fills)
    return order


def record_event(order: PaperOrder, from_status: str, to_status: str, *, source: str, actor: str = "", detail=""):
    return OrderEvent.objects.create(
        order=order, from_status=from_status, to_status=to_status, source=source, actor=actor, detail=detail
    )


def cancel_order(*, order_id: int, source: str = OrderEvent.Source.API, actor: str = "") -> PaperOrder:
    """Cancel a working order; OrderNotWorking (HTTP 409) when it has already finished."""
    order = PaperOrder.objects.filter(pk=order_id).first()
    if order is None:
        raise PaperOrder.DoesNotExist(order_id)
    venue = get_venue(order.venue)
    if venue.is_remote:
        if not order.is_working:
            raise OrderNotWorking(f"Order {order.pk} is {order.status}; only working orders can be cancelled.")
        report = venue.cancel(order)
        with transaction.atomic():
            order = PaperOrder.objects.select_for_update().get(pk=order.pk)
            order = apply_report(order, report, source=source, actor=actor)
        if order.status != Status.CANCELLED:
            # The exchange finished it first (e.g. filled): its real state is recorded above, the cancel failed.
            raise OrderNotWorking(f"Order {order.pk} is {order.status} on the exchange; it could not be cancelled.")
        return order
    with transaction.atomic():
        # The row lock makes a cancel and a fill of the same order take turns; the loser sees the final state.
        order = PaperOrder.objects.select_for_update().get(pk=order_id)
        if not order.is_working:
            raise OrderNotWorking(f"Order {order.pk} is {order.status}; only working orders can be cancelled.")
        return apply_report(order, venue.cancel(order), source=source, actor=actor)


def match_orders(*, symbol: str, market_price: Decimal | None = None) -> int:
    """Fill the simulated orders on `symbol` that the market price reaches; returns how many changed.

    Two indexed range queries find the candidates (see PaperOrder.Meta); each candidate is then re-read under
    a row lock, so a cancel that got there first wins and the order is skipped.
    """
    from .venues.simulator import SimulatorVenue

    if market_price is None:
        row = MarketPrice.objects.filter(symbol=symbol).first()
        if row is None:
            return 0
        market_price = row.price
    venue = SimulatorVenue()
    changed = 0
    for order_id in triggered_order_ids(symbol=symbol, market_price=market_price):
        with transaction.atomic():
            order = (
                PaperOrder.objects.select_for_update()
                .filter(pk=order_id, status__in=PaperOrder.WORKING_STATUSES)
                .first()
            )
            if order is None:
                continue
            apply_report(order, venue.trigger(order, market_price=market_price), source=OrderEvent.Source.MATCHER)
            changed += 1
    return changed


def triggered_order_ids(*, symbol: str, market_price: Decimal) -> list[int]:
    """Working simulated orders the price reaches, oldest first: one range scan per trigger direction."""
    working = PaperOrder.objects.filter(symbol=symbol, venue=Venue.SIMULATION, status__in=PaperOrder.WORKING_STATUSES)
    below = working.filter(trigger_direction=PaperOrder.Trigger.AT_OR_BELOW, trigger_price__gte=market_price)
    above = working.filter(trigger_direction=PaperOrder.Trigger.AT_OR_ABOVE, trigger_price__lte=market_price)
    rows = list(below.values_list("created_at", "pk")) + list(above.values_list("created_at", "pk"))
    return [pk for _, pk in sorted(rows)]


def sync_orders(*, source: str = OrderEvent.Source.SYNC, progress=None) -> SyncReport:
    """Bring local orders of the active venue up to date with it now.

    `progress(done, total, symbol, orders)` is called after each symbol (the sync_orders command prints it).
    """
    venue = get_venue()
    if venue.is_remote:
        report = venue.sync(source=source, progress=progress)
        record_successful_sync()
        return report
    report = SyncReport(venue=venue.name)
    symbols = dict(
        PaperOrder.objects.filter(venue=Venue.SIMULATION, status__in=PaperOrder.WORKING_STATUSES)
        # Without order_by() the model's default ordering (created_at, id) joins the GROUP BY and repeats symbols.
        .order_by("symbol")
        .values("symbol")
        .annotate(orders=Count("id"))
        .values_list("symbol", "orders")
    )
    for done, symbol in enumerate(sorted(symbols), start=1):
        report.checked += 1
        filled = match_orders(symbol=symbol)
        if filled:
            report.count("filled", filled)
        if progress is not None:
            progress(done, len(symbols), symbol, symbols[symbol])
    return report


def get_account_balances() -> tuple[str, list[BalanceReport]]:
    venue = get_venue()
    return venue.name, venue.balances()
