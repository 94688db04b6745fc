import uuid
from contextlib import suppress
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import allocation, reconciliation, risk, services
from .accounts import AccountInputError, revoke_api_key
from .balances import adjust_balance
from .errors import PaperTradingError, VenueUnavailable
from .forms import HaltForm
from .models import (
    Account,
    ApiKey,
    BalanceAdjustment,
    MarketPrice,
    OrderEvent,
    OrderFill,
    OrderList,
    PaperOrder,
    RiskEvent,
    SimulatedBalance,
    SymbolRule,
    Venue,
)
from .money import format_decimal


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record the admin shows and never adds, changes or deletes (what the services write)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderFillInline(ReadOnlyInline):
    model = OrderFill
    fields = readonly_fields = [
        "created_at",
        "price",
        "quantity",
        "commission",
        "commission_asset",
        "rule",
        "market_price",
        "slippage_rate",
        "fee_rate",
        "is_maker",
        "trade_id",
    ]


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = readonly_fields = ["created_at", "from_status", "to_status", "source", "actor", "detail"]


class FlagFilter(admin.SimpleListFilter):
    """A yes/no list filter over one condition (`condition()` returns a Q)."""

    yes_label = "Yes"
    no_label = "No"

    def condition(self) -> Q:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [("yes", self.yes_label), ("no", self.no_label)]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.condition())
        if self.value() == "no":
            return queryset.exclude(self.condition())
        return queryset


class OutcomeUnknownFilter(FlagFilter):
    title = "outcome unknown"
    parameter_name = "outcome_unknown"
    yes_label, no_label = "Outcome unknown", "Outcome known"

    def condition(self) -> Q:
        return Q(status=PaperOrder.Status.UNKNOWN)


class ExternalFilter(FlagFilter):
    title = "external"
    parameter_name = "external"
    yes_label, no_label = "Placed elsewhere (external)", "Placed by this desk"

    def condition(self) -> Q:
        return Q(is_external=True)


class StaleFilter(FlagFilter):
    title = "stale"
    parameter_name = "stale"
    yes_label, no_label = "Not synced lately", "Synced lately or closed"

    def condition(self) -> Q:
        return reconciliation.stale_orders_q()


class TestnetResetFilter(FlagFilter):
    title = "testnet reset"
    parameter_name = "testnet_reset"
    yes_label, no_label = "Closed by a testnet reset", "Other"

    def condition(self) -> Q:
        return reconciliation.testnet_reset_q()


