"""Risk limits and the kill switch on the desk in a real browser (the setup of test_browser.py: Debian's Chromium,
a live server, a screenshot per test in artifacts/screenshots/)."""

import os
import re

import pytest

from papertrading import services
from papertrading.models import PaperOrder, RiskEvent
from papertrading.symbols import load_default_symbol_rules

from .browser_support import log_in, screenshot_path
from .test_browser import browser, fill_order, order_rows, page, watch_console  # noqa: F401 - fixtures used by name

# Chromium reports every 4xx answer; a refused order and a halt without a reason are answered 422 on purpose.
FORM_WITH_ERRORS = re.compile(
    r"^console\.error: Failed to load resource: .* 422 .*/paper-trading/(orders/new|risk/halt)/\)$"
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def limited_desk(page, live_server, trader, market, settings):  # noqa: F811
    """The trader's desk, whose account may have one working order at a time (no other limit)."""
    settings.RISK_DEFAULTS = {name: None for name in settings.RISK_DEFAULTS} | {"halt_on_daily_loss": False}
    load_default_symbol_rules()  # a no-op unless an earlier transactional test flushed them
    account = services.default_account_for(trader)
    services.set_limits(account=account, values={"max_open_orders": 1}, user=None, may_loosen=True)
    log_in(page, live_server.url, "trader", "pw-trader")
    return page


def limit(desk, name: str):
    return desk.locator(f"#risk-panel li[data-limit='{name}'] .limit-usage")


def test_a_refused_order_shows_beside_the_form_and_a_halt_shows_the_banner(limited_desk):
    from playwright.sync_api import expect

    desk = limited_desk
    problems = watch_console(desk)
    expect(desk.get_by_role("heading", name="Risk limits")).to_be_visible()
    expect(limit(desk, "max_open_orders")).to_have_text("0 of 1")
    expect(desk.locator("#halt-banner")).to_be_empty()

    fill_order(desk, quantity="0.01", price="30000").get_by_role("button", name="Place order").click()
    expect(order_rows(desk)).to_have_count(1)
    expect(order_rows(desk).first).to_have_attribute("data-status", "PENDING")
    # The panel redraws with the account panel once the order is placed.
    expect(limit(desk, "max_open_orders")).to_have_text("1 of 1")
    expect(desk.locator("#risk-panel li[data-limit='max_open_orders']")).to_have_class("at-limit")

    fill_order(desk, quantity="0.02", price="31000").get_by_role("button", name="Place order").click()

    errors = desk.locator("#order-form-errors")
    expect(errors).to_have_text(
        "Refused by the risk limit max_open_orders (open orders): This order would make 2 working orders, above "
        "the account's limit of 1."
    )
    expect(desk.locator("#order-form #id_quantity")).to_have_value("0.02")  # what was typed stays
    expect(desk.locator("#risk-events li").first).to_have_attribute("data-kind", "refused")
    expect(desk.locator("#risk-events li").first).to_contain_text("value 2, limit 1")
    expect(order_rows(desk)).to_have_count(1)
    assert PaperOrder.objects.count() == 1

    # A reason being typed survives the panel's refresh.
    desk.get_by_label("Reason for halting").fill("Agent loops on BTCUSDT")
    desk.evaluate("htmx.trigger(document.body, 'account-changed')")
    expect(limit(desk, "max_open_orders")).to_have_text("1 of 1")
    expect(desk.get_by_label("Reason for halting")).to_have_value("Agent loops on BTCUSDT")

    desk.once("dialog", lambda dialog: dialog.accept())
    desk.get_by_role("button", name="Halt trading").click()

    banner = desk.locator("#halt-banner")
    expect(banner).to_contain_text("Trading halted.")
    expect(banner).to_contain_text("Reason: Agent loops on BTCUSDT.")
    expect(banner).to_contain_text("Halted by trader on")
    expect(desk.locator("#notices .toast-success").last).to_contain_text("halted: every new order is refused")
    # Halting cancelled the working order: the table and balances redraw.
    expect(order_rows(desk).first.locator(".status")).to_have_text("Cancelled")
    expect(limit(desk, "max_open_orders")).to_have_text("0 of 1")
    expect(desk.get_by_role("button", name="Resume trading")).to_be_visible()
    expect(desk.locator("#risk-events li").first).to_have_attribute("data-kind", "halted")
    event = RiskEvent.objects.get(kind="halted")
    assert (event.actor, event.detail, event.source) == ("trader", "Agent loops on BTCUSDT", "page")
    desk.screenshot(path=screenshot_path("desk_risk_halted"), full_page=True)

    # While halted, any order is refused beside the form with the reason.
    fill_order(desk, quantity="0.01", price="30000").get_by_role("button", name="Place order").click()
    expect(desk.locator("#order-form-errors")).to_contain_text("Refused: The account is halted: Agent loops")

    desk.get_by_role("button", name="Resume trading").click()
    expect(desk.locator("#halt-banner")).to_be_empty()
    expect(desk.get_by_role("button", name="Halt trading")).to_be_visible()
    expect(desk.locator("#risk-events li").first).to_have_attribute("data-kind", "resumed")
    desk.wait_for_load_state("networkidle")
    # Nothing but the two refused orders' 422 answers is logged: no aborted refresh, no banner without a place.
    refusals = [line for line in problems if FORM_WITH_ERRORS.match(line)]
    assert len(refusals) == 2
    unexpected = [line for line in problems if not FORM_WITH_ERRORS.match(line)]
    assert unexpected == [], "\n".join(unexpected)


def test_halting_without_a_reason_shows_the_error_beside_the_field(limited_desk):
    from playwright.sync_api import expect

    desk = limited_desk
    problems = watch_console(desk)
    desk.once("dialog", lambda dialog: dialog.accept())
    desk.get_by_role("button", name="Halt trading").click()
    expect(desk.locator("#id_reason_error")).to_have_text("Say why the account is halted.")
    expect(desk.get_by_label("Reason for halting")).to_be_focused()  # where to fix it
    expect(desk.locator("#halt-banner")).to_be_empty()
    assert [line for line in problems if not FORM_WITH_ERRORS.match(line)] == []
