"""The ledger fed by fills (fills_recorded), direct trades and what an account opened with; positions and P&L from
the rows."""

from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analysis.services import submit_decision
from papertrading.models import OrderEvent, OrderFill
from papertrading.services import place_order, reset_account
from portfolio.models import EquitySnapshot, Position, Trade
from portfolio.selectors import equity_curve, pnl_by_agent, portfolio_summary
from portfolio.services import PortfolioManager, ledger_problems, rebuild_positions, record_fills, snapshot_equity
from portfolio.tests.conftest import book


def test_every_simulator_fill_becomes_one_trade_and_a_second_delivery_adds_nothing(account, market):
    result = place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01"), source="api"
    )

    trade = Trade.objects.exclude(source=Trade.Source.OPENING).get()
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
    assert Trade.objects.filter(source=Trade.Source.FILL).count() == 1
    # The position counts the account's opening BTC and the one fill.
    assert Position.objects.get(account=account, symbol="BTCUSDT").trade_count == 2


def test_a_resting_limit_order_is_booked_when_the_matcher_fills_it(account, market):
    place_order(account=account, symbol="ETHUSDT", side="BUY", order_type="LIMIT", quantity=D("1"), price=D("3400"),
                time_in_force="GTC")  # fmt: skip
    assert not Trade.objects.filter(source=Trade.Source.FILL).exists()

    market.move("ETHUSDT", "3390")

    trade = Trade.objects.get(source=Trade.Source.FILL)
    # A maker fill at its own limit, 3400; fee 0.001 ETH -> holds 0.999 ETH more for 3400 USDT.
    assert (trade.price, trade.fee, trade.fee_asset) == (D("3400"), D("0.001"), "ETH")
    # On top of the 10 ETH the account opened with at 3500: 10.999 ETH for 35000 + 3400.
    position = Position.objects.get(account=account, symbol="ETHUSDT")
    assert (position.quantity, position.cost_basis) == (D("10.999"), D("38400"))


def test_a_sell_fill_with_the_fee_in_quote_realizes_against_the_average_cost(cash_account, market):
    """In an account that opened with cash alone, so the buy below is the whole ETH book."""
    eth = {"account": cash_account, "symbol": "ETHUSDT", "order_type": "MARKET", "source": OrderEvent.Source.API}
    place_order(side="BUY", quantity=D("1"), **eth)
    market.set("ETHUSDT", "3600")
    place_order(side="SELL", quantity=D("0.5"), **eth)

    # BUY 1 @ 3500 x 1.0005 = 3501.75, fee 0.001 ETH: 0.999 ETH for 3501.75 (average 3505.255255...).
    # SELL 0.5 @ 3600 x 0.9995 = 3598.20 -> 1799.10, fee 1.7991 USDT -> proceeds 1797.3009;
    # cost out 3501.75 x 0.5 / 0.999 = 1752.62762763 -> realized 44.67327237.
    sell = Trade.objects.get(side="SELL")
    assert (sell.price, sell.fee, sell.fee_asset) == (D("3598.20"), D("1.7991"), "USDT")
    assert sell.realized_pnl == D("44.67327237")
    position = Position.objects.get(account=cash_account, symbol="ETHUSDT")
    assert (position.quantity, position.cost_basis) == (D("0.499"), D("1749.12237237"))


def test_hand_worked_example_through_the_ledger_matches_a_full_rebuild(cash_account, market):
    """The figures of test_book's docstring, booked as ledger rows (see there for the arithmetic)."""
    book(cash_account, "BTCUSDT", "BUY", "1.01", "100", "0.01", "BTC")
    book(cash_account, "BTCUSDT", "BUY", "1", "120", "1", "USDT")
    partial = book(cash_account, "BTCUSDT", "SELL", "0.5", "130", "0.65", "USDT")
    close = book(cash_account, "BTCUSDT", "SELL", "1.5", "90", "0.135", "USDT")
    book(cash_account, "BTCUSDT", "BUY", "2.002", "80", "0.002", "BTC")

    assert (partial.realized_pnl, close.realized_pnl) == (D("8.85"), D("-31.635"))
    position = Position.objects.get(symbol="BTCUSDT")
    expected = (D("2.000"), D("160.16"), D("-22.785"), D("2.945"), D("80.08"))
    assert (position.quantity, position.cost_basis, position.realized_pnl, position.fees_paid) == expected[:4]
    assert position.average_cost == expected[4]

    Position.objects.all().delete()
    assert rebuild_positions() == 5
    rebuilt = Position.objects.get(symbol="BTCUSDT")
    assert (rebuilt.quantity, rebuilt.cost_basis, rebuilt.realized_pnl, rebuilt.fees_paid) == expected[:4]


