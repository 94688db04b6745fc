"""Decimal helpers: every amount the desk stores goes through here, so stored and recomputed values agree."""

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Sum

ZERO = Decimal("0")
QUANTUM = Decimal(1).scaleb(-settings.MONEY_DECIMAL_PLACES)

# Binance's grammar for decimal parameters, ^([0-9]{1,20})(\.[0-9]{1,20})?$; fullmatch, because "$" would let a
# trailing newline through. [0-9] is ASCII only, unlike \d or Decimal(), which take any script's digits.
AMOUNT_PATTERN = re.compile(r"([0-9]{1,20})(?:\.([0-9]{1,20}))?")
NOT_A_NUMBER = "A valid number is required. Use digits 0-9 with an optional fraction after a dot, e.g. 0.001."


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


def parse_amount(text: str) -> Decimal:
    """A quantity, price or amount written as Binance takes it, as a Decimal; ValueError with the reason otherwise.

    Only ASCII digits with an optional fraction: no sign, exponent, spaces, separators, NaN/Infinity or other
    scripts' digits. Zeros past the 8th decimal are fine ("0.001000000000" is 0.001); any other digit there is
    more precision than the exchange keeps.
    """
    if not isinstance(text, str):
        raise ValueError(NOT_A_NUMBER)
    match = AMOUNT_PATTERN.fullmatch(text)
    if match is None:
        if text.startswith("-") and AMOUNT_PATTERN.fullmatch(text[1:]):
            raise ValueError("Must be greater than zero.")
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
            raise ValueError("Too many digits: at most 20 before the decimal point and 20 after it.")
        raise ValueError(NOT_A_NUMBER)
    whole, fraction = match.group(1), match.group(2) or ""
    places = settings.MONEY_DECIMAL_PLACES
    if fraction[places:].strip("0"):
        raise ValueError(f"Too much precision: at most {places} decimal places.")
    return Decimal(f"{whole}.{fraction[:places]}" if fraction else whole)


class MoneySum(Sum):
    """SUM of a money column, exact to the stored precision on every database.

    SQLite adds decimals as binary floats and hands aggregates back with 15 significant digits
    (0.000337000000000143); the result is brought back to the 8 decimals every stored amount has.
    """

    def convert_value(self, value, expression, connection):
        return None if value is None else to_money(Decimal(value))
