"""/analysis/: runs newest first with their orders and P&L, filters, leaderboard; login required."""

import re
from decimal import Decimal as D

import pytest

from analysis.services import submit_decision
from papertrading.services import default_account_for


@pytest.fixture
def viewer_account(viewer):
    """The viewer's own account: what the viewer's pages show. Agents post into it (the viewer only reads)."""
    return default_account_for(viewer)


@pytest.fixture
def runs(market, agent_user, viewer_account):
    def submit(**decision):
        submit_decision(account=viewer_account, posted_by=agent_user, **decision)

    submit(agent="alpha", symbol="BTCUSDT", decision="BUY", quantity=D("0.01"))
    submit(agent="beta", symbol="ETHUSDT", decision="HOLD", rationale="sideways <b>")
    submit(agent="beta", symbol="BTCUSDT", decision="BUY", quantity=D("100"))
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


def test_run_statuses_are_coloured_like_order_statuses(client, viewer, runs):
    client.force_login(viewer)

    html = client.get("/analysis/", headers={"HX-Request": "true"}).content.decode()

    def status_class(decision_text: str) -> str:
        row = next(row for row in re.findall(r'<tr id="run-.*?</tr>', html, re.S) if decision_text in row)
        return re.search(r'class="status (status-\w+)"', row).group(1)

    assert status_class("sideways") == "status-cancelled"  # HOLD: skipped
    assert status_class("insufficient balance") == "status-failed"
    assert status_class("FILLED".title()) == "status-filled"  # executed


def test_pages_of_runs_keep_the_filter(client, viewer, viewer_account, market, agent_user):
    hold = {"account": viewer_account, "symbol": "ETHUSDT", "decision": "HOLD", "posted_by": agent_user}
    for _ in range(26):  # one more than a page
        submit_decision(agent="beta", **hold)
    submit_decision(agent="alpha", **hold)
    client.force_login(viewer)

    first = client.get("/analysis/?agent=beta", headers={"HX-Request": "true"}).content.decode()
    assert 'href="/analysis/?agent=beta&amp;page=2"' in first
    second = client.get("/analysis/?agent=beta&page=2", headers={"HX-Request": "true"}).content.decode()
    assert second.count('<tr id="run-') == 1
    assert 'href="/analysis/?agent=beta&amp;page=1"' in second and "Older" not in second


def test_page_shows_the_runs_of_the_account_acted_as_and_no_other(client, viewer, runs, agent_user):
    submit_decision(account=default_account_for(agent_user), agent="gamma", symbol="ETHUSDT", decision="HOLD",
                    rationale="elsewhere", posted_by=agent_user)  # fmt: skip
    client.force_login(viewer)

    html = client.get("/analysis/").content.decode()

    assert "sideways" in html
    assert "elsewhere" not in html and "gamma" not in html
