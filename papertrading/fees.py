"""The trading fee, as Binance charges it by default: a rate of the trade, in the asset the trader receives."""

from decimal import Decimal

from django.conf import settings

from .models import Side
from .money import to_money


def fill_moves(
    *, side: str, quantity: Decimal, price: Decimal, base_asset: str, quote_asset: str, rate: Decimal | None = None
) -> tuple[Decimal, str, dict[str, Decimal]]:
    """What one fill costs and moves: (commission, commission asset, free-amount change per asset).

    A BUY pays the quote amount and receives the base quantity less the fee; a SELL gives the base quantity and
    receives the quote amount less the fee.
    """
    rate = settings.SIMULATOR_FEE_RATE if rate is None else rate
    quote_amount = to_money(quantity * price)
    if side == Side.BUY:
        commission = to_money(quantity * rate)
        return commission, base_asset, {quote_asset: -quote_amount, base_asset: quantity - commission}
    commission = to_money(quote_amount * rate)
    return commission, quote_asset, {base_asset: -quantity, quote_asset: quote_amount - commission}
