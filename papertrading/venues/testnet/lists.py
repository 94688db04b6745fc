"""Order lists (OCO, OTO, OTOCO) on the testnet: what their legs hold from the account, and how the exchange's
reports on the legs move the list along. Nothing here talks to the network.

The funds are held as the simulator holds them: an OCO's two legs hold once, what the needier leg needs (that leg
holds it, the other nothing); the working order of an OTO / OTOCO holds its own; a pending leg holds nothing
while it waits (Binance's PENDING_NEW), and starts holding its own when the exchange shows it at work (NEW, or
already filled) — an OTOCO's pending pair once, as an OCO. A leg that executes takes over what its pair holds, so
whichever leg the market reaches pays from the list's reservation, never from the free balance.

Every change is applied under the list's row lock, then its legs' in id order (the simulator's order, so no two
writers of a list deadlock), only to legs still working or unknown, the working order's report first, so what it
received is there when its pending legs start holding funds; a pending leg reported at work while its working
order's fill is not recorded yet is left for sync, which reads every leg of the list.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from ...balances import lock_balances, save_balances
from ...models import OrderList, PaperOrder, SymbolRule
from ...money import ZERO
from ...symbols import get_symbol_rule
from ..base import ExecutionReport
from ..recording import finish_list, lock_order_list, record_event, record_note
from .funds import apply_with_funds, reservation

Status = PaperOrder.Status
Leg = PaperOrder.ListLeg
PAIR_LEGS = (Leg.ABOVE, Leg.BELOW)
PENDING_NEW = "Binance PENDING_NEW"
# Statuses of a pending leg the exchange has put to work (its working order filled).
AT_WORK = (Status.PENDING, Status.PARTIALLY_FILLED, Status.FILLED)


def is_pending_new(report: ExecutionReport) -> bool:
    """The exchange shows the leg waiting for its list's working order (PENDING_NEW)."""
    return report.venue_status == PENDING_NEW


def goes_to_work(report: ExecutionReport) -> bool:
    """A waiting leg the exchange now shows working or filled: its working order has filled."""
    return report.status in AT_WORK and not is_pending_new(report)


def assign_holdings(legs: list[PaperOrder], rule: SymbolRule, market_price: Decimal | None) -> PaperOrder | None:
    """Set what each leg not waiting holds (locked_asset, locked_amount): an OCO pair once, by its needier leg;
    any other leg its own. Returns the leg holding the most, whose reservation the caller makes (None: none holds)."""
    holders = []
    pair = [leg for leg in legs if leg.list_leg in PAIR_LEGS and not leg.waits_for_list]
    if pair:
        needs = [reservation(leg, rule, market_price) for leg in pair]
        asset, amount = max(needs, key=lambda need: need[1])
        holder = pair[[need[1] for need in needs].index(amount)]
        for leg in pair:
            leg.locked_asset, leg.locked_amount = asset, amount if leg is holder else ZERO
        holders.append(holder)
    for leg in legs:
        if leg.list_leg in PAIR_LEGS or leg.waits_for_list:
            continue
        leg.locked_asset, leg.locked_amount = reservation(leg, rule, market_price)
        holders.append(leg)
    return max(holders, key=lambda leg: leg.locked_amount, default=None)


@dataclass
class ListOutcome:
    order_list: OrderList
    legs: list[PaperOrder]
    # Each leg that changed, with the status it had before.
    changed: dict[int, str] = field(default_factory=dict)

    def leg(self, pk: int) -> PaperOrder:
        return next(leg for leg in self.legs if leg.pk == pk)


