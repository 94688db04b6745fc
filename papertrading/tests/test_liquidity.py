"""The simulator's liquidity model (SIMULATOR_LIQUIDITY): partial fills, slice by slice, with exact balances.

Here the model is on with seed 7, no slippage (the taker price is the last price), a book of 3 levels one tick
(0.01) apart holding 680 USDT each, and a synthetic volume of 6700 USDT × the seed's factor per stored price, of
which a resting order takes a quarter. BTCUSDT steps 0.00001; the market starts at 68000; fees 0.1 % in the asset
received. Book levels at 68000.00 hold 680 / 68000 = 0.01 BTC; one tick away 680 / 68000.01 → 0.00999 (floored).
Seed 7 draws the factor 0.72 at 67000 and 0.82 at 66990: 6700 × 0.72 / 67000 = 0.072 BTC traded, a quarter is
0.018; 6700 × 0.82 / 66990 → 0.08201, a quarter 0.0205025 → 0.0205.
"""

import runpy
from decimal import Decimal as D

import pytest
from django.core.exceptions import ImproperlyConfigured

from papertrading import liquidity
from papertrading.balances import check_balances
from papertrading.descriptions import describe_placed
from papertrading.models import OrderFill, PaperOrder, SymbolRule
from papertrading.services import cancel_order, place_order, sync_orders
from papertrading.tests.test_simulator import balance, place, reread
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    exchange_fixture,
    open_testnet_account,
    testnet_fixture,
)

pytestmark = pytest.mark.django_db
Status = PaperOrder.Status


@pytest.fixture(autouse=True)
def _liquidity_on(settings):
    settings.SIMULATOR_LIQUIDITY = True
    settings.SIMULATOR_SEED = 7
    settings.SIMULATOR_SLIPPAGE_RATE = D("0")
    settings.SIMULATOR_LIQUIDITY_SHARE = D("0.25")
    settings.SIMULATOR_LIQUIDITY_VOLUME = D("6700")
    settings.SIMULATOR_BOOK_NOTIONAL = D("680")
    settings.SIMULATOR_BOOK_LEVELS = 3


def fills(order: PaperOrder) -> list[tuple[D, D]]:
    return [(fill.price, fill.quantity) for fill in order.fills.order_by("id")]


def events(order: PaperOrder) -> list[tuple[str, str]]:
    return [(event.from_status, event.to_status) for event in order.events.order_by("id")]


# --- the synthetic volume --------------------------------------------------------------------------------------


def test_synthetic_volume_is_drawn_from_the_seed_symbol_and_price(settings, db):
    rule = SymbolRule.objects.get(symbol="BTCUSDT")

    assert liquidity.traded_volume(rule, D("67000")) == D("0.072")  # factor 0.72
    assert liquidity.traded_volume(rule, D("67000.00")) == D("0.072")  # the same price, however written
    assert liquidity.traded_volume(rule, D("66990")) == D("0.08201")  # factor 0.82
    settings.SIMULATOR_SEED = 8
    assert liquidity.traded_volume(rule, D("67000")) == D("0.135")  # factor 1.35


# --- takers walk the book --------------------------------------------------------------------------------------


def test_off_by_default_a_market_order_larger_than_the_book_fills_whole_at_once(settings, account, market):
    settings.SIMULATOR_LIQUIDITY = False

    order = reread(place(account, side="BUY", order_type="MARKET", quantity="0.05"))

    assert order.status == Status.FILLED
    assert fills(order) == [(D("68000"), D("0.05"))]
    assert check_balances() == []


def test_market_buy_walks_the_book_one_fill_per_level_paying_more_at_each(settings, account, market):
    settings.SIMULATOR_BOOK_LEVELS = 5

    order = reread(place(account, side="BUY", order_type="MARKET", quantity="0.03"))

    assert order.status == Status.FILLED
    assert fills(order) == [
        (D("68000.00"), D("0.01")),
        (D("68000.01"), D("0.00999")),
        (D("68000.02"), D("0.00999")),
        (D("68000.03"), D("0.00002")),
    ]
    assert order.executed_quantity == D("0.03")
    # 680 + 679.3200999 + 679.3201998 + 1.3600006
    assert order.cumulative_quote_quantity == D("2040.0003003")
    assert [fill.commission for fill in order.fills.order_by("id")] == [
        D("0.00001"),
        D("0.00000999"),
        D("0.00000999"),
        D("0.00000002"),
    ]
    assert all(fill.rule == OrderFill.Rule.MARKETABLE_ON_ARRIVAL for fill in order.fills.all())
    assert balance(account, "USDT") == (D("97959.9996997"), D("0"))
    assert balance(account, "BTC") == (D("1.02997"), D("0"))
    assert events(order) == [("", Status.FILLED)]
    assert check_balances() == []


