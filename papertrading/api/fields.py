"""API fields for amounts: what the API accepts as a number is what Binance accepts."""

import math
from decimal import Decimal

from rest_framework import serializers

from ..money import NOT_A_NUMBER, parse_amount


class BinanceDecimalField(serializers.DecimalField):
    """A DecimalField that reads input with Binance's number grammar (`money.parse_amount`).

    Strings are taken as written: ASCII digits with an optional fraction, nothing else (no sign, exponent,
    separators, spaces, NaN/Infinity, or digits of other scripts). Binance takes numbers as strings; a JSON
    number is accepted when its text matches the same grammar. JSON parsing has already made it an int or a
    float by then, so a float is read back as its shortest round-trip digits written out without exponent:
    0.001 and 0.00001 are accepted, 0.000000001 is refused as too precise, NaN and Infinity as not numbers.
    The exponent itself is lost in parsing, so a JSON 1e3 counts as 1000. Booleans are refused. Output is
    unchanged: strings with 8 decimals.
    """

    def to_internal_value(self, data):
        try:
            value = parse_amount(self._text_of(data))
        except ValueError as error:
            raise serializers.ValidationError(str(error), code="invalid") from None
        # The parent still enforces the column's digits and quantizes to the stored precision.
        return super().to_internal_value(value)

    @staticmethod
    def _text_of(data) -> str:
        if isinstance(data, bool):
            raise ValueError(NOT_A_NUMBER)
        if isinstance(data, float):
            if not math.isfinite(data):
                raise ValueError(NOT_A_NUMBER)
            return format(Decimal(repr(data)), "f")
        if isinstance(data, int | Decimal):
            return str(data)
        if isinstance(data, str):
            return data
        raise ValueError(NOT_A_NUMBER)
