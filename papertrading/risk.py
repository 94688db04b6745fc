"""Risk limits per account and the kill switch, enforced in the transaction that reserves the order's funds.

An order's transaction starts by locking its account row (`lock`: one UPDATE that also returns the account's limits,
whether it is halted, and rolls the day's starting equity over at 00:00 UTC). Every later statement of that
transaction therefore sees what concurrent orders of the same account committed, so no race passes a limit:

- what needs no reading (halted, allowed symbols, the order's own value) is judged at once (`RiskCheck.precheck`);
- what needs reading (open orders, orders in the last minute, the position, today's loss) rides on the statement
  that moves the order's funds (`usage_columns`, returned by that UPDATE), so a create with every limit set costs
  one statement more than without limits: the lock. A refusal raises RiskLimitExceeded, and the caller's
  transaction undoes the funds' move: nothing is written, reserved or sent.

Each limit refuses when the order would take its value past it; exactly at the limit passes.
"""

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .errors import RiskLimitExceeded
from .models import Account, MarketPrice, PaperOrder, Side, SimulatedBalance
from .money import ZERO, format_decimal, to_money

HALTED = "halted"
MONEY_LIMITS = ("max_order_notional", "max_position_notional", "max_daily_loss")
COUNT_LIMITS = ("max_open_orders", "max_orders_per_minute")
LIMITS = (*MONEY_LIMITS, *COUNT_LIMITS, "allowed_symbols")
SETTINGS = (*LIMITS, "halt_on_daily_loss")
LABELS = {
    "max_order_notional": "order value",
    "max_position_notional": "position value",
    "max_open_orders": "open orders",
    "max_orders_per_minute": "orders in the last minute",
    "max_daily_loss": "today's loss",
    "allowed_symbols": "allowed symbols",
    HALTED: "halted",
}


def default_limits() -> dict:
    return dict(settings.RISK_DEFAULTS)


def effective_limits(account: Account) -> dict:
    """Each setting of the account: its own value, else the default from settings."""
    return in_force({name: getattr(account, name) for name in SETTINGS})


def in_force(own: dict) -> dict:
    """The settings in force from an account's own values (None, or an empty symbol list: the default)."""
    defaults = default_limits()
    return {name: defaults.get(name) if own[name] in (None, []) else own[name] for name in SETTINGS}


def parse_limit(name: str, raw):
    """A limit's value from input: a decimal string for money, a whole number for counts, a list of symbols, a
    boolean; None (or "") for the default. ValueError with a message for people otherwise."""
    if raw is None or raw == "" or raw == []:
        return None
    if name in MONEY_LIMITS:
        try:
            value = Decimal(str(raw)) if not isinstance(raw, (bool, float)) else None
        except ArithmeticError:
            value = None
        if value is None or not value.is_finite() or value < 0 or to_money(value) != value:
            raise ValueError("A decimal string, zero or more, with at most 8 decimals.")
        return value
    if name in COUNT_LIMITS:
        if isinstance(raw, bool) or not str(raw).isdigit():
            raise ValueError("A whole number, zero or more.")
        return int(raw)
    if name == "allowed_symbols":
        if isinstance(raw, str):
            raw = [part for part in raw.replace(" ", ",").split(",") if part]
        if not isinstance(raw, list) or not all(isinstance(item, str) and item.strip() for item in raw):
            raise ValueError('A list of symbols, e.g. ["BTCUSDT", "ETHUSDT"].')
        from .models import SymbolRule

        symbols = sorted({item.strip().upper() for item in raw})
        unknown = [symbol for symbol in symbols if not SymbolRule.objects.filter(symbol=symbol).exists()]
        if unknown:
            raise ValueError(f"Unknown symbol(s): {', '.join(unknown)}.")
        return symbols
    if name == "halt_on_daily_loss":
        if not isinstance(raw, bool):
            raise ValueError("true or false.")
        return raw
    raise ValueError("Not a limit.")


def loosens(name: str, value, default) -> bool:
    """Whether `value` allows more than the default does (None, the default itself, never loosens)."""
    if value is None or default is None and name not in ("allowed_symbols", "halt_on_daily_loss"):
        return False
    if name == "allowed_symbols":
        return default is not None and not set(value) <= set(default)
    if name == "halt_on_daily_loss":
        return bool(default) and not value
    return value > default