def test_market_sell_walks_the_book_down(account, market):
    order = reread(place(account, side="SELL", order_type="MARKET", quantity="0.02"))

    assert order.status == Status.FILLED
    assert fills(order) == [(D("68000.00"), D("0.01")), (D("67999.99"), D("0.01"))]
    assert balance(account, "BTC") == (D("0.98"), D("0"))
    # 680 + 679.9999 received, less 0.1 %: 0.68 + 0.6799999
    assert balance(account, "USDT") == (D("101358.6399001"), D("0"))
    assert check_balances() == []


def test_market_order_larger_than_the_book_fills_it_and_expires_the_rest(account, market):
    order = reread(place(account, side="BUY", order_type="MARKET", quantity="0.05"))

    assert order.status == Status.EXPIRED
    assert order.executed_quantity == D("0.02998")  # 0.01 + 0.00999 + 0.00999: the three levels
    assert len(fills(order)) == 3
    assert order.locked_amount == 0
    assert "The book ran out" in order.events.get().detail
    assert balance(account, "USDT")[1] == 0 and balance(account, "BTC")[1] == 0
    assert check_balances() == []


def test_marketable_gtc_limit_takes_the_book_within_its_limit_and_rests_the_rest(account, market):
    order = reread(
        place(account, side="BUY", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="68000.01")
    )

    assert order.status == Status.PARTIALLY_FILLED
    assert fills(order) == [(D("68000.00"), D("0.01")), (D("68000.01"), D("0.00999"))]  # 68000.02 is through it
    assert order.executed_quantity == D("0.01999")
    # The rest, 0.03001 at 68000.01, stays locked; the two fills cost 680 + 679.3200999.
    assert (order.locked_asset, order.locked_amount) == ("USDT", D("2040.6803001"))
    assert balance(account, "USDT") == (D("96599.9996"), D("2040.6803001"))
    assert events(order) == [("", Status.PARTIALLY_FILLED)]
    assert check_balances() == []

    cancelled = cancel_order(account=account, order_id=order.pk)

    assert cancelled.status == Status.CANCELLED
    assert reread(order).executed_quantity == D("0.01999")
    assert balance(account, "USDT") == (D("98640.6799001"), D("0"))
    assert check_balances() == []


def test_marketable_limit_whose_limit_is_below_the_first_level_fills_at_its_limit(settings, account, market):
    settings.SIMULATOR_SLIPPAGE_RATE = D("0.0005")  # the first level is at 68034.00
    order = reread(place(account, side="BUY", order_type="LIMIT", time_in_force="IOC", quantity="0.05", price="68010"))

    assert order.status == Status.EXPIRED
    assert fills(order) == [(D("68010"), D("0.00999"))]  # the first level's depth (680 / 68034 → 0.00999)
    assert check_balances() == []


def test_ioc_limit_keeps_what_filled_and_expires_the_rest(account, market):
    order = reread(
        place(account, side="BUY", order_type="LIMIT", time_in_force="IOC", quantity="0.05", price="68000.01")
    )

    assert order.status == Status.EXPIRED
    assert order.executed_quantity == D("0.01999")
    assert order.locked_amount == 0
    assert balance(account, "USDT") == (D("98640.6799001"), D("0"))
    assert balance(account, "BTC") == (D("1.01997001"), D("0"))  # 0.01999 less 0.00001999 fee
    assert describe_placed(order) == (
        f"Order #{order.pk} BUY 0.05 BTCUSDT Limit @ 68000.01 filled 0.01999 at 68000.0049975; the rest expired."
    )
    assert check_balances() == []