@admin.register(PaperOrder)
class PaperOrderAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "symbol",
        "side",
        "order_type",
        "quantity",
        "price",
        "stop_price",
        "status",
        "executed_quantity",
        "venue",
        "account",
        "placed_by",
        "last_synced_at",
    ]
    list_filter = [
        "account",
        "status",
        OutcomeUnknownFilter,
        StaleFilter,
        ExternalFilter,
        TestnetResetFilter,
        "venue",
        "symbol",
        "side",
        "order_type",
    ]
    search_fields = ["client_order_id", "=binance_order_id", "=run_id"]
    date_hierarchy = "created_at"
    list_select_related = ["placed_by", "account"]
    inlines = [OrderFillInline, OrderEventInline]
    actions = ["show_differences", "sync_selected_orders", "resolve_unknown_orders", "cancel_selected_orders"]

    def get_readonly_fields(self, request, obj=None):
        # Orders change only through the services, which keep balances and events in step.
        return [field.name for field in PaperOrder._meta.fields]

    # --- reconciliation ------------------------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<path:object_id>/differences/",
                self.admin_site.admin_view(self.differences_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_differences",
            ),
            *super().get_urls(),
        ]

    def differences_view(self, request, object_id):
        """One order's local fields beside the exchange's, fetched now."""
        order = self.get_object(request, unquote(object_id))
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        return self._render_differences(request, [order], title=f"Order {order.pk}: local and exchange")

    def _render_differences(self, request, orders, *, title: str):
        results = reconciliation.orders_differences(orders)
        errors = sorted({result["error"] for result in results if result["error"]})
        for error in errors:
            self.message_user(request, error, messages.ERROR)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "results": results,
            "differing": sum(1 for result in results if result["differs"]),
            "can_change": self.has_change_permission(request),
            "changelist_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
        }
        return TemplateResponse(request, "admin/papertrading/paperorder/differences.html", context)

    def _refuse_too_many(self, request, queryset) -> bool:
        count = queryset.count()
        if count > reconciliation.MAX_ORDERS_PER_ACTION:
            self.message_user(
                request,
                f"Select at most {reconciliation.MAX_ORDERS_PER_ACTION} orders at a time ({count} selected): "
                "each one costs an exchange query.",
                messages.ERROR,
            )
            return True
        return False

    @admin.action(description="Show differences with the exchange", permissions=["change"])
    def show_differences(self, request, queryset):
        if self._refuse_too_many(request, queryset):
            return None
        orders = list(queryset.order_by("id"))
        return self._render_differences(request, orders, title=f"{len(orders)} order(s): local and exchange")

    def _report_selection(self, request, result, verb: str) -> None:
        self.message_user(
            request, result.summary(verb), messages.SUCCESS if result.report.orders_checked else messages.INFO
        )
        for note in result.report.notes:
            self.message_user(request, note, messages.WARNING)
        for reason, ids in result.skipped.items():
            listed = ", ".join(map(str, ids))
            self.message_user(request, f"Left alone ({reason}): order(s) {listed}.", messages.WARNING)

    @admin.action(description="Sync selected orders now", permissions=["change"])
    def sync_selected_orders(self, request, queryset):
        self._ask_exchange(request, queryset, reconciliation.sync_selected_orders, "Nothing synced", "Synced")

    @admin.action(description="Resolve unknown orders", permissions=["change"])
    def resolve_unknown_orders(self, request, queryset):
        self._ask_exchange(
            request, queryset, reconciliation.resolve_unknown_orders, "Nothing resolved", "Asked the exchange about"
        )

    def _ask_exchange(self, request, queryset, service, failure: str, done: str) -> None:
        """Run a reconciliation service on the selected orders and report what it did, never a 500."""
        if self._refuse_too_many(request, queryset):
            return
        ids = list(queryset.values_list("pk", flat=True))
        try:
            result = service(ids, actor=request.user.get_username())
        except PaperTradingError as exc:
            self.message_user(request, f"{failure}: {exc.message}", messages.ERROR)
            return
        self._report_selection(request, result, done)

    @admin.action(description="Cancel selected working orders", permissions=["change"])
    def cancel_selected_orders(self, request, queryset):
        if self._refuse_too_many(request, queryset):
            return None
        ids = list(queryset.values_list("pk", flat=True))
        for outcome in reconciliation.cancel_selected_orders(ids, actor=request.user.get_username()):
            self.message_user(request, outcome.message, messages.SUCCESS if outcome.ok else messages.ERROR)
        return None

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        # One box finds an order by any of its ids; a term that is not a number or a UUID only matches text.
        term = search_term.strip()
        if not term:
            return queryset, False
        query = Q(client_order_id__icontains=term)
        if term.isdigit():
            query |= Q(binance_order_id=int(term)) | Q(pk=int(term))
        with suppress(ValueError):
            query |= Q(run_id=uuid.UUID(term))
        return queryset.filter(query), False


class BalanceAdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=28, decimal_places=8, help_text="Added to the free amount; negative removes."
    )
    reason = forms.CharField(max_length=255, help_text="Recorded with the change.")


@admin.register(SimulatedBalance)
class SimulatedBalanceAdmin(admin.ModelAdmin):
    list_display = ["account", "asset", "free", "locked", "updated_at"]
    list_filter = ["account"]
    list_select_related = ["account"]
    readonly_fields = ["account", "asset", "free", "locked", "updated_at"]
    actions = ["adjust_free_balance"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Adjust the free balance (records why)", permissions=["change"])
    def adjust_free_balance(self, request, queryset):
        if "apply" in request.POST:
            form = BalanceAdjustmentForm(request.POST)
            if form.is_valid():
                for balance in queryset:
                    try:
                        adjust_balance(
                            account_id=balance.account_id,
                            asset=balance.asset,
                            amount=form.cleaned_data["amount"],
                            reason=form.cleaned_data["reason"],
                            user=request.user,
                        )
                    except (ValueError, InvalidOperation) as exc:
                        self.message_user(request, f"{balance.asset}: {exc}", messages.ERROR)
                    else:
                        self.message_user(request, f"{balance.asset} adjusted by {form.cleaned_data['amount']}.")
                return None
        else:
            form = BalanceAdjustmentForm(initial={"amount": Decimal("0")})
        return render(
            request,
            "admin/papertrading/adjust_balance.html",
            {**self.admin_site.each_context(request), "form": form, "balances": queryset, "title": "Adjust balances"},
        )


@admin.register(BalanceAdjustment)
class BalanceAdjustmentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "asset", "amount", "reason", "created_by"]
    list_filter = ["asset", "account"]
    readonly_fields = ["account", "asset", "amount", "reason", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SymbolRule)
