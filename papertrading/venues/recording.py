"""Recording what a venue reported on an order: status, amounts, new fills and one event per change.

Both venues write through here, so an order's row, its fills, its events and the signals that higher layers
follow (the portfolio ledger, an agent's run) always move together, in the caller's transaction.
"""

from decimal import Decimal

from ..models import OrderEvent, OrderFill, OrderList, PaperOrder
from ..signals import fills_recorded, order_changed, order_status_changed
from .base import ExecutionReport, FillReport

ZERO = Decimal("0")


def apply_report(
    order: PaperOrder,
    report: ExecutionReport,
    *,
    source: str,
    actor: str = "",
    from_status: str | None = None,
) -> PaperOrder:
    """Bring a locked order row to the venue's view: status, amounts, new fills and one event per change.

    Call inside a transaction holding the order's row (or with a new, unsaved order: it is inserted). Applying
    the same report twice changes nothing: a fill whose trade id is stored is skipped, and fills never add up
    to more than the executed quantity, so a fill reported once without a trade id (a FULL answer) and again
    with one (myTrades) is counted once.
    """
    previous = order.status if from_status is None else from_status
    stored_quantity, known_trades = ZERO, set()
    # Stored fills never exceed the executed quantity, so an order that executed nothing yet has none to read.
    if order.pk and report.fills and order.executed_quantity > 0:
        for trade_id, quantity in order.fills.values_list("trade_id", "quantity"):
            stored_quantity += quantity
            known_trades.add(trade_id)
    order.status = report.status
    if report.executed_quantity is not None:
        order.executed_quantity = max(order.executed_quantity, report.executed_quantity)
        order.cumulative_quote_quantity = max(order.cumulative_quote_quantity, report.cumulative_quote_quantity)
    if report.exchange_order_id is not None:
        order.binance_order_id = report.exchange_order_id
    if report.reject_reason:
        order.reject_code, order.reject_reason = report.reject_code, report.reject_reason[:255]
    if order.status not in PaperOrder.WORKING_STATUSES:
        order.locked_amount = ZERO
    order.save()
    new_fills = [
        OrderFill(order=order, **vars(fill))
        for fill in _unrecorded(report.fills, known_trades, room=order.executed_quantity - stored_quantity)
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
    if events or new_fills:
        order_changed.send(
            sender=PaperOrder, order=order, from_status=previous, to_status=order.status, fills=new_fills
        )
    return order


def _unrecorded(fills: list[FillReport], known_trades: set[str], *, room: Decimal) -> list[FillReport]:
    """The fills not stored yet, up to the quantity the order executed beyond its stored fills."""
    chosen = []
    for fill in fills:
        if fill.trade_id and fill.trade_id in known_trades:
            continue
        if fill.quantity > room:
            break
        room -= fill.quantity
        chosen.append(fill)
    return chosen


def record_event(order: PaperOrder, from_status: str, to_status: str, *, source: str, actor: str = "", detail=""):
    return OrderEvent.objects.create(
        order=order, from_status=from_status, to_status=to_status, source=source, actor=actor, detail=detail
    )


def record_note(order: PaperOrder, detail: str) -> OrderEvent:
    """An event that changes nothing (from and to the current status), attributed like the order's last event."""
    last = order.events.order_by("-id").first()
    return record_event(
        order,
        order.status,
        order.status,
        source=last.source if last else OrderEvent.Source.API,
        actor=last.actor if last else "",
        detail=detail,
    )


def attach_history(order: PaperOrder, *, fills: list[OrderFill], events: list[OrderEvent]) -> None:
    """Store known fills and events as if prefetched, the way prefetch_related_objects does."""
    cache = order.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, rows in (("fills", fills), ("events", events)):
        queryset = getattr(order, name).all()
        queryset._result_cache, queryset._prefetch_done = list(rows), True
        cache[name] = queryset


def lock_order_list(list_id: int) -> tuple[OrderList, list[PaperOrder]]:
    """Row-lock a list, then its legs in id order: every writer of a list, in either venue, locks in this order (no
    deadlock)."""
    order_list = OrderList.objects.select_for_update().get(pk=list_id)
    legs = list(PaperOrder.objects.select_for_update().filter(order_list_id=list_id).order_by("id"))
    return order_list, legs


def finish_list(order_list: OrderList, *, refused: bool = False) -> None:
    """The list is done: none of its legs works any more (REJECT when the venue refused every leg)."""
    order_list.list_status_type = OrderList.ListStatusType.ALL_DONE
    order_list.list_order_status = OrderList.ListOrderStatus.REJECT if refused else OrderList.ListOrderStatus.ALL_DONE
    order_list.save(update_fields=["list_status_type", "list_order_status", "updated_at"])
