from django.contrib import admin

from .models import EquitySnapshot, Position, Trade


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger rows come from fills and decisions; editing one by hand would break the P&L it feeds."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = [
        "executed_at",
        "account",
        "period",
        "side",
        "symbol",
        "quantity",
        "price",
        "fee",
        "fee_asset",
        "realized_pnl",
        "agent",
    ]
    list_filter = ["account", "period", "side", "source", "symbol", "agent"]
    list_select_related = ["account"]
    search_fields = ["=run_id", "agent", "symbol"]
    raw_id_fields = ["order", "fill"]
    date_hierarchy = "executed_at"


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "period",
        "symbol",
        "quantity",
        "average_cost",
        "cost_basis",
        "realized_pnl",
        "fees_paid",
        "trade_count",
    ]
    list_filter = ["account", "symbol"]
    list_select_related = ["account"]


@admin.register(EquitySnapshot)
class EquitySnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "taken_at",
        "account",
        "period",
        "equity",
        "cash",
        "market_value",
        "realized_pnl",
        "unrealized_pnl",
        "total_pnl",
    ]
    list_filter = ["account", "period"]
    list_select_related = ["account"]
    date_hierarchy = "taken_at"