class SymbolRuleAdmin(admin.ModelAdmin):
    list_display = ["symbol", "base_asset", "quote_asset", "status", "tick_size", "step_size", "min_notional"]
    search_fields = ["symbol"]


@admin.register(MarketPrice)
class MarketPriceAdmin(admin.ModelAdmin):
    list_display = ["symbol", "price", "source", "updated_at"]
    readonly_fields = ["symbol", "price", "source", "sequence", "updated_at"]


# --- accounts and their keys ---------------------------------------------------------------------------------


class AccountBalanceInline(ReadOnlyInline):
    model = SimulatedBalance
    verbose_name = "balance"
    fields = readonly_fields = ["asset", "free", "locked", "updated_at"]


class AccountApiKeyInline(ReadOnlyInline):
    model = ApiKey
    verbose_name = "API key"
    # Never the hash: a key is recognised by its prefix, and the key itself was shown once, when it was issued.
    fields = readonly_fields = ["prefix", "name", "created_by", "created_at", "last_used_at", "revoked_at"]


class HaltedFilter(FlagFilter):
    title = "halted"
    parameter_name = "halted"
    yes_label, no_label = "Halted", "Trading"

    def condition(self) -> Q:
        return Q(halted_at__isnull=False)


class AccountLimitsForm(forms.ModelForm):
    """The account's risk limits: empty for the default from settings (shown as each field's help). Each value is
    read as the API reads it (`risk.parse_limit`), so a bad one is a form error; saving goes through
    `services.set_limits`."""

    allowed_symbols = forms.CharField(
        required=False,
        label="Allowed symbols",
        help_text="Comma-separated, e.g. BTCUSDT, ETHUSDT.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    halt_on_daily_loss = forms.NullBooleanField(
        required=False,
        label="Halt on daily loss",
        help_text="Halt the account when a daily-loss refusal happens. Default:",
        widget=forms.NullBooleanSelect(),
    )

    class Meta:
        model = Account
        fields = list(risk.SETTINGS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        symbols = self.initial.get("allowed_symbols")
        self.initial["allowed_symbols"] = ", ".join(symbols) if isinstance(symbols, list) else ""
        if "halt_on_daily_loss" in self.fields:
            self.fields["halt_on_daily_loss"].widget.choices = [
                ("unknown", "Default"),
                ("true", "Yes"),
                ("false", "No"),
            ]
        defaults = risk.default_limits()
        for name in risk.SETTINGS:
            if name not in self.fields:  # read-only for this user
                continue
            field = self.fields[name]
            field.required = False
            if name in risk.MONEY_LIMITS:
                # Read as a decimal string, as the API reads it: negatives and a ninth decimal are refused.
                self.fields[name] = field = forms.CharField(
                    required=False, label=field.label, help_text=field.help_text, widget=forms.TextInput()
                )
                value = self.initial.get(name)
                self.initial[name] = format_decimal(value) if value is not None else ""
            default = risk.describe(defaults.get(name))
            if name == "halt_on_daily_loss":
                field.help_text = f"{field.help_text} {'yes' if defaults.get(name) else 'no'}."
            else:
                field.help_text = f"{field.help_text} Empty: the default ({default})."

    def clean(self):
        data = super().clean()
        for name in risk.SETTINGS:
            if name in self.errors or name not in self.fields:
                continue
            try:
                data[name] = risk.parse_limit(name, data.get(name))
            except ValueError as exc:
                self.add_error(name, str(exc))
        return data

    def limit_values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in risk.SETTINGS if name in self.fields}


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountLimitsForm
    list_display = [
        "name",
        "owner",
        "venue",
        "period",
        "period_started_at",
        "holdings",
        "active_keys",
        "halted",
        "is_default",
        "is_external",
    ]
    list_filter = [HaltedFilter, "venue", "is_external", "is_default", "owner"]
    search_fields = ["name", "owner__username"]
    list_select_related = ["owner"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "owner",
                    "venue",
                    "starting_balances",
                    "period",
                    "period_started_at",
                    "is_default",
                    "is_external",
                    "created_at",
                ]
            },
        ),
        (
            "Risk limits",
            {
                "description": "Each limit refuses a new order that would pass it; exactly at the limit passes. "
                "Empty: the desk's default (RISK_* settings). Saving records a risk event with your name.",
                "fields": [
                    "max_order_notional",
                    "max_position_notional",
                    "max_open_orders",
                    "max_orders_per_minute",
                    "max_daily_loss",
                    "allowed_symbols",
                    "halt_on_daily_loss",
                ],
            },
        ),
        (
            "Kill switch",
            {
                "description": "Halt and resume with the actions of the account list.",
                "fields": ["halted_at", "halted_reason", "halted_by", "day_started_on", "day_start_equity", "events"],
            },
        ),
    ]
    readonly_fields = [
        "name",
        "owner",
        "venue",
        "starting_balances",
        "period",
        "period_started_at",
        "is_default",
        "is_external",
        "created_at",
        "halted_at",
        "halted_reason",
        "halted_by",
        "day_started_on",
        "day_start_equity",
        "events",
    ]
    inlines = [AccountBalanceInline, AccountApiKeyInline]
    actions = ["reset_selected_accounts", "halt_selected_accounts", "resume_selected_accounts"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("balances", Prefetch("api_keys", ApiKey.objects.filter(revoked_at__isnull=True)))
        )

    @admin.display(description="halted", ordering="halted_at")
    def halted(self, account) -> str:
        if account.halted_at is None:
            return "—"
        return f"Halted by {account.halted_by or '—'}: {account.halted_reason}"

    @admin.display(description="risk events")
    def events(self, account) -> str:
        url = reverse(f"admin:{self.opts.app_label}_riskevent_changelist") + f"?account__id__exact={account.pk}"
        count = account.risk_events.count()
        return format_html('<a href="{}">{} event{}</a>', url, count, pluralize(count))

    @admin.display(description="balances (free + locked)")
    def holdings(self, account) -> str:
        held = [f"{b.asset} {format_decimal(b.free + b.locked)}" for b in account.balances.all() if b.free or b.locked]
        return ", ".join(held) or "—"

    @admin.display(description="active keys")
    def active_keys(self, account) -> str:
        return ", ".join(f"{key.prefix}…" for key in account.api_keys.all()) or "—"

    # Accounts open through the desk and the API, which give them their balances and opening positions; the
    # admin reads them, sets their risk limits, halts, resumes and resets them.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Only the limits change, through the service: staff may set them past the defaults, and the change is
        recorded as a risk event with their name."""
        try:
            services.set_limits(account=obj, values=form.limit_values(), user=request.user, may_loosen=True)
        except AccountInputError as exc:  # the form read every value as the service does: not expected
            self.message_user(request, f"{obj.name}: limits not changed. {exc.message}", messages.ERROR)

    def confirmation_page(self, request, accounts: list, *, title: str, template: str, **extra) -> TemplateResponse:
        """The page an action on accounts asks for confirmation on: each account with its working orders."""
        working = dict(
            PaperOrder.objects.filter(account__in=accounts, status__in=PaperOrder.WORKING_STATUSES)
            .values("account")
            .annotate(count=Count("id"))
            .values_list("account", "count")
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "rows": [{"account": account, "working": working.get(account.pk, 0)} for account in accounts],
            **extra,
        }
        return TemplateResponse(request, f"admin/papertrading/account/{template}", context)

    @admin.action(description="Reset the selected accounts", permissions=["change"])
    def reset_selected_accounts(self, request, queryset):
        accounts = list(queryset.order_by("id"))
        if "apply" not in request.POST:
            return self.confirmation_page(request, accounts, title="Reset accounts", template="reset.html")
        actor = request.user.get_username()
        for account in accounts:
            try:
                account = services.reset_account(account=account, actor=actor, source=OrderEvent.Source.ADMIN)
            except PaperTradingError as exc:
                self.message_user(request, f"{account.name}: not reset. {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{account.name}: reset to its starting balances; period {account.period} has started.",
                    messages.SUCCESS,
                )
        return None

    @admin.action(description="Halt the selected accounts", permissions=["change"])
    def halt_selected_accounts(self, request, queryset):
        """Ask why first; then halt each account (cancelling its working orders) and report on each."""
        accounts = list(queryset.order_by("id"))
        form = HaltForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self.confirmation_page(request, accounts, title="Halt accounts", template="halt.html", form=form)
        actor = request.user.get_username()
        for account in accounts:
            already = account.halted_at is not None
            try:
                result = services.halt_account(
                    account=account, reason=form.cleaned_data["reason"], actor=actor, source=OrderEvent.Source.ADMIN
                )
            except PaperTradingError as exc:
                self.message_user(request, f"{account.name}: not halted. {exc.message}", messages.ERROR)
                continue
            cancelled = len(result.cancelled)
            text = (
                f"{account.name}: already halted ({result.account.halted_reason})"
                if already
                else f"{account.name}: halted"
            )
            text += f"; {cancelled} working order{pluralize(cancelled)} cancelled."
            self.message_user(request, text, messages.WARNING if already else messages.SUCCESS)
            for order_id, why in result.not_cancelled.items():
                self.message_user(
                    request, f"{account.name}: order #{order_id} was not cancelled. {why}", messages.ERROR
                )
        return None

    @admin.action(description="Resume the selected accounts", permissions=["change"])
    def resume_selected_accounts(self, request, queryset):
        actor = request.user.get_username()
        for account in queryset.order_by("id"):
            if account.halted_at is None:
                self.message_user(request, f"{account.name}: was not halted.", messages.INFO)
                continue
            services.resume_account(account=account, actor=actor, source=OrderEvent.Source.ADMIN)
            self.message_user(
                request, f"{account.name}: resumed; new orders are judged by its limits again.", messages.SUCCESS
            )
        return None

    # --- the testnet allocation ----------------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "allocation/",
                self.admin_site.admin_view(self.allocation_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_allocation",
            ),
            *super().get_urls(),
        ]

    def allocation_view(self, request):
        """Per asset: what the testnet account holds, what the desk's accounts were given, and the rest."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows, problem = [], ""
        if settings.PAPER_TRADING_MODE != Venue.TESTNET:
            problem = (
                "The desk runs on the simulator: each account's balances are its own and no exchange account "
                "backs them, so there is nothing to allocate."
            )
        else:
            try:
                rows = allocation.allocation_rows()
            except VenueUnavailable as exc:
                problem = f"The testnet cannot be asked now: {exc.message}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Testnet allocation",
            "rows": rows,
            "differing": sum(1 for row in rows if row.differs),
            "problem": problem,
            "changelist_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
        }
        return TemplateResponse(request, "admin/papertrading/account/allocation.html", context)


