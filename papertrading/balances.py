"""The simulated account: opening it, moving amounts, operator adjustments, and the self-check."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from .fees import fill_deltas
from .models import Account, BalanceAdjustment, PaperOrder, Side, SimulatedBalance, SymbolRule, Venue
from .money import ZERO, to_money
from .risk import RiskCheck
from .validation import ALGO_TYPES, PRICED_TYPES, trailing_trigger

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


def reserve_free_amount(
    account_id: int,
    asset: str,
    amount: Decimal,
    *,
    limits: Iterable[OpenOrderLimit] = (),
    risk: RiskCheck | None = None,
) -> bool:
    """Move `amount` of the account's `asset` from free to locked in one conditional UPDATE; False (and no change)
    when short, or when one of the open-order `limits` is already reached.

    The row count says whether it moved: no read-then-write window, and no query of its own for the limits. The
    statement is written out because it runs for every resting order: the ORM spent twice the database's time
    compiling the limits' subqueries. The same statement returns what the account's `risk` limits read, and
    RiskLimitExceeded is raised when one refuses (the caller's transaction then undoes the move).
    """
    limits = list(limits)
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(SimulatedBalance._meta.db_table)} SET free = free - %s, locked = locked + %s, updated_at = %s"
        " WHERE account_id = %s AND asset = %s AND free >= %s"
    )
    params = [amount, amount, connection.ops.adapt_datetimefield_value(timezone.now()), account_id, asset, amount]
    for limit in limits:
        # "The limit-th working order exists", read through the account's working-orders index.
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
    sql, params = _returning(sql, params, risk)

    if _execute(sql, params, risk):
        return True
    if SimulatedBalance.objects.filter(account_id=account_id, asset=asset).exists():
        return False  # the balance is there: it is short, or a limit is reached
    open_missing_balances(account_id, asset)  # a new asset: open it, then try once more
    return _execute(sql, params, risk)


def _returning(sql: str, params: list, risk: RiskCheck | None) -> tuple[str, list]:
    """Have a funds' UPDATE also return what the order's risk limits read (nothing when none of them reads)."""
    if risk is None or not risk.reads():
        return sql, params
    columns, column_params = risk.usage_columns()
    return f"{sql} RETURNING {', '.join(columns)}", [*params, *column_params]


def _execute(sql: str, params: list, risk: RiskCheck | None) -> int:
    """Run a funds' UPDATE; the rows it moved. When it returns the risk limits' readings, they are judged."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if risk is None or not risk.reads():
            return cursor.rowcount
        rows = cursor.fetchall()
    if rows:
        risk.judge(rows[0])
    return len(rows)


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


def move_free_amounts(
    account_id: int,
    deltas: dict[str, Decimal],
    *,
    needs: dict[str, Decimal] | None = None,
    risk: RiskCheck | None = None,
) -> None:
    """Add each delta to the account's free amount of its asset in one UPDATE, only where free covers what the
    asset needs.

    An asset needs its own debit at least, and more when `needs` says so (Binance checks a whole order against
    the free balance before matching). A balance the account does not have yet is opened and moved then. Raises
    InsufficientBalance when a row could not be moved, or RiskLimitExceeded when the account's `risk` limits
    (read by the same statement) refuse: the caller's transaction must then roll back, since rows were moved.
    """
    needs = {asset: max(-delta, (needs or {}).get(asset, ZERO), ZERO) for asset, delta in deltas.items()}
    assets = sorted(deltas)
    table = connection.ops.quote_name(SimulatedBalance._meta.db_table)
    marks = ", ".join(["%s"] * len(assets))

    def by_asset(values: dict[str, Decimal]) -> tuple[str, list]:
        whens = " ".join("WHEN %s THEN %s" for _ in assets)
        return f"CASE asset {whens} ELSE 0 END", [item for asset in assets for item in (asset, values[asset])]

    delta_sql, delta_params = by_asset(deltas)
    need_sql, need_params = by_asset(needs)
    # Only when the statement itself sees every row: a balance another transaction opens meanwhile is invisible to
    # it, and a partial move could not tell that row from a short one. Then nothing moves, and it is tried again.
    sql = (
        f"UPDATE {table} SET free = free + {delta_sql}, updated_at = %s "
        f"WHERE account_id = %s AND asset IN ({marks}) AND free >= {need_sql} "
        f"AND (SELECT COUNT(*) FROM {table} every_row WHERE every_row.account_id = %s "
        f"AND every_row.asset IN ({marks})) = %s"
    )
    params = [
        *delta_params,
        connection.ops.adapt_datetimefield_value(timezone.now()),
        account_id,
        *assets,
        *need_params,
        account_id,
        *assets,
        len(assets),
    ]
    sql, params = _returning(sql, params, risk)
    moved = _execute(sql, params, risk)
    if not moved:
        # A balance was missing (perhaps opened since by another transaction), or every one is short: open what
        # is missing and try once more.
        present = SimulatedBalance.objects.filter(account_id=account_id, asset__in=assets).values_list("asset")
        open_missing_balances(account_id, *sorted(set(assets) - {asset for (asset,) in present}))
        moved = _execute(sql, params, risk)
    if moved < len(deltas):
        raise InsufficientBalance(*assets)


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
    """What a working order must hold: quote for a BUY (at its limit or stop price; a trailing stop at its trigger),
    base for a SELL."""
    if order.side == Side.SELL:
        return rule.base_asset, order.remaining_quantity
    if order.order_type in PRICED_TYPES:
        reference = order.price
    elif order.trailing_delta and order.trailing_started_at is not None:
        reference = order.trigger_price  # a tracking trailing BUY stop holds what it would pay now, and follows it
    elif order.trailing_delta:
        # Not tracking yet: where it would trigger if tracking started at its stop price.
        reference = trailing_trigger(
            side=order.side, trailing_delta=order.trailing_delta, best_price=order.stop_price, tick_size=rule.tick_size
        )
    else:
        reference = order.stop_price
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
        deltas = fill_deltas(
            side=fill.order.side,
            quantity=fill.quantity,
            price=fill.price,
            commission=fill.commission,
            commission_asset=fill.commission_asset,
            base_asset=rule.base_asset,
            quote_asset=rule.quote_asset,
        )
        for asset, delta in deltas.items():
            add(totals, asset, delta)
    working = PaperOrder.objects.filter(account=account, status__in=PaperOrder.OPEN_STATUSES)
    lists: dict[int, tuple[str, Decimal]] = {}
    for order in working.iterator():
        if order.waits_for_list:
            continue  # a pending leg of an OTO / OTOCO holds nothing until its list's working order has filled
        if order.venue == Venue.SIMULATION and order.list_leg in (PaperOrder.ListLeg.ABOVE, PaperOrder.ListLeg.BELOW):
            # An OCO pair (an OCO, or an OTOCO's pair at work) holds its funds once: what its neediest leg needs.
            asset, amount = reservation(order, rules[order.symbol])
            held = lists.get(order.order_list_id)
            lists[order.order_list_id] = (asset, max(amount, held[1] if held else ZERO))
        elif order.venue == Venue.SIMULATION:
            add(locked, *reservation(order, rules[order.symbol]))
        elif order.locked_amount:
            # A testnet order (working, or sent with its outcome unknown) holds what was reserved when it was sent,
            # less what its fills released.
            add(locked, order.locked_asset, order.locked_amount)

    for asset, amount in lists.values():
        add(locked, asset, amount)

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
