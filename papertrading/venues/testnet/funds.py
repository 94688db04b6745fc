"""What a testnet order does to its desk account: a reservation before it is sent, balance moves as it fills.

The one exchange account backs every desk account, each holding its own share of it. An order reserves from its
account's free balance before it is sent (quote for a BUY, base for a SELL); each fill the exchange reports
releases the part of the reservation it used and moves the assets at the exchange's price and commission; an
order that ends releases the rest. Every move happens in the transaction that records the exchange's report, so
the balances, the order and its fills never disagree.

Orders found on the exchange that no desk account placed (the external account) reserve and move nothing: they
were paid from the part of the exchange account that no desk account holds.
"""

import logging
from collections import defaultdict
from decimal import Decimal

from ...balances import lock_balances, save_balances
from ...fees import fill_deltas
from ...models import BalanceAdjustment, OrderFill, PaperOrder, Side, SymbolRule
from ...money import ZERO, to_money
from ...symbols import get_symbol_rule
from ...validation import PRICED_TYPES, STOP_TYPES, trailing_trigger
from ..base import ExecutionReport
from ..recording import apply_report, record_note

logger = logging.getLogger(__name__)

# A MARKET BUY reserves its quantity at the last price plus this much: the book may fill it a little higher.
MARKET_BUY_BUFFER = Decimal("0.01")
SHORTFALL_REASON = "Order #{pk}: the exchange's fill cost more than the account held; covered from the testnet"


def reservation(order: PaperOrder, rule: SymbolRule, market_price: Decimal | None) -> tuple[str, Decimal]:
    """What a testnet order holds from its account while it works: the base quantity for a SELL; for a BUY, the
    quantity at its limit price, at its stop price (STOP_LOSS, TAKE_PROFIT), or at the market price plus
    MARKET_BUY_BUFFER (MARKET)."""
    if order.side == Side.SELL:
        return rule.base_asset, order.quantity
    if order.order_type in PRICED_TYPES:
        reference = order.price
    elif order.order_type in STOP_TYPES and order.trailing_delta:
        # A trailing BUY stop pays about where it triggers: the delta above its stop price, or above the market.
        reference = trailing_trigger(
            side=order.side,
            trailing_delta=order.trailing_delta,
            best_price=order.stop_price or market_price,
            tick_size=rule.tick_size,
        )
    elif order.order_type in STOP_TYPES:
        reference = order.stop_price
    else:
        reference = market_price * (1 + MARKET_BUY_BUFFER)
    return rule.quote_asset, to_money(order.quantity * reference)


def apply_with_funds(
    order: PaperOrder, report: ExecutionReport, *, source: str, actor: str = "", from_status: str | None = None
) -> PaperOrder:
    """Record the exchange's report on a locked order row (recording.apply_report) and move its account's
    balances accordingly, in the caller's transaction: the fills recorded now release what they used of the
    reservation and move base, quote and commission; an order that ended releases what it still held."""
    if order.is_external:
        return apply_report(order, report, source=source, actor=actor, from_status=from_status)
    held, remaining = order.locked_amount, order.quantity - order.executed_quantity
    # Only an answer with fills can add any: otherwise no fill needs reading before or after.
    known = set(order.fills.values_list("pk", flat=True)) if report.fills and order.pk else set()
    order = apply_report(order, report, source=source, actor=actor, from_status=from_status)
    new_fills = list(OrderFill.objects.filter(order=order).exclude(pk__in=known)) if report.fills else []
    still_held = ZERO
    if order.status in PaperOrder.OPEN_STATUSES and remaining > 0:
        still_held = min(held, to_money(held * (order.quantity - order.executed_quantity) / remaining))
    if order.locked_amount != still_held:
        # apply_report clears the amount of an order that is not working; an UNKNOWN one still holds it.
        order.locked_amount = still_held
        order.save(update_fields=["locked_amount", "updated_at"])
    move_balances(order, release=held - still_held, fills=new_fills)
    return order


def move_balances(order: PaperOrder, *, release: Decimal, fills: list[OrderFill]) -> None:
    """Release `release` of the order's locked asset into free, then apply each fill: a BUY receives the base and
    pays the quote, a SELL the other way round, and the commission leaves its own asset."""
    deltas: dict[str, Decimal] = defaultdict(lambda: ZERO)
    if fills:
        rule = get_symbol_rule(order.symbol)
        for fill in fills:
            moved = fill_deltas(
                side=order.side,
                quantity=fill.quantity,
                price=fill.price,
                commission=fill.commission,
                commission_asset=fill.commission_asset,
                base_asset=rule.base_asset,
                quote_asset=rule.quote_asset,
            )
            for asset, delta in moved.items():
                deltas[asset] += delta
    if not release and not any(deltas.values()):
        return
    assets = {asset for asset, delta in deltas.items() if delta} | ({order.locked_asset} if release else set())
    balances = lock_balances(order.account_id, *sorted(assets))
    if release:
        balance = balances[order.locked_asset]
        # Never below zero: a row that holds less than its orders say is drift, which check_balances reports.
        amount = min(release, balance.locked)
        balance.locked -= amount
        balance.free += amount
    for asset, delta in deltas.items():
        balances[asset].free += delta
    for balance in balances.values():
        if balance.free < 0:
            cover_shortfall(order, balance.asset, -balance.free)
            balance.free = ZERO
    save_balances(balances)


def cover_shortfall(order: PaperOrder, asset: str, amount: Decimal) -> None:
    """The exchange executed more than the account could pay (a MARKET BUY beyond its buffer, a commission in an
    asset the account lacks): the exchange account paid it, so the account is credited with it, in the open."""
    reason = SHORTFALL_REASON.format(pk=order.pk)
    logger.warning("%s (%s %s)", reason, amount, asset)
    BalanceAdjustment.objects.create(account_id=order.account_id, asset=asset, amount=amount, reason=reason)
    record_note(order, f"{reason}: {amount} {asset} credited to the account.")
