"""Reconciliation for operators: a local order beside the exchange's copy, and the admin's fixes for a selection.

Reads of the exchange happen on demand (the differences view); the fixes reuse the order services and the testnet
venue's own sync rules, so an admin action can never decide differently from the scheduled sync:

- sync_selected_orders: each chosen open testnet order is queried once and applied under its row lock.
- resolve_unknown_orders: the same, for UNKNOWN orders only; -2013 rejects one only after no send can be in flight.
- cancel_selected_orders: cancel_order(source="admin") per order; a 409 or 503 becomes that order's message.

Every change is recorded as an order event with source "admin" and the operator's name as actor.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from .errors import OrderNotWorking, OrderRejected, PaperTradingError, VenueUnavailable
from .models import OrderEvent, PaperOrder, Venue
from .money import to_money
from .services import cancel_order
from .sync_status import sync_stale_after
from .venues import get_venue
from .venues.base import ExecutionReport, SyncReport
from .venues.testnet import RESET_REASON

Status = PaperOrder.Status
ZERO = Decimal("0")
# One admin action queries the exchange once per order (weight 4, +5 for trades): cap what one click may spend.
MAX_ORDERS_PER_ACTION = 100


def stale_orders_q(now=None) -> Q:
    """Working or unknown testnet orders never synced, or not for longer than sync_stale_after()."""
    cutoff = (now or timezone.now()) - sync_stale_after()
    return Q(venue=Venue.TESTNET, status__in=PaperOrder.OPEN_STATUSES) & (
        Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=cutoff)
    )


def testnet_reset_q() -> Q:
    """Orders the sync closed because the testnet was wiped."""
    return Q(venue=Venue.TESTNET, reject_reason=RESET_REASON)


def _check_selection(order_ids: list[int]) -> None:
    if len(order_ids) > MAX_ORDERS_PER_ACTION:
        raise PaperTradingError(
            f"Select at most {MAX_ORDERS_PER_ACTION} orders at a time ({len(order_ids)} selected): "
            "each one costs an exchange query."
        )


# --- differences -----------------------------------------------------------------------------------------------
def _show(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value else "0"
    return str(value)


def _row(label: str, local, other, *, differs: bool | None = None) -> dict:
    if differs is None:
        differs = local != other
    return {"label": label, "local": _show(local), "other": _show(other), "differs": differs}


def _fill_totals(fills) -> tuple[int, Decimal, Decimal]:
    fills = list(fills)
    quantity = sum((f.quantity for f in fills), ZERO)
    quote = sum((to_money(f.quantity * f.price) for f in fills), ZERO)
    return len(fills), quantity, quote


def _locked(asset: str, amount: Decimal | None) -> str:
    return f"{_show(amount)} {asset}" if amount else "0"


def order_differences(order: PaperOrder, *, skip_because: str = "") -> dict:
    """The order's local fields beside its venue's own copy, fetched now (for the simulator, what its own fills
    and terms imply).

    Returns ``{"order", "compared_with", "rows": [{"label", "local", "other", "differs"}], "differs", "found",
    "error", "notes", "request_weight"}``. A venue that cannot be asked (no credentials, down, rate limit) gives
    ``error`` and the local side only; it never raises.
    """
    venue = get_venue(order.venue)
    result = {
        "order": order,
        "compared_with": venue.label,
        "rows": [],
        "differs": False,
        "found": False,
        "error": "",
        "notes": [],
        "request_weight": 0,
    }
    fills, filled, filled_quote = _fill_totals(order.fills.all())
    local = {
        "Status": order.status,
        "Exchange order id": order.binance_order_id,
        "Executed quantity": order.executed_quantity,
        "Cumulative quote quantity": order.cumulative_quote_quantity,
        "Fills": fills,
        "Fills quantity": filled,
        "Fills quote amount": filled_quote,
    }
    report: ExecutionReport | None = None
    if skip_because:
        result["error"] = f"Not asked: {skip_because}"
    else:
        start = venue.weight_used
        try:
            report = venue.query(order)
        except VenueUnavailable as exc:
            result["error"] = exc.message
        finally:
            result["request_weight"] = venue.weight_used - start
    if result["error"]:
        result["rows"] = [_row(label, value, None, differs=False) for label, value in local.items()]
        return result
    if report is None:
        # -2013: right for an order that was never placed; a difference for anything the desk thinks is live.
        result["notes"].append("The exchange has no such order (-2013).")
        expected_absent = order.status == Status.REJECTED or order.reject_reason == RESET_REASON
        result["rows"] = [_row(label, value, None, differs=not expected_absent) for label, value in local.items()]
        result["rows"][0]["other"] = "no such order"
        result["differs"] = not expected_absent
        return result
    result["found"] = True
    if report.detail:
        result["notes"].append(report.detail)
    other_fills, other_filled, other_quote = _fill_totals(report.fills)
    status = f"{report.status} ({report.venue_status})" if report.venue_status else report.status
    rows = [
        _row("Status", order.status, report.status),
        _row("Exchange order id", order.binance_order_id, report.exchange_order_id),
        _row("Executed quantity", order.executed_quantity, report.executed_quantity),
        _row("Cumulative quote quantity", order.cumulative_quote_quantity, report.cumulative_quote_quantity),
        _row("Fills", fills, other_fills),
        _row("Fills quantity", filled, other_filled),
        _row("Fills quote amount", filled_quote, other_quote),
    ]
    rows[0]["other"] = status
    if report.locked_amount is not None:
        rows.append(
            _row(
                "Locked",
                _locked(order.locked_asset, order.locked_amount),
                _locked(report.locked_asset, report.locked_amount),
            )
        )
    result["rows"] = rows
    result["differs"] = any(row["differs"] for row in rows)
    return result


def orders_differences(orders: Iterable[PaperOrder]) -> list[dict]:
    """order_differences for each order; once a venue is unavailable, its other orders are not asked again."""
    results, unavailable = [], {}
    for order in orders:
        result = order_differences(order, skip_because=unavailable.get(order.venue, ""))
        if result["error"] and order.venue not in unavailable:
            unavailable[order.venue] = result["error"]
        results.append(result)
    return results


# --- fixes ------------------------------------------------------------------------------------------------------
@dataclass
class SelectionResult:
    """What an admin sync/resolve did: the venue's report, plus the chosen orders it left alone and why."""

    report: SyncReport
    skipped: dict[str, list[int]] = field(default_factory=dict)

    def summary(self, verb: str) -> str:
        return f"{verb}: {self.report.summary()}. Request weight {self.report.request_weight}."


