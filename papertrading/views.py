"""The desk pages: thin function views that read input, call one service, and render the page or a fragment.

Every view answers a full page to a plain request and its fragment to an htmx request (`request.htmx`). Writes
go through the services with source="page"; a plain POST redirects back (PRG) with a message, an htmx POST
answers the fresh fragment and turns the messages into a `notice` client event (toasts).
"""

from decimal import Decimal

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

from . import acting, risk, selectors, services
from .accounts import AccountInputError
from .acting import request_account
from .descriptions import describe_fill, describe_order, describe_placed
from .errors import (
    OrderNotWorking,
    OrderRejected,
    OrderValidationError,
    PaperTradingError,
    RiskLimitExceeded,
    VenueUnavailable,
)
from .forms import ORDER_FORMS, ORDER_KINDS, SINGLE, HaltForm, OrderForm, OrderListForm, chosen_kind
from .models import Account, OrderEvent, OrderList, PaperOrder, Venue
from .money import format_decimal
from .prices import is_stale
from .tables import TableState, in_leg_order, orders_table

CAN_PLACE = "papertrading.add_paperorder"
CAN_MANAGE = "papertrading.change_paperorder"  # cancel, sync, halt and resume, as in the API
DESK_TEMPLATE = "papertrading/desk.html"
RISK_TEMPLATE = "papertrading/partials/risk_body.html"  # the panel's content, for htmx answers
RECENT_RISK_EVENTS = 5


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


def form_context(request, form: OrderForm | OrderListForm | None = None) -> dict:
    can_place = request.user.has_perm(CAN_PLACE)
    if form is None and can_place:
        form = OrderForm()
    return {"form": form if can_place else None, "can_place": can_place, "order_kinds": ORDER_KINDS}


def grouped(value) -> str:
    """A number as people read it: thousands grouped, no trailing zeros ('1,000', '0.5', '12,345.67')."""
    text = format_decimal(value) if isinstance(value, Decimal) else str(value)
    whole, dot, fraction = text.partition(".")
    sign, whole = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    return f"{sign}{int(whole):,}{dot}{fraction}" if whole.isdigit() else text


def figure(text: str) -> str:
    """A value a risk event recorded, as people read it ('1000.00000000' -> '1,000'); other text as it is."""
    try:
        return grouped(Decimal(text)) if text else ""
    except ArithmeticError:
        return text


def limit_rows(account: Account) -> list[dict]:
    """Each limit the account has (its own or the default from settings), with what it uses now."""
    if not any(value not in (None, False) for value in risk.effective_limits(account).values()):
        return []  # nothing to count
    asset = settings.PORTFOLIO_VALUATION_ASSET
    defaults = risk.default_limits()
    rows = []
    for name, figures in risk.usage(account).items():
        limit, used = figures["limit"], figures["used"]
        if limit is None or limit is False:
            continue
        if name in risk.COUNT_LIMITS:
            text = f"{used} of {limit}"
        elif name == "max_daily_loss":
            text = f"{grouped(used)} of {grouped(limit)} {asset}"
        elif name in risk.MONEY_LIMITS:
            text = f"{grouped(limit)} {asset}"
        elif name == "allowed_symbols":
            text = ", ".join(limit)
        else:  # halt_on_daily_loss
            text = "on"
        own = getattr(account, name)
        rows.append(
            {
                "name": name,
                "label": LIMIT_LABELS[name],
                "text": text,
                # The next order that adds to it is refused ("exactly at the limit passes").
                "at_limit": used is not None and (used >= limit if name in risk.COUNT_LIMITS else used > limit),
                "is_default": (own is None or own == []) and defaults.get(name) is not None,
            }
        )
    return rows


# What the desk calls each limit: "Open orders 3 of 5", "Largest order 1,000 USDT", "Symbols: BTCUSDT, ETHUSDT".
LIMIT_LABELS = {
    "max_open_orders": "Open orders",
    "max_orders_per_minute": "Orders in the last minute",
    "max_daily_loss": "Today's loss",
    "max_order_notional": "Largest order",
    "max_position_notional": "Largest position",
    "allowed_symbols": "Symbols:",
    "halt_on_daily_loss": "Halt when the daily loss is breached:",
}


