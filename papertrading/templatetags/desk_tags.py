"""Template helpers for the desk and the shared layout."""

from django import template
from django.urls import NoReverseMatch, reverse

from ..descriptions import ORDER_TYPE_HELP
from ..models import PaperOrder
from ..money import format_decimal

register = template.Library()

Status = PaperOrder.Status

# Status colours by status value: the desk's orders, and the agents' runs in the same palette (a run that
# executed reads as filled, one that was skipped as set aside, one still being placed as working).
STATUS_CLASSES = {
    Status.FILLED: "status-filled",
    Status.PENDING: "status-working",
    Status.PARTIALLY_FILLED: "status-working",
    Status.CANCELLED: "status-cancelled",
    Status.REJECTED: "status-failed",
    Status.EXPIRED: "status-failed",
    Status.UNKNOWN: "status-unknown",
    "executed": "status-filled",
    "received": "status-working",
    "skipped": "status-cancelled",
    "failed": "status-failed",
}


@register.simple_tag
def optional_url(name: str) -> str:
    """The URL of `name`, or "" while that page does not exist yet (navigation shows only pages that do)."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@register.filter
def amount(value) -> str:
    """A Decimal in plain notation without trailing zeros ('0.001', '68000'); '—' when there is none."""
    if value is None or value == "":
        return "—"
    return format_decimal(value)


@register.filter
def with_query(url: str, query: str) -> str:
    """`url?query`, or just `url` when the query is empty."""
    return f"{url}?{query}" if query else url


@register.filter
def status_class(status) -> str:
    """The CSS class that colours a status ('status-filled', 'status-working'…); '' for one it does not know."""
    return STATUS_CLASSES.get(status, "")


@register.filter
def order_type_help(order_type) -> str:
    """What an order of this type does once placed, in a sentence."""
    return ORDER_TYPE_HELP.get(order_type, "")