def describe(value) -> str:
    if value is None:
        return "no limit"
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, list):
        return ", ".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Terms:
    """What a limit judges of a new order: its symbol and side, its quantity, and the price its value is taken at
    (its limit price, its stop price, or the market for a MARKET order)."""

    symbol: str
    side: str
    quantity: Decimal
    price: Decimal | None
    base_asset: str
    label: str = ""

    @property
    def value(self) -> Decimal | None:
        return None if self.price is None else to_money(self.quantity * self.price)

    @property
    def adds_exposure(self) -> bool:
        return self.side == Side.BUY


def terms_of(order: PaperOrder, *, base_asset: str, market_price: Decimal | None) -> Terms:
    price = order.price or order.stop_price or market_price
    label = f"{order.side} {format_decimal(order.quantity)} {order.symbol} {order.order_type}"
    if order.price or order.stop_price:
        label += f" @ {format_decimal(order.price or order.stop_price)}"
    return Terms(order.symbol, order.side, order.quantity, price, base_asset, label)


def _names_the_order(method):
    """A refusal raised by a check's method carries the terms of the order it refused."""

    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except RiskLimitExceeded as exc:
            exc.order = exc.order or self.terms.label
            raise

    return checked


@dataclass
class RiskCheck:
    """An account's limits as read under its row lock, and the order they judge."""

    account_id: int
    limits: dict
    terms: Terms
    halted_at: datetime | None = None
    halted_reason: str = ""
    day_start_equity: Decimal | None = None
    now: datetime = field(default_factory=timezone.now)
    # The usage figures, when the lock's own statement read them (SQLite: see `lock`); judged by `precheck`.
    readings: dict | None = None
    judged: bool = False

    @_names_the_order
    def precheck(self) -> None:
        """The limits that need no reading: halted, allowed symbols, the order's own value."""
        if self.halted_at is not None:
            raise RiskLimitExceeded(
                HALTED,
                f"The account is halted{': ' + self.halted_reason if self.halted_reason else ''}. "
                "Every new order is refused until it is resumed.",
            )
        allowed = self.limits.get("allowed_symbols")
        if allowed and self.terms.symbol not in allowed:
            raise RiskLimitExceeded(
                "allowed_symbols",
                f"{self.terms.symbol} is not among the symbols this account may trade ({', '.join(allowed)}).",
                limit_value=",".join(allowed),
                value=self.terms.symbol,
            )
        limit, value = self.limits.get("max_order_notional"), self.terms.value
        if limit is not None and value is not None and value > limit:
            raise RiskLimitExceeded(
                "max_order_notional",
                f"The order is worth {format_decimal(value)}, above the account's largest order value "
                f"{format_decimal(limit)}.",
                limit_value=limit,
                value=value,
            )
        if self.readings is not None:
            self._judge({name: self.readings[name] for name in self._needed()})
            self.judged = True

    # --- limits that read the account's state -----------------------------------------------------------------

    def reads(self) -> list[str]:
        """The usage figures this order's limits need, read with the funds' statement (none once judged)."""
        return [] if self.judged else self._needed()

    def _needed(self) -> list[str]:
        names = []
        if self.limits.get("max_open_orders") is not None:
            names.append("open_orders")
        if self.limits.get("max_orders_per_minute") is not None:
            names.append("recent_orders")
        if self.terms.adds_exposure and self.limits.get("max_position_notional") is not None:
            names.append("held")
        if self.terms.adds_exposure and self.limits.get("max_daily_loss") is not None:
            names.append("equity")
        return names

    def usage_columns(self) -> tuple[list[str], list]:
        """SQL expressions (each a text, so decimals stay exact on every database) and their parameters."""
        columns, params = [], []
        for name in self.reads():
            sql, values = USAGE_SQL[name](self)
            columns.append(f"CAST(({sql}) AS TEXT)")
            params += values
        return columns, params

    @_names_the_order
    def judge(self, row) -> None:
        """Raise for the first limit the order would pass, from the usage figures `row` (in `reads()` order)."""
        self._judge(dict(zip(self.reads(), row, strict=True)))

    def _judge(self, values: dict) -> None:
        if "open_orders" in values:
            self._at_most("max_open_orders", int(values["open_orders"]) + 1, "working orders")
        if "recent_orders" in values:
            self._at_most("max_orders_per_minute", int(values["recent_orders"]) + 1, "orders in the last 60 seconds")
        if "held" in values and self.terms.price is not None:
            after = to_money((_decimal(values["held"]) + self.terms.quantity) * self.terms.price)
            self._at_most("max_position_notional", after, f"worth of {self.terms.base_asset} after this order")
        if "equity" in values and self.day_start_equity is not None:
            loss = max(to_money(self.day_start_equity - _decimal(values["equity"])), ZERO)
            limit = self.limits["max_daily_loss"]
            if loss > limit:
                raise RiskLimitExceeded(
                    "max_daily_loss",
                    f"The account has lost {format_decimal(loss)} since 00:00 UTC, more than its daily limit "
                    f"{format_decimal(limit)}: orders that add exposure are refused today; orders that reduce it "
                    "still pass.",
                    limit_value=limit,
                    value=loss,
                )

    def _at_most(self, name: str, value, what: str) -> None:
        limit = self.limits[name]
        if value > limit:
            shown = format_decimal(value) if isinstance(value, Decimal) else value
            shown_limit = format_decimal(limit) if isinstance(limit, Decimal) else limit
            raise RiskLimitExceeded(
                name,
                f"This order would make {shown} {what}, above the account's limit of {shown_limit}.",
                limit_value=limit,
                value=value,
            )

    @_names_the_order
    def enforce_by_reading(self) -> None:
        """Judge the reading limits with a statement of their own: for an order whose funds' statement did not
        carry them (it moved nothing, or the order moves no funds)."""
        if not self.reads():
            return
        columns, params = self.usage_columns()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)}", params)
            self.judge(cursor.fetchone())


