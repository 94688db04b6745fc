"""The simulated account: opening it, moving amounts, operator adjustments, and the self-check."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, Count, F, Subquery, Value, When
from django.db.models.lookups import Exact
from django.utils import timezone

from .models import Account, BalanceAdjustment, PaperOrder, Side, SimulatedBalance, SymbolRule, Venue
from .money import ZERO, to_money
from .validation import ALGO_TYPES, PRICED_TYPES

STARTING_BALANCE_REASON = "Starting balance"
RESET_REASON = "Reset to the starting balances"


class InsufficientBalance(Exception):
    pass


def open_balances(account: Account, starting_balances: dict[str, Decimal]) -> None:
    """Give a new account (or one being reset, whose balances are all free) these balances.

    Each change is written as an adjustment, so the balance check recomputes the account from its rows alone and
    a later change of the settings cannot make an old account look wrong.
    """
    current = {b.asset: b for b in SimulatedBalance.objects.select_for_update().filter(account=account)}
    for asset in sorted(set(current) | set(starting_balances)):
        target = to_money(starting_balances.get(asset, ZERO))
        row = current.get(asset) or SimulatedBalance(account=account, asset=asset)
        change = target - row.free - row.locked
        if row.pk and not change:
            continue
        row.free, row.locked = target, ZERO
        row.save()
        if change:
            reason = STARTING_BALANCE_REASON if account.period == 1 else RESET_REASON
            BalanceAdjustment.objects.create(account=account, asset=asset, amount=change, reason=reason)


def lock_balances(account_id: int, *assets: str) -> dict[str, SimulatedBalance]:
    """Row-lock the account's balances of these assets (creating empty ones), always in the same order to avoid
    deadlocks."""

    def locked_rows():
        rows = (
            SimulatedBalance.objects.select_for_update()
            .filter(account_id=account_id, asset__in=assets)
            .order_by("asset")
        )
        return {row.asset: row for row in rows}

    balances = locked_rows()
    if len(balances) < len(set(assets)):
        open_missing_balances(account_id, *assets)
        balances = locked_rows()
    for balance in balances.values():
        balance.loaded = (balance.free, balance.locked)
    return balances


@dataclass(frozen=True)
class OpenOrderLimit:
    """At most `maximum` working simulated orders of the account on `symbol` (of `order_types`, or of any type)."""

    symbol: str
    maximum: int
    order_types: tuple[str, ...] = ()


def reserve_free_amount(account_id: int, asset: str, amount: Decimal, *, limits: Iterable[OpenOrderLimit] = ()) -> bool:
    """Move `amount` of the account's `asset` from free to locked in one conditional UPDATE; False (and no change)
    when short, or when one of the open-order `limits` is already reached.

    The row count says whether it moved: no read-then-write window, and no query of its own for the limits. The
    statement is written out because it runs for every resting order: the ORM spent twice the database's time
    compiling the limits' subqueries.
    """
    limits = list(limits)
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(SimulatedBalance._meta.db_table)} SET free = free - %s, locked = locked + %s, updated_at = %s"
        " WHERE account_id = %s AND asset = %s AND free >= %s"
    )
    params = [amount, amount, connection.ops.adapt_datetimefield_value(timezone.now()), account_id, asset, amount]
    for limit in limits:
        # "The limit-th working order exists", read through the matcher's partial index.
        types = f" AND order_type IN ({', '.join(['%s'] * len(limit.order_types))})" if limit.order_types else ""
        sql += (
            f" AND NOT EXISTS (SELECT 1 FROM {quote(PaperOrder._meta.db_table)} WHERE account_id = %s AND venue = %s"
            f" AND symbol = %s AND status IN (%s, %s){types} LIMIT 1 OFFSET %s)"
        )
        params += [
            account_id,
            Venue.SIMULATION,
            limit.symbol,
            *PaperOrder.WORKING_STATUSES,
            *limit.order_types,
            limit.maximum - 1,
        ]

    def move() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    if move():
        return True
    if SimulatedBalance.objects.filter(account_id=account_id, asset=asset).exists():
        return False  # the balance is there: it is short, or a limit is reached
    open_missing_balances(account_id, asset)  # a new asset: open it, then try once more
    return bool(move())


def require_free_amount(account_id: int, asset: str, amount: Decimal) -> None:
    """InsufficientBalance unless the account has `amount` of `asset` free."""
    free = SimulatedBalance.objects.filter(account_id=account_id, asset=asset).values_list("free", flat=True).first()
    if (free or ZERO) < amount:
        raise InsufficientBalance(asset)


def open_orders_on(account_id: int, symbol: str):
    """The account's simulated orders working on `symbol` (what MAX_NUM_ORDERS counts)."""
    return PaperOrder.objects.filter(
        account_id=account_id, symbol=symbol, venue=Venue.SIMULATION, status__in=PaperOrder.WORKING_STATUSES
    )


