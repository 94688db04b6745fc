"""The desk in a real browser: Playwright (sync API) drives Debian's Chromium against a live test server.

A screenshot of the desk after each test lands in artifacts/screenshots/<test name>.png. Without Chromium the
tests are skipped with the reason shown, except in CI (CI=true), where that is a failure.
"""

import os
import re
from decimal import Decimal

import pytest

from analysis.services import submit_decision
from papertrading import services
from papertrading.errors import OrderRejected
from papertrading.symbols import load_default_symbol_rules

from .browser_support import CHROMIUM_ARGS, chromium_path, log_in, screenshot_path

# Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=8_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    page.screenshot(path=screenshot_path(request.node.name), full_page=True)
    context.close()


@pytest.fixture
def desk(page, live_server, trader, market):
    """The desk, signed in as `trader` (may place, cancel and sync) through the login page."""
    load_default_symbol_rules()  # a no-op unless an earlier transactional test flushed them
    log_in(page, live_server.url, "trader", "pw-trader")
    return page


def order_rows(page):
    return page.locator("#orders tbody tr[data-order-id]")


def fill_order(page, *, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity="0.01", price=None):
    form = page.locator("#order-form")
    if form.get_by_label("Order type").input_value() != order_type:
        form.get_by_label("Order type").select_option(order_type)
        # The form redraws with the fields of the new type.
        page.locator(f"#id_order_type option[value='{order_type}'][selected]").wait_for(state="attached")
    form = page.locator("#order-form")
    form.get_by_label("Symbol").select_option(symbol)
    form.get_by_label("Side").select_option(side)
    form.get_by_label("Quantity").fill(quantity)
    if price is not None:
        form.locator("#id_price").fill(price)
    return form


def balance(page, asset: str, field: str = "free"):
    return page.locator(f"#account-panel tr[data-asset='{asset}'] td[data-field='{field}']")


def test_log_in_through_the_login_page(page, live_server, trader, market):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/paper-trading/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/paper-trading/")
    page.get_by_label("Username").fill("trader")
    page.get_by_label("Password").fill("pw-trader")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/paper-trading/")
    expect(page.get_by_role("heading", name="Account")).to_be_visible()
    expect(page.locator(".nav-user")).to_have_text("trader")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator("#account-panel .badge-venue")).to_have_text("Simulation")
    expect(balance(page, "USDT")).to_have_text("100000")


def test_limit_far_from_market_rests_as_pending_then_cancel_shows_cancelled(desk):
    from playwright.sync_api import expect

    form = fill_order(desk, quantity="0.01", price="30000")  # the market is at 68000: it rests
    form.get_by_role("button", name="Place order").click()

    row = order_rows(desk).first
    expect(row).to_have_attribute("data-status", "PENDING")
    expect(row.locator(".status")).to_have_text("Pending")
    expect(row.locator(".status")).to_have_class("status status-working")
    expect(row.locator(".col-symbol")).to_have_text("BTCUSDT")
    expect(desk.locator("#notices .toast-success")).to_contain_text("placed: pending")
    expect(balance(desk, "USDT", "locked")).to_have_text("300")  # 0.01 x 30000 held for the BUY

    desk.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Cancel").click()

    expect(row.locator(".status")).to_have_text("Cancelled")
    expect(row.locator(".status")).to_have_class("status status-cancelled")
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(desk.locator("#notices .toast-success").last).to_contain_text("cancelled")
    expect(balance(desk, "USDT", "locked")).to_have_text("0")


