from decimal import Decimal, InvalidOperation

from django import template

from papertrading.money import format_decimal

register = template.Library()


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def money(value) -> str:
    """12,345.68 (two decimals; tiny amounts keep their digits so a 0.0005 fee is not shown as 0.00)."""
    number = _decimal(value)
    if number is None:
        return "—"
    if number and abs(number) < Decimal("0.01"):
        return format_decimal(number)
    return f"{number:,.2f}"


@register.filter
def price(value) -> str:
    """A price or average cost: two decimals from 100 up, otherwise every significant digit (XRP's 0.4873)."""
    number = _decimal(value)
    if number is None:
        return "—"
    if abs(number) >= 100:
        return f"{number:,.2f}"
    return format_decimal(number.quantize(Decimal("0.00000001")))


@register.filter
def signed(value) -> str:
    """+12.34 / -5.00: a P&L figure with its sign."""
    number = _decimal(value)
    if number is None:
        return "—"
    return ("+" if number > 0 else "") + money(number)


@register.filter
def quantity(value) -> str:
    number = _decimal(value)
    return "—" if number is None else format_decimal(number)


@register.filter
def pnl_class(value) -> str:
    number = _decimal(value)
    if not number:
        return "pnl-flat"
    return "pnl-up" if number > 0 else "pnl-down"
