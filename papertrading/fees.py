"""The trading fee, as Binance charges it by default: a rate of the trade, in the asset the trader receives."""

from decimal import Decimal

from django.conf import settings

from .models import Side
from .money import to_money


def fill_deltas(
    *,
    side: str,
    quantity: Decimal,
    price: Decimal,
    commission: Decimal,
    commission_asset: str,
    base_asset: str,
    quote_asset: str,
) -> dict[str, Decimal]:
    """What a fill moves, per asset: a BUY receives the base and pays the quote, a SELL the other way round, and
    the commission leaves its own asset (whichever it is)."""
    sign = 1 if side == Side.BUY else -1
    deltas = {base_asset: sign * quantity, quote_asset: -sign * to_money(quantity * price)}
    if commission:
        deltas[commission_asset] = deltas.get(commission_asset, Decimal("0")) - commission
    return deltas


def fill_moves(
    *, side: str, quantity: Decimal, price: Decimal, base_asset: str, quote_asset: str, rate: Decimal | None = None
) -> tuple[Decimal, str, dict[str, Decimal]]:
    """What one fill costs and moves: (commission, commission asset, free-amount change per asset).

    A BUY pays the quote amount and receives the base quantity less the fee; a SELL gives the base quantity and
    receives the quote amount less the fee.
    """
    rate = settings.SIMULATOR_FEE_RATE if rate is None else rate
    if side == Side.BUY:
        commission, commission_asset = to_money(quantity * rate), base_asset
    else:
        commission, commission_asset = to_money(to_money(quantity * price) * rate), quote_asset
    deltas = fill_deltas(
        side=side,
        quantity=quantity,
        price=price,
        commission=commission,
        commission_asset=commission_asset,
        base_asset=base_asset,
        quote_asset=quote_asset,
    )
    return commission, commission_asset, deltas
