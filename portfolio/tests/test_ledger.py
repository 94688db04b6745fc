"""The ledger fed by fills (fills_recorded) and direct trades; positions and P&L from the rows."""

from decimal import Decimal as D

from papertrading.models import OrderEvent, OrderFill
from papertrading.services import place_order
from portfolio.models import Position, Trade
from portfolio.services import rebuild_positions, record_fills
from portfolio.tests.conftest import book


def test_every_simulator_fill_becomes_one_trade_and_a_second_delivery_adds_nothing(market):
    result = place_order(symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01"), source="api")

    trade = Trade.objects.get()
    fill = OrderFill.objects.get()
    assert (trade.fill_id, trade.order_id, trade.source) == (fill.pk, result.order.pk, "fill")
    assert (trade.quantity, trade.price, trade.fee, trade.fee_asset) == (
        fill.quantity,
        fill.price,
        fill.commission,
        "BTC",
    )

    # The signal delivered again (e.g. a sync re-applying a report) must not book the fill twice.
    assert record_fills(order=result.order, fills=[fill]) == []
    assert Trade.objects.count() == 1
    assert Position.objects.get(symbol="BTCUSDT").trade_count == 1


def test_a_resting_limit_order_is_booked_when_the_matcher_fills_it(market):
    place_order(symbol="ETHUSDT", side="BUY", order_type="LIMIT", quantity=D("1"), price=D("3400"), time_in_force="GTC")
    assert not Trade.objects.exists()

    market.move("ETHUSDT", "3390")

    trade = Trade.objects.get()
    # A maker fill at its own limit, 3400; fee 0.001 ETH -> holds 0.999 ETH for 3400 USDT.
    assert (trade.price, trade.fee, trade.fee_asset) == (D("3400"), D("0.001"), "ETH")
    position = Position.objects.get(symbol="ETHUSDT")
    assert (position.quantity, position.cost_basis) == (D("0.999"), D("3400"))


def test_a_sell_fill_with_the_fee_in_quote_realizes_against_the_average_cost(market):
    place_order(symbol="ETHUSDT", side="BUY", order_type="MARKET", quantity=D("1"), source=OrderEvent.Source.API)
    market.set("ETHUSDT", "3600")
    place_order(symbol="ETHUSDT", side="SELL", order_type="MARKET", quantity=D("0.5"), source=OrderEvent.Source.API)

    # BUY 1 @ 3500 x 1.0005 = 3501.75, fee 0.001 ETH: 0.999 ETH for 3501.75 (average 3505.255255...).
    # SELL 0.5 @ 3600 x 0.9995 = 3598.20 -> 1799.10, fee 1.7991 USDT -> proceeds 1797.3009;
    # cost out 3501.75 x 0.5 / 0.999 = 1752.62762763 -> realized 44.67327237.
    sell = Trade.objects.get(side="SELL")
    assert (sell.price, sell.fee, sell.fee_asset) == (D("3598.20"), D("1.7991"), "USDT")
    assert sell.realized_pnl == D("44.67327237")
    position = Position.objects.get(symbol="ETHUSDT")
    assert (position.quantity, position.cost_basis) == (D("0.499"), D("1749.12237237"))


def test_hand_worked_example_through_the_ledger_matches_a_full_rebuild(db, market):
    """The figures of test_book's docstring, booked as ledger rows (see there for the arithmetic)."""
    book("BTCUSDT", "BUY", "1.01", "100", "0.01", "BTC")
    book("BTCUSDT", "BUY", "1", "120", "1", "USDT")
    partial = book("BTCUSDT", "SELL", "0.5", "130", "0.65", "USDT")
    close = book("BTCUSDT", "SELL", "1.5", "90", "0.135", "USDT")
    book("BTCUSDT", "BUY", "2.002", "80", "0.002", "BTC")

    assert (partial.realized_pnl, close.realized_pnl) == (D("8.85"), D("-31.635"))
    position = Position.objects.get(symbol="BTCUSDT")
    expected = (D("2.000"), D("160.16"), D("-22.785"), D("2.945"), D("80.08"))
    assert (position.quantity, position.cost_basis, position.realized_pnl, position.fees_paid) == expected[:4]
    assert position.average_cost == expected[4]

    Position.objects.all().delete()
    assert rebuild_positions() == 5
    rebuilt = Position.objects.get(symbol="BTCUSDT")
    assert (rebuilt.quantity, rebuilt.cost_basis, rebuilt.realized_pnl, rebuilt.fees_paid) == expected[:4]


def test_fee_in_a_third_asset_is_valued_at_its_market_price(db, market):
    # BNB at 600: a 0.001 BNB fee is 0.6 USDT, added to the cost.
    trade = book("BTCUSDT", "BUY", "0.01", "68000", "0.001", "BNB")

    assert trade.fee_in_quote == D("0.6")
    assert Position.objects.get(symbol="BTCUSDT").cost_basis == D("680.6")