def test_fok_that_the_book_cannot_fill_whole_expires_with_nothing_filled(account, market):
    order = reread(
        place(account, side="BUY", order_type="LIMIT", time_in_force="FOK", quantity="0.05", price="68000.01")
    )

    assert order.status == Status.EXPIRED
    assert order.executed_quantity == 0 and not order.fills.exists()
    assert balance(account, "USDT") == (D("100000"), D("0"))
    assert check_balances() == []


def test_fok_that_the_book_can_fill_fills_whole_across_levels(account, market):
    order = reread(
        place(account, side="BUY", order_type="LIMIT", time_in_force="FOK", quantity="0.015", price="68000.01")
    )

    assert order.status == Status.FILLED
    assert fills(order) == [(D("68000.00"), D("0.01")), (D("68000.01"), D("0.005"))]
    assert check_balances() == []


# --- resting orders fill their share of the volume ---------------------------------------------------------------


def test_resting_limit_fills_its_share_of_each_new_price_slice_by_slice(account, market):
    order = place(account, side="BUY", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="67000")
    assert balance(account, "USDT") == (D("96650"), D("3350"))

    market.move("BTCUSDT", "67000")
    order = reread(order)
    assert order.status == Status.PARTIALLY_FILLED
    assert fills(order) == [(D("67000"), D("0.018"))]
    assert (order.locked_asset, order.locked_amount) == ("USDT", D("2144"))  # 0.032 × 67000
    assert balance(account, "USDT") == (D("96650"), D("2144"))  # the fill was paid from what the order held
    assert balance(account, "BTC") == (D("1.017982"), D("0"))
    assert check_balances() == []

    market.move("BTCUSDT", "66990")  # through the limit: a quarter of 0.08201, at the order's own price
    order = reread(order)
    assert fills(order) == [(D("67000"), D("0.018")), (D("67000"), D("0.0205"))]
    assert order.status == Status.PARTIALLY_FILLED
    assert order.locked_amount == D("770.5")  # 0.0115 × 67000
    assert check_balances() == []

    market.move("BTCUSDT", "67000")  # a new stored price at 67000 again: another 0.018, of which 0.0115 is left
    order = reread(order)
    assert order.status == Status.FILLED
    assert fills(order)[-1] == (D("67000"), D("0.0115"))
    assert order.executed_quantity == D("0.05") and order.cumulative_quote_quantity == D("3350")
    assert all(fill.is_maker and fill.rule == OrderFill.Rule.LIMIT_CROSSED for fill in order.fills.all())
    assert events(order) == [
        ("", Status.PENDING),
        (Status.PENDING, Status.PARTIALLY_FILLED),
        (Status.PARTIALLY_FILLED, Status.PARTIALLY_FILLED),
        (Status.PARTIALLY_FILLED, Status.FILLED),
    ]
    assert balance(account, "USDT") == (D("96650"), D("0"))
    assert balance(account, "BTC") == (D("1.04995"), D("0"))
    assert check_balances() == []


def test_matching_again_before_the_next_price_fills_nothing_more(account, market):
    order = place(account, side="BUY", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="67000")
    market.move("BTCUSDT", "67000")

    report = sync_orders(account=account)
    assert market.move("BTCUSDT", "67000") == 1  # a price stored again is a new observation

    assert report.changed == {}
    assert fills(reread(order)) == [(D("67000"), D("0.018")), (D("67000"), D("0.018"))]
    assert check_balances() == []


def test_an_order_resting_after_a_price_was_stored_takes_none_of_its_volume(account, market):
    # Marketable on arrival: it takes the book within its limit and rests the rest at 68000.01, which the stored
    # price (68000) reaches; the volume traded there was traded before it rested.
    order = place(account, side="BUY", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="68000.01")
    assert reread(order).executed_quantity == D("0.01999")

    assert sync_orders(account=account).changed == {}
    assert reread(order).executed_quantity == D("0.01999")

    market.move("BTCUSDT", "68000")  # stored again: its share of this price's volume, at its own price
    assert reread(order).fills.order_by("id").last().price == D("68000.01")
    assert reread(order).executed_quantity > D("0.01999")
    assert check_balances() == []


def test_price_not_reaching_a_resting_limit_fills_nothing(account, market):
    order = place(account, side="BUY", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="67000")

    assert market.move("BTCUSDT", "67000.01") == 0

    assert reread(order).status == Status.PENDING and not reread(order).fills.exists()


