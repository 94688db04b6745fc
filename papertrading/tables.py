"""The desk's orders table: its state (filter, sort, page) carried in the URL, and the links that change it; an
order list's legs are drawn together under their list."""

from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import Min, Q, QuerySet

from .models import OrderList, PaperOrder

PAGE_SIZE = 20

# Sort keys in the URL -> model fields; the time column sorts newest first unless asked otherwise.
SORT_FIELDS = {
    "time": "created_at",
    "symbol": "symbol",
    "side": "side",
    "type": "order_type",
    "quantity": "quantity",
    "price": "price",
    "status": "status",
}
COLUMN_LABELS = {
    "time": "Time",
    "symbol": "Symbol",
    "side": "Side",
    "type": "Type",
    "quantity": "Quantity",
    "price": "Price",
    "status": "Status",
}
NUMERIC_COLUMNS = frozenset({"quantity", "price"})
DEFAULT_SORT = "-time"


@dataclass(frozen=True)
class TableState:
    show: str = "all"  # "all" or "open"
    sort: str = DEFAULT_SORT
    page: int = 1

    @classmethod
    def from_query(cls, query) -> "TableState":
        show = query.get("show") if query.get("show") in ("all", "open") else "all"
        sort = query.get("sort") or DEFAULT_SORT
        if sort.removeprefix("-") not in SORT_FIELDS:
            sort = DEFAULT_SORT
        try:
            page = max(1, int(query.get("page", 1)))
        except (TypeError, ValueError):
            page = 1
        return cls(show=show, sort=sort, page=page)

    def query(self, extra: dict | None = None, **changes) -> str:
        """The URL query of this state (defaults left out), with `changes` applied and `extra` params added."""
        state = replace(self, **changes)
        params = {}
        if state.show != "all":
            params["show"] = state.show
        if state.sort != DEFAULT_SORT:
            params["sort"] = state.sort
        if state.page != 1:
            params["page"] = state.page
        return urlencode({**params, **(extra or {})})

    @property
    def ordering(self) -> tuple[str, str]:
        field = SORT_FIELDS[self.sort.removeprefix("-")]
        return ("-" if self.sort.startswith("-") else "") + field, "-id"

    def columns(self) -> list[dict]:
        """Each sortable column: its label, the query that sorts by it (toggling direction), its aria-sort."""
        current, descending = self.sort.removeprefix("-"), self.sort.startswith("-")
        columns = []
        for key, label in COLUMN_LABELS.items():
            if key == current:
                next_sort = key if descending else f"-{key}"
                aria_sort = "descending" if descending else "ascending"
            else:
                next_sort = f"-{key}" if key == "time" else key
                aria_sort = ""
            columns.append(
                {
                    "key": key,
                    "label": label,
                    "query": self.query(sort=next_sort, page=1),
                    "aria_sort": aria_sort,
                    "numeric": key in NUMERIC_COLUMNS,
                }
            )
        return columns


# A list's legs in the order people read them: the working order, then the pending one or the pair (above, below).
LEG_ORDER = {
    PaperOrder.ListLeg.WORKING: 0,
    PaperOrder.ListLeg.PENDING: 1,
    PaperOrder.ListLeg.ABOVE: 2,
    PaperOrder.ListLeg.BELOW: 3,
}


def in_leg_order(legs) -> list[PaperOrder]:
    return sorted(legs, key=lambda leg: (LEG_ORDER.get(leg.list_leg, len(LEG_ORDER)), leg.pk))


@dataclass
class TableEntry:
    """A line of the table: an order on its own, or an order list with its legs (those `orders` holds)."""

    order: PaperOrder | None = None
    order_list: OrderList | None = None
    legs: list[PaperOrder] = field(default_factory=list)


def lead_legs(orders: QuerySet[PaperOrder]) -> QuerySet:
    """The id of one leg (the lowest) of each list among `orders`: the row that stands for its list when the table
    pages and sorts, so a list takes one line of a page and its legs never straddle two pages."""
    legs = orders.filter(order_list__isnull=False).order_by()  # no ORDER BY fields in the GROUP BY
    return legs.values("order_list").annotate(lead=Min("pk")).values("lead")


def table_entries(orders: QuerySet[PaperOrder], page_orders) -> list[TableEntry]:
    """The page's lines: each order on its own, each list once (where its lead leg falls) with its legs."""
    list_ids = {order.order_list_id for order in page_orders if order.order_list_id}
    legs_by_list: dict[int, list[PaperOrder]] = {}
    if list_ids:
        legs = orders.filter(order_list_id__in=list_ids).select_related("order_list").order_by("id")
        for leg in legs:
            legs_by_list.setdefault(leg.order_list_id, []).append(leg)
    entries = []
    for order in page_orders:
        if order.order_list_id:
            legs = in_leg_order(legs_by_list.get(order.order_list_id, ()))
            if legs:  # none when the list finished between the two reads and the "open" filter leaves it out now
                entries.append(TableEntry(order_list=legs[0].order_list, legs=legs))
        else:
            entries.append(TableEntry(order=order))
    return entries


def orders_table(orders: QuerySet[PaperOrder], state: TableState, *, since: int) -> dict:
    """One page of `orders` in the state's order, with the queries its links carry.

    A list takes one line of the page, sorted by its lead leg, with every leg of it that `orders` holds beneath (a
    filter applies to legs as to orders). The poll carries the table's state and the last event it has seen
    (`since`), so it can announce new fills.
    """
    lines = orders.filter(Q(order_list__isnull=True) | Q(pk__in=lead_legs(orders)))
    page = Paginator(lines.order_by(*state.ordering), PAGE_SIZE).get_page(state.page)
    state = replace(state, page=page.number)
    page_orders = list(page.object_list)
    return {
        "state": state,
        "page": page,
        "orders": page_orders,
        "entries": table_entries(orders, page_orders),
        "columns": state.columns(),
        "state_query": state.query(),
        "poll_query": state.query(extra={"since": since}),
        "open_query": state.query(show="open", page=1),
        "all_query": state.query(show="all", page=1),
        "previous_query": state.query(page=page.previous_page_number()) if page.has_previous() else "",
        "next_query": state.query(page=page.next_page_number()) if page.has_next() else "",
    }
