"""Template helpers for the desk and the shared layout."""

from django import template
from django.urls import NoReverseMatch, reverse

from ..money import format_decimal

register = template.Library()


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
