"""Market prices: where they come from (a seeded random walk offline, or Binance's public ticker) and the table."""

import random
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .binance import BinanceError, BinanceTestnetClient
from .errors import VenueUnavailable
from .models import MarketPrice, SymbolRule
from .money import round_to_step

UNAVAILABLE_MESSAGE = "Market data is unavailable now; try again in a moment."

# Where the synthetic walk starts for the default symbols (close to the market when the project was written).
SYNTHETIC_START_PRICES = {
    "BTCUSDT": Decimal("68000"),
    "ETHUSDT": Decimal("3500"),
    "BNBUSDT": Decimal("600"),
    "SOLUSDT": Decimal("150"),
    "XRPUSDT": Decimal("0.5"),
}
SYNTHETIC_MAX_STEP_BPS = 30  # each step moves at most 0.30 %


class SyntheticPriceSource:
    """A seeded random walk: the same seed gives the same prices, step after step, on every machine."""

    name = "synthetic"

    def __init__(self, seed: int | None = None):
        self.seed = settings.SYNTHETIC_PRICE_SEED if seed is None else seed

    def next_prices(self, rules: list[SymbolRule], current: dict[str, MarketPrice]) -> dict[str, tuple[Decimal, int]]:
        prices = {}
        for rule in rules:
            row = current.get(rule.symbol)
            if row is None:
                start = SYNTHETIC_START_PRICES.get(rule.symbol, Decimal("100"))
                prices[rule.symbol] = (round_to_step(start, rule.tick_size, up=False), 0)
                continue
            sequence = row.sequence + 1
            rng = random.Random(f"{self.seed}:{rule.symbol}:{sequence}")
            change = Decimal(rng.randint(-SYNTHETIC_MAX_STEP_BPS, SYNTHETIC_MAX_STEP_BPS)) / Decimal(10000)
            price = round_to_step(row.price * (1 + change), rule.tick_size, up=False)
            prices[rule.symbol] = (max(price, rule.tick_size), sequence)
        return prices


def market_data_client() -> BinanceTestnetClient:
    """The client for Binance's public market data (MARKET_DATA_BASE_URL): unsigned calls, no retries (the next
    refresh is seconds away)."""
    client = BinanceTestnetClient(base_url=settings.MARKET_DATA_BASE_URL)
    client.max_get_retries = 0
    return client


class BinancePriceSource:
    """Binance's public ticker (`GET /api/v3/ticker/price`), one call for every symbol."""

    name = "binance"

    def next_prices(self, rules: list[SymbolRule], current: dict[str, MarketPrice]) -> dict[str, tuple[Decimal, int]]:
        try:
            answer = market_data_client().ticker_price([rule.symbol for rule in rules])
        except BinanceError as exc:
            raise VenueUnavailable(UNAVAILABLE_MESSAGE, retry_after=5) from exc
        known = {rule.symbol for rule in rules}
        prices = {}
        for item in answer if isinstance(answer, list) else []:
            if isinstance(item, dict) and item.get("symbol") in known:
                price = Decimal(str(item.get("price") or 0))
                if price > 0:
                    prices[item["symbol"]] = (price, 0)
        return prices


def get_price_source():
    return BinancePriceSource() if settings.MARKET_DATA_SOURCE == "binance" else SyntheticPriceSource()


def refresh_prices(*, symbols: list[str] | None = None) -> list[MarketPrice]:
    """Fetch the next price of each symbol and store it (matching the orders it reaches is the services' job).

    Raises VenueUnavailable when the price source cannot be asked; the stored prices then stay as they were.
    """
    rules = list(SymbolRule.objects.filter(status="TRADING"))
    if symbols:
        wanted = {s.upper() for s in symbols}
        rules = [rule for rule in rules if rule.symbol in wanted]
    source = get_price_source()
    with transaction.atomic():
        current = {
            row.symbol: row
            for row in MarketPrice.objects.select_for_update().filter(symbol__in=[r.symbol for r in rules])
        }
        now = timezone.now()
        saved = []
        for symbol, (price, sequence) in source.next_prices(rules, current).items():
            # The rows are already read and locked above: write them, don't look them up again.
            row = current.get(symbol) or MarketPrice(symbol=symbol)
            row.price, row.sequence, row.source, row.updated_at = price, sequence, source.name, now
            row.save()
            saved.append(row)
    return saved


def ensure_price(symbol: str) -> MarketPrice | None:
    """The stored price of a symbol, fetching a first one when there is none yet."""
    row = MarketPrice.objects.filter(symbol=symbol).first()
    if row is None and SymbolRule.objects.filter(symbol=symbol).exists():
        rows = refresh_prices(symbols=[symbol])
        row = rows[0] if rows else None
    return row


def last_price(symbol: str) -> Decimal | None:
    """The stored last price of a symbol, without fetching one."""
    return MarketPrice.objects.filter(symbol=symbol).values_list("price", flat=True).first()


def is_stale(row: MarketPrice) -> bool:
    return (timezone.now() - row.updated_at).total_seconds() > settings.PRICE_STALE_AFTER_SECONDS
