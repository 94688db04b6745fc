from django.contrib import admin, messages

from . import services
from .models import BinanceKey


@admin.register(BinanceKey)
class BinanceKeyAdmin(admin.ModelAdmin):
    list_display = ["api_key", "kind", "name", "account", "created_at", "revoked_at"]
    list_filter = ["kind", "revoked_at"]
    list_select_related = ["account"]
    search_fields = ["=api_key", "name"]
    # The HMAC secret is shown once, when the API creates the key, and never again (here neither).
    fields = ["account", "kind", "name", "api_key", "public_key", "created_by", "created_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        revoked = [services.revoke_binance_key(key=key) for key in queryset.filter(revoked_at__isnull=True)]
        self.message_user(request, f"{len(revoked)} key(s) revoked.", messages.INFO)

    def has_add_permission(self, request):
        return False  # the API shows the secret once; the admin would have nowhere to show it