def test_fee_in_a_third_asset_is_valued_at_its_market_price(cash_account, market):
    # BNB at 600: a 0.001 BNB fee is 0.6 USDT, added to the cost.
    trade = book(cash_account, "BTCUSDT", "BUY", "0.01", "68000", "0.001", "BNB")

    assert trade.fee_in_quote == D("0.6")
    assert Position.objects.get(symbol="BTCUSDT").cost_basis == D("680.6")


# --- what the account started with ------------------------------------------------------------------------------
#
# An account opens with 100000 USDT, 1 BTC and 10 ETH (the test settings); at the market fixture's prices (BTC 68000,
# ETH 3500) its starting equity is 100000 + 68000 + 35000 = 203000. When the ledger knew only trades, the starting
# coins were not in any book: selling them realized nothing, yet the proceeds landed in cash, so equity jumped by the
# whole sale while the total P&L stayed put, the seller's line showed a loss nobody else's line balanced, and the
# equity curve disagreed with the P&L. The opening trades enter them at the opening price instead.

STARTING_EQUITY = D("203000")


def sell(account, agent: str, symbol: str, quantity: str, *, use_paper_trading: bool) -> Trade:
    """An agent's SELL decision, executed as a paper MARKET order or as a direct trade at the last price."""
    manager = PortfolioManager(account=account, use_paper_trading=use_paper_trading)
    result = submit_decision(
        account=account, agent=agent, symbol=symbol, decision="SELL", quantity=D(quantity), manager=manager
    )
    assert result.run.status == "executed", result.run.reason
    (trade,) = Trade.objects.filter(account=account, run_id=result.run.run_id)
    return trade


def agree(account) -> dict[str, D]:
    """The account's P&L lines per agent, after checking that equity, total P&L and the agents' lines agree."""
    summary = portfolio_summary(account)
    agents = {row.key: row.pnl for row in pnl_by_agent(account)}
    assert summary.equity == summary.starting_equity + summary.total_pnl
    assert sum(agents.values(), D("0")) == summary.total_pnl
    assert ledger_problems(account) == []
    return agents


@pytest.mark.parametrize(
    ("use_paper_trading", "price", "fee", "realized"),
    [
        # Directly at the last price, 68000: proceeds 68000 less the 0.1 % fee, 68; the coin cost 68000.
        pytest.param(False, D("68000"), D("68"), D("-68"), id="direct"),
        # A paper MARKET order fills 0.05 % under the market, 67966; fee 67.966: the slippage and the fee.
        pytest.param(True, D("67966.00"), D("67.966"), D("-101.966"), id="paper-order"),
    ],
)
def test_selling_the_starting_btc_at_the_opening_price_realizes_only_what_the_sale_cost(
    account, market, use_paper_trading, price, fee, realized
):
    opening = portfolio_summary(account)
    assert (opening.starting_cash, opening.starting_equity) == (D("100000"), STARTING_EQUITY)
    assert (opening.equity, opening.total_pnl, opening.trade_count) == (STARTING_EQUITY, D("0"), 0)
    snapshot_equity(account)

    trade = sell(account, "seller", "BTCUSDT", "1", use_paper_trading=use_paper_trading)

    assert (trade.price, trade.fee, trade.fee_asset) == (price, fee, "USDT")
    assert trade.realized_pnl == realized  # no gain: the coin entered the book at 68000
    position = Position.objects.get(account=account, symbol="BTCUSDT")
    assert (position.quantity, position.cost_basis, position.realized_pnl) == (D("0"), D("0"), realized)
    summary = portfolio_summary(account)
    # Cash 100000 + the proceeds; the 10 ETH still at 3500. Equity moves by what the sale cost, not by 68000.
    assert summary.cash == D("100000") + price - fee
    assert (summary.market_value, summary.equity) == (D("35000"), STARTING_EQUITY + realized)
    assert (summary.realized_pnl, summary.unrealized_pnl, summary.total_pnl) == (realized, D("0"), realized)
    assert summary.trade_count == 1  # the sale; the opening trades are the starting point, not trading
    # The seller's line is the sale's cost; the opening positions' line (no agent) has not moved.
    assert agree(account) == {"seller": realized, "": D("0")}
    snapshot_equity(account)
    assert [(s.equity, s.total_pnl) for s in equity_curve(account)] == [
        (STARTING_EQUITY, D("0")),
        (STARTING_EQUITY + realized, realized),
    ]


