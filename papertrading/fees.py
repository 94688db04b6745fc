"""The trading fee, as Binance charges it by default: a rate of the trade, in the asset the trader receives."""

from decimal import Decimal

from django.conf import settings

from .models import Side
from .money import to_money


def trading_fee(
    *, side: str, quantity: Decimal, price: Decimal, base_asset: str, quote_asset: str, rate: Decimal | None = None
) -> tuple[Decimal, str]:
    """(commission, commission asset) of one fill: a BUY pays in the base asset, a SELL in the quote asset."""
    rate = settings.SIMULATOR_FEE_RATE if rate is None else rate
    if side == Side.BUY:
        return to_money(quantity * rate), base_asset
    return to_money(to_money(quantity * price) * rate), quote_asset
