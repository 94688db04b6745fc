"""The desk pages: thin function views that read input, call one service, and render the page or a fragment.

Every view answers a full page to a plain request and its fragment to an htmx request (`request.htmx`). Writes
go through the services with source="page"; a plain POST redirects back (PRG) with a message, an htmx POST
answers the fresh fragment and turns the messages into a `notice` client event (toasts).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from . import acting, selectors, services
from .acting import request_account
from .descriptions import describe_fill, describe_placed
from .errors import OrderNotWorking, OrderRejected, OrderValidationError, PaperTradingError, VenueUnavailable
from .forms import OrderForm
from .models import Account, OrderEvent, PaperOrder, Venue
from .prices import is_stale
from .tables import TableState, orders_table

CAN_PLACE = "papertrading.add_paperorder"
CAN_MANAGE = "papertrading.change_paperorder"  # cancel and sync, as in the API
DESK_TEMPLATE = "papertrading/desk.html"


def poll_seconds() -> int:
    return settings.DESK_POLL_SECONDS


# --- context builders (reads) -------------------------------------------------------------------------------


def acting_account(request) -> tuple[Account | None, PaperTradingError | None]:
    """The account the page acts as, or (None, why) when the user has none yet and none can be opened now (the
    testnet is unreachable): the page still draws and says why."""
    try:
        return request_account(request), None
    except PaperTradingError as exc:
        return None, exc


def account_context(request) -> dict:
    account, problem = acting_account(request)
    status = selectors.venue_status()
    context = {
        "mode": status.venue,
        "venue_label": status.label,
        "masked_api_key": status.masked_api_key,
        "notices": status.notices,
        "account": account,
        "balances": [],
        "venue_error": "",
        "retry_after": None,
        "prices": [{"row": row, "stale": is_stale(row)} for row in selectors.market_price_list()],
        "poll_seconds": poll_seconds(),
    }
    try:
        if problem is not None:
            raise problem  # reported like a balances read that failed
        _, balances = selectors.account_balances(account)
    except VenueUnavailable as exc:
        context.update(venue_error=exc.message, retry_after=exc.retry_after)
    except PaperTradingError as exc:
        context["venue_error"] = exc.message or "The venue did not answer."
    else:
        # Assets the account holds first; empty ones would only push the useful rows down.
        context["balances"] = sorted(balances, key=lambda b: (not (b.free or b.locked), b.asset))
    return context


def orders_context(request, state: TableState, *, since: int | None = None) -> dict:
    account, _ = acting_account(request)
    if account is None:
        orders = PaperOrder.objects.none()
    else:
        orders = selectors.open_order_list(account) if state.show == "open" else selectors.order_list(account)
    return {
        **orders_table(orders, state, since=selectors.latest_event_id() if since is None else since),
        "poll_seconds": poll_seconds(),
        "can_manage": request.user.has_perm(CAN_MANAGE),
    }


def form_context(request, form: OrderForm | None = None) -> dict:
    can_place = request.user.has_perm(CAN_PLACE)
    if form is None and can_place:
        form = OrderForm()
    return {"form": form if can_place else None, "can_place": can_place}


def desk_context(request, *, state: TableState | None = None, form: OrderForm | None = None) -> dict:
    return {
        **account_context(request),
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


def safe_next(request, default: str) -> str:
    """`next` from the form when it is a path on this site, else `default` (never an open redirect)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    # No allowed hosts: only a URL without a scheme or host passes, so `//evil.example` and `https://…` do not.
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return default


def require_perm(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def describe_sync(report) -> str:
    venue = Venue(report.venue).label if report.venue in Venue.values else report.venue
    text = f"Synced with {venue}: {report.summary()}."
    if report.notes:
        text += " " + " ".join(report.notes)
    return text


def announce_fills(request, *, since: int, until: int) -> None:
    """A notice for each of the user's orders that filled since the table was last drawn.

    Fills the page itself caused were already reported by the page's own answer, so only the matcher's and
    sync's fills are announced.
    """
    account, _ = acting_account(request)
    if account is None:
        return
    events = selectors.fill_event_list(
        account=account, after=since, until=until, excluding_sources=(OrderEvent.Source.PAGE,)
    )
    for event in events:
        messages.success(request, describe_fill(event.order, to_status=event.to_status))


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
    return render_fragment(request, "papertrading/partials/account.html", account_context(request))


@login_required
@require_POST
def choose_account(request):
    """The header's account switcher: act as another of the user's accounts (staff: any), then go back."""
    account = acting.choose_account(request, request.POST.get("account"))
    messages.info(request, f"Now acting as {account.name}.")
    target = safe_next(request, desk_url())
    # Every panel on the page belongs to the account, so htmx reloads the whole page rather than swapping one.
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


@login_required
@require_GET
def orders(request):
    state = TableState.from_query(request.GET)
    if not request.htmx:
        return render(request, DESK_TEMPLATE, desk_context(request, state=state))
    until = selectors.latest_event_id()
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
                account=request_account(request),
                **form.order_arguments(),
                placed_by=request.user,
                source=OrderEvent.Source.PAGE,
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
    state = TableState.from_query(request.GET)
    try:
        services.cancel_order(
            account=request_account(request), order_id=pk, source=OrderEvent.Source.PAGE, actor=request.user.username
        )
    except PaperOrder.DoesNotExist:
        raise Http404(f"No order #{pk}.") from None
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
        report = services.sync_orders(account=request_account(request), source=OrderEvent.Source.PAGE)
    except PaperTradingError as exc:
        messages.error(request, f"Sync failed: {exc.message}")
    else:
        messages.success(request, describe_sync(report))
    if not request.htmx:
        return redirect(desk_url(TableState.from_query(request.GET).query()))
    return with_client_events(request, HttpResponse(status=204), ("orders-changed", "account-changed"))