def test_market_order_fills_and_the_balances_change(desk):
    from playwright.sync_api import expect

    expect(balance(desk, "BTC")).to_have_text("1")
    expect(balance(desk, "USDT")).to_have_text("100000")
    form = fill_order(desk, order_type="MARKET", quantity="0.01")
    expect(form.locator("input[name='price']")).to_have_count(0)  # a MARKET order takes no price
    form.get_by_role("button", name="Place order").click()

    row = order_rows(desk).first
    expect(row.locator(".status")).to_have_text("Filled")
    expect(row.locator(".status")).to_have_class("status status-filled")
    # 0.01 BTC less the 0.1 % fee in BTC; paid 0.01 x 68034 (68000 plus 0.05 % slippage) in USDT.
    expect(balance(desk, "BTC")).to_have_text("1.00999")
    expect(balance(desk, "USDT")).to_have_text("99319.66")
    expect(desk.locator("#notices .toast-success")).to_contain_text("filled at 68034")

    # Phone width: everything reflows into one column; only the orders table may scroll sideways.
    desk.set_viewport_size({"width": 390, "height": 844})
    assert desk.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(desk.get_by_role("button", name="Place order")).to_be_visible()
    desk.screenshot(path=screenshot_path("desk_phone_width"), full_page=True)
    desk.set_viewport_size({"width": 1280, "height": 900})


def test_limit_without_price_shows_the_field_error(desk):
    from playwright.sync_api import expect

    form = fill_order(desk, order_type="MARKET", symbol="ETHUSDT", quantity="0.5")
    fill_order(desk, order_type="LIMIT", symbol="ETHUSDT", quantity="0.5")  # back to LIMIT, price left empty
    form = desk.locator("#order-form")
    form.get_by_role("button", name="Place order").click()

    error = desk.locator("#id_price_error")
    expect(error).to_have_text("A LIMIT order needs a price.")
    expect(desk.locator("#id_price")).to_have_attribute("aria-invalid", "true")
    expect(desk.locator("#id_price")).to_be_focused()  # keyboard users land on the field to fix
    expect(desk.locator("#id_quantity")).to_have_value("0.5")  # what was typed is kept
    expect(desk.locator("#id_symbol")).to_have_value("ETHUSDT")
    expect(order_rows(desk)).to_have_count(0)


def test_switch_to_open_and_sort_by_symbol(desk, trader, live_server):
    from playwright.sync_api import expect

    account = services.default_account_for(trader)  # the account the desk shows

    def place(symbol, order_type, quantity, price=None):
        extra = {"price": Decimal(price), "time_in_force": "GTC"} if price else {}
        return services.place_order(
            account=account, symbol=symbol, side="BUY", order_type=order_type, quantity=Decimal(quantity),
            placed_by=trader, **extra,
        ).order  # fmt: skip

    eth = place("ETHUSDT", "LIMIT", "0.1", "3000")
    btc = place("BTCUSDT", "LIMIT", "0.01", "60000")
    place("BNBUSDT", "MARKET", "0.1")  # filled: not open
    cancelled = place("SOLUSDT", "LIMIT", "1", "100")
    services.cancel_order(account=account, order_id=cancelled.pk)
    with pytest.raises(OrderRejected):
        place("BTCUSDT", "LIMIT", "5", "60000")  # more USDT than the account holds
    desk.reload()
    expect(order_rows(desk)).to_have_count(5)
    expect(desk.locator("#orders .status")).to_have_text(["Rejected", "Cancelled", "Filled", "Pending", "Pending"])

    desk.get_by_role("link", name="Open", exact=True).click()
    expect(order_rows(desk)).to_have_count(2)
    expect(desk).to_have_url(f"{live_server.url}/paper-trading/?show=open")

    desk.locator("#sort-symbol").click()
    expect(desk.locator("#orders th.col-symbol")).to_have_attribute("aria-sort", "ascending")
    expect(order_rows(desk).locator(".col-symbol")).to_have_text(["BTCUSDT", "ETHUSDT"])
    expect(order_rows(desk).first).to_have_attribute("data-order-id", str(btc.pk))
    expect(desk).to_have_url(f"{live_server.url}/paper-trading/?show=open&sort=symbol")

    desk.locator("#sort-symbol").click()  # again: descending
    expect(order_rows(desk).locator(".col-symbol")).to_have_text(["ETHUSDT", "BTCUSDT"])
    expect(order_rows(desk).first).to_have_attribute("data-order-id", str(eth.pk))

    # A reload keeps the user's filter and sort (they live in the URL).
    desk.reload()
    expect(order_rows(desk).locator(".col-symbol")).to_have_text(["ETHUSDT", "BTCUSDT"])

    # Back to every order for the screenshot: one of each status colour.
    desk.get_by_role("link", name="All", exact=True).click()
    expect(order_rows(desk)).to_have_count(5)