def test_agents_trading_the_starting_coins_add_up_to_the_total_as_the_market_moves(account, market):
    market.set("BTCUSDT", "70000")
    market.set("ETHUSDT", "3400")
    # Before anyone trades, the move is the opening positions' alone: 1 x +2000 + 10 x -100 = +1000.
    assert agree(account) == {"": D("1000")}

    half = sell(account, "alpha", "BTCUSDT", "0.5", use_paper_trading=False)
    sell(account, "beta", "ETHUSDT", "4", use_paper_trading=False)
    book(account, "BTCUSDT", "BUY", "0.25", "70000", "0", "USDT")  # a trade by hand: no agent
    market.set("BTCUSDT", "72000")

    # alpha sold half the starting coin at 70000 (fee 35): realized 0.5 x (70000 - 68000) - 35 = 965.
    assert half.realized_pnl == D("965")
    agents = agree(account)
    # alpha: +34965 for -0.5 BTC, now worth -36000 -> -1035. beta: +13600 - 13.6 fee for -4 ETH at 3400 -> -13.6.
    # The rest (opening positions and the hand trade): -68000 + 72000 - 35000 + 34000 - 17500 + 18000 = +3500.
    assert agents == {"alpha": D("-1035"), "beta": D("-13.6"), "": D("3500")}
    summary = portfolio_summary(account)
    assert summary.total_pnl == D("2451.4")
    assert summary.equity == STARTING_EQUITY + D("2451.4")


def test_a_reset_opens_the_next_period_at_the_prices_of_the_moment(account, market):
    sell(account, "seller", "BTCUSDT", "1", use_paper_trading=False)
    market.set("BTCUSDT", "70000")

    account = reset_account(account=account)

    # Back to 1 BTC, entered at 70000 now: selling it at 70000 again costs only the fee, 70.
    assert portfolio_summary(account).starting_equity == D("100000") + D("70000") + D("35000")
    trade = sell(account, "seller", "BTCUSDT", "1", use_paper_trading=False)
    assert trade.realized_pnl == D("-70")
    assert agree(account) == {"seller": D("-70"), "": D("0")}
    # The first period's sale is history: it counts in neither the new period's P&L nor its trades.
    assert portfolio_summary(account).trade_count == 1


# --- rebuilding the positions from the ledger -------------------------------------------------------------------


def positions_of(account) -> dict:
    return {
        p.symbol: (p.quantity, p.cost_basis, p.realized_pnl, p.trade_count)
        for p in Position.objects.filter(account=account)
    }


def run_command(*args) -> str:
    out = StringIO()
    call_command("rebuild_positions", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_command_rebuilds_every_account_and_keeps_the_opening_positions(account, rival_account, market):
    sell(account, "seller", "BTCUSDT", "0.4", use_paper_trading=False)
    booked = {account.pk: positions_of(account), rival_account.pk: positions_of(rival_account)}
    assert booked[account.pk]["BTCUSDT"] == (D("0.6"), D("40800"), D("-27.2"), 2)
    Position.objects.all().delete()

    assert "of 2 accounts from 5 trades" in run_command()  # 2 + 2 opening trades and the sale

    assert {account.pk: positions_of(account), rival_account.pk: positions_of(rival_account)} == booked
    assert ledger_problems(account) == [] and ledger_problems(rival_account) == []


def test_the_command_rebuilds_only_the_account_it_is_given(account, rival_account, market):
    Position.objects.filter(account=account).update(quantity=D("5"))
    Position.objects.filter(account=rival_account).update(quantity=D("5"))

    assert f"of account #{account.pk} from 2 trades" in run_command("--account", str(account.pk))

    assert positions_of(account) == {
        "BTCUSDT": (D("1"), D("68000"), D("0"), 1),
        "ETHUSDT": (D("10"), D("35000"), D("0"), 1),
    }
    assert {p.quantity for p in Position.objects.filter(account=rival_account)} == {D("5")}  # untouched
    with pytest.raises(CommandError, match="No account #999999"):
        run_command("--account", "999999")
    assert not EquitySnapshot.objects.exists()