def describe_limit(limit: str) -> str:
    return f"{limit} ({risk.LABELS[limit]})" if limit in risk.LABELS and limit != risk.HALTED else limit


def risk_context(request, halt_form: HaltForm | None = None) -> dict:
    account, _ = acting_account(request)
    can_halt = request.user.has_perm(CAN_MANAGE)
    context = {
        "account": account,
        "limit_rows": [],
        "risk_events": [],
        "can_halt": can_halt,
        "halt_form": (halt_form or HaltForm()) if can_halt else None,
        "poll_seconds": poll_seconds(),
    }
    if account is not None:
        events = list(account.risk_events.all()[:RECENT_RISK_EVENTS])
        for event in events:
            event.limit_text = describe_limit(event.limit) if event.limit else ""
            event.value_text, event.limit_value_text = figure(event.value), figure(event.limit_value)
            event.source_text = (
                OrderEvent.Source(event.source).label if event.source in OrderEvent.Source.values else ""
            )
        context.update(limit_rows=limit_rows(account), risk_events=events)
    return context


def desk_context(
    request,
    *,
    state: TableState | None = None,
    form: OrderForm | OrderListForm | None = None,
    halt_form: HaltForm | None = None,
) -> dict:
    return {
        **account_context(request),
        **orders_context(request, state or TableState.from_query(request.GET)),
        **form_context(request, form),
        **risk_context(request, halt_form),
    }


# --- responses ---------------------------------------------------------------------------------------------


def render_fragment(request, template: str, context: dict, *, status: int = 200, events: tuple[str, ...] = ()):
    """Render an htmx fragment; queued messages travel as one `notice` event instead of waiting for a page."""
    response = render(request, template, context, status=status)
    return with_client_events(request, response, events)


def with_client_events(
    request, response: HttpResponse, events: tuple[str, ...] = (), *, after: str = "receive"
) -> HttpResponse:
    """`after="settle"` fires the events (toasts too) once the answer is in place, from the page's body when the
    element that asked is gone by then, so they are never lost."""
    notices = [{"level": message.level_tag, "message": str(message)} for message in messages.get_messages(request)]
    if notices:
        trigger_client_event(response, "notice", {"items": notices}, after=after)
    for event in events:
        trigger_client_event(response, event, after=after)
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
    """GET redraws the form for the chosen kind (a single order or a list) and order types, typed values kept;
    POST places the order or the list."""
    if request.method == "POST":
        if chosen_kind(request.POST) != SINGLE:
            return place_order_list(request)
        return place_order(request)
    require_perm(request, CAN_PLACE)
    kind = chosen_kind(request.GET)
    if kind == SINGLE:
        form = OrderForm(initial={name: value for name, value in request.GET.items() if name in OrderForm.base_fields})
    else:
        # A list form's fields depend on what was chosen (its types, its sides): every value typed is carried over.
        form = ORDER_FORMS[kind](initial=request.GET.dict())
    if not request.htmx:
        return render(request, DESK_TEMPLATE, desk_context(request, form=form))
    return render_fragment(request, "papertrading/partials/order_form.html", form_context(request, form))


def refusal_message(exc: RiskLimitExceeded) -> str:
    if exc.limit == risk.HALTED:
        return f"Refused: {exc.message}"
    return f"Refused by the risk limit {describe_limit(exc.limit)}: {exc.message}"


def place_order(request):
    form = OrderForm(request.POST)

    def fresh_form() -> OrderForm:
        # A fresh form for the next order, keeping what is usually repeated.
        kept = {name: form.cleaned_data[name] for name in ("symbol", "side", "order_type", "time_in_force")}
        return OrderForm(initial=kept)

    return place_from_form(
        request,
        form,
        lambda account: services.place_order(
            account=account, **form.order_arguments(), placed_by=request.user, source=OrderEvent.Source.PAGE
        ),
        describe=lambda result: describe_placed(result.order),
        fresh_form=fresh_form,
    )


