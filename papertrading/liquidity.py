"""The simulator's liquidity model (SIMULATOR_LIQUIDITY): how much of an order the market can take, and at what price.

Off (the default), a marketable order fills whole at once and a resting order fills whole when the price reaches it.
On:

- A taker (a MARKET order, a stop that triggered, a limit marketable on arrival or once its stop is reached) walks a
  book built around the last price: SIMULATOR_BOOK_LEVELS levels one tick apart, the first at the taker price (the
  last price moved by the slippage, as without the model), each holding SIMULATOR_BOOK_NOTIONAL of the quote asset.
  Each level it takes is one fill, each a tick worse than the one before. A limit never takes a level through its
  price. What the book cannot give expires (MARKET, IOC), rests (GTC) or, for FOK, nothing fills.
- A resting order (a maker) fills, at each new price that reaches it, at most SIMULATOR_LIQUIDITY_SHARE of the volume
  the market traded at that price, and an iceberg at most its visible part. The price table records no volume, so it
  is synthetic: SIMULATOR_LIQUIDITY_VOLUME of the quote asset, times a factor from 0.50 to 1.50 drawn from
  SIMULATOR_SEED, the symbol and the price. The same seed and price path give the same fills.
- Each stored price is one observation: an order takes one slice of it at most, so matching again before the price
  is next stored fills nothing more, and only of a price stored after it began to rest (the volume before was not
  there for it). The slice's trade id names the observation. Orders do not compete for a volume: each is one
  participant taking its share.
"""

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from .models import MarketPrice, Side, SymbolRule
from .money import ZERO, round_to_step

# The synthetic volume is the setting times a factor in [0.50, 1.50], in hundredths.
VOLUME_FACTOR_RANGE = (50, 150)


def enabled() -> bool:
    return settings.SIMULATOR_LIQUIDITY


@dataclass(frozen=True)
class Observation:
    """One stored price of a symbol: the volume that traded there, and the trade id of a slice taken from it."""

    symbol: str
    price: Decimal
    trade_id: str
    observed_at: datetime | None = None

    def is_after(self, moment: datetime | None) -> bool:
        """Whether the price was stored after `moment` (a price the table does not hold counts as new)."""
        return self.observed_at is None or moment is None or self.observed_at > moment


@dataclass(frozen=True)
class Level:
    """A price and the quantity there: a level of the book, or the slice a taker got from it."""

    price: Decimal
    quantity: Decimal


def observe(symbol: str, price: Decimal) -> Observation:
    """The observation a matching pass at `price` works on: the stored price's moment names it."""
    observed_at: datetime | None = (
        MarketPrice.objects.filter(symbol=symbol).values_list("updated_at", flat=True).first()
    )
    stamp = observed_at.isoformat() if observed_at else ""
    digest = hashlib.sha256(f"{symbol}|{stamp}|{price.normalize()}".encode()).hexdigest()[:24]
    return Observation(symbol=symbol, price=price, trade_id=f"sim-{digest}", observed_at=observed_at)


def traded_volume(rule: SymbolRule, price: Decimal) -> Decimal:
    """The base quantity the market traded at `price` (synthetic, from the seed, the symbol and the price)."""
    rng = random.Random(f"{settings.SIMULATOR_SEED}:{rule.symbol}:{price.normalize()}")
    factor = Decimal(rng.randint(*VOLUME_FACTOR_RANGE)) / 100
    return round_to_step(settings.SIMULATOR_LIQUIDITY_VOLUME * factor / price, rule.step_size, up=False)


def maker_quantity(
    *, rule: SymbolRule, market_price: Decimal, remaining: Decimal, visible: Decimal | None = None
) -> Decimal:
    """What a resting order reached by `market_price` fills now: its share of the volume traded there, at most its
    visible part (an iceberg) and what it still has to fill; on the symbol's step, so possibly nothing."""
    share = round_to_step(
        traded_volume(rule, market_price) * settings.SIMULATOR_LIQUIDITY_SHARE, rule.step_size, up=False
    )
    return max(min(remaining, share, visible or remaining), ZERO)


def book(*, rule: SymbolRule, side: str, taker_price: Decimal) -> list[Level]:
    """The levels a taker on `side` meets: from the taker price, each a tick worse, each BOOK_NOTIONAL deep."""
    direction = 1 if side == Side.BUY else -1
    levels = []
    for index in range(settings.SIMULATOR_BOOK_LEVELS):
        price = taker_price + direction * index * rule.tick_size
        if price <= 0:
            break  # a SELL walking down reached zero: the book ends there
        quantity = round_to_step(settings.SIMULATOR_BOOK_NOTIONAL / price, rule.step_size, up=False)
        levels.append(Level(price, quantity if quantity > 0 else rule.step_size))
    return levels


def take(levels: list[Level], quantity: Decimal, *, side: str, limit: Decimal | None = None) -> list[Level]:
    """The slices a taker of `quantity` gets from `levels`, best first, never through `limit`.

    A limit between the market and the first level fills that level at its limit (as a marketable limit does
    without the model), and takes no further level.
    """
    slices, left = [], quantity
    for index, level in enumerate(levels):
        if left <= 0:
            break
        price = level.price
        if limit is not None and (price > limit if side == Side.BUY else price < limit):
            if index:
                break
            price = limit
        part = min(left, level.quantity)
        slices.append(Level(price, part))
        left -= part
    return slices
