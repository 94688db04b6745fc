import uuid
from contextlib import suppress
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.shortcuts import render

from .balances import adjust_balance
from .models import BalanceAdjustment, MarketPrice, OrderEvent, OrderFill, PaperOrder, SimulatedBalance, SymbolRule


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
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
        "placed_by",
    ]
    list_filter = ["status", "venue", "symbol", "side", "order_type", "is_external"]
    search_fields = ["client_order_id", "=binance_order_id", "=run_id"]
    date_hierarchy = "created_at"
    list_select_related = ["placed_by"]
    inlines = [OrderFillInline, OrderEventInline]

    def get_readonly_fields(self, request, obj=None):
        # Orders change only through the services, which keep balances and events in step.
        return [field.name for field in PaperOrder._meta.fields]

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
    list_display = ["asset", "free", "locked", "updated_at"]
    readonly_fields = ["asset", "free", "locked", "updated_at"]
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
    list_display = ["created_at", "asset", "amount", "reason", "created_by"]
    list_filter = ["asset"]
    readonly_fields = ["asset", "amount", "reason", "created_by", "created_at"]

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
