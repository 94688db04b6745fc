"""Reads of the gateway: keys by their API key, an account's orders and trades as Binance looks them up, and the
desk's recorded prices and fills for market data."""

from datetime import datetime

from django.db.models import QuerySet

from analysis.models import PriceSample
from papertrading import selectors as desk
from papertrading.models import Account, MarketPrice, OrderFill, OrderList, PaperOrder

from .models import BinanceKey


def active_key(api_key: str) -> BinanceKey | None:
    """The active key with its account and owner (one query); None for an unknown or revoked key."""
    key = BinanceKey.objects.select_related("account", "account__owner").filter(api_key=api_key).first()
    if key is None or key.revoked_at is not None:
        return None
    return key


def account_orders(account: Account, symbol: str) -> QuerySet[PaperOrder]:
    return desk.order_list(account).filter(symbol=symbol)


def find_order(
    account: Account, *, symbol: str, order_id: int | None, client_order_id: str | None
) -> PaperOrder | None:
    """The account's order on `symbol` by its id, or else by its client order id (unique per account)."""
    orders = account_orders(account, symbol)
    if order_id is not None:
        return orders.filter(pk=order_id).first()
    return orders.filter(client_order_id=client_order_id).first()


def working_orders(account: Account, symbol: str | None = None) -> list[PaperOrder]:
    """Working orders, oldest first (Binance's order), with their fills."""
    orders = desk.open_order_list(account)
    if symbol:
        orders = orders.filter(symbol=symbol)
    return list(orders.prefetch_related("fills").order_by("id"))


def all_orders(
    account: Account,
    *,
    symbol: str,
    from_id: int | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[PaperOrder]:
    """Orders from `from_id` on (the oldest `limit` of them), or else the newest `limit`; oldest first."""
    orders = account_orders(account, symbol).prefetch_related("fills")
    return _window(orders, from_id=from_id, start=start, end=end, limit=limit)


def account_fills(
    account: Account,
    *,
    symbol: str,
    order_id: int | None,
    from_id: int | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[OrderFill]:
    """The account's trades on `symbol` (its orders' fills), oldest first."""
    fills = OrderFill.objects.filter(order__account=account, order__symbol=symbol).select_related("order")
    if order_id is not None:
        fills = fills.filter(order_id=order_id)
    return _window(fills, from_id=from_id, start=start, end=end, limit=limit)


def find_order_list(account: Account, *, list_id: int | None, list_client_order_id: str | None) -> OrderList | None:
    """The account's order list, with its legs, by its id, or else by its list client order id (unique per
    account)."""
    lists = desk.order_lists(account)
    if list_id is not None:
        return lists.filter(pk=list_id).first()
    return lists.filter(list_client_order_id=list_client_order_id).first()


def open_order_lists(account: Account) -> list[OrderList]:
    """The account's executing order lists with their legs, oldest first."""
    return list(desk.order_lists(account).filter(list_order_status=OrderList.ListOrderStatus.EXECUTING).order_by("id"))


def all_order_lists(
    account: Account, *, from_id: int | None, start: datetime | None, end: datetime | None, limit: int
) -> list[OrderList]:
    """Order lists from `from_id` on (the oldest `limit` of them), or else the newest `limit`; oldest first."""
    return _window(desk.order_lists(account), from_id=from_id, start=start, end=end, limit=limit)


def _window(rows: QuerySet, *, from_id: int | None, start: datetime | None, end: datetime | None, limit: int) -> list:
    """Binance's paging of history: rows created within [start, end], from `from_id` on (the oldest `limit` of
    them), or else the newest `limit`; oldest first."""
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    if end is not None:
        rows = rows.filter(created_at__lte=end)
    if from_id is not None:
        return list(rows.filter(pk__gte=from_id).order_by("id")[:limit])
    return sorted(rows.order_by("-id")[:limit], key=lambda row: row.pk)


# --- market data ----------------------------------------------------------------------------------------------


def price_row(symbol: str) -> MarketPrice | None:
    """The symbol's last price (a first one is fetched when there is none)."""
    if desk.table_price(symbol) is None:
        return None
    return MarketPrice.objects.filter(symbol=symbol).first()


def price_rows(symbols=None) -> list[MarketPrice]:
    rows = MarketPrice.objects.order_by("symbol")
    if symbols is not None:
        rows = rows.filter(symbol__in=list(symbols))
    return list(rows)


def price_samples(symbol: str, *, since: datetime | None, until: datetime | None) -> list[tuple[datetime, object]]:
    """The prices the desk recorded for `symbol` (observed time, price), oldest first, within the window, plus the
    last one before it (the price the window opened at)."""
    samples = PriceSample.objects.filter(symbol=symbol)
    within = samples
    if since is not None:
        within = within.filter(observed_at__gte=since)
    if until is not None:
        within = within.filter(observed_at__lte=until)
    rows = list(within.order_by("observed_at").values_list("observed_at", "price"))
    if since is not None:
        before = samples.filter(observed_at__lt=since).order_by("-observed_at").values_list("observed_at", "price")
        rows[:0] = list(before[:1])
    return rows


def symbol_fills(symbol: str, *, since: datetime | None, until: datetime | None) -> list[OrderFill]:
    """Every account's fills on `symbol` in the window (the desk's own trades: volume and trade counts)."""
    fills = OrderFill.objects.filter(order__symbol=symbol).select_related("order")
    if since is not None:
        fills = fills.filter(created_at__gte=since)
    if until is not None:
        fills = fills.filter(created_at__lte=until)
    return list(fills.order_by("id"))