def apply_list_reports(
    list_id: int, reports: dict[int, ExecutionReport], *, source: str, actor: str = ""
) -> ListOutcome:
    """Record the exchange's reports on legs of one list (by leg pk) with the balance moves they imply, in one
    transaction; then the list is ALL_DONE once no leg is working or unknown (REJECT when every leg was refused)."""
    with transaction.atomic():
        order_list, legs = lock_order_list(list_id)
        outcome = ListOutcome(order_list, legs)
        by_pk = {leg.pk: leg for leg in legs}
        # The working order first: a pending leg that goes to work holds what the working order brought in.
        for pk in sorted(reports, key=lambda pk: (by_pk[pk].list_leg != Leg.WORKING, pk) if pk in by_pk else (0, pk)):
            leg, report = by_pk.get(pk), reports[pk]
            if leg is None or leg.status not in PaperOrder.OPEN_STATUSES:
                continue  # a cancel, a sync or the placing request finished it first: theirs stands
            if leg.is_working and report.status == Status.UNKNOWN:
                continue
            if leg.waits_for_list and goes_to_work(report) and _working_still_open(legs):
                # Heard of before its working order's fill (which pays for it): left for sync, which reads every
                # leg of the list and applies the working order first.
                continue
            before = (leg.status, leg.executed_quantity, leg.binance_order_id, leg.waits_for_list, leg.fills.count())
            if leg.waits_for_list and goes_to_work(report):
                _go_to_work(legs, source=source, actor=actor)
            if leg.list_leg in PAIR_LEGS and _executes(leg, report):
                _take_over_pair(leg, legs)
            apply_with_funds(leg, report, source=source, actor=actor)
            after = (leg.status, leg.executed_quantity, leg.binance_order_id, leg.waits_for_list, leg.fills.count())
            if after != before:
                outcome.changed[pk] = before[0]
        finish_if_done(order_list, legs)
    return outcome


def finish_if_done(order_list: OrderList, legs: list[PaperOrder]) -> None:
    if not order_list.is_executing or any(leg.status in PaperOrder.OPEN_STATUSES for leg in legs):
        return
    finish_list(order_list, refused=all(leg.status == Status.REJECTED for leg in legs))


def _working_still_open(legs: list[PaperOrder]) -> bool:
    return any(leg.list_leg == Leg.WORKING and leg.status in PaperOrder.OPEN_STATUSES for leg in legs)


def _executes(leg: PaperOrder, report: ExecutionReport) -> bool:
    return report.status == Status.FILLED or report.executed_quantity > leg.executed_quantity


def _take_over_pair(leg: PaperOrder, legs: list[PaperOrder]) -> None:
    """The OCO leg the market reached takes over what the pair holds (the other leg expires holding nothing)."""
    pair = [other for other in legs if other.list_leg in PAIR_LEGS and other.status in PaperOrder.OPEN_STATUSES]
    pair = [other for other in pair if not other.waits_for_list]
    total = sum((other.locked_amount for other in pair), ZERO)
    if leg.locked_amount == total:
        return
    asset = next((other.locked_asset for other in pair if other.locked_amount), leg.locked_asset)
    for other in pair:
        other.locked_asset, other.locked_amount = asset, total if other is leg else ZERO
        other.save(update_fields=["locked_asset", "locked_amount", "updated_at"])


def _go_to_work(legs: list[PaperOrder], *, source: str, actor: str) -> None:
    """The list's working order filled and the exchange put its pending legs on the book: from now on they hold
    their funds (an OTOCO's pair once). What the account's free balance cannot cover (a fee taken from what the
    working order bought) is held as far as it goes, and said on the leg."""
    waiting = [leg for leg in legs if leg.waits_for_list and leg.status in PaperOrder.OPEN_STATUSES]
    if not waiting:
        return
    rule = get_symbol_rule(waiting[0].symbol)
    working = next((leg for leg in legs if leg.list_leg == Leg.WORKING), None)
    # A pending MARKET BUY is valued at the price its working order traded at.
    reference = working.price if working is not None else None
    for leg in waiting:
        leg.waits_for_list = False
    holder = assign_holdings(waiting, rule, reference)
    short = ZERO
    if holder is not None and holder.locked_amount:
        balances = lock_balances(holder.account_id, holder.locked_asset)
        balance = balances[holder.locked_asset]
        held = min(holder.locked_amount, balance.free)
        short, holder.locked_amount = holder.locked_amount - held, held
        balance.free -= held
        balance.locked += held
        save_balances(balances)
    for leg in waiting:
        leg.save(update_fields=["waits_for_list", "locked_asset", "locked_amount", "updated_at"])
        held = f"holds {leg.locked_amount} {leg.locked_asset}" if leg.locked_amount else "holds nothing of its own"
        note = f"The list's working order filled: the exchange put this leg to work; it {held}."
        if leg is holder and short:
            note += f" {short} {leg.locked_asset} more was needed than the account had free."
        record_event(leg, leg.status, leg.status, source=source, actor=actor, detail=note)


def note_legs(legs: list[PaperOrder], detail: str) -> None:
    """The same note on every leg (changing nothing)."""
    with transaction.atomic():
        for leg in legs:
            record_note(leg, detail)