class OrderListLegInline(ReadOnlyInline):
    model = PaperOrder
    fields = readonly_fields = [
        "id", "list_leg", "side", "order_type", "quantity", "price", "stop_price", "status", "waits_for_list",
        "executed_quantity", "locked_amount",
    ]  # fmt: skip
    show_change_link = True


@admin.register(OrderList)
class OrderListAdmin(ReadOnlyAdmin):
    """Order lists (OCO, OTO, OTOCO) and their legs: read only (cancel a leg from the orders list; the list
    follows)."""

    list_display = [
        "id",
        "created_at",
        "account",
        "symbol",
        "contingency_type",
        "list_status_type",
        "list_order_status",
    ]
    list_filter = ["contingency_type", "list_status_type", "list_order_status", "account"]
    list_select_related = ["account"]
    search_fields = ["list_client_order_id", "symbol", "account__name"]
    date_hierarchy = "created_at"
    fields = readonly_fields = [
        "account", "symbol", "contingency_type", "list_client_order_id", "list_status_type", "list_order_status",
        "created_at",
    ]  # fmt: skip
    inlines = [OrderListLegInline]


@admin.register(RiskEvent)
class RiskEventAdmin(ReadOnlyAdmin):
    """What the risk limits refused, and who halted, resumed or changed the limits of which account: read only."""

    list_display = ["created_at", "account", "kind", "limit", "value", "limit_value", "order", "actor", "source"]
    list_filter = ["kind", "limit", "account"]
    list_select_related = ["account"]
    search_fields = ["detail", "order", "actor", "account__name"]
    date_hierarchy = "created_at"
    fields = readonly_fields = [
        "created_at",
        "account",
        "kind",
        "limit",
        "limit_value",
        "value",
        "order",
        "detail",
        "source",
        "actor",
    ]


class KeyStateFilter(FlagFilter):
    title = "state"
    parameter_name = "revoked"
    yes_label, no_label = "Revoked", "Active"

    def condition(self) -> Q:
        return Q(revoked_at__isnull=False)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "name", "account", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = [KeyStateFilter, "account"]
    list_select_related = ["account", "created_by"]
    # Never the hash (nor a search on it): a key is told by its prefix.
    search_fields = ["prefix", "name", "account__name"]
    fields = readonly_fields = ["prefix", "name", "account", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected_keys"]

    # Keys are issued through the API, which shows the key once; the admin only reads and revokes them.
    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke_selected_keys(self, request, queryset):
        revoked, already = [], []
        for key in queryset.order_by("id"):
            (already if key.revoked_at else revoked).append(key.prefix)
            revoke_api_key(key)
        if revoked:
            self.message_user(request, f"Revoked {len(revoked)} key(s): {', '.join(revoked)}.", messages.SUCCESS)
        if already:
            self.message_user(request, f"Already revoked: {', '.join(already)}.", messages.INFO)