def open_order_limits(order: PaperOrder, rule: SymbolRule) -> list[OpenOrderLimit]:
    """The symbol's open-order limits (MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS) this order would count against."""
    limits = []
    if rule.max_num_orders:
        limits.append(OpenOrderLimit(order.symbol, rule.max_num_orders))
    if order.order_type in ALGO_TYPES and rule.max_num_algo_orders:
        limits.append(OpenOrderLimit(order.symbol, rule.max_num_algo_orders, tuple(ALGO_TYPES)))
    return limits


def move_free_amounts(account_id: int, deltas: dict[str, Decimal], *, needs: dict[str, Decimal] | None = None) -> None:
    """Add each delta to the account's free amount of its asset in one UPDATE, only where free covers what the
    asset needs.

    An asset needs its own debit at least, and more when `needs` says so (Binance checks a whole order against
    the free balance before matching). A balance the account does not have yet is opened and moved then. Raises
    InsufficientBalance when a row could not be moved: the caller's transaction must then roll back, since the
    other rows were.
    """
    needs = {asset: max(-delta, (needs or {}).get(asset, ZERO), ZERO) for asset, delta in deltas.items()}
    field = SimulatedBalance._meta.get_field("free")

    def by_asset(values: dict[str, Decimal]) -> Case:
        whens = [When(asset=asset, then=Value(value, output_field=field)) for asset, value in values.items()]
        return Case(*whens, default=Value(ZERO, output_field=field), output_field=field)

    rows = SimulatedBalance.objects.filter(account_id=account_id, asset__in=list(deltas))
    # Only when the statement itself sees every row: a balance another transaction opens meanwhile is invisible to
    # it, and a partial move could not tell that row from a short one. Then nothing moves, and it is tried again.
    every_row = Exact(Subquery(rows.order_by().values("account_id").annotate(n=Count("pk")).values("n")), len(deltas))

    def move() -> int:
        return rows.filter(every_row, free__gte=by_asset(needs)).update(
            free=F("free") + by_asset(deltas), updated_at=timezone.now()
        )

    moved = move()
    if not moved:
        # A balance was missing (perhaps opened since by another transaction), or every one is short: open what
        # is missing and try once more.
        open_missing_balances(account_id, *sorted(set(deltas) - set(rows.values_list("asset", flat=True))))
        moved = move()
    if moved < len(deltas):
        raise InsufficientBalance(*sorted(deltas))


def open_missing_balances(account_id: int, *assets: str) -> None:
    """An empty balance for each asset the account has none of."""
    for asset in assets:
        SimulatedBalance.objects.get_or_create(account_id=account_id, asset=asset)


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
def adjust_balance(*, account_id: int, asset: str, amount: Decimal, reason: str, user=None) -> SimulatedBalance:
    """An operator's deliberate change to a free amount; refused when it would go negative or has no reason."""
    if not reason.strip():
        raise ValueError("Say why the balance changes.")
    balance = lock_balances(account_id, asset.upper())[asset.upper()]
    if balance.free + amount < 0:
        raise ValueError(f"{asset} free would become negative ({balance.free + amount}).")
    balance.free += to_money(amount)
    balance.save(update_fields=["free", "updated_at"])
    BalanceAdjustment.objects.create(
        account_id=account_id, asset=balance.asset, amount=to_money(amount), reason=reason, created_by=user
    )
    return balance


