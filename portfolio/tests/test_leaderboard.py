"""The leaderboard of accounts (API and page) on a hand-made scenario whose every figure is worked out below.

Alpha (the trader's, 10000 USDT) and Beta (the rival's, 5000 USDT and 1 BTC opened at 1000) trade over four UTC
days; equity snapshots are taken each day at that day's prices, and "now" BTC is back at 1000.

Alpha: day 1 agent "trend" buys 1 BTC @ 1000 (fee 1 USDT): cash 8999, equity 9999.
       day 2 BTC 1100, "trend" sells 0.5 @ 1100 (fee 0.55): realized 549.45 − 500.5 = +48.95; equity 10098.45.
       day 3 by hand: buy 10 ETH @ 100, sell them @ 95: realized −50; BTC 900: equity 9498.45 + 450 = 9948.45.
       now  BTC 1000: equity 9998.45 = 10000 − 1.55 (realized −1.05, unrealized 0.5 × 1000 − 500.5 = −0.5).
Beta:  day 2 agent "mm" sells 0.5 BTC @ 1200 (fee 0.6): realized 599.4 − 500 = +99.4.
       now  equity 5599.4 + 500 = 6099.4 = 6000 + 99.4.
"""

from datetime import UTC, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from analysis.services import submit_decision
from conftest import api_client_for, page_client_for
from papertrading.accounts import external_account, issue_api_key
from papertrading.models import Account
from papertrading.services import open_account, reset_account
from portfolio.models import Trade
from portfolio.selectors import account_leaderboard
from portfolio.services import record_trade, snapshot_equity

pytestmark = pytest.mark.django_db

EIGHT = D("0.00000001")
LEADERBOARD = "/api/leaderboard"


def trade(account, symbol, side, quantity, price, fee, *, at, agent=""):
    return record_trade(
        account=account,
        symbol=symbol,
        side=side,
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        fee_asset="USDT",
        source=Trade.Source.DIRECT,
        executed_at=at,
        agent=agent,
    )


@pytest.fixture
def days():
    """Noon UTC of the four days before today: the period starts on the first, one step a day after."""
    midnight = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [midnight - timedelta(days=4 - n) + timedelta(hours=12) for n in range(4)]


@pytest.fixture
def scenario(market, trader, rival, days):
    market.set("BTCUSDT", "1000")
    alpha = open_account(owner=trader, name="Alpha", starting_balances={"USDT": "10000"})
    beta = open_account(owner=rival, name="Beta", starting_balances={"USDT": "5000", "BTC": "1"})
    external_account("simulation")  # holds no money of the desk's: never on the leaderboard
    Account.objects.filter(pk__in=[alpha.pk, beta.pk]).update(period_started_at=days[0])
    alpha.refresh_from_db()
    beta.refresh_from_db()

    trade(alpha, "BTCUSDT", "BUY", "1", "1000", "1", at=days[1], agent="trend")
    snapshot_equity(alpha, now=days[1])
    market.set("BTCUSDT", "1100")
    trade(alpha, "BTCUSDT", "SELL", "0.5", "1100", "0.55", at=days[2], agent="trend")
    trade(beta, "BTCUSDT", "SELL", "0.5", "1200", "0.6", at=days[2], agent="mm")
    snapshot_equity(alpha, now=days[2])
    trade(alpha, "ETHUSDT", "BUY", "10", "100", "0", at=days[3])
    trade(alpha, "ETHUSDT", "SELL", "10", "95", "0", at=days[3])
    market.set("BTCUSDT", "900")
    snapshot_equity(alpha, now=days[3])
    market.set("BTCUSDT", "1000")
    return alpha, beta


def alpha_sharpe() -> tuple[Fraction, Fraction]:
    """Mean and sample variance of Alpha's daily returns, exactly: closes 10000 (start), 9999, 10098.45, 9948.45,
    9998.45 (now)."""
    closes = [Fraction(D(c)) for c in ("10000", "9999", "10098.45", "9948.45", "9998.45")]
    returns = [b / a - 1 for a, b in zip(closes, closes[1:], strict=False)]
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return mean, variance


def test_leaderboard_ranks_accounts_by_return_with_every_figure(scenario, viewer):
    alpha, beta = scenario

    response = api_client_for(viewer).get(LEADERBOARD)

    assert response.status_code == 200
    first, second = response.json()
    assert (first["id"], first["name"], first["owner"], first["is_own"]) == (beta.pk, "Beta", "rival", False)
    assert (second["id"], second["name"], second["owner"]) == (alpha.pk, "Alpha", "trader")
    # Beta: 99.4 on 6000; no fall; one daily return only (start → now), so no Sharpe ratio; one winning sell.
    assert {k: first[k] for k in FIGURES} == {
        "return_rate": "0.01656667",
        "realized_pnl": "99.40000000",
        "unrealized_pnl": "0.00000000",
        "total_pnl": "99.40000000",
        "fees_paid": "0.60000000",
        "max_drawdown": "0.00000000",
        "sharpe_ratio": None,
        "win_rate": "1.00000000",
        "trade_count": 1,
    }
    # Alpha: −1.55 on 10000; worst fall 10098.45 → 9948.45; one sell of two won.
    mean, variance = alpha_sharpe()
    sharpe = D(mean.numerator) / D(mean.denominator) / (D(variance.numerator) / D(variance.denominator)).sqrt()
    assert {k: second[k] for k in FIGURES if k != "sharpe_ratio"} == {
        "return_rate": "-0.00015500",
        "realized_pnl": "-1.05000000",
        "unrealized_pnl": "-0.50000000",
        "total_pnl": "-1.55000000",
        "fees_paid": "1.55000000",
        "max_drawdown": str((D("150") / D("10098.45")).quantize(EIGHT)),
        "win_rate": "0.50000000",
        "trade_count": 4,
    }
    assert abs(D(second["sharpe_ratio"]) - sharpe * D(365).sqrt()) <= EIGHT


