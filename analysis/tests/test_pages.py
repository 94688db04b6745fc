"""/analysis/: runs newest first with their orders and P&L, filters, leaderboard; login required."""

from decimal import Decimal as D

import pytest

from analysis.services import submit_decision


@pytest.fixture
def runs(market, agent_user):
    submit_decision(agent="alpha", symbol="BTCUSDT", decision="BUY", quantity=D("0.01"), posted_by=agent_user)
    submit_decision(agent="beta", symbol="ETHUSDT", decision="HOLD", rationale="sideways <b>", posted_by=agent_user)
    submit_decision(agent="beta", symbol="BTCUSDT", decision="BUY", quantity=D("100"), posted_by=agent_user)
    market.set("BTCUSDT", "70000")


def test_page_needs_a_login(client, db):
    response = client.get("/analysis/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_page_lists_runs_newest_first_with_orders_status_pnl_and_leaderboard(client, viewer, runs):
    client.force_login(viewer)

    response = client.get("/analysis/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("insufficient balance") < html.index("sideways") < html.index("FILLED".title())
    assert "sideways &lt;b&gt;" in html  # rationale is escaped
    assert "-2010" in html
    # alpha: 0.00999 BTC at 70000 = 699.30 for 680.34 -> +18.96, top of the leaderboard.
    leaderboard = html[html.index('id="leaderboard"') : html.index("</table>", html.index('id="leaderboard"'))]
    assert leaderboard.index("alpha") < leaderboard.index("beta")
    assert "+18.96" in leaderboard


def test_filter_by_agent_and_symbol_answers_htmx_with_the_table_alone(client, viewer, runs):
    client.force_login(viewer)

    response = client.get("/analysis/?agent=beta&symbol=ethusdt", headers={"HX-Request": "true"})

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="runs"')
    assert "sideways" in html and "insufficient balance" not in html and "alpha" not in html
    assert "<html" not in html
