"""Reads: orders, the venue's status and balances, prices and symbol rules, for the API, the pages, the admin and the
other apps (the door they read papertrading through)."""

from decimal import Decimal

from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from . import prices
from .models import (
    Account,
    MarketPrice,
    OrderEvent,
    OrderFill,
    OrderList,
    PaperOrder,
    SimulatedBalance,
    SymbolRule,
)
from .symbols import get_symbol_rule
from .venues import get_venue
from .venues.base import BalanceReport, VenueStatus


def order_list(account: Account) -> QuerySet[PaperOrder]:
    """The account's orders, newest first."""
    return PaperOrder.objects.filter(account=account).select_related("placed_by").order_by("-created_at", "-id")


def open_order_list(account: Account) -> QuerySet[PaperOrder]:
    return order_list(account).filter(status__in=PaperOrder.WORKING_STATUSES)


def _history() -> tuple[Prefetch, Prefetch]:
    return (
        Prefetch("fills", queryset=OrderFill.objects.order_by("id")),
        Prefetch("events", queryset=OrderEvent.objects.order_by("id")),
    )


def order_with_history(account: Account) -> QuerySet[PaperOrder]:
    return order_list(account).prefetch_related(*_history())


def with_history(order: PaperOrder) -> PaperOrder:
    """Attach fills and events to an order already in hand (at most two queries, no re-read of the order)."""
    if "fills" not in getattr(order, "_prefetched_objects_cache", {}):
        prefetch_related_objects([order], *_history())
    return order


def venue_status() -> VenueStatus:
    """The configured venue's name, label, masked key, and what is wrong with it or worth telling now."""
    return get_venue().status()


def account_balances(account: Account) -> tuple[str, list[BalanceReport]]:
    """The account's venue and its balances, by asset."""
    rows = SimulatedBalance.objects.filter(account=account).order_by("asset")
    return account.venue, [BalanceReport(b.asset, b.free, b.locked) for b in rows]


def venue_balances() -> tuple[str, list[BalanceReport]]:
    """The configured venue's name and what it holds (the exchange account, or every simulated account added up);
    VenueUnavailable when it cannot be asked."""
    venue = get_venue()
    return venue.name, venue.balances()


def market_price(symbol: str) -> Decimal | None:
    """The price a MARKET order on `symbol` would be judged at now, on the configured venue."""
    return get_venue().market_price((symbol or "").upper())


def market_fill_price(symbol: str, side: str) -> Decimal | None:
    """The price a MARKET order on `side` would fill at now on the configured venue (the simulator adds its
    slippage; the testnet answers its last price), for sizing an order by the quote amount it may spend."""
    return get_venue().taker_price((symbol or "").upper(), side)


def table_price(symbol: str) -> Decimal | None:
    """The price table's last price of `symbol` (a first one is fetched when there is none)."""
    row = prices.ensure_price((symbol or "").upper())
    return row.price if row else None


def symbol_rule(symbol: str) -> SymbolRule | None:
    """The filters of `symbol` on the configured venue; None when it does not list the symbol."""
    return get_venue().symbol_rule((symbol or "").upper())


def stored_symbol_rule(symbol: str) -> SymbolRule | None:
    """The stored filters of `symbol`, without asking any venue."""
    return get_symbol_rule(symbol)


def tradable_symbol_rules() -> list[SymbolRule]:
    return list(SymbolRule.objects.filter(status="TRADING").order_by("symbol"))


def last_price(symbol: str) -> Decimal | None:
    """The price table's last price of `symbol`, without fetching one."""
    return prices.last_price((symbol or "").upper())


def last_prices(symbols=None) -> dict[str, Decimal]:
    """The price table's last price of every symbol (or of `symbols`), whatever the venue."""
    rows = MarketPrice.objects.all()
    if symbols is not None:
        rows = rows.filter(symbol__in=list(symbols))
    return dict(rows.values_list("symbol", "price"))


def orders_for_runs(account: Account, run_ids) -> QuerySet[PaperOrder]:
    """The account's orders placed for these analysis runs, oldest first."""
    return PaperOrder.objects.filter(account=account, run_id__in=list(run_ids)).order_by("id")


def market_price_list(*, limit: int = 20) -> list[MarketPrice]:
    """The last known price of each symbol, by symbol."""
    return list(MarketPrice.objects.order_by("symbol")[:limit])


def latest_event_id() -> int:
    """The newest order event's id, 0 before any: a bookmark to ask later what happened since."""
    return OrderEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def fill_event_list(
    *, account: Account, after: int, until: int, excluding_sources: tuple[str, ...] = (), limit: int = 10
) -> list[OrderEvent]:
    """Fills and partial fills of the account's orders recorded after event `after` up to `until`, oldest first."""
    events = OrderEvent.objects.filter(
        id__gt=after,
        id__lte=until,
        order__account=account,
        to_status__in=[PaperOrder.Status.FILLED, PaperOrder.Status.PARTIALLY_FILLED],
    ).exclude(source__in=excluding_sources)
    return list(events.select_related("order").order_by("id")[:limit])


def order_lists(account: Account) -> QuerySet[OrderList]:
    """The account's order lists (OCO, OTO, OTOCO) with their legs, newest first."""
    legs = Prefetch("orders", queryset=PaperOrder.objects.select_related("placed_by").order_by("id"))
    return OrderList.objects.filter(account=account).prefetch_related(legs).order_by("-created_at", "-id")


def order_list_history(account: Account) -> QuerySet[OrderList]:
    """The account's order lists with their legs and every leg's events (one list's page)."""
    return order_lists(account).prefetch_related("orders__events")
