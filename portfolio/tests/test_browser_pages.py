"""The portfolio and analysis pages in a real browser after agents have traded (screenshots for people to see).

Screenshots land in artifacts/screenshots/. Without Chromium the tests are skipped with the reason shown, except in
CI (CI=true), where that is a failure.
"""

import os
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from analysis.services import submit_decision
from papertrading.services import default_account_for
from papertrading.symbols import load_default_symbol_rules
from papertrading.tests.browser_support import CHROMIUM_ARGS, chromium_path, log_in, screenshot_path
from portfolio.services import snapshot_equity

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def traded(market, trader):
    """Two agents trade BTC and ETH through the pipeline while the market moves; equity is sampled meanwhile."""
    load_default_symbol_rules()
    account = default_account_for(trader)  # what the trader's pages show
    start = timezone.now() - timedelta(minutes=10)
    steps = [
        ("trend", "BTCUSDT", "BUY", D("0.05"), "68000"),
        ("revert", "ETHUSDT", "BUY", D("1"), "3500"),
        ("trend", "BTCUSDT", "BUY", D("0.05"), "68500"),
        ("revert", "ETHUSDT", "SELL", D("0.5"), "3400"),
        ("trend", "BTCUSDT", "SELL", D("0.04"), "69400"),
    ]
    for minute, (agent, symbol, decision, quantity, price) in enumerate(steps):
        market.set(symbol, price)
        submit_decision(
            account=account, agent=agent, symbol=symbol, decision=decision, quantity=quantity, posted_by=trader
        )
        snapshot_equity(account, now=start + timedelta(minutes=2 * minute))
    market.set("BTCUSDT", "69800")
    snapshot_equity(account, now=start + timedelta(minutes=11))


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    yield page
    page.screenshot(path=screenshot_path(request.node.name), full_page=True)
    context.close()


def test_portfolio_page_shows_positions_pnl_and_the_equity_curve(page, live_server, traded):
    from playwright.sync_api import expect

    log_in(page, live_server.url, "trader", "pw-trader", next_path="/portfolio/")

    positions = page.locator("#positions")
    expect(positions).to_contain_text("BTCUSDT")
    expect(positions).to_contain_text("ETHUSDT")
    expect(page.locator("svg").first).to_be_visible()


def test_analysis_page_shows_runs_and_the_leaderboard(page, live_server, traded):
    from playwright.sync_api import expect

    log_in(page, live_server.url, "trader", "pw-trader", next_path="/analysis/")

    expect(page.locator("#leaderboard")).to_contain_text("trend")
    expect(page.locator("#leaderboard")).to_contain_text("revert")
    expect(page.get_by_text("SELL").first).to_be_visible()