def reservation(order: PaperOrder, rule: SymbolRule) -> tuple[str, Decimal]:
    """What a working order must hold: quote for a BUY (at its limit or stop price), base for a SELL."""
    if order.side == Side.SELL:
        return rule.base_asset, order.remaining_quantity
    reference = order.price if order.order_type in PRICED_TYPES else order.stop_price
    return rule.quote_asset, to_money(reference * order.remaining_quantity)


@dataclass
class BalanceDrift:
    account: Account
    asset: str
    stored_free: Decimal
    stored_locked: Decimal
    expected_free: Decimal
    expected_locked: Decimal

    def __str__(self) -> str:
        return (
            f"{self.account} (#{self.account.pk}) {self.asset}: "
            f"stored free {self.stored_free} locked {self.stored_locked}, "
            f"expected free {self.expected_free} locked {self.expected_locked}"
        )


def check_balances(accounts: Iterable[Account] | None = None) -> list[BalanceDrift]:
    """Recompute each account (every account by default) from its history and report every asset that differs.

    total = adjustments (starting balances included) + fills net of fees; locked = what working orders hold by
    their terms; free = total - locked. An empty list means the stored balances are right.
    """
    accounts = list(Account.objects.order_by("id") if accounts is None else accounts)
    rules = {rule.symbol: rule for rule in SymbolRule.objects.all()}
    drifts = []
    for account in accounts:
        if account.is_external:
            continue  # it holds no balances: its orders were paid from what no desk account holds on the exchange
        drifts += _check_account(account, rules)
    return drifts


def _check_account(account: Account, rules: dict[str, SymbolRule]) -> list[BalanceDrift]:
    from .models import OrderFill

    totals: dict[str, Decimal] = {}
    locked: dict[str, Decimal] = {}

    def add(table: dict[str, Decimal], asset: str, amount: Decimal) -> None:
        table[asset] = table.get(asset, ZERO) + amount

    for asset, amount in BalanceAdjustment.objects.filter(account=account).values_list("asset", "amount"):
        add(totals, asset, amount)
    fills = OrderFill.objects.filter(order__account=account).select_related("order")
    for fill in fills.iterator():
        rule = rules[fill.order.symbol]
        quote_amount = to_money(fill.quantity * fill.price)
        sign = 1 if fill.order.side == Side.BUY else -1
        add(totals, rule.base_asset, sign * fill.quantity)
        add(totals, rule.quote_asset, -sign * quote_amount)
        add(totals, fill.commission_asset, -fill.commission)
    working = PaperOrder.objects.filter(account=account, status__in=PaperOrder.OPEN_STATUSES)
    for order in working.iterator():
        if order.venue == Venue.SIMULATION:
            add(locked, *reservation(order, rules[order.symbol]))
        elif order.locked_amount:
            # A testnet order (working, or sent with its outcome unknown) holds what was reserved when it was sent,
            # less what its fills released.
            add(locked, order.locked_asset, order.locked_amount)

    stored = {balance.asset: balance for balance in SimulatedBalance.objects.filter(account=account)}
    drifts = []
    for asset in sorted(set(totals) | set(locked) | set(stored)):
        expected_locked = locked.get(asset, ZERO)
        expected_free = totals.get(asset, ZERO) - expected_locked
        row = stored.get(asset)
        stored_free = row.free if row else ZERO
        stored_locked = row.locked if row else ZERO
        if (stored_free, stored_locked) != (expected_free, expected_locked):
            drifts.append(BalanceDrift(account, asset, stored_free, stored_locked, expected_free, expected_locked))
    return drifts