def _decimal(value) -> Decimal:
    return Decimal(str(value)) if value is not None else ZERO


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def equity_sql(account_column: str) -> tuple[str, list]:
    """The account's equity now: every balance (free and locked) at the last price of ASSET+valuation asset, the
    valuation asset at 1, assets without a price at 0."""
    valuation = settings.PORTFOLIO_VALUATION_ASSET
    return (
        f"SELECT COALESCE(SUM((b.free + b.locked) * CASE WHEN b.asset = %s THEN 1 ELSE COALESCE(m.price, 0) END), 0) "
        f"FROM {_table(SimulatedBalance)} b LEFT JOIN {_table(MarketPrice)} m ON m.symbol = b.asset || %s "
        f"WHERE b.account_id = {account_column}",
        [valuation, valuation],
    )


def _bounded_count(where: str, params: list, limit: int | None) -> tuple[str, list]:
    """COUNT(*) of the orders `where` says, counting no further than `limit` (all a limit needs to know is whether
    it is reached), so a busy account's history does not make every order slower."""
    rows = f"SELECT 1 FROM {_table(PaperOrder)} WHERE {where}"
    if limit is None:
        return f"SELECT COUNT(*) FROM ({rows}) counted", params
    return f"SELECT COUNT(*) FROM ({rows} LIMIT %s) counted", [*params, limit]


def _open_orders(check: RiskCheck) -> tuple[str, list]:
    # Working, or sent with the outcome not known yet (testnet): such an order may be working on the exchange, and
    # one that concurrent orders saw before its answer came back must count for them too.
    return _bounded_count(
        "account_id = %s AND status IN (%s, %s, %s)",
        [check.account_id, *PaperOrder.OPEN_STATUSES],
        check.limits.get("max_open_orders"),
    )


def _recent_orders(check: RiskCheck) -> tuple[str, list]:
    since = connection.ops.adapt_datetimefield_value(check.now - timedelta(seconds=60))
    return _bounded_count(
        "account_id = %s AND created_at > %s", [check.account_id, since], check.limits.get("max_orders_per_minute")
    )


def _held(check: RiskCheck) -> tuple[str, list]:
    return (
        f"SELECT COALESCE(SUM(free + locked), 0) FROM {_table(SimulatedBalance)} WHERE account_id = %s AND asset = %s",
        [check.account_id, check.terms.base_asset],
    )


def _equity(check: RiskCheck) -> tuple[str, list]:
    return equity_sql("%s")[0], [*equity_sql("%s")[1], check.account_id]


USAGE_SQL = {
    "open_orders": _open_orders,
    "recent_orders": _recent_orders,
    "held": _held,
    "equity": _equity,
}