def test_each_account_lists_its_agents_and_what_no_agent_decided(scenario, viewer):
    body = api_client_for(viewer).get(LEADERBOARD).json()
    agents = {row["name"]: row["agents"] for row in body}

    # Alpha: "trend" paid 1001, got 549.45 back and holds 0.5 BTC (500): +48.45; by hand −50. Sum −1.55.
    assert agents["Alpha"] == [
        agent("trend", pnl="48.45", realized="48.95", fees="1.55", trades=2, win_rate="1.00000000"),
        agent("", pnl="-50", realized="-50", fees="0", trades=2, win_rate="0.00000000"),
    ]
    # Beta: "mm" got 599.4 for 0.5 BTC now worth 500: +99.4; the opening BTC has not moved (1000 → 1000), and
    # opening the account is no trade.
    assert agents["Beta"] == [
        agent("mm", pnl="99.4", realized="99.4", fees="0.6", trades=1, win_rate="1.00000000"),
        agent("", pnl="0", realized="0", fees="0", trades=0, win_rate=None),
    ]
    for row in body:
        assert sum(D(a["pnl"]) for a in row["agents"]) == D(row["total_pnl"])


def test_the_leaderboard_shows_figures_only_never_balances_positions_or_orders(scenario, trader, api):
    body = api.get(LEADERBOARD).json()

    assert [(row["name"], row["is_own"]) for row in body] == [("Beta", False), ("Alpha", True)]
    assert set(body[0]) == {"id", "name", "owner", "venue", "period", "period_started_at", "is_own", "agents"} | set(
        FIGURES
    )
    assert set(body[0]["agents"][0]) == {"agent", "pnl", "realized_pnl", "fees_paid", "trade_count", "win_rate"}


def test_the_leaderboard_needs_a_login(scenario):
    assert APIClient().get(LEADERBOARD).status_code == 401
    assert Client().get("/portfolio/leaderboard/").status_code == 302


def test_an_account_key_sees_the_leaderboard_too(scenario, trader):
    alpha, _ = scenario
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_key(alpha).raw}")

    assert [row["name"] for row in client.get(LEADERBOARD).json()] == ["Beta", "Alpha"]


def test_a_reset_account_is_ranked_on_its_new_period(scenario, trader):
    alpha, _ = scenario
    reset_account(account=alpha)

    (row,) = [row for row in account_leaderboard(trader) if row.account_id == alpha.pk]

    assert (row.period, row.performance.total_pnl, row.performance.trade_count) == (2, D("0"), 0)
    assert (row.performance.return_rate, row.performance.max_drawdown) == (D("0"), D("0"))
    assert row.performance.win_rate is None and row.performance.sharpe_ratio is None


def test_the_page_shows_the_accounts_in_order_with_their_agents(scenario, viewer):
    page = page_client_for(viewer).get("/portfolio/leaderboard/")

    assert page.status_code == 200
    html = page.content.decode()
    assert html.index(">Beta") < html.index(">Alpha")
    # Beta +1.66 %, Alpha −0.02 % (−0.0155 %), Alpha's drawdown 1.49 %, win rates 100 % and 50 %.
    for text in ("+1.66 %", "-0.02 %", "1.49 %", "100.00 %", "50.00 %", "trend", "(not from an agent)", "rival"):
        assert text in html, text
    # Figures only: Alpha's equity (9,998.45) and cash (9,498.45) stay on its owner's pages.
    assert "9,998.45" not in html and "9,498.45" not in html


def test_the_portfolio_page_links_to_the_leaderboard(market, trader):
    page = page_client_for(trader).get("/portfolio/")

    assert page.status_code == 200
    assert 'href="/portfolio/leaderboard/"' in page.content.decode()


def test_the_analysis_leaderboard_still_ranks_the_acting_accounts_agents(scenario, trader, api):
    alpha, _ = scenario
    submit_decision(account=alpha, agent="alpha-bot", symbol="BTCUSDT", decision="BUY", quantity=D("0.01"))

    named = api.get("/api/analysis/leaderboard", HTTP_X_ACCOUNT=str(alpha.pk))
    default = api.get("/api/analysis/leaderboard")

    assert named.status_code == 200
    assert [(row["agent"], row["runs"], row["executed"]) for row in named.json()] == [("alpha-bot", 1, 1)]
    assert default.json() == []


FIGURES = (
    "return_rate",
    "realized_pnl",
    "unrealized_pnl",
    "total_pnl",
    "fees_paid",
    "max_drawdown",
    "sharpe_ratio",
    "win_rate",
    "trade_count",
)


def agent(name, *, pnl, realized, fees, trades, win_rate) -> dict:
    return {
        "agent": name,
        "pnl": f"{D(pnl):.8f}",
        "realized_pnl": f"{D(realized):.8f}",
        "fees_paid": f"{D(fees):.8f}",
        "trade_count": trades,
        "win_rate": win_rate,
    }
