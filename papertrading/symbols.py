"""Symbol rules: shipped as exchangeInfo-shaped data, refreshable from the exchange."""

import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import SymbolRule

DEFAULT_EXCHANGE_INFO = Path(__file__).resolve().parent / "data" / "exchange_info.json"


def parse_symbol(entry: dict) -> dict:
    """Map one exchangeInfo symbol to SymbolRule fields; filters absent on the symbol stay off (zero)."""
    filters = {f["filterType"]: f for f in entry.get("filters", [])}
    price_filter = filters.get("PRICE_FILTER", {})
    lot_size = filters.get("LOT_SIZE", {})
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    market_lot_size = filters.get("MARKET_LOT_SIZE", {})
    percent_price = filters.get("PERCENT_PRICE_BY_SIDE", {})
    trailing = filters.get("TRAILING_DELTA", {})
    return {
        "base_asset": entry["baseAsset"],
        "quote_asset": entry["quoteAsset"],
        "status": entry.get("status", "TRADING"),
        "order_types": list(entry.get("orderTypes", [])),
        "tick_size": Decimal(price_filter.get("tickSize", "0")),
        "min_price": Decimal(price_filter.get("minPrice", "0")),
        "max_price": Decimal(price_filter.get("maxPrice", "0")),
        "step_size": Decimal(lot_size.get("stepSize", "0")),
        "min_quantity": Decimal(lot_size.get("minQty", "0")),
        "max_quantity": Decimal(lot_size.get("maxQty", "0")),
        "min_notional": Decimal(notional.get("minNotional", "0")),
        "max_notional": Decimal(notional.get("maxNotional", "0")),
        "apply_min_notional_to_market": bool(notional.get("applyMinToMarket", notional.get("applyToMarket", True))),
        # The legacy MIN_NOTIONAL has no maximum; NOTIONAL's maximum skips MARKET orders unless it says otherwise.
        "apply_max_notional_to_market": bool(notional.get("applyMaxToMarket", False)),
        "market_step_size": Decimal(market_lot_size.get("stepSize", "0")),
        "market_min_quantity": Decimal(market_lot_size.get("minQty", "0")),
        "market_max_quantity": Decimal(market_lot_size.get("maxQty", "0")),
        "bid_multiplier_up": Decimal(percent_price.get("bidMultiplierUp", "0")),
        "bid_multiplier_down": Decimal(percent_price.get("bidMultiplierDown", "0")),
        "ask_multiplier_up": Decimal(percent_price.get("askMultiplierUp", "0")),
        "ask_multiplier_down": Decimal(percent_price.get("askMultiplierDown", "0")),
        "max_num_orders": int(filters.get("MAX_NUM_ORDERS", {}).get("maxNumOrders", 0)),
        "max_num_algo_orders": int(filters.get("MAX_NUM_ALGO_ORDERS", {}).get("maxNumAlgoOrders", 0)),
        "iceberg_parts": int(filters.get("ICEBERG_PARTS", {}).get("limit", 0)),
        "iceberg_allowed": bool(entry.get("icebergAllowed", True)),
        "trailing_allowed": bool(entry.get("allowTrailingStop", True)),
        "min_trailing_above_delta": int(trailing.get("minTrailingAboveDelta", 0)),
        "max_trailing_above_delta": int(trailing.get("maxTrailingAboveDelta", 0)),
        "min_trailing_below_delta": int(trailing.get("minTrailingBelowDelta", 0)),
        "max_trailing_below_delta": int(trailing.get("maxTrailingBelowDelta", 0)),
    }


@transaction.atomic
def load_symbol_rules(exchange_info: dict, *, symbols: list[str] | None = None) -> list[SymbolRule]:
    """Upsert the rules of the given symbols (all in the document when None)."""
    wanted = {s.upper() for s in symbols} if symbols else None
    saved = []
    for entry in exchange_info.get("symbols", []):
        if wanted is not None and entry["symbol"] not in wanted:
            continue
        rule, _ = SymbolRule.objects.update_or_create(symbol=entry["symbol"], defaults=parse_symbol(entry))
        saved.append(rule)
    return saved


def load_default_symbol_rules() -> list[SymbolRule]:
    return load_symbol_rules(json.loads(DEFAULT_EXCHANGE_INFO.read_text()))


# Every order needs its symbol's rule; rules change rarely. Two caches, both here: the rows, in each process's
# memory for a minute (cleared when a rule is saved), and when each venue last stated a symbol's filters, in the
# shared cache so every process agrees (an hour; ten minutes for a symbol it does not list).
_RULES: dict[str, tuple[float, SymbolRule | None]] = {}
RULE_CACHE_SECONDS = 60
VENUE_RULE_SECONDS = 3600
NOT_LISTED_SECONDS = 600
LISTED, NOT_LISTED = "listed", "not listed"


def get_symbol_rule(symbol: str) -> SymbolRule | None:
    """The rule of a symbol, kept in memory for a minute: rules change rarely and every order needs one."""
    symbol = symbol.upper()
    now = time.monotonic()
    cached = _RULES.get(symbol)
    if cached is None or now - cached[0] > RULE_CACHE_SECONDS:
        cached = (now, SymbolRule.objects.filter(symbol=symbol).first())
        _RULES[symbol] = cached
    return cached[1]


def venue_symbol_rule(symbol: str, *, venue: str, load: Callable[[str], bool | None]) -> SymbolRule | None:
    """The rule of `symbol` as the venue `venue` states it, asking it at most every VENUE_RULE_SECONDS.

    `load(symbol)` fetches the venue's filters and stores them (True), says the venue does not list the symbol
    (False), or could not ask (None: the stored rule stands, and the venue is asked again next time).
    """
    symbol = symbol.upper()
    key = f"papertrading:symbol-rule:{venue}:{symbol}"
    state = cache.get(key)
    if state is None:
        listed = load(symbol)
        if listed is not None:
            state = LISTED if listed else NOT_LISTED
            cache.set(key, state, VENUE_RULE_SECONDS if listed else NOT_LISTED_SECONDS)
    if state == NOT_LISTED:
        return None
    return get_symbol_rule(symbol)


@receiver([post_save, post_delete], sender=SymbolRule)
def _forget_cached_rules(**kwargs) -> None:
    _RULES.clear()
