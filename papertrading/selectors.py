"""Reads of orders and balances, shared by the API, the pages and the admin."""

from django.db.models import Prefetch, QuerySet

from .models import OrderEvent, OrderFill, PaperOrder


def order_list() -> QuerySet[PaperOrder]:
    """Every order, newest first."""
    return PaperOrder.objects.select_related("placed_by").order_by("-created_at", "-id")


def open_order_list() -> QuerySet[PaperOrder]:
    return order_list().filter(status__in=PaperOrder.WORKING_STATUSES)


def order_with_history() -> QuerySet[PaperOrder]:
    return order_list().prefetch_related(
        Prefetch("fills", queryset=OrderFill.objects.order_by("id")),
        Prefetch("events", queryset=OrderEvent.objects.order_by("id")),
    )
