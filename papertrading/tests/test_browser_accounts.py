"""The header's account switcher in a real browser (the setup of test_browser.py: Debian's Chromium, a live
server, a screenshot per test in artifacts/screenshots/)."""

import os
from decimal import Decimal

import pytest

from papertrading import services
from papertrading.symbols import load_default_symbol_rules

from .browser_support import log_in
from .test_browser import balance, browser, fill_order, order_rows, page  # noqa: F401 - fixtures used by name

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def two_accounts(trader, market):
    """The trader's own desk with a resting order, and a second account with 500 USDT and no orders."""
    load_default_symbol_rules()  # a no-op unless an earlier transactional test flushed them
    first = services.default_account_for(trader)
    order = services.place_order(
        account=first,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=Decimal("0.01"),
        price=Decimal("30000"),
        time_in_force="GTC",
        placed_by=trader,
    ).order
    second = services.open_account(owner=trader, name="Scalping", starting_balances={"USDT": "500"})
    return {"first": first, "second": second, "order": order}


def test_switching_account_in_the_header_changes_the_desks_orders_and_balances(page, live_server, two_accounts):  # noqa: F811
    from playwright.sync_api import expect

    first, second, order = two_accounts["first"], two_accounts["second"], two_accounts["order"]
    log_in(page, live_server.url, "trader", "pw-trader")
    switcher = page.get_by_role("combobox", name="Account")

    expect(switcher).to_have_value(str(first.pk))
    expect(order_rows(page)).to_have_count(1)
    expect(order_rows(page).first).to_have_attribute("data-order-id", str(order.pk))
    expect(page.locator("#account-panel .account-name")).to_have_text("trader's desk")

    switcher.select_option(label="Scalping")  # htmx posts the choice and reloads the page

    expect(page.locator("#account-panel .account-name")).to_have_text("Scalping")
    expect(page.get_by_role("combobox", name="Account")).to_have_value(str(second.pk))
    expect(order_rows(page)).to_have_count(0)
    expect(page.locator("#orders td.empty")).to_have_text("No orders yet.")
    expect(balance(page, "USDT")).to_have_text("500")
    expect(balance(page, "BTC")).to_have_count(0)
    expect(page.locator("#notices")).to_contain_text("Now acting as Scalping.")

    # An order placed now is the second account's: it shows here, and its hold comes out of the 500 USDT.
    form = fill_order(page, quantity="0.01", price="20000")
    form.get_by_role("button", name="Place order").click()
    expect(order_rows(page)).to_have_count(1)
    expect(balance(page, "USDT", "locked")).to_have_text("200")
    placed = second.orders.get()
    expect(order_rows(page).first).to_have_attribute("data-order-id", str(placed.pk))

    page.get_by_role("combobox", name="Account").select_option(label="trader's desk")

    expect(page.locator("#account-panel .account-name")).to_have_text("trader's desk")
    expect(order_rows(page)).to_have_count(1)
    expect(order_rows(page).first).to_have_attribute("data-order-id", str(order.pk))
    expect(balance(page, "USDT", "locked")).to_have_text("300")


def test_the_switch_button_works_without_javascript(browser, live_server, two_accounts, request):  # noqa: F811
    from playwright.sync_api import expect

    from .browser_support import screenshot_path

    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    try:
        plain = context.new_page()
        log_in(plain, live_server.url, "trader", "pw-trader")
        plain.get_by_role("combobox", name="Account").select_option(label="Scalping")
        expect(order_rows(plain)).to_have_count(1)  # nothing happens until the form is sent
        plain.locator("#account-switcher").get_by_role("button", name="Switch").click()

        expect(plain.locator("#account-panel .account-name")).to_have_text("Scalping")
        expect(order_rows(plain)).to_have_count(0)
        expect(plain).to_have_url(f"{live_server.url}/paper-trading/")
        plain.screenshot(path=screenshot_path(request.node.name), full_page=True)
    finally:
        context.close()
