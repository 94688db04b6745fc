"""The simulated account: opening it, moving amounts, operator adjustments, and the self-check."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from .models import BalanceAdjustment, PaperOrder, Side, SimulatedBalance, SymbolRule, Venue
from .money import ZERO, to_money
from .validation import ALGO_TYPES, PRICED_TYPES

STARTING_BALANCE_REASON = "Starting balance"


class InsufficientBalance(Exception):
    pass


def ensure_account() -> None:
    """Open the simulated account with the starting balances the first time it is needed.

    Starting balances are written as adjustments, so the balance check recomputes from the rows alone and a later
    change of the setting cannot make an old account look wrong.
    """
    if SimulatedBalance.objects.exists():
        return
    for asset, amount in settings.SIMULATOR_STARTING_BALANCES.items():
        try:
            with transaction.atomic():
                SimulatedBalance.objects.create(asset=asset, free=to_money(amount))
                BalanceAdjustment.objects.create(asset=asset, amount=to_money(amount), reason=STARTING_BALANCE_REASON)
        except IntegrityError:
            pass  # another process opened it at the same moment


def lock_balances(*assets: str) -> dict[str, SimulatedBalance]:
    """Row-lock the balances of these assets (creating empty ones), always in the same order to avoid deadlocks."""

    def locked_rows():
        rows = SimulatedBalance.objects.select_for_update().filter(asset__in=assets).order_by("asset")
        return {row.asset: row for row in rows}

    balances = locked_rows()
    if len(balances) < len(set(assets)):
        ensure_account()
        for asset in assets:
            SimulatedBalance.objects.get_or_create(asset=asset)
        balances = locked_rows()
    for balance in balances.values():
        balance.loaded = (balance.free, balance.locked)
    return balances


@dataclass(frozen=True)
class OpenOrderLimit:
    """At most `maximum` working simulated orders on `symbol` (of `order_types`, or of any type)."""

    symbol: str
    maximum: int
    order_types: tuple[str, ...] = ()


def reserve_free_amount(asset: str, amount: Decimal, *, limits: Iterable[OpenOrderLimit] = ()) -> bool:
    """Move `amount` of `asset` from free to locked in one conditional UPDATE; False (and no change) when short,
    or when one of the open-order `limits` is already reached.

    The row count says whether it moved: no read-then-write window, and no query of its own for the limits. The
    statement is written out because it runs for every resting order: the ORM spent twice the database's time
    compiling the limits' subqueries.
    """
    limits = list(limits)
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(SimulatedBalance._meta.db_table)} SET free = free - %s, locked = locked + %s, updated_at = %s"
        " WHERE asset = %s AND free >= %s"
    )
    params = [amount, amount, connection.ops.adapt_datetimefield_value(timezone.now()), asset, amount]
    for limit in limits:
        # "The limit-th working order exists", read through the matcher's partial index.
        types = f" AND order_type IN ({', '.join(['%s'] * len(limit.order_types))})" if limit.order_types else ""
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM {quote(PaperOrder._meta.db_table)} WHERE venue = %s AND symbol = %s"
            f" AND status IN (%s, %s){types} LIMIT 1 OFFSET %s)"
        )
        params += [Venue.SIMULATION, limit.symbol, *PaperOrder.WORKING_STATUSES, *limit.order_types, limit.maximum - 1]

    def move() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    if move():
        return True
    if SimulatedBalance.objects.filter(asset=asset).exists():
        return False  # the balance is there: it is short, or a limit is reached
    open_missing_balances(asset)  # first order ever, or a new asset: open it, then try once more
    return bool(move())


def require_free_amount(asset: str, amount: Decimal) -> None:
    """InsufficientBalance unless `asset` has `amount` free (the account opens on its first use)."""
    free = SimulatedBalance.objects.filter(asset=asset).values_list("free", flat=True).first()
    if free is None:
        open_missing_balances(asset)
        free = SimulatedBalance.objects.get(asset=asset).free
    if free < amount:
        raise InsufficientBalance(asset)


def open_orders_on(symbol: str):
    """The simulated orders working on `symbol` (what MAX_NUM_ORDERS counts)."""
    return PaperOrder.objects.filter(symbol=symbol, venue=Venue.SIMULATION, status__in=PaperOrder.WORKING_STATUSES)


def open_order_limits(order: PaperOrder, rule: SymbolRule) -> list[OpenOrderLimit]:
    """The symbol's open-order limits (MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS) this order would count against."""
    limits = []
    if rule.max_num_orders:
        limits.append(OpenOrderLimit(order.symbol, rule.max_num_orders))
    if order.order_type in ALGO_TYPES and rule.max_num_algo_orders:
        limits.append(OpenOrderLimit(order.symbol, rule.max_num_algo_orders, tuple(ALGO_TYPES)))
    return limits


