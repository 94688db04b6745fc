"""Market prices: the seeded synthetic walk, Binance's public ticker (stubbed over HTTP), and the price table."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
import responses
from django.conf import settings as django_settings
from django.utils import timezone

from papertrading import services
from papertrading.errors import VenueUnavailable
from papertrading.models import MarketPrice, OrderFill, PaperOrder, SymbolRule
from papertrading.prices import (
    SYNTHETIC_MAX_STEP_BPS,
    BinancePriceSource,
    SyntheticPriceSource,
    ensure_price,
    get_price_source,
    is_stale,
    refresh_prices,
)
from papertrading.services import place_order

pytestmark = pytest.mark.django_db


def ticker_url() -> str:
    return f"{django_settings.MARKET_DATA_BASE_URL}/api/v3/ticker/price"


def walk(source: SyntheticPriceSource, rule: SymbolRule, steps: int) -> list[D]:
    """Run the walk in memory: each step continues from the previous row, as refresh_prices stores it."""
    rows: dict[str, MarketPrice] = {}
    prices = []
    for _ in range(steps):
        price, sequence = source.next_prices([rule], rows)[rule.symbol]
        rows[rule.symbol] = MarketPrice(symbol=rule.symbol, price=price, sequence=sequence)
        prices.append(price)
    return prices


# --- the synthetic walk ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["BTCUSDT", "XRPUSDT"])
def test_synthetic_walk_is_the_same_for_the_same_seed(symbol):
    rule = SymbolRule.objects.get(symbol=symbol)
    assert walk(SyntheticPriceSource(seed=3), rule, 50) == walk(SyntheticPriceSource(seed=3), rule, 50)


def test_synthetic_walk_differs_between_seeds():
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    assert walk(SyntheticPriceSource(seed=3), rule, 20) != walk(SyntheticPriceSource(seed=4), rule, 20)


def test_synthetic_walk_reads_the_seed_from_settings(settings):
    settings.SYNTHETIC_PRICE_SEED = 11
    rule = SymbolRule.objects.get(symbol="ETHUSDT")
    assert walk(SyntheticPriceSource(), rule, 10) == walk(SyntheticPriceSource(seed=11), rule, 10)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "XRPUSDT"])
def test_synthetic_walk_stays_on_tick_and_moves_at_most_the_step_limit(symbol):
    rule = SymbolRule.objects.get(symbol=symbol)
    prices = walk(SyntheticPriceSource(seed=42), rule, 300)

    assert all(price % rule.tick_size == 0 for price in prices)
    assert all(price > 0 for price in prices)
    limit = D(SYNTHETIC_MAX_STEP_BPS) / 10000
    for before, after in zip(prices, prices[1:], strict=False):
        assert abs(after - before) <= before * limit + rule.tick_size
    assert len(set(prices)) > 10  # it really walks


def test_synthetic_walk_starts_at_the_known_price_then_counts_steps():
    rules = list(SymbolRule.objects.filter(symbol__in=["BTCUSDT", "XRPUSDT"]))
    first = SyntheticPriceSource(seed=1).next_prices(rules, {})
    assert first == {"BTCUSDT": (D("68000"), 0), "XRPUSDT": (D("0.5"), 0)}
    row = MarketPrice(symbol="BTCUSDT", price=D("68000"), sequence=41)
    assert SyntheticPriceSource(seed=1).next_prices(rules[:1], {"BTCUSDT": row})["BTCUSDT"][1] == 42


def test_synthetic_walk_starts_an_unlisted_symbol_at_100():
    rule = SymbolRule(symbol="ADAUSDT", tick_size=D("0.0001"), step_size=D("1"))
    assert SyntheticPriceSource(seed=1).next_prices([rule], {}) == {"ADAUSDT": (D("100"), 0)}


def test_synthetic_walk_never_reaches_zero():
    rule = SymbolRule.objects.get(symbol="XRPUSDT")
    row = MarketPrice(symbol="XRPUSDT", price=rule.tick_size, sequence=5)
    price, _ = SyntheticPriceSource(seed=1).next_prices([rule], {"XRPUSDT": row})["XRPUSDT"]
    assert price >= rule.tick_size


# --- refresh_prices and the table -------------------------------------------------------------------------------


def test_refresh_prices_stores_each_trading_symbol_with_its_source_and_sequence():
    SymbolRule.objects.filter(symbol="BNBUSDT").update(status="BREAK")

    rows = refresh_prices()

    assert [row.symbol for row in rows] == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    assert not MarketPrice.objects.filter(symbol="BNBUSDT").exists()
    refresh_prices(symbols=["btcusdt"])
    btc = MarketPrice.objects.get(symbol="BTCUSDT")
    assert (btc.source, btc.sequence) == ("synthetic", 1)
    assert MarketPrice.objects.get(symbol="ETHUSDT").sequence == 0


def test_refresh_prices_matches_orders_only_when_asked(account, market, settings):
    settings.SYNTHETIC_PRICE_SEED = 42
    order = place_order(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.01"),
        price=D("67999.99"),
        time_in_force="GTC",
    ).order
    MarketPrice.objects.filter(symbol="BTCUSDT").update(price=D("60000"))  # stored behind the matcher's back

    services.refresh_prices(symbols=["BTCUSDT"], match=False)
    assert PaperOrder.objects.get(pk=order.pk).status == PaperOrder.Status.PENDING

    services.refresh_prices(symbols=["BTCUSDT"])  # the walk continues near 60000, far below the limit
    assert PaperOrder.objects.get(pk=order.pk).status == PaperOrder.Status.FILLED


def test_ensure_price_fetches_a_first_price_only_when_missing(market):
    assert ensure_price("BTCUSDT").price == D("68000")
    assert ensure_price("BTCUSDT").source == "test"
    MarketPrice.objects.filter(symbol="SOLUSDT").delete()
    assert ensure_price("SOLUSDT").price == D("150")
    assert ensure_price("NOPEUSDT") is None
    assert not MarketPrice.objects.filter(symbol="NOPEUSDT").exists()


def test_price_is_stale_after_the_configured_age(settings):
    settings.PRICE_STALE_AFTER_SECONDS = 120
    now = timezone.now()
    assert not is_stale(MarketPrice(updated_at=now - timedelta(seconds=119)))
    assert is_stale(MarketPrice(updated_at=now - timedelta(seconds=121)))


def test_price_source_follows_the_setting(settings):
    settings.MARKET_DATA_SOURCE = "binance"
    assert isinstance(get_price_source(), BinancePriceSource)
    settings.MARKET_DATA_SOURCE = "synthetic"
    assert isinstance(get_price_source(), SyntheticPriceSource)


# --- Binance's public ticker ------------------------------------------------------------------------------------


@responses.activate
def test_binance_source_asks_once_for_all_symbols_and_parses_decimals():
    rules = list(SymbolRule.objects.filter(symbol__in=["BTCUSDT", "ETHUSDT"]))
    responses.get(
        ticker_url(),
        json=[{"symbol": "BTCUSDT", "price": "67123.45000000"}, {"symbol": "ETHUSDT", "price": "3456.78000000"}],
        match=[responses.matchers.query_param_matcher({"symbols": '["BTCUSDT","ETHUSDT"]'})],
    )

    prices = BinancePriceSource().next_prices(rules, {})

    assert prices == {"BTCUSDT": (D("67123.45"), 0), "ETHUSDT": (D("3456.78"), 0)}
    assert isinstance(prices["BTCUSDT"][0], D)
    assert len(responses.calls) == 1


@responses.activate
def test_binance_source_ignores_unknown_symbols_and_non_positive_prices():
    rules = list(SymbolRule.objects.filter(symbol__in=["BTCUSDT", "ETHUSDT"]))
    responses.get(
        ticker_url(),
        json=[
            {"symbol": "BTCUSDT", "price": "67000.00"},
            {"symbol": "ETHUSDT", "price": "0.00000000"},
            {"symbol": "DOGEUSDT", "price": "0.1"},
        ],
    )
    assert BinancePriceSource().next_prices(rules, {}) == {"BTCUSDT": (D("67000"), 0)}


@responses.activate
def test_binance_source_raises_on_an_http_error_and_refresh_keeps_old_prices(market, settings):
    settings.MARKET_DATA_SOURCE = "binance"
    responses.get(ticker_url(), status=502)

    with pytest.raises(VenueUnavailable, match="Market data is unavailable"):
        refresh_prices()

    assert MarketPrice.objects.get(symbol="BTCUSDT").price == D("68000")


@responses.activate
def test_refresh_from_binance_stores_prices_and_fills_crossed_orders(account, market, settings):
    settings.MARKET_DATA_SOURCE = "binance"
    order = place_order(
        account=account, symbol="BTCUSDT", side="SELL", order_type="STOP_LOSS", quantity=D("0.1"), stop_price=D("67000")
    ).order
    responses.get(
        ticker_url(),
        json=[
            {"symbol": s, "price": p}
            for s, p in [
                ("BTCUSDT", "66500.00"),
                ("ETHUSDT", "3500.00"),
                ("BNBUSDT", "600.00"),
                ("SOLUSDT", "150.00"),
                ("XRPUSDT", "0.5000"),
            ]
        ],
    )

    services.refresh_prices()

    btc = MarketPrice.objects.get(symbol="BTCUSDT")
    assert (btc.price, btc.source) == (D("66500"), "binance")
    order = PaperOrder.objects.get(pk=order.pk)
    assert order.status == PaperOrder.Status.FILLED
    fill = order.fills.get()
    # 66500 × 0.9995 = 66466.75
    assert (fill.price, fill.market_price, fill.rule) == (D("66466.75"), D("66500"), OrderFill.Rule.STOP_TRIGGERED)
