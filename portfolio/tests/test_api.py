"""GET /api/portfolio/positions, /summary and /trades against the hand-worked example at known prices."""

from decimal import Decimal as D

from rest_framework.test import APIClient

from portfolio.models import EquitySnapshot
from portfolio.tasks import snapshot_equity
from portfolio.tests.conftest import book


def worked_example(account, market):
    """test_book's example (position reopened: 2 BTC at 80.08, realized -22.785), then an ETH position, in an
    account that opened with 10000 USDT and nothing else."""
    book(account, "BTCUSDT", "BUY", "1.01", "100", "0.01", "BTC", agent="alpha")
    book(account, "BTCUSDT", "BUY", "1", "120", "1", "USDT", agent="beta")
    book(account, "BTCUSDT", "SELL", "0.5", "130", "0.65", "USDT", agent="alpha")
    book(account, "BTCUSDT", "SELL", "1.5", "90", "0.135", "USDT", agent="alpha")
    book(account, "BTCUSDT", "BUY", "2.002", "80", "0.002", "BTC", agent="beta")
    book(account, "ETHUSDT", "BUY", "1", "3000", "3", "USDT")
    market.set("BTCUSDT", "85")
    market.set("ETHUSDT", "3100")


def test_positions_show_quantity_average_cost_value_and_pnl(viewer_api, viewer_desk, market):
    worked_example(viewer_desk, market)

    response = viewer_api.get("/api/portfolio/positions")

    assert response.status_code == 200
    btc, eth = response.data
    assert (btc["asset"], D(btc["quantity"]), D(btc["average_cost"])) == ("BTC", D("2"), D("80.08"))
    assert (D(btc["market_value"]), D(btc["unrealized_pnl"]), D(btc["realized_pnl"])) == (
        D("170"),
        D("9.84"),
        D("-22.785"),
    )
    # ETH: 1 @ 3000 + 3 fee = 3003; at 3100 -> +97.
    assert (eth["asset"], D(eth["average_cost"]), D(eth["unrealized_pnl"])) == ("ETH", D("3003"), D("97"))


def test_summary_totals_cash_equity_and_pnl_per_agent(viewer_api, viewer_desk, market):
    worked_example(viewer_desk, market)

    response = viewer_api.get("/api/portfolio/summary")

    assert response.status_code == 200
    data = response.data
    # Realized -22.785; unrealized 9.84 + 97 = 106.84; total 84.055.
    assert (D(data["realized_pnl"]), D(data["unrealized_pnl"]), D(data["total_pnl"])) == (
        D("-22.785"),
        D("106.84"),
        D("84.055"),
    )
    # Cash 10000 - 182.945 (BTC flows) - 3003 = 6814.055; positions 170 + 3100 = 3270; equity 10084.055.
    assert (D(data["cash"]), D(data["market_value"]), D(data["equity"])) == (D("6814.055"), D("3270"), D("10084.055"))
    # The account opened with cash alone, so its starting equity is its starting cash.
    assert D(data["starting_cash"]) == D("10000")
    assert D(data["equity"]) == D(data["starting_cash"]) + D(data["total_pnl"])
    assert data["open_positions"] == 2 and data["trade_count"] == 6
    # Per agent, marked to market at BTC 85, ETH 3100:
    #   alpha: -101 + 64.35 + 134.865 = 98.215 cash; base 1.00 - 0.5 - 1.5 = -1.0 x 85 = -85 -> +13.215
    #   beta:  -121 - 160.16 = -281.16 cash; base 1 + 2.000 = 3.0 x 85 = 255 -> -26.16
    #   desk (no agent): -3003 + 3100 = +97.   Together 13.215 - 26.16 + 97 = 84.055, the total P&L.
    assert [(row["agent"], D(row["pnl"])) for row in data["agents"]] == [
        ("", D("97")),
        ("alpha", D("13.215")),
        ("beta", D("-26.16")),
    ]
    assert sum(D(row["pnl"]) for row in data["agents"]) == D(data["total_pnl"])


def test_snapshot_task_stores_the_equity_of_every_account_now(viewer_api, viewer_desk, rival_account, market):
    worked_example(viewer_desk, market)

    assert snapshot_equity.apply().get() == 2

    # The rival's account opened with 100000 USDT, 1 BTC at 68000 and 10 ETH at 3500 (starting equity 203000) and
    # has not traded: its P&L is what the market did to what it holds, (85 - 68000) + 10 x (3100 - 3500) = -71915.
    rival = EquitySnapshot.objects.get(account=rival_account)
    assert (rival.equity, rival.cash, rival.total_pnl) == (D("131085"), D("100000"), D("-71915"))
    snapshot = EquitySnapshot.objects.get(account=viewer_desk)
    assert (snapshot.equity, snapshot.total_pnl, snapshot.market_value) == (D("10084.055"), D("84.055"), D("3270"))
    curve = viewer_api.get("/api/portfolio/summary").data["equity_curve"]
    assert [D(point["equity"]) for point in curve] == [D("10084.055")]


def test_trades_list_filters_by_symbol_and_agent(viewer_api, viewer_desk, rival_account, market):
    worked_example(viewer_desk, market)
    book(rival_account, "BTCUSDT", "SELL", "0.1", "90", "0", "USDT", agent="alpha")  # another account's

    response = viewer_api.get("/api/portfolio/trades?symbol=btcusdt&agent=alpha")

    assert response.status_code == 200
    assert [(t["side"], D(t["quantity"])) for t in response.data["results"]] == [
        ("SELL", D("1.5")),
        ("SELL", D("0.5")),
        ("BUY", D("1.01")),
    ]


def test_portfolio_api_needs_a_login(db):
    anonymous = APIClient()
    for path in ("/api/portfolio/positions", "/api/portfolio/summary", "/api/portfolio/trades"):
        assert anonymous.get(path).status_code == 401