def describe_list_placed(order_list: OrderList) -> str:
    """'OCO list #4 placed on BTCUSDT: above #7 SELL 0.01 BTCUSDT Limit maker @ 70000, pending; below …'."""
    legs = []
    for leg in in_leg_order(order_list.orders.all()):
        state = "waiting for the working order" if leg.waits_for_list else leg.get_status_display().lower()
        legs.append(f"{leg.list_leg} {describe_order(leg)}, {state}")
    return f"{order_list.contingency_type} list #{order_list.pk} placed on {order_list.symbol}: {'; '.join(legs)}."


def place_order_list(request):
    """Place an OCO, OTO or bracket from the desk's form, as `place_order` places one order; a list is written
    whole or not at all, so a refusal leaves the form as it was typed, with the reason."""
    form = ORDER_FORMS[chosen_kind(request.POST)](request.POST)
    return place_from_form(
        request,
        form,
        lambda account: getattr(services, form.service)(
            account=account, **form.service_arguments(), placed_by=request.user, source=OrderEvent.Source.PAGE
        ),
        describe=lambda result: describe_list_placed(result.order_list),
        fresh_form=lambda: type(form)(initial={"kind": form.kind, **form.kept_values()}),
    )


def place_from_form(request, form, place, *, describe, fresh_form):
    """The desk form's POST: `place(account)` when the form is valid, the service's refusals as the form's errors.

    A success answers a fresh form (htmx) or goes back to the desk; a refusal answers the form with its errors
    (422, swapped like a 200: see the htmx-config meta in base.html), or, when the venue kept a rejected order on
    record, goes back to the desk where the message says what happened.
    """
    require_perm(request, CAN_PLACE)
    events: tuple[str, ...] = ()
    written = False  # an order went on record: a plain POST redirects to show it
    if form.is_valid():
        try:
            account = request_account(request)  # may be opened now, which the testnet may refuse
            result = place(account)
        except OrderValidationError as exc:
            form.add_service_errors(exc)
        except RiskLimitExceeded as exc:
            # Nothing was written, reserved or sent: an error beside the form, and the risk panel shows the event.
            form.add_error(None, refusal_message(exc))
            events = ("risk-changed",)
            if Account.objects.filter(pk=account.pk, halted_at__isnull=False).exists() and exc.limit != risk.HALTED:
                # The daily loss halted the account, which cancelled its working orders.
                events += ("orders-changed", "account-changed")
        except OrderRejected as exc:
            form.add_error(None, f"Rejected by the venue ({exc.code}): {exc.message}")
            if exc.order is not None:  # the rejected order is on record
                messages.error(request, f"Order rejected ({exc.code}): {exc.message}")
                events, written = ("orders-changed", "account-changed"), True
        except PaperTradingError as exc:
            form.add_error(None, exc.message or "The venue cannot take orders now.")
            messages.error(request, exc.message or "The venue cannot take orders now.")
            events, written = ("orders-changed", "account-changed"), True  # sent without an answer: on record
        else:
            messages.success(request, describe(result))
            if not request.htmx:
                return redirect(desk_url())
            return render_fragment(
                request,
                "papertrading/partials/order_form.html",
                form_context(request, fresh_form()),
                events=("orders-changed", "account-changed"),
            )
    if not request.htmx:
        if written:  # the message says what happened
            return redirect(desk_url())
        return render(request, DESK_TEMPLATE, desk_context(request, form=form), status=422)
    return render_fragment(
        request, "papertrading/partials/order_form.html", form_context(request, form), status=422, events=events
    )


@login_required
@require_POST
def cancel_order_list(request, pk: int):
    """Cancel an order list with all its legs (the orders table's Cancel on a list)."""
    return cancel_from_table(
        request,
        lambda account, **who: services.cancel_order_list(account=account, list_id=pk, **who),
        missing=OrderList.DoesNotExist,
        name=f"Order list #{pk}",
        done=lambda order_list: f"{order_list.contingency_type} list #{pk} cancelled, with its legs.",
    )


@login_required
@require_POST
def cancel_order(request, pk: int):
    return cancel_from_table(
        request,
        lambda account, **who: services.cancel_order(account=account, order_id=pk, **who),
        missing=PaperOrder.DoesNotExist,
        name=f"Order #{pk}",
        done=lambda order: f"Order #{pk} cancelled.",
    )


