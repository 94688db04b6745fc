"""Decimal helpers: every amount the desk stores goes through here, so stored and recomputed values agree."""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.conf import settings

ZERO = Decimal("0")
QUANTUM = Decimal(1).scaleb(-settings.MONEY_DECIMAL_PLACES)


def to_money(value: Decimal) -> Decimal:
    """Round to the stored precision (8 decimals), half up as Binance rounds commissions."""
    return Decimal(value).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def round_to_step(value: Decimal, step: Decimal, *, up: bool) -> Decimal:
    """Snap a price or quantity onto the symbol's grid, up or down."""
    if not step:
        return value
    steps = (value / step).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (steps * step).quantize(step)


def is_on_step(value: Decimal, step: Decimal) -> bool:
    return not step or value % step == 0


def format_decimal(value: Decimal | None) -> str:
    """Plain notation without exponent or trailing zeros: '0.001', '68000'."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text
