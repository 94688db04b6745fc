from django.contrib import admin, messages
from django.db import models

from . import services
from .models import Webhook, WebhookDelivery, WebhookEvent


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["created_at", "event", "trigger", "attempt", "succeeded", "status_code", "latency_ms", "error"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    ordering = ["-created_at", "-id"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event")


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["url", "account", "is_active", "created_at"]
    list_filter = ["is_active", "account"]
    list_select_related = ["account"]
    search_fields = ["url"]
    # The secret is never shown again, here either.
    fields = ["account", "url", "events", "is_active", "created_by", "created_at", "updated_at"]
    readonly_fields = ["account", "created_by", "created_at", "updated_at"]
    inlines = [DeliveryInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return False  # the API shows the secret once; the admin would have nowhere to show it


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "webhook", "event", "trigger", "attempt", "succeeded", "status_code", "latency_ms"]
    list_filter = ["succeeded", "trigger"]
    list_select_related = ["webhook", "event"]
    search_fields = ["=event__id"]
    date_hierarchy = "created_at"
    actions = ["redeliver"]

    @admin.action(description="Send the selected deliveries' events again (once each, now)")
    def redeliver(self, request, queryset):
        sent = [services.redeliver(delivery=delivery) for delivery in queryset.select_related("webhook", "event")]
        delivered = sum(delivery.succeeded for delivery in sent)
        self.message_user(request, f"{delivered} of {len(sent)} delivered.", messages.INFO)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "account", "created_at"]
    list_filter = ["type"]
    list_select_related = ["account"]
    search_fields = ["=id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