def cancel_from_table(request, cancel, *, missing: type[Exception], name: str, done):
    """The orders table's Cancel: `cancel(account, source=..., actor=...)`, its outcome as a message, and the
    table redrawn in the state it was in (404 for another account's order or list)."""
    require_perm(request, CAN_MANAGE)
    state = TableState.from_query(request.GET)
    try:
        cancelled = cancel(request_account(request), source=OrderEvent.Source.PAGE, actor=request.user.username)
    except missing:
        raise Http404(f"No {name[0].lower()}{name[1:]}.") from None
    except OrderNotWorking as exc:
        messages.warning(request, exc.message)
    except PaperTradingError as exc:
        messages.error(request, f"{name} was not cancelled: {exc.message}")
    else:
        messages.success(request, done(cancelled))
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


# --- risk limits and the kill switch --------------------------------------------------------------------------


@login_required
@require_GET
def risk_panel(request):
    if not request.htmx:
        return render(request, DESK_TEMPLATE, desk_context(request))
    return render_fragment(request, RISK_TEMPLATE, {**risk_context(request), "oob_banner": True})


def describe_halt(result: services.HaltResult, *, already: bool) -> list[tuple[int, str]]:
    """The messages a halt leaves: what it cancelled, and each order it could not."""
    account = result.account
    cancelled = len(result.cancelled)
    if already:
        text = f"{account.name} was already halted ({account.halted_reason})."
    else:
        text = f"{account.name} halted: every new order is refused until it is resumed."
    if cancelled:
        text += f" {cancelled} working order{'s' if cancelled != 1 else ''} cancelled."
    notes = [(messages.WARNING if already else messages.SUCCESS, text)]
    for order_id, why in result.not_cancelled.items():
        notes.append((messages.WARNING, f"Order #{order_id} was not cancelled: {why}"))
    return notes


def risk_answer(request, *, status: int = 200, halt_form: HaltForm | None = None, changed: bool = False):
    """A halt or resume answer: PRG for a plain POST (or the page with the form's errors), else the risk panel's
    content. A change also redraws the balances, the orders and the panel once it is in place; that redraw brings
    the halted banner (the panel's own requests carry it: a refresh that lands first may have replaced the form
    that asked, and the banner would not be found from there)."""
    if not request.htmx:
        if status == 200:
            return redirect(desk_url())
        return render(request, DESK_TEMPLATE, desk_context(request, halt_form=halt_form), status=status)
    response = render(request, RISK_TEMPLATE, risk_context(request, halt_form), status=status)
    events = ("account-changed", "orders-changed") if changed else ()
    return with_client_events(request, response, events, after="settle")


@login_required
@require_POST
def halt(request):
    require_perm(request, CAN_MANAGE)
    account = request_account(request)
    form = HaltForm(request.POST)
    if not form.is_valid():
        return risk_answer(request, status=422, halt_form=form)
    already = account.halted_at is not None
    try:
        result = services.halt_account(
            account=account,
            reason=form.cleaned_data["reason"],
            actor=request.user.get_username(),
            source=OrderEvent.Source.PAGE,
        )
    except AccountInputError as exc:
        for field, errors in exc.errors.items():
            for error in errors:
                form.add_error("reason" if field == "reason" else None, error)
        return risk_answer(request, status=422, halt_form=form)
    request._paper_account = result.account  # the rest of the answer shows the halted account
    for level, text in describe_halt(result, already=already):
        messages.add_message(request, level, text)
    return risk_answer(request, changed=True)


@login_required
@require_POST
def resume(request):
    require_perm(request, CAN_MANAGE)
    account = request_account(request)
    was_halted = account.halted_at is not None
    if not was_halted:
        messages.info(request, f"{account.name} was not halted.")
    else:
        account = services.resume_account(
            account=account, actor=request.user.get_username(), source=OrderEvent.Source.PAGE
        )
        messages.success(request, f"{account.name} resumed: new orders are judged by its limits again.")
    request._paper_account = account
    return risk_answer(request, changed=was_halted)
