"""Order lists on the desk in a real browser: Playwright (sync API) drives Debian's Chromium against a live test
server, as test_browser.py does. A person places an OCO and a bracket (OTOCO) from the desk's form, sees each
list's legs under it in the orders table, and sees the bracket's pair go to work when its working order fills.

A screenshot of the desk after each test lands in artifacts/screenshots/<test name>.png. Without Chromium the
tests are skipped with the reason shown, except in CI (CI=true), where that is a failure.
"""

import os
from decimal import Decimal

import pytest

from papertrading.models import OrderList, SimulatedBalance
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


def watch_console(page) -> list[str]:
    """Collect what the page logs as an error or warning, and uncaught exceptions, from now on."""
    problems: list[str] = []

    def on_console(message):
        if message.type in ("error", "warning"):
            problems.append(f"console.{message.type}: {message.text} ({message.location['url']})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    return problems


def choose(page, select_id: str, value: str, *, then: str) -> None:
    """Pick `value` in a select that redraws the form, and wait until the redrawn form shows `then`."""
    page.locator(f"#{select_id}").select_option(value)
    page.locator(f"#{select_id} option[value='{value}'][selected]").wait_for(state="attached")
    page.locator(then).wait_for(state="attached")


def list_row(page, order_list: OrderList):
    return page.locator(f"#orders tr#list-{order_list.pk}")


def leg_row(page, order_list: OrderList, leg: str):
    return page.locator(f"#orders tr.list-leg[data-list-id='{order_list.pk}'][data-leg='{leg}']")


def balance(page, asset: str, field: str = "free"):
    return page.locator(f"#account-panel tr[data-asset='{asset}'] td[data-field='{field}']")


def test_a_person_places_an_oco_and_a_bracket_and_sees_the_bracket_go_to_work(
    page, live_server, trader, market, settings
):
    from playwright.sync_api import expect

    settings.DESK_POLL_SECONDS = 1  # poll fast should the live stream drop, so the test need not wait long
    problems = watch_console(page)
    load_default_symbol_rules()  # a no-op unless an earlier transactional test flushed them
    log_in(page, live_server.url, "trader", "pw-trader")
    form = page.locator("#order-form")

    # An OCO: sell 0.01 BTC at 70000 (take profit) or at the market once it falls to 66000 (stop).
    choose(page, "id_kind", "OCO", then="#id_above_type")
    choose(page, "id_side", "SELL", then="#id_above_type option[value='LIMIT_MAKER'][selected]")
    expect(page.locator("#leg-above legend")).to_have_text("Above leg: take profit")
    expect(form.locator("input[name='price'], select[name='order_type']")).to_have_count(0)  # no single order here
    page.locator("#id_quantity").fill("0.01")
    page.locator("#id_above_price").fill("70000")
    page.locator("#id_below_stop_price").fill("66000")
    page.get_by_role("button", name="Place OCO").click()

    expect(page.locator("#notices .toast-success").last).to_contain_text("OCO list #")
    oco = OrderList.objects.get(contingency_type="OCO")
    expect(list_row(page, oco)).to_have_attribute("data-list-status", "EXECUTING")
    expect(list_row(page, oco).locator(".status")).to_have_text("Executing")
    expect(page.locator(f"#orders tr.list-leg[data-list-id='{oco.pk}']")).to_have_count(2)
    expect(leg_row(page, oco, "above").locator(".col-type")).to_contain_text("Limit maker")
    expect(leg_row(page, oco, "below").locator(".col-type")).to_contain_text("Stop loss")
    # The legs come right after their list's line.
    expect(page.locator(f"#orders tr#list-{oco.pk} + tr")).to_have_attribute("data-list-id", str(oco.pk))
    expect(balance(page, "BTC", "locked")).to_have_text("0.01")  # held once for both legs
    expect(page.locator("#id_kind option[value='OCO'][selected]")).to_have_count(1)  # ready for the next one

    # A bracket: buy 0.01 BTC at 67000 (below the market: it rests), then a take profit at 70000 and a stop at 65000.
    choose(page, "id_kind", "OTOCO", then="#id_working_price")
    expect(page.locator("#id_pending_side")).to_have_value("SELL")
    page.locator("#id_working_quantity").fill("0.01")
    page.locator("#id_working_price").fill("67000")
    page.locator("#id_pending_above_price").fill("70000")
    page.locator("#id_pending_below_stop_price").fill("65000")
    page.get_by_role("button", name="Place bracket").click()

    expect(page.locator("#notices .toast-success").last).to_contain_text("OTOCO list #")
    bracket = OrderList.objects.get(contingency_type="OTOCO")
    expect(list_row(page, bracket).locator(".status")).to_have_text("Executing")
    expect(leg_row(page, bracket, "working").locator(".status")).to_have_text("Pending")
    for leg in ("above", "below"):
        expect(leg_row(page, bracket, leg).locator(".col-status")).to_have_text("Waiting for the working order")
        expect(leg_row(page, bracket, leg)).to_have_attribute("data-waits-for-list", "true")
    expect(balance(page, "USDT", "locked")).to_have_text("670")  # the working BUY's 0.01 x 67000
    expect(balance(page, "BTC", "locked")).to_have_text("0.01")  # the waiting pair holds nothing yet
    legs = {leg.list_leg: leg for leg in bracket.orders.all()}
    assert all(legs[name].waits_for_list and legs[name].locked_amount == 0 for name in ("above", "below"))
    page.screenshot(path=screenshot_path("desk_order_lists_waiting"), full_page=True)

    # The market falls to 66900: the matcher fills the working BUY at 67000, and the pair goes to work.
    market.move("BTCUSDT", "66900")

    expect(leg_row(page, bracket, "working").locator(".status")).to_have_text("Filled")
    for leg in ("above", "below"):
        expect(leg_row(page, bracket, leg).locator(".status")).to_have_text("Pending")
        expect(leg_row(page, bracket, leg)).not_to_have_attribute("data-waits-for-list", "true")
    expect(page.locator("#notices .toast-success").last).to_contain_text("filled at 67000")
    # 0.01 BTC held by the OCO, and the 0.00999 bought (0.01 less the fee) held once by the bracket's pair.
    expect(balance(page, "BTC", "locked")).to_have_text("0.01999")
    expect(balance(page, "USDT", "locked")).to_have_text("0")
    for leg in bracket.orders.all():
        leg.refresh_from_db()
    legs = {leg.list_leg: leg for leg in bracket.orders.all()}
    assert legs["working"].status == "FILLED"
    assert [(legs[n].status, legs[n].waits_for_list) for n in ("above", "below")] == [("PENDING", False)] * 2
    assert sum(legs[n].locked_amount for n in ("above", "below")) == Decimal("0.00999")
    assert list(OrderList.objects.values_list("list_order_status", flat=True)) == ["EXECUTING", "EXECUTING"]
    # The OCO's legs have not moved: 66900 is above its stop.
    expect(page.locator(f"#orders tr.list-leg[data-list-id='{oco.pk}'] .status")).to_have_text(["Pending", "Pending"])

    # The OCO's Cancel cancels both its legs and frees what they held.
    page.once("dialog", lambda dialog: dialog.accept())
    list_row(page, oco).get_by_role("button", name="Cancel").click()
    expect(list_row(page, oco).locator(".status")).to_have_text("All done")
    expect(list_row(page, oco).get_by_role("button", name="Cancel")).to_have_count(0)
    expect(page.locator(f"#orders tr.list-leg[data-list-id='{oco.pk}'] .status")).to_have_text(
        ["Cancelled", "Cancelled"]
    )
    expect(balance(page, "BTC", "locked")).to_have_text("0.00999")
    assert set(oco.orders.values_list("status", flat=True)) == {"CANCELLED"}
    assert SimulatedBalance.objects.get(account=oco.account, asset="BTC").locked == Decimal("0.00999")

    page.wait_for_load_state("networkidle")
    assert problems == [], "\n".join(problems)


def test_a_bad_bracket_comes_back_with_errors_beside_its_fields_and_places_nothing(page, live_server, trader, market):
    from playwright.sync_api import expect

    load_default_symbol_rules()
    log_in(page, live_server.url, "trader", "pw-trader")
    choose(page, "id_kind", "OTOCO", then="#id_working_price")
    page.locator("#id_working_quantity").fill("0.01")
    page.locator("#id_working_price").fill("67000")
    page.locator("#id_pending_above_price").fill("66000")  # a take profit under the working order's price
    page.locator("#id_pending_below_stop_price").fill("65000")
    page.get_by_role("button", name="Place bracket").click()

    # Judged against the working order's price (67000), where the pair will start work, not today's 68000.
    expect(page.locator("#id_pending_above_price_error")).to_contain_text("must be above")
    expect(page.locator("#id_pending_above_price_error")).to_contain_text("67000")
    expect(page.locator("#id_pending_above_price")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_pending_above_price")).to_be_focused()  # keyboard users land on the field to fix
    expect(page.locator("#id_working_price")).to_have_value("67000")  # what was typed is kept
    expect(page.locator("#id_kind")).to_have_value("OTOCO")
    expect(page.locator("#orders tbody tr[data-order-id], #orders tr.list-row")).to_have_count(0)
    assert OrderList.objects.count() == 0