def test_a_fill_by_the_market_updates_the_table_on_its_own_and_is_announced(
    page, live_server, trader, market, settings
):
    from playwright.sync_api import expect

    settings.DESK_POLL_SECONDS = 1  # poll fast, so the test need not wait the usual few seconds
    load_default_symbol_rules()
    log_in(page, live_server.url, "trader", "pw-trader")
    expect(page.locator("#orders")).to_have_attribute("hx-trigger", re.compile(r"^every 1s"))
    form = fill_order(page, quantity="0.01", price="67000")
    form.get_by_role("button", name="Place order").click()
    row = order_rows(page).first
    expect(row.locator(".status")).to_have_text("Pending")

    market.move("BTCUSDT", "66900")  # the matcher fills the resting BUY, with no request from this page

    expect(row.locator(".status")).to_have_text("Filled")
    expect(page.locator("#notices .toast-success").last).to_contain_text("Your order #")
    expect(page.locator("#notices .toast-success").last).to_contain_text("filled at 67000")
    expect(balance(page, "USDT", "locked")).to_have_text("0")


def watch_console(page) -> list[str]:
    """Collect what the page logs as an error or warning, and uncaught exceptions, from now on."""
    problems: list[str] = []

    def on_console(message):
        if message.type in ("error", "warning"):
            problems.append(f"console.{message.type}: {message.text} ({message.location['url']})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    return problems


def test_the_desk_logs_nothing_to_the_console_while_it_is_used(page, live_server, trader, market):
    from playwright.sync_api import expect

    problems = watch_console(page)
    load_default_symbol_rules()
    log_in(page, live_server.url, "trader", "pw-trader")
    expect(page.get_by_role("heading", name="Account")).to_be_visible()

    for order_type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT", "LIMIT"):  # each change redraws the form over htmx
        fill_order(page, order_type=order_type)

    fill_order(page, order_type="LIMIT", quantity="0.01")  # no price: the form comes back with an error
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#id_price_error")).to_have_text("A LIMIT order needs a price.")

    fill_order(page, order_type="LIMIT", quantity="0.01", price="30000")  # far from the market: it rests
    page.get_by_role("button", name="Place order").click()
    row = order_rows(page).first
    expect(row.locator(".status")).to_have_text("Pending")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Cancel").click()
    expect(row.locator(".status")).to_have_text("Cancelled")

    with (
        page.expect_response(re.compile(r"/orders/\?")) as redrawn,  # the sync's `orders-changed` event
        page.expect_response(re.compile(r"/orders/sync/$")) as sync,
    ):
        page.get_by_role("button", name="Sync").click()
    assert sync.value.status == 204 and redrawn.value.ok
    page.wait_for_load_state("networkidle")

    # Chromium itself reports every 4xx answer; the form with errors is answered 422 on purpose (see base.html),
    # and that one line is the only thing expected.
    form_with_errors = re.compile(r"^console\.error: Failed to load resource: .* 422 .*/paper-trading/orders/new/\)$")
    assert len([line for line in problems if form_with_errors.match(line)]) == 1
    unexpected = [line for line in problems if not form_with_errors.match(line)]
    assert unexpected == [], "\n".join(unexpected)


def test_portfolio_and_analysis_pages_log_nothing_to_the_console(page, live_server, trader, market):
    from playwright.sync_api import expect

    problems = watch_console(page)
    load_default_symbol_rules()
    submit_decision(account=services.default_account_for(trader), agent="trend", symbol="BTCUSDT", decision="BUY",
                    quantity=Decimal("0.01"), posted_by=trader)  # fmt: skip
    log_in(page, live_server.url, "trader", "pw-trader", next_path="/portfolio/")
    expect(page.locator("#positions")).to_contain_text("BTCUSDT")
    page.wait_for_load_state("networkidle")

    page.get_by_role("link", name="Analysis").click()
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    page.get_by_label("Symbol").select_option("BTCUSDT")  # the filter redraws the runs over htmx
    expect(page).to_have_url(re.compile(r"symbol=BTCUSDT"))
    page.wait_for_load_state("networkidle")

    assert problems == [], "\n".join(problems)