def lock(account_id: int, terms: Terms) -> RiskCheck:
    """Lock the account's row for the rest of the transaction and read its limits: one UPDATE ... RETURNING.

    The first order of a UTC day also records the equity it starts from (the beat task `mark_day_start` usually
    has, just after midnight).

    On SQLite the same statement also reads every usage figure, which `precheck` then judges: SQLite's RETURNING
    sees a statement's own changes row by row, so the funds' statement would count this order's own fill in the
    position and the equity. SQLite holds the database's write lock from this statement on, so no other order can
    commit between this read and the order's own writes.
    """
    now = timezone.now()
    today = now.date()
    equity, equity_params = equity_sql(f"{_table(Account)}.id")
    columns = ", ".join(f"CAST({name} AS TEXT)" if name in MONEY_LIMITS else name for name in SETTINGS)
    readings, reading_params = "", []
    if connection.vendor == "sqlite":
        probe = RiskCheck(account_id=account_id, limits={}, terms=terms, now=now)
        for read in USAGE_SQL.values():
            reading_sql, params = read(probe)
            readings += f", CAST(({reading_sql}) AS TEXT)"
            reading_params += params
    sql = (
        f"UPDATE {_table(Account)} SET "
        f"day_start_equity = CASE WHEN day_started_on = %s AND day_start_equity IS NOT NULL THEN day_start_equity "
        f"ELSE ({equity}) END, day_started_on = %s WHERE id = %s "
        f"RETURNING {columns}, halted_at, halted_reason, CAST(day_start_equity AS TEXT){readings}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [today, *equity_params, today, account_id, *reading_params])
        row = cursor.fetchone()
    if row is None:
        raise Account.DoesNotExist(account_id)
    own = dict(zip(SETTINGS, row[: len(SETTINGS)], strict=True))
    for name in MONEY_LIMITS:
        if own[name] is not None:
            own[name] = to_money(Decimal(own[name]))
    if isinstance(own["allowed_symbols"], str):  # SQLite answers JSON as text
        own["allowed_symbols"] = json.loads(own["allowed_symbols"])
    limits = in_force(own)
    halted_at, halted_reason, day_start = row[len(SETTINGS) : len(SETTINGS) + 3]
    read = dict(zip(USAGE_SQL, row[len(SETTINGS) + 3 :], strict=True)) if readings else None
    if isinstance(halted_at, str):  # SQLite answers text
        halted_at = datetime.fromisoformat(halted_at)
    return RiskCheck(
        account_id=account_id,
        limits=limits,
        terms=terms,
        halted_at=halted_at,
        halted_reason=halted_reason or "",
        day_start_equity=to_money(Decimal(day_start)) if day_start is not None else None,
        now=now,
        readings=read,
    )


def lock_for_order(order: PaperOrder, market_price: Decimal | None) -> RiskCheck:
    """Lock the new order's account and judge what needs no reading; the check the funds' statement completes."""
    from .symbols import get_symbol_rule

    rule = get_symbol_rule(order.symbol)
    base_asset = rule.base_asset if rule else ""
    check = lock(order.account_id, terms_of(order, base_asset=base_asset, market_price=market_price))
    check.precheck()
    return check


def mark_day_start(*, now: datetime | None = None) -> int:
    """Record every account's equity as today's starting equity, once a UTC day (the beat runs it each minute);
    returns how many accounts started their day."""
    today = (now or timezone.now()).date()
    equity, params = equity_sql(f"{_table(Account)}.id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Account)} SET day_start_equity = ({equity}), day_started_on = %s "
            "WHERE day_started_on IS NULL OR day_started_on < %s",
            [*params, today, today],
        )
        return cursor.rowcount


def usage(account: Account) -> dict:
    """Each limit of the account with what it uses now, for the desk and the API: {name: {"limit", "used"}}."""
    limits = effective_limits(account)
    now = timezone.now()
    working = account.orders.filter(status__in=PaperOrder.OPEN_STATUSES).count()
    recent = account.orders.filter(created_at__gt=now - timedelta(seconds=60)).count()
    equity, params = equity_sql("%s")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST(({equity}) AS TEXT)", [*params, account.pk])
        equity_now = to_money(_decimal(cursor.fetchone()[0]))
    started = account.day_start_equity if account.day_started_on == now.date() else None
    loss = max(to_money(started - equity_now), ZERO) if started is not None else ZERO
    return {
        "max_order_notional": {"limit": limits["max_order_notional"], "used": None},
        "max_position_notional": {"limit": limits["max_position_notional"], "used": None},
        "max_open_orders": {"limit": limits["max_open_orders"], "used": working},
        "max_orders_per_minute": {"limit": limits["max_orders_per_minute"], "used": recent},
        "max_daily_loss": {"limit": limits["max_daily_loss"], "used": loss},
        "allowed_symbols": {"limit": limits["allowed_symbols"], "used": None},
        "halt_on_daily_loss": {"limit": limits["halt_on_daily_loss"], "used": None},
    }