def _split(order_ids: Iterable[int], statuses: tuple[str, ...], wrong_status: str) -> tuple[list[int], dict]:
    order_ids = sorted({int(pk) for pk in order_ids})
    _check_selection(order_ids)
    found = PaperOrder.objects.filter(pk__in=order_ids).values_list("pk", "venue", "status")
    rows = {pk: (venue, status) for pk, venue, status in found}
    skipped: dict[str, list[int]] = {}
    chosen = []
    for pk in order_ids:
        if pk not in rows:
            skipped.setdefault("no longer exists", []).append(pk)
        elif rows[pk][0] != Venue.TESTNET:
            skipped.setdefault("simulated: no exchange copy to sync with", []).append(pk)
        elif rows[pk][1] not in statuses:
            skipped.setdefault(wrong_status, []).append(pk)
        else:
            chosen.append(pk)
    return chosen, skipped


def sync_selected_orders(order_ids: Iterable[int], actor: str = "") -> SelectionResult:
    """Query each chosen open testnet order once and apply what the exchange says (source "admin").

    Raises VenueUnavailable when the testnet cannot be asked (no credentials, unreachable, rate-limited).
    """
    chosen, skipped = _split(order_ids, PaperOrder.OPEN_STATUSES, "already final: nothing to sync")
    if not chosen:
        return SelectionResult(SyncReport(venue=Venue.TESTNET), skipped)
    report = get_venue(Venue.TESTNET).sync_orders(chosen, source=OrderEvent.Source.ADMIN, actor=actor)
    return SelectionResult(report, skipped)


def resolve_unknown_orders(order_ids: Iterable[int], actor: str = "") -> SelectionResult:
    """Ask the exchange about each chosen UNKNOWN testnet order by its client order id, with the sync's rule:
    found → its state and fills; -2013 → REJECTED only once no send can still be in flight, else left UNKNOWN."""
    chosen, skipped = _split(order_ids, (Status.UNKNOWN,), "outcome already known")
    if not chosen:
        return SelectionResult(SyncReport(venue=Venue.TESTNET), skipped)
    report = get_venue(Venue.TESTNET).sync_orders(
        chosen, source=OrderEvent.Source.ADMIN, actor=actor, statuses=(Status.UNKNOWN,)
    )
    return SelectionResult(report, skipped)


@dataclass
class OrderOutcome:
    order_id: int
    ok: bool
    message: str


def cancel_selected_orders(order_ids: Iterable[int], actor: str = "") -> list[OrderOutcome]:
    """Cancel each chosen order on its venue; every order gets an outcome, none raises.

    A finished order (409), an exchange refusal or an unavailable venue (503) is that order's error message. Once a
    venue is unavailable its remaining orders are not attempted.
    """
    order_ids = sorted({int(pk) for pk in order_ids})
    _check_selection(order_ids)
    orders = {order.pk: order for order in PaperOrder.objects.filter(pk__in=order_ids).select_related("account")}
    unavailable: dict[str, str] = {}
    outcomes = []
    for pk in order_ids:
        venue = orders[pk].venue if pk in orders else None
        if venue is None:
            outcomes.append(OrderOutcome(pk, False, f"Order {pk} no longer exists."))
            continue
        if venue in unavailable:
            outcomes.append(OrderOutcome(pk, False, f"Order {pk} not attempted: {unavailable[venue]}"))
            continue
        try:
            order = cancel_order(account=orders[pk].account, order_id=pk, source=OrderEvent.Source.ADMIN, actor=actor)
        except OrderNotWorking as exc:
            outcomes.append(OrderOutcome(pk, False, exc.message))
        except OrderRejected as exc:
            outcomes.append(
                OrderOutcome(pk, False, f"Order {pk}: the exchange refused the cancel ({exc.code}: {exc}).")
            )
        except VenueUnavailable as exc:
            unavailable[venue] = exc.message
            outcomes.append(OrderOutcome(pk, False, f"Order {pk} not cancelled: {exc.message}"))
        except PaperOrder.DoesNotExist:
            outcomes.append(OrderOutcome(pk, False, f"Order {pk} no longer exists."))
        else:
            outcomes.append(OrderOutcome(pk, True, f"Order {pk} cancelled ({order.symbol} {order.side})."))
    return outcomes