def test_orders_at_one_price_each_take_their_share_and_a_sell_unlocks_base_slice_by_slice(
    account, rival_account, market
):
    buy = place(account, side="BUY", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="67000")
    sell = place(rival_account, side="SELL", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="69000")
    other = place(rival_account, side="BUY", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="67000")

    market.move("BTCUSDT", "67000")

    assert fills(reread(buy)) == fills(reread(other)) == [(D("67000"), D("0.018"))]
    assert reread(sell).status == Status.PENDING
    assert check_balances() == []
    market.move("BTCUSDT", "69000")
    sell = reread(sell)
    # 6700 × factor / 69000, a quarter of it, on the 0.00001 step
    share = liquidity.maker_quantity(
        rule=SymbolRule.objects.get(symbol="BTCUSDT"), market_price=D("69000"), remaining=D("1")
    )
    assert D("0") < share < D("0.05")
    assert sell.status == Status.PARTIALLY_FILLED and fills(sell) == [(D("69000"), share)]
    assert balance(rival_account, "BTC")[1] == sell.locked_amount == D("0.05") - share
    assert check_balances() == []


def test_iceberg_fills_at_most_its_visible_part_per_price(account, market):
    order = place(
        account,
        side="BUY",
        order_type="LIMIT",
        time_in_force="GTC",
        quantity="0.05",
        price="67000",
        iceberg_quantity=D("0.005"),
    )

    market.move("BTCUSDT", "67000")
    market.move("BTCUSDT", "66990")

    order = reread(order)
    assert fills(order) == [(D("67000"), D("0.005")), (D("67000"), D("0.005"))]
    assert order.status == Status.PARTIALLY_FILLED
    assert order.locked_amount == D("2680")  # 0.04 × 67000
    assert check_balances() == []


# --- stops ---------------------------------------------------------------------------------------------------------


def test_triggered_stop_loss_walks_the_book_paying_from_what_it_held(account, market):
    order = place(account, side="SELL", order_type="STOP_LOSS", quantity="0.03", stop_price="67000")
    assert balance(account, "BTC") == (D("0.97"), D("0.03"))

    market.move("BTCUSDT", "66990")

    order = reread(order)
    assert order.status == Status.FILLED
    # 680 / 66990 → 0.01015 at each of the three levels; the last one gives the 0.0097 left.
    assert fills(order) == [(D("66990.00"), D("0.01015")), (D("66989.99"), D("0.01015")), (D("66989.98"), D("0.0097"))]
    assert all(fill.rule == OrderFill.Rule.STOP_TRIGGERED and not fill.is_maker for fill in order.fills.all())
    assert balance(account, "BTC") == (D("0.97"), D("0"))
    assert check_balances() == []


def test_stop_loss_larger_than_the_book_expires_the_rest(account, market):
    order = place(account, side="SELL", order_type="STOP_LOSS", quantity="0.05", stop_price="67000")

    market.move("BTCUSDT", "66990")

    order = reread(order)
    assert order.status == Status.EXPIRED
    assert order.executed_quantity == D("0.03045")
    assert balance(account, "BTC") == (D("0.96955"), D("0"))  # the rest came back
    assert check_balances() == []


def test_gtc_stop_limit_takes_the_book_within_its_limit_then_works_the_rest_as_a_maker(account, market):
    order = place(
        account,
        side="SELL",
        order_type="STOP_LOSS_LIMIT",
        time_in_force="GTC",
        quantity="0.05",
        stop_price="67000",
        price="66989.99",
    )

    market.move("BTCUSDT", "66990")

    order = reread(order)
    assert order.status == Status.PARTIALLY_FILLED
    assert fills(order) == [(D("66990.00"), D("0.01015")), (D("66989.99"), D("0.01015"))]  # 66989.98 is through
    assert order.stop_triggered_at is not None
    assert (order.trigger_price, order.trigger_direction) == (D("66989.99"), PaperOrder.Trigger.AT_OR_ABOVE)
    assert balance(account, "BTC") == (D("0.95"), D("0.0297"))
    assert check_balances() == []

    market.move("BTCUSDT", "66990")  # a new price at 66990: its share, 0.0205, at its own limit

    order = reread(order)
    assert fills(order)[-1] == (D("66989.99"), D("0.0205"))
    assert order.fills.order_by("id").last().is_maker
    assert balance(account, "BTC") == (D("0.95"), D("0.0092"))
    assert check_balances() == []


