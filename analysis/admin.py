from django.contrib import admin

from .models import AnalysisRun, PriceSample


@admin.register(AnalysisRun)
class AnalysisRunAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "account",
        "agent",
        "symbol",
        "decision",
        "quantity",
        "status",
        "error_code",
        "reason",
    ]
    list_filter = ["account", "status", "decision", "agent", "symbol", "mode"]
    list_select_related = ["account"]
    search_fields = ["=run_id", "agent", "rationale"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False  # a run executes on creation; post it through the API

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PriceSample)
class PriceSampleAdmin(admin.ModelAdmin):
    list_display = ["symbol", "price", "observed_at"]
    list_filter = ["symbol"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