def move_free_amounts(deltas: dict[str, Decimal], *, needs: dict[str, Decimal] | None = None) -> None:
    """Add each delta to its asset's free amount in one UPDATE, only where free covers what the asset needs.

    An asset needs its own debit at least, and more when `needs` says so (Binance checks a whole order against
    the free balance before matching). A balance the account does not have yet is opened (the account too, on
    its first use) and moved then. Raises InsufficientBalance when a row could not be moved: the caller's
    transaction must then roll back, since the other rows were.
    """
    needs = {asset: max(-delta, (needs or {}).get(asset, ZERO), ZERO) for asset, delta in deltas.items()}
    field = SimulatedBalance._meta.get_field("free")

    def by_asset(values: dict[str, Decimal]) -> Case:
        whens = [When(asset=asset, then=Value(value, output_field=field)) for asset, value in values.items()]
        return Case(*whens, default=Value(ZERO, output_field=field), output_field=field)

    moved = SimulatedBalance.objects.filter(asset__in=list(deltas), free__gte=by_asset(needs)).update(
        free=F("free") + by_asset(deltas), updated_at=timezone.now()
    )
    if moved == len(deltas):
        return
    present = set(SimulatedBalance.objects.filter(asset__in=list(deltas)).values_list("asset", flat=True))
    missing = set(deltas) - present
    if not missing or moved < len(present):
        raise InsufficientBalance(*sorted(deltas))
    # Every row there moved; the missing ones are new: open them and move them too.
    open_missing_balances(*sorted(missing))
    move_free_amounts({asset: deltas[asset] for asset in missing}, needs={asset: needs[asset] for asset in missing})


def open_missing_balances(*assets: str) -> None:
    """Open the account if needed, then an empty balance for each asset that has none."""
    ensure_account()
    for asset in assets:
        SimulatedBalance.objects.get_or_create(asset=asset)


def release(balance: SimulatedBalance, amount: Decimal) -> None:
    balance.locked -= amount
    balance.free += amount


def save_balances(balances: dict[str, SimulatedBalance]) -> None:
    """Write the rows whose amounts changed since lock_balances read them."""
    for balance in balances.values():
        if (balance.free, balance.locked) != getattr(balance, "loaded", None):
            balance.save(update_fields=["free", "locked", "updated_at"])
            balance.loaded = (balance.free, balance.locked)


@transaction.atomic
def adjust_balance(*, asset: str, amount: Decimal, reason: str, user=None) -> SimulatedBalance:
    """An operator's deliberate change to a free amount; refused when it would go negative or has no reason."""
    if not reason.strip():
        raise ValueError("Say why the balance changes.")
    balance = lock_balances(asset.upper())[asset.upper()]
    if balance.free + amount < 0:
        raise ValueError(f"{asset} free would become negative ({balance.free + amount}).")
    balance.free += to_money(amount)
    balance.save(update_fields=["free", "updated_at"])
    BalanceAdjustment.objects.create(asset=balance.asset, amount=to_money(amount), reason=reason, created_by=user)
    return balance


def reservation(order: PaperOrder, rule: SymbolRule) -> tuple[str, Decimal]:
    """What a working order must hold: quote for a BUY (at its limit or stop price), base for a SELL."""
    if order.side == Side.SELL:
        return rule.base_asset, order.remaining_quantity
    reference = order.price if order.order_type in PRICED_TYPES else order.stop_price
    return rule.quote_asset, to_money(reference * order.remaining_quantity)


@dataclass
class BalanceDrift:
    asset: str
    stored_free: Decimal
    stored_locked: Decimal
    expected_free: Decimal
    expected_locked: Decimal

    def __str__(self) -> str:
        return (
            f"{self.asset}: stored free {self.stored_free} locked {self.stored_locked}, "
            f"expected free {self.expected_free} locked {self.expected_locked}"
        )


def check_balances() -> list[BalanceDrift]:
    """Recompute the simulated account from its history and report every asset that differs from storage.

    total = adjustments (starting balances included) + fills net of fees; locked = what working orders hold by
    their terms; free = total - locked. An empty list means the stored balances are right.
    """
    from .models import OrderFill

    rules = {rule.symbol: rule for rule in SymbolRule.objects.all()}
    totals: dict[str, Decimal] = {}
    locked: dict[str, Decimal] = {}

    def add(table: dict[str, Decimal], asset: str, amount: Decimal) -> None:
        table[asset] = table.get(asset, ZERO) + amount

    for adjustment in BalanceAdjustment.objects.all():
        add(totals, adjustment.asset, adjustment.amount)
    fills = OrderFill.objects.filter(order__venue=Venue.SIMULATION).select_related("order")
    for fill in fills.iterator():
        rule = rules[fill.order.symbol]
        quote_amount = to_money(fill.quantity * fill.price)
        sign = 1 if fill.order.side == Side.BUY else -1
        add(totals, rule.base_asset, sign * fill.quantity)
        add(totals, rule.quote_asset, -sign * quote_amount)
        add(totals, fill.commission_asset, -fill.commission)
    working = PaperOrder.objects.filter(venue=Venue.SIMULATION, status__in=PaperOrder.WORKING_STATUSES)
    for order in working.iterator():
        asset, amount = reservation(order, rules[order.symbol])
        add(locked, asset, amount)

    stored = {balance.asset: balance for balance in SimulatedBalance.objects.all()}
    drifts = []
    for asset in sorted(set(totals) | set(locked) | set(stored)):
        expected_locked = locked.get(asset, ZERO)
        expected_free = totals.get(asset, ZERO) - expected_locked
        row = stored.get(asset)
        stored_free = row.free if row else ZERO
        stored_locked = row.locked if row else ZERO
        if (stored_free, stored_locked) != (expected_free, expected_locked):
            drifts.append(BalanceDrift(asset, stored_free, stored_locked, expected_free, expected_locked))
    return drifts
