"""/portfolio/: positions, totals, the SVG equity curve and realized P&L; login required; htmx refresh."""

from portfolio.services import snapshot_equity
from portfolio.tests.conftest import book


def test_page_needs_a_login(client, db):
    response = client.get("/portfolio/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_page_shows_positions_totals_and_both_charts(client, viewer, market):
    book("BTCUSDT", "BUY", "1.01", "100", "0.01", "BTC")
    book("BTCUSDT", "BUY", "1", "120", "1", "USDT")
    snapshot_equity()
    book("BTCUSDT", "SELL", "0.5", "130", "0.65", "USDT")
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


def test_empty_portfolio_page_says_so(client, viewer):
    client.force_login(viewer)
    html = client.get("/portfolio/").content.decode()
    assert "No open positions" in html
    assert "not enough data yet" in html


def test_htmx_refresh_answers_with_the_positions_fragment_alone(client, viewer, market):
    book("BTCUSDT", "BUY", "1", "100", "0", "USDT")
    client.force_login(viewer)

    response = client.get("/portfolio/", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert html.lstrip().startswith('<section id="positions"')
    assert "<html" not in html and "<svg" not in html
