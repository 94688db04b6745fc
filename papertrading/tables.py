"""The desk's orders table: its state (filter, sort, page) carried in the URL, and the links that change it."""

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import QuerySet

from .models import PaperOrder

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


def orders_table(orders: QuerySet[PaperOrder], state: TableState, *, since: int) -> dict:
    """One page of `orders` in the state's order, with the queries its links carry.

    The poll carries the table's state and the last event it has seen (`since`), so it can announce new fills.
    """
    page = Paginator(orders.order_by(*state.ordering), PAGE_SIZE).get_page(state.page)
    state = replace(state, page=page.number)
    return {
        "state": state,
        "page": page,
        "orders": page.object_list,
        "columns": state.columns(),
        "state_query": state.query(),
        "poll_query": state.query(extra={"since": since}),
        "open_query": state.query(show="open", page=1),
        "all_query": state.query(show="all", page=1),
        "previous_query": state.query(page=page.previous_page_number()) if page.has_previous() else "",
        "next_query": state.query(page=page.next_page_number()) if page.has_next() else "",
    }
