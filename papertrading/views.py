"""The desk pages: thin function views that read input, call one service, and render the page or a fragment.

Every view answers a full page to a plain request and its fragment to an htmx request (`request.htmx`). Writes
go through the services with source="page"; a plain POST redirects back (PRG) with a message, an htmx POST
answers the fresh fragment and turns the messages into a `notice` client event (toasts).
"""

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from . import selectors, services
from .binance import masked_api_key
from .errors import OrderNotWorking, OrderRejected, OrderValidationError, PaperTradingError, VenueUnavailable
from .forms import OrderForm
from .models import MarketPrice, OrderEvent, PaperOrder, Venue
from .money import format_decimal
from .prices import is_stale

CAN_PLACE = "papertrading.add_paperorder"
CAN_MANAGE = "papertrading.change_paperorder"  # cancel and sync, as in the API
PAGE_SIZE = 20
DESK_TEMPLATE = "papertrading/desk.html"

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
DEFAULT_SORT = "-time"
STATUS_CLASSES = {
    PaperOrder.Status.FILLED: "status-filled",
    PaperOrder.Status.PENDING: "status-working",
    PaperOrder.Status.PARTIALLY_FILLED: "status-working",
    PaperOrder.Status.CANCELLED: "status-cancelled",
    PaperOrder.Status.REJECTED: "status-failed",
    PaperOrder.Status.EXPIRED: "status-failed",
    PaperOrder.Status.UNKNOWN: "status-unknown",
}


def poll_seconds() -> int:
    return settings.DESK_POLL_SECONDS


# --- the orders table's state (filter, sort, page), carried in the URL --------------------------------------


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
                {"key": key, "label": label, "query": self.query(sort=next_sort, page=1), "aria_sort": aria_sort}
            )
        return columns


# --- context builders (reads) -------------------------------------------------------------------------------


def account_context() -> dict:
    mode = settings.PAPER_TRADING_MODE
    context = {
        "mode": mode,
        "venue_label": Venue(mode).label if mode in Venue.values else mode,
        "masked_api_key": masked_api_key(settings.BINANCE_TESTNET_API_KEY) if mode == Venue.TESTNET else "",
        "balances": [],
        "venue_error": "",
        "retry_after": None,
        "prices": [{"row": row, "stale": is_stale(row)} for row in MarketPrice.objects.order_by("symbol")[:20]],
        "poll_seconds": poll_seconds(),
    }
    if mode == Venue.TESTNET:
        context["notices"] = selectors.testnet_notices()
    try:
        _, balances = services.get_account_balances()
    except VenueUnavailable as exc:
        context.update(venue_error=exc.message, retry_after=exc.retry_after)
    except PaperTradingError as exc:
        context["venue_error"] = exc.message or "The venue did not answer."
    else:
        # Assets the account holds first; empty ones would only push the useful rows down.
        context["balances"] = sorted(balances, key=lambda b: (not (b.free or b.locked), b.asset))
    return context


def orders_context(request, state: TableState, *, since: int | None = None) -> dict:
    queryset = selectors.open_order_list() if state.show == "open" else selectors.order_list()
    page = Paginator(queryset.order_by(*state.ordering), PAGE_SIZE).get_page(state.page)
    state = replace(state, page=page.number)
    if since is None:
        since = latest_event_id()
    return {
        "state": state,
        "page": page,
        "orders": [{"order": order, "status_class": STATUS_CLASSES.get(order.status, "")} for order in page],
        "columns": state.columns(),
        "state_query": state.query(),
        # The poll carries the table's state and the last event it has seen, so it can announce new fills.
        "poll_query": state.query(extra={"since": since}),
        "poll_seconds": poll_seconds(),
        "can_manage": request.user.has_perm(CAN_MANAGE),
        "open_query": state.query(show="open", page=1),
        "all_query": state.query(show="all", page=1),
        "previous_query": state.query(page=page.previous_page_number()) if page.has_previous() else "",
        "next_query": state.query(page=page.next_page_number()) if page.has_next() else "",
    }


def latest_event_id() -> int:
    return OrderEvent.objects.aggregate(latest=Max("id"))["latest"] or 0


