"""The average-cost book against a hand-worked example; every figure below was worked out by hand.

BTCUSDT, fees given explicitly (not the simulator's rate) so the arithmetic stays readable:

1. BUY 1.01 @ 100, fee 0.01 BTC (base): receives 1.01 - 0.01 = 1.00 BTC, pays 1.01 x 100 = 101.
   quantity 1.00, cost 101, average 101.
2. BUY 1 @ 120, fee 1 USDT (quote): receives 1 BTC, pays 120 + 1 = 121.
   quantity 2.00, cost 222, average 111.
3. SELL 0.5 @ 130, fee 0.65 USDT: proceeds 65 - 0.65 = 64.35; cost out 0.5 x 111 = 55.5.
   realized +8.85; quantity 1.5, cost 166.5, average still 111.
   At a market of 140: value 1.5 x 140 = 210, unrealized 210 - 166.5 = +43.5.
4. SELL 1.5 @ 90, fee 0.135 USDT (closes): proceeds 135 - 0.135 = 134.865; cost out 166.5.
   realized -31.635; quantity 0, cost 0. Realized so far 8.85 - 31.635 = -22.785.
5. Reopen: BUY 2.002 @ 80, fee 0.002 BTC: receives 2.000, pays 160.16.
   quantity 2, cost 160.16, average 80.08 (the closed position's 111 does not leak in).
   At a market of 85: value 170, unrealized 170 - 160.16 = +9.84.
Total P&L -22.785 + 9.84 = -12.945, which equals the cash flows (-101 - 121 + 64.35 + 134.865 - 160.16 = -182.945)
plus the 2 BTC held at 85 (170).
"""

from decimal import Decimal as D

from portfolio.book import Book, trade_flows


def flows(side, quantity, price, fee, fee_asset):
    return trade_flows(
        side=side,
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        fee_asset=fee_asset,
        base_asset="BTC",
        quote_asset="USDT",
    )


def test_worked_example_buys_partial_sell_close_and_reopen():
    book = Book()

    assert book.apply(side="BUY", flows=flows("BUY", "1.01", "100", "0.01", "BTC")) is None
    assert (book.quantity, book.cost_basis, book.average_cost) == (D("1.00"), D("101"), D("101"))

    book.apply(side="BUY", flows=flows("BUY", "1", "120", "1", "USDT"))
    assert (book.quantity, book.cost_basis, book.average_cost) == (D("2.00"), D("222"), D("111"))

    assert book.apply(side="SELL", flows=flows("SELL", "0.5", "130", "0.65", "USDT")) == D("8.85")
    assert (book.quantity, book.cost_basis, book.average_cost) == (D("1.5"), D("166.5"), D("111"))
    assert book.quantity * D("140") - book.cost_basis == D("43.5")

    assert book.apply(side="SELL", flows=flows("SELL", "1.5", "90", "0.135", "USDT")) == D("-31.635")
    assert (book.quantity, book.cost_basis) == (D("0"), D("0"))
    assert book.realized_pnl == D("-22.785")

    book.apply(side="BUY", flows=flows("BUY", "2.002", "80", "0.002", "BTC"))
    assert (book.quantity, book.cost_basis, book.average_cost) == (D("2.000"), D("160.16"), D("80.08"))
    assert book.quantity * D("85") - book.cost_basis == D("9.84")
    assert book.realized_pnl + (book.quantity * D("85") - book.cost_basis) == D("-12.945")
    # Fees in quote: 0.01 BTC at 100 = 1, 1, 0.65, 0.135, 0.002 BTC at 80 = 0.16 -> 2.945.
    assert book.fees_paid == D("2.945")


def test_flows_put_a_base_fee_on_quantity_and_a_quote_fee_on_cash():
    buy = flows("BUY", "1", "100", "0.001", "BTC")
    assert (buy.base_delta, buy.quote_delta, buy.fee_in_quote) == (D("0.999"), D("-100"), D("0.1"))
    sell = flows("SELL", "1", "100", "0.1", "USDT")
    assert (sell.base_delta, sell.quote_delta, sell.fee_in_quote) == (D("-1"), D("99.9"), D("0.1"))


def test_fee_in_a_third_asset_counts_at_its_quote_value():
    buy = trade_flows(
        side="BUY",
        quantity=D("1"),
        price=D("100"),
        fee=D("0.0002"),
        fee_asset="BNB",
        base_asset="BTC",
        quote_asset="USDT",
        third_asset_fee_in_quote=D("0.12"),
    )
    assert (buy.base_delta, buy.quote_delta, buy.fee_in_quote) == (D("1"), D("-100.12"), D("0.12"))


def test_sell_beyond_the_book_realizes_only_the_covered_part_and_never_goes_short():
    book = Book()
    book.apply(side="BUY", flows=flows("BUY", "1", "100", "0", "USDT"))
    # Sells 3 @ 110 with no fee; only 1 has a known cost: realized 110 - 100 = 10.
    assert book.apply(side="SELL", flows=flows("SELL", "3", "110", "0", "USDT")) == D("10")
    assert (book.quantity, book.cost_basis) == (D("0"), D("0"))
    # Nothing held at all: nothing realized.
    assert book.apply(side="SELL", flows=flows("SELL", "1", "110", "0", "USDT")) == D("0")
