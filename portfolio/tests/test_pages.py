"""/portfolio/: positions, totals, the SVG equity curve and realized P&L; login required; htmx refresh."""

from portfolio.services import snapshot_equity
from portfolio.tests.conftest import book, cash_only_account


def test_page_needs_a_login(client, db):
    response = client.get("/portfolio/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_page_shows_positions_totals_and_both_charts(client, viewer, viewer_desk, market):
    book(viewer_desk, "BTCUSDT", "BUY", "1.01", "100", "0.01", "BTC")
    book(viewer_desk, "BTCUSDT", "BUY", "1", "120", "1", "USDT")
    snapshot_equity(viewer_desk)
    book(viewer_desk, "BTCUSDT", "SELL", "0.5", "130", "0.65", "USDT")
    market.set("BTCUSDT", "140")
    client.force_login(viewer)

    response = client.get("/portfolio/")

    assert response.status_code == 200
    html = response.content.decode()
    table = html[html.index('id="positions-table"') :]
    # 1.5 BTC at an average 111; at 140: value 210, unrealized +43.50; realized +8.85.
    for text in ("BTC", "1.5", "111.00", "210.00", "+43.50", "+8.85"):
        assert text in table, text
    assert html.count('<svg class="chart"') == 2  # the equity curve (snapshot + now) and realized P&L
    assert "Equity curve" in html and "Realized P&amp;L over time" in html


def test_empty_portfolio_page_says_so(client, viewer, market):
    cash_only_account(viewer)  # nothing but cash: no opening positions either
    client.force_login(viewer)
    html = client.get("/portfolio/").content.decode()
    assert "No open positions" in html
    assert "not enough data yet" in html


def test_htmx_refresh_answers_with_the_positions_fragment_alone(client, viewer, viewer_desk, market):
    book(viewer_desk, "BTCUSDT", "BUY", "1", "100", "0", "USDT")
    client.force_login(viewer)

    response = client.get("/portfolio/", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="positions"')
    assert "<html" not in html and "<svg" not in html


def test_a_new_account_shows_what_it_opened_with_as_positions(client, viewer, market):
    client.force_login(viewer)  # the viewer's default account opens with 100000 USDT, 1 BTC and 10 ETH

    html = client.get("/portfolio/").content.decode()

    table = html[html.index('id="positions-table"') :]
    assert "No open positions" not in html
    # 1 BTC entered at 68000 and 10 ETH at 3500, the prices when the account opened: no P&L yet.
    for text in ("BTCUSDT", "ETHUSDT", "68,000.00", "35,000.00"):
        assert text in table, text