def test_fok_stop_limit_that_the_book_cannot_fill_expires_releasing_what_it_held(account, market):
    order = place(
        account,
        side="SELL",
        order_type="STOP_LOSS_LIMIT",
        time_in_force="FOK",
        quantity="0.05",
        stop_price="67000",
        price="66989.99",
    )

    market.move("BTCUSDT", "66990")

    order = reread(order)
    assert order.status == Status.EXPIRED and not order.fills.exists()
    assert balance(account, "BTC") == (D("1"), D("0"))
    assert check_balances() == []


# --- determinism -----------------------------------------------------------------------------------------------


def run_scenario(account, market) -> list[tuple[str, D, D]]:
    """Orders and a price path; what filled, in order."""
    orders = [
        place(account, side="BUY", order_type="LIMIT", time_in_force="GTC", quantity="0.05", price="67000"),
        place(account, side="SELL", order_type="STOP_LOSS", quantity="0.04", stop_price="66500"),
    ]
    for price in ("68000", "67000", "66990", "66400", "67000", "67500"):
        market.move("BTCUSDT", price)
    place(account, side="BUY", order_type="MARKET", quantity="0.04")
    rows = OrderFill.objects.filter(order__account=account).order_by("id")
    assert all(order.pk for order in orders)
    return [(row.order.order_type, row.price, row.quantity) for row in rows]


def test_the_same_seed_and_price_path_give_the_same_fills_and_another_seed_other_fills(
    settings, account, rival_account, market
):
    first = run_scenario(account, market)
    market.set("BTCUSDT", "68000")
    again = run_scenario(rival_account, market)

    assert first == again
    assert len(first) > 4  # slices and book levels, not one fill per order
    assert check_balances() == []


def test_another_seed_draws_other_volumes(settings, account, rival_account, market):
    first = run_scenario(account, market)
    settings.SIMULATOR_SEED = 8
    market.set("BTCUSDT", "68000")

    other = run_scenario(rival_account, market)

    assert [quantity for _, _, quantity in other] != [quantity for _, _, quantity in first]
    assert check_balances() == []


# --- the testnet ------------------------------------------------------------------------------------------------


def test_testnet_orders_fill_as_the_exchange_says_whatever_the_model(exchange, trader):
    account = open_testnet_account(trader)

    order = place_order(account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.05")).order

    [sent] = exchange.posts()
    assert (sent["type"], sent["quantity"]) == ("MARKET", "0.05")
    order = reread(order)
    assert order.status == Status.FILLED  # the exchange filled it whole: no book walk, no slices
    assert fills(order) == [(D("68000"), D("0.05"))]
    assert check_balances() == []


# --- settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIMULATOR_LIQUIDITY_SHARE", "0"),
        ("SIMULATOR_LIQUIDITY_SHARE", "1.5"),
        ("SIMULATOR_LIQUIDITY_SHARE", "NaN"),
        ("SIMULATOR_LIQUIDITY_VOLUME", "-1"),
        ("SIMULATOR_LIQUIDITY_VOLUME", "lots"),
        ("SIMULATOR_BOOK_NOTIONAL", "0"),
        ("SIMULATOR_BOOK_LEVELS", "0"),
        ("SIMULATOR_BOOK_LEVELS", "2.5"),
        ("SIMULATOR_SEED", "x"),
    ],
)
def test_nonsense_liquidity_settings_fail_at_start_up(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ImproperlyConfigured, match=name):
        runpy.run_path("config/settings.py")


def test_liquidity_settings_default_to_off(monkeypatch):
    for name in ("SIMULATOR_LIQUIDITY", "SIMULATOR_SEED", "SYNTHETIC_PRICE_SEED"):
        monkeypatch.delenv(name, raising=False)

    loaded = runpy.run_path("config/settings.py")

    assert loaded["SIMULATOR_LIQUIDITY"] is False
    assert loaded["SIMULATOR_SEED"] == 42
    assert (loaded["SIMULATOR_LIQUIDITY_SHARE"], loaded["SIMULATOR_BOOK_LEVELS"]) == (D("0.25"), 20)