def form_context(request, form: OrderForm | None = None) -> dict:
    can_place = request.user.has_perm(CAN_PLACE)
    if form is None and can_place:
        form = OrderForm()
    return {"form": form if can_place else None, "can_place": can_place}


def desk_context(request, *, state: TableState | None = None, form: OrderForm | None = None) -> dict:
    return {
        **account_context(),
        **orders_context(request, state or TableState.from_query(request.GET)),
        **form_context(request, form),
    }


# --- responses ---------------------------------------------------------------------------------------------


def render_fragment(request, template: str, context: dict, *, status: int = 200, events: tuple[str, ...] = ()):
    """Render an htmx fragment; queued messages travel as one `notice` event instead of waiting for a page."""
    response = render(request, template, context, status=status)
    return with_client_events(request, response, events)


def with_client_events(request, response: HttpResponse, events: tuple[str, ...] = ()) -> HttpResponse:
    notices = [{"level": message.level_tag, "message": str(message)} for message in messages.get_messages(request)]
    if notices:
        trigger_client_event(response, "notice", {"items": notices})
    for event in events:
        trigger_client_event(response, event)
    return response


def desk_url(query: str = "") -> str:
    url = reverse("papertrading:desk")
    return f"{url}?{query}" if query else url


def require_perm(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def describe_order(order: PaperOrder) -> str:
    text = f"#{order.pk} {order.side} {format_decimal(order.quantity)} {order.symbol} {order.get_order_type_display()}"
    if order.price is not None:
        text += f" @ {format_decimal(order.price)}"
    if order.stop_price is not None:
        text += f" stop {format_decimal(order.stop_price)}"
    return text


def describe_placed(order: PaperOrder) -> str:
    if order.status == PaperOrder.Status.FILLED:
        return f"Order {describe_order(order)} filled at {format_decimal(order.average_price)}."
    if order.status == PaperOrder.Status.EXPIRED:
        return f"Order {describe_order(order)} expired: the market did not take it at once."
    if order.status == PaperOrder.Status.UNKNOWN:
        return f"Order {describe_order(order)} sent; its outcome is not known yet — sync will resolve it."
    return f"Order {describe_order(order)} placed: {order.get_status_display().lower()}."


def describe_sync(report) -> str:
    changes = ", ".join(f"{count} {kind}" for kind, count in sorted(report.changed.items()))
    venue = Venue(report.venue).label if report.venue in Venue.values else report.venue
    symbols = "symbol" if report.checked == 1 else "symbols"
    text = f"Synced with {venue}: checked {report.checked} {symbols}; {changes or 'nothing changed'}."
    if report.notes:
        text += " " + " ".join(report.notes)
    return text


def announce_fills(request, *, since: int, until: int) -> None:
    """A notice for each of the user's orders that filled since the table was last drawn.

    Fills the page itself caused were already reported by the page's own answer, so only the matcher's and
    sync's fills are announced.
    """
    events = (
        OrderEvent.objects.filter(
            id__gt=since,
            id__lte=until,
            order__placed_by=request.user,
            to_status__in=[PaperOrder.Status.FILLED, PaperOrder.Status.PARTIALLY_FILLED],
        )
        .exclude(source=OrderEvent.Source.PAGE)
        .select_related("order")
        .order_by("id")[:10]
    )
    for event in events:
        order = event.order
        done = "filled" if event.to_status == PaperOrder.Status.FILLED else "partially filled"
        average = f" at {format_decimal(order.average_price)}" if order.average_price else ""
        messages.success(request, f"Your order {describe_order(order)} {done}{average}.")


# --- views -------------------------------------------------------------------------------------------------


@login_required
@require_GET
def desk(request):
    context = desk_context(request)
    if request.htmx:
        return render_fragment(request, "papertrading/partials/desk_main.html", context)
    return render(request, DESK_TEMPLATE, context)


@login_required
@require_GET
def account(request):
    if not request.htmx:
        return render(request, DESK_TEMPLATE, desk_context(request))
    return render_fragment(request, "papertrading/partials/account.html", account_context())


@login_required
@require_GET
def orders(request):
    state = TableState.from_query(request.GET)
    if not request.htmx:
        return render(request, DESK_TEMPLATE, desk_context(request, state=state))
    until = latest_event_id()
    try:
        since = int(request.GET["since"])
    except (KeyError, ValueError):
        since = None
    if since is not None:
        announce_fills(request, since=since, until=until)
    return render_fragment(request, "papertrading/partials/orders.html", orders_context(request, state, since=until))


@login_required
@require_http_methods(["GET", "POST"])
def order_form(request):
    """GET redraws the form for the chosen order type (typed values kept); POST places the order."""
    if request.method == "POST":
        return place_order(request)
    require_perm(request, CAN_PLACE)
    form = OrderForm(initial={name: value for name, value in request.GET.items() if name in OrderForm.base_fields})
    if not request.htmx:
        return render(request, DESK_TEMPLATE, desk_context(request, form=form))
    return render_fragment(request, "papertrading/partials/order_form.html", form_context(request, form))


def place_order(request):
    require_perm(request, CAN_PLACE)
    form = OrderForm(request.POST)
    events: tuple[str, ...] = ()
    if form.is_valid():
        try:
            result = services.place_order(
                **form.order_arguments(), placed_by=request.user, source=OrderEvent.Source.PAGE
            )
        except OrderValidationError as exc:
            form.add_service_errors(exc)
        except OrderRejected as exc:
            form.add_error(None, f"Rejected by the venue ({exc.code}): {exc.message}")
            messages.error(request, f"Order rejected ({exc.code}): {exc.message}")
            events = ("orders-changed", "account-changed")  # the rejected order is on record
        except PaperTradingError as exc:
            form.add_error(None, exc.message or "The venue cannot take orders now.")
            messages.error(request, exc.message or "The venue cannot take orders now.")
            events = ("orders-changed",)
        else:
            messages.success(request, describe_placed(result.order))
            if not request.htmx:
                return redirect(desk_url())
            # A fresh form for the next order, keeping what is usually repeated.
            kept = {name: form.cleaned_data[name] for name in ("symbol", "side", "order_type", "time_in_force")}
            return render_fragment(
                request,
                "papertrading/partials/order_form.html",
                form_context(request, OrderForm(initial=kept)),
                events=("orders-changed", "account-changed"),
            )
    if not request.htmx:
        if events:  # something was written: redirect, the message says what happened
            return redirect(desk_url())
        return render(request, DESK_TEMPLATE, desk_context(request, form=form), status=422)
    # 422 is swapped like a 200 (see the htmx-config meta in base.html), so the errors land beside the fields.
    return render_fragment(
        request, "papertrading/partials/order_form.html", form_context(request, form), status=422, events=events
    )


@login_required
@require_POST
def cancel_order(request, pk: int):
    require_perm(request, CAN_MANAGE)
    get_object_or_404(PaperOrder, pk=pk)
    state = TableState.from_query(request.GET)
    try:
        services.cancel_order(order_id=pk, source=OrderEvent.Source.PAGE, actor=request.user.username)
    except OrderNotWorking as exc:
        messages.warning(request, exc.message)
    except PaperTradingError as exc:
        messages.error(request, f"Order #{pk} was not cancelled: {exc.message}")
    else:
        messages.success(request, f"Order #{pk} cancelled.")
    if not request.htmx:
        return redirect(desk_url(state.query()))
    return render_fragment(
        request, "papertrading/partials/orders.html", orders_context(request, state), events=("account-changed",)
    )


@login_required
@require_POST
def sync_orders(request):
    require_perm(request, CAN_MANAGE)
    try:
        report = services.sync_orders(source=OrderEvent.Source.PAGE)
    except PaperTradingError as exc:
        messages.error(request, f"Sync failed: {exc.message}")
    else:
        messages.success(request, describe_sync(report))
    if not request.htmx:
        return redirect(desk_url(TableState.from_query(request.GET).query()))
    return with_client_events(request, HttpResponse(status=204), ("orders-changed", "account-changed"))
