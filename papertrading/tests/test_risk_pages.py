"""Risk limits on the desk: the limits panel with each limit's usage, the halted banner, the recent risk events,
halting and resuming from the page, and a limit's refusal beside the order form.

Users (root conftest): `trader` may place, cancel, sync, halt and resume; `viewer` may only read. The market
fixture prices BTC at 68000 and ETH at 3500, so the trader's starting account (100000 USDT, 1 BTC, 10 ETH) is
worth 203000 USDT.
"""

import html
import json
import re
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import page_client_for
from papertrading import services
from papertrading.models import Account, PaperOrder, RiskEvent
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db

DESK = reverse("papertrading:desk")
RISK = reverse("papertrading:risk")
HALT = reverse("papertrading:halt")
RESUME = reverse("papertrading:resume")
ORDER_FORM = reverse("papertrading:order_form")
HX = {"HTTP_HX_REQUEST": "true"}
NO_DEFAULTS = {
    "max_order_notional": None,
    "max_position_notional": None,
    "max_open_orders": None,
    "max_orders_per_minute": None,
    "max_daily_loss": None,
    "allowed_symbols": None,
    "halt_on_daily_loss": False,
}
STARTING_EQUITY = D("203000")  # 100000 USDT + 1 BTC x 68000 + 10 ETH x 3500


@pytest.fixture(autouse=True)
def _no_default_limits(settings):
    """Every account starts without limits, whatever the environment's RISK_* say; a test sets its own."""
    settings.RISK_DEFAULTS = dict(NO_DEFAULTS)


@pytest.fixture
def trader_client(trader) -> Client:
    return page_client_for(trader)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return page_client_for(viewer)


def limit_form(**fields) -> dict:
    return {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT", "time_in_force": "GTC", **fields}


def resting_buy(account, price="30000", quantity="0.01", user=None) -> PaperOrder:
    """A LIMIT BUY far below the market: it rests, holding price x quantity USDT."""
    return services.place_order(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D(quantity),
        price=D(price),
        time_in_force="GTC",
        placed_by=user,
    ).order


def set_limits(account, **values) -> Account:
    return services.set_limits(account=account, values=values, user=None, may_loosen=True)


def text(body: str) -> str:
    """What a person reads: the tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())


def section(body: str, element_id: str) -> str:
    """The element with this id, up to its own closing tag (nested elements of the same name included)."""
    start = re.search(rf'<(\w+)[^>]*\sid="{element_id}"', body)
    assert start, f"no #{element_id} in the page"
    name, depth = start.group(1), 0
    for tag in re.finditer(rf"<(/?){name}\b[^>]*>", body[start.start() :]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return body[start.start() : start.start() + tag.end()]
    raise AssertionError(f"#{element_id} is not closed")


def client_events(response, header="HX-Trigger") -> set[str]:
    value = response.headers.get(header)
    return set(json.loads(value)) if value else set()


def notices(response, header="HX-Trigger-After-Settle") -> list[dict]:
    """The toasts an htmx answer asks for: a halt's or resume's once the panel is in place."""
    value = response.headers.get(header)
    return json.loads(value).get("notice", {}).get("items", []) if value else []


def start_day_at(account, equity) -> None:
    """Record `equity` as the account's equity at 00:00 UTC today (what the beat task does)."""
    Account.objects.filter(pk=account.pk).update(day_started_on=timezone.now().date(), day_start_equity=D(equity))


# --- the limits panel ---------------------------------------------------------------------------------------


def test_panel_lists_each_limit_with_its_usage(trader_client, trader, account, market):
    set_limits(
        account,
        max_open_orders=5,
        max_orders_per_minute=10,
        max_daily_loss="500",
        max_order_notional="1000",
        max_position_notional="150000",
        allowed_symbols=["BTCUSDT", "ETHUSDT"],
    )
    for _ in range(3):
        resting_buy(account, user=trader)
    start_day_at(account, STARTING_EQUITY + 120)  # the account is worth 120 USDT less than at 00:00 UTC

    response = trader_client.get(RISK, **HX)

    assert response.status_code == 200
    panel = text(section(response.content.decode(), "limit-list"))
    assert "Open orders 3 of 5" in panel
    assert "Orders in the last minute 3 of 10" in panel
    assert "Today's loss 120 of 500 USDT" in panel
    assert "Largest order 1,000 USDT" in panel
    assert "Largest position 150,000 USDT" in panel
    assert "Symbols: BTCUSDT, ETHUSDT" in panel
    assert "default" not in panel  # every limit is the account's own
    assert "No limits set" not in response.content.decode()


def test_a_limit_at_its_usage_is_marked(trader_client, trader, account, market):
    set_limits(account, max_open_orders=1, max_orders_per_minute=10)
    resting_buy(account, user=trader)
    body = trader_client.get(RISK, **HX).content.decode()
    assert re.search(r'<li data-limit="max_open_orders" class="at-limit">', body)
    assert re.search(r'<li data-limit="max_orders_per_minute">', body)  # 1 of 10: room left


def test_panel_says_no_limits_set_when_there_are_none(trader_client, account, market):
    body = trader_client.get(RISK, **HX).content.decode()
    assert "No limits set." in text(body)
    assert 'id="limit-list"' not in body


def test_panel_shows_the_defaults_from_settings_and_marks_them(trader_client, account, market, settings):
    settings.RISK_DEFAULTS = {**NO_DEFAULTS, "max_open_orders": 7, "halt_on_daily_loss": True}
    set_limits(account, max_order_notional="2500.5")

    panel = text(section(trader_client.get(RISK, **HX).content.decode(), "limit-list"))

    assert "Open orders 0 of 7 default" in panel
    assert "Largest order 2,500.5 USDT" in panel and "2,500.5 USDT default" not in panel
    assert "Halt when the daily loss is breached: on default" in panel


def test_panel_is_a_fragment_with_htmx_and_the_desk_without(trader_client, account, market):
    fragment = trader_client.get(RISK, **HX)
    page = trader_client.get(RISK)
    assert fragment.status_code == page.status_code == 200
    body = fragment.content.decode()
    # The panel's content: the panel itself stays in the page, so a late answer still lands where it belongs.
    assert body.lstrip().startswith('<div class="panel-head">') and "<html" not in body
    assert 'id="risk-title"' in body and 'id="risk-panel"' not in body
    # The banner travels with the panel (out of band), so a halt made elsewhere shows at the top of the desk.
    assert '<div id="halt-banner" class="halt-banner-slot" hx-swap-oob="true">' in body
    page_body = page.content.decode()
    assert "<html" in page_body and 'id="risk-panel"' in page_body and 'id="order-panel"' in page_body


def test_panel_refreshes_with_the_account_panel_and_after_a_refusal(trader_client, account, market):
    body = trader_client.get(DESK).content.decode()
    panel = re.search(r'<section id="risk-panel"[^>]*>', body, re.S).group(0)
    assert f'hx-get="{RISK}"' in panel and 'hx-swap="innerHTML"' in panel
    assert "account-changed from:body" in panel and "risk-changed from:body" in panel
    account_panel = re.search(r'<section id="account-panel"[^>]*>', body, re.S).group(0)
    assert "account-changed from:body" in account_panel


def test_panel_shows_the_acting_account_only(trader_client, trader, account, rival_account, market):
    set_limits(rival_account, max_open_orders=2)
    services.halt_account(account=rival_account, reason="rival's own halt", actor="rival")
    body = trader_client.get(DESK).content.decode()
    assert "No limits set." in text(section(body, "risk-panel"))
    assert "rival's own halt" not in html.unescape(body) and "Trading halted" not in body
    # Another user's account is not theirs to look at: 404, as everywhere.
    assert trader_client.get(RISK, HTTP_X_ACCOUNT=str(rival_account.pk), **HX).status_code == 404


# --- the halted banner and halting from the desk -------------------------------------------------------------


def test_a_halted_account_shows_the_banner_with_reason_who_and_when(trader_client, account, market):
    services.halt_account(account=account, reason="Agent loops on BTCUSDT", actor="ops-anna")
    account.refresh_from_db()

    body = trader_client.get(DESK).content.decode()

    banner = text(section(body, "halt-banner"))
    assert "Trading halted." in banner and "Reason: Agent loops on BTCUSDT." in banner
    assert f"Halted by ops-anna on {account.halted_at:%Y-%m-%d %H:%M:%S} UTC." in banner
    assert body.index('id="halt-banner"') < body.index('id="account-panel"')  # at the top of the desk
    assert 'id="risk-halted"' in body


def test_a_trading_account_has_an_empty_banner(trader_client, account, market):
    body = trader_client.get(DESK).content.decode()
    assert re.search(r'<div id="halt-banner" class="halt-banner-slot"></div>', body)


def test_halt_from_the_desk_halts_cancels_and_records_who_and_why(trader_client, trader, account, market):
    order = resting_buy(account, user=trader)

    response = trader_client.post(HALT, {"reason": "Runaway agent"}, **HX)

    assert response.status_code == 200
    account.refresh_from_db()
    assert account.halted_at is not None
    assert (account.halted_reason, account.halted_by) == ("Runaway agent", "trader")
    event = RiskEvent.objects.get(account=account)
    assert (event.kind, event.detail, event.actor, event.source) == ("halted", "Runaway agent", "trader", "page")
    order.refresh_from_db()
    assert order.status == "CANCELLED"
    assert balances(account)["USDT"] == (D("100000"), D("0"))  # the cancelled order's funds are free again
    body = response.content.decode()
    assert 'id="resume-button"' in body and 'id="halt-form"' not in body
    # The banner comes with the panel's own refresh, which the answer's events ask for.
    assert 'id="halt-banner"' not in body
    banner = text(section(trader_client.get(RISK, **HX).content.decode(), "halt-banner"))
    assert "Reason: Runaway agent." in banner and "Halted by trader" in banner
    assert re.fullmatch(
        r"Account halted \w+ \d+, [\d:]+ Runaway agent by trader \(Page\)", text(section(body, "risk-events"))
    )
    # Once the panel is in place, the balances and the orders table redraw; a toast says what happened.
    assert client_events(response, "HX-Trigger-After-Settle") == {"account-changed", "orders-changed", "notice"}
    assert "HX-Trigger" not in response.headers
    [notice] = notices(response)
    assert (
        notice["level"] == "success"
        and "halted" in notice["message"]
        and "1 working order cancelled" in (notice["message"])
    )


def test_halt_without_htmx_redirects_back_to_the_desk_showing_the_banner(trader_client, account, market):
    response = trader_client.post(HALT, {"reason": "End of the session"})
    assert response.status_code == 302 and response.url == DESK
    page = trader_client.get(DESK).content.decode()
    assert "Reason: End of the session." in text(section(page, "halt-banner"))
    assert "halted: every new order is refused" in html.unescape(page)  # the message, on the next page


@pytest.mark.parametrize("reason", ["", "   "])
def test_halt_needs_a_reason(trader_client, account, market, reason):
    response = trader_client.post(HALT, {"reason": reason}, **HX)
    assert response.status_code == 422
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="panel-head">') and 'id="halt-form"' in body
    assert 'id="id_reason_error"' in body and "Say why the account is halted." in body
    assert not client_events(response, "HX-Trigger-After-Settle") and 'id="halt-banner"' not in body
    account.refresh_from_db()
    assert account.halted_at is None and not RiskEvent.objects.exists()

    page = trader_client.post(HALT, {"reason": reason})
    assert page.status_code == 422
    assert "<html" in page.content.decode() and "Say why the account is halted." in page.content.decode()
    account.refresh_from_db()
    assert account.halted_at is None


def test_halting_a_halted_account_keeps_its_first_reason(trader_client, account, market):
    services.halt_account(account=account, reason="First", actor="ops")
    response = trader_client.post(HALT, {"reason": "Second"}, **HX)
    assert response.status_code == 200
    account.refresh_from_db()
    assert (account.halted_reason, account.halted_by) == ("First", "ops")
    assert RiskEvent.objects.filter(kind="halted").count() == 1
    assert notices(response)[0]["level"] == "warning" and "already halted (First)" in notices(response)[0]["message"]


def test_resume_from_the_desk_lifts_the_halt_and_records_who(trader_client, account, market):
    services.halt_account(account=account, reason="Pause", actor="ops")

    response = trader_client.post(RESUME, **HX)

    assert response.status_code == 200
    account.refresh_from_db()
    assert account.halted_at is None and account.halted_reason == "" and account.halted_by == ""
    event = RiskEvent.objects.get(kind="resumed")
    assert (event.actor, event.source, event.detail) == ("trader", "page", "Was halted: Pause")
    body = response.content.decode()
    assert 'id="halt-form"' in body and 'id="resume-button"' not in body
    assert "resumed" in notices(response)[0]["message"]
    assert client_events(response, "HX-Trigger-After-Settle") == {"account-changed", "orders-changed", "notice"}
    refreshed = trader_client.get(RISK, **HX).content.decode()
    assert re.search(r'<div id="halt-banner" class="halt-banner-slot" hx-swap-oob="true"></div>', refreshed)


def test_resume_without_htmx_redirects_and_resuming_a_trading_account_says_so(trader_client, account, market):
    services.halt_account(account=account, reason="Pause", actor="ops")
    assert trader_client.post(RESUME).status_code == 302
    account.refresh_from_db()
    assert account.halted_at is None
    assert "resumed: new orders are judged by its limits again" in trader_client.get(DESK).content.decode()

    again = trader_client.post(RESUME, **HX)
    assert again.status_code == 200
    assert notices(again) == [{"level": "info", "message": "trader's desk was not halted."}]
    assert RiskEvent.objects.filter(kind="resumed").count() == 1
    assert client_events(again, "HX-Trigger-After-Settle") == {"notice"}  # nothing else changed


def test_a_resumed_account_trades_again(trader_client, account, market):
    trader_client.post(HALT, {"reason": "Pause"}, **HX)
    refused = trader_client.post(ORDER_FORM, limit_form(quantity="0.01", price="30000"), **HX)
    assert refused.status_code == 422 and PaperOrder.objects.count() == 0
    trader_client.post(RESUME, **HX)
    placed = trader_client.post(ORDER_FORM, limit_form(quantity="0.01", price="30000"), **HX)
    assert placed.status_code == 200 and PaperOrder.objects.count() == 1


def test_read_only_user_sees_the_panel_but_cannot_halt_or_resume(viewer_client, viewer, market):
    account = services.default_account_for(viewer)
    set_limits(account, max_open_orders=3)
    body = viewer_client.get(DESK).content.decode()
    assert "Open orders 0 of 3" in text(section(body, "risk-panel"))
    assert 'id="halt-form"' not in body and 'id="resume-button"' not in body
    for headers in ({}, HX):
        assert viewer_client.post(HALT, {"reason": "no"}, **headers).status_code == 403
    account.refresh_from_db()
    assert account.halted_at is None
    services.halt_account(account=account, reason="by staff", actor="ops")
    assert 'id="resume-button"' not in viewer_client.get(DESK).content.decode()
    for headers in ({}, HX):
        assert viewer_client.post(RESUME, **headers).status_code == 403
    account.refresh_from_db()
    assert account.halted_at is not None


def test_halt_and_resume_need_a_csrf_token_and_a_post(trader, account, market):
    client = page_client_for(trader, enforce_csrf_checks=True)
    assert client.post(HALT, {"reason": "x"}, **HX).status_code == 403
    assert page_client_for(trader).get(HALT).status_code == 405
    account.refresh_from_db()
    assert account.halted_at is None
    services.halt_account(account=account, reason="Pause", actor="ops")
    assert client.post(RESUME, **HX).status_code == 403
    account.refresh_from_db()
    assert account.halted_at is not None


def test_anonymous_cannot_halt(client, account, market):
    response = client.post(HALT, {"reason": "x"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    account.refresh_from_db()
    assert account.halted_at is None


def test_halt_acts_on_the_chosen_account_only(trader_client, trader, account, market):
    second = services.open_account(owner=trader, name="Scalper")
    trader_client.post(reverse("papertrading:choose_account"), {"account": second.pk})
    trader_client.post(HALT, {"reason": "Scalper misbehaves"}, **HX)
    second.refresh_from_db()
    account.refresh_from_db()
    assert second.halted_reason == "Scalper misbehaves" and account.halted_at is None


# --- recent risk events ------------------------------------------------------------------------------------


def test_panel_lists_the_latest_risk_events_newest_first(trader_client, trader, account, market):
    set_limits(account, max_open_orders=1)
    trader_client.post(ORDER_FORM, limit_form(quantity="0.01", price="30000"), **HX)
    trader_client.post(ORDER_FORM, limit_form(quantity="0.02", price="31000"), **HX)  # refused
    trader_client.post(HALT, {"reason": "Too eager"}, **HX)
    trader_client.post(RESUME, **HX)

    events = section(trader_client.get(RISK, **HX).content.decode(), "risk-events")

    kinds = re.findall(r'data-kind="(\w+)"', events)
    assert kinds == ["resumed", "halted", "refused", "limits"]
    refused = text(re.search(r'<li class="risk-event risk-event-refused".*?</li>', events, re.S).group(0))
    assert "Order refused · max_open_orders (open orders)" in refused
    assert "BUY 0.02 BTCUSDT LIMIT @ 31000" in refused
    assert "value 2, limit 1" in refused
    assert "by trader (Page)" in refused
    assert re.search(r"Account halted \w+ \d+, [\d:]+ Too eager by trader \(Page\)", text(events))


def test_panel_shows_at_most_five_events(trader_client, account, market):
    for n in range(7):
        set_limits(account, max_open_orders=n + 1)
    events = section(trader_client.get(RISK, **HX).content.decode(), "risk-events")
    assert len(re.findall(r"data-kind=", events)) == 5
    assert "max_open_orders: 6 -&gt; 7" in events  # the newest
    assert "no limit -&gt; 1" not in events  # the oldest ones are left out


def test_panel_says_when_there_are_no_events(trader_client, account, market):
    assert "No risk events yet." in trader_client.get(RISK, **HX).content.decode()


# --- a refusal beside the order form ------------------------------------------------------------------------


def test_a_refusal_is_a_form_error_naming_the_limit_and_nothing_is_written(trader_client, trader, account, market):
    set_limits(account, max_open_orders=1)
    first = trader_client.post(ORDER_FORM, limit_form(quantity="0.01", price="30000"), **HX)
    assert first.status_code == 200
    before = balances(account)

    response = trader_client.post(ORDER_FORM, limit_form(quantity="0.02", price="31000"), **HX)

    assert response.status_code == 422
    body = response.content.decode()
    errors = text(section(body, "order-form-errors"))
    assert errors == (
        "Refused by the risk limit max_open_orders (open orders): This order would make 2 working orders, above "
        "the account's limit of 1."
    )
    assert "Rejected by the venue" not in body
    assert 'value="0.02"' in body and 'value="31000"' in body  # what was typed stays
    # Nothing was written: no order, no funds moved, no orders-changed event; the risk panel refreshes.
    assert PaperOrder.objects.count() == 1 and balances(account) == before
    assert client_events(response) == {"risk-changed"}
    event = RiskEvent.objects.get(kind="refused")
    assert (event.account, event.limit, event.limit_value, event.value) == (account, "max_open_orders", "1", "2")
    assert (event.actor, event.source, event.order) == ("trader", "page", "BUY 0.02 BTCUSDT LIMIT @ 31000")


def test_a_refusal_without_htmx_renders_the_desk_with_the_error(trader_client, account, market):
    set_limits(account, max_order_notional="100")
    response = trader_client.post(ORDER_FORM, limit_form(quantity="0.01", price="30000"))
    assert response.status_code == 422
    body = response.content.decode()
    assert "<html" in body
    assert "Refused by the risk limit max_order_notional (order value): The order is worth 300, above the " in (
        html.unescape(body)
    )
    # The page drawn after the refusal already lists it.
    assert "Order refused · max_order_notional (order value)" in text(section(body, "risk-events"))
    assert PaperOrder.objects.count() == 0


def test_a_symbol_outside_the_allowed_ones_is_refused_on_the_page(trader_client, account, market):
    set_limits(account, allowed_symbols=["ETHUSDT"])
    response = trader_client.post(ORDER_FORM, limit_form(quantity="0.01", price="30000"), **HX)
    assert response.status_code == 422
    assert (
        "Refused by the risk limit allowed_symbols (allowed symbols): BTCUSDT is not among the symbols this "
        "account may trade (ETHUSDT)." in html.unescape(response.content.decode())
    )
    assert PaperOrder.objects.count() == 0


def test_a_halted_account_refuses_the_order_with_its_reason(trader_client, account, market):
    services.halt_account(account=account, reason="Kill switch test", actor="ops")
    response = trader_client.post(ORDER_FORM, limit_form(quantity="0.01", price="30000"), **HX)
    assert response.status_code == 422
    errors = text(section(response.content.decode(), "order-form-errors"))
    assert errors == (
        "Refused: The account is halted: Kill switch test. Every new order is refused until it is resumed."
    )
    assert client_events(response) == {"risk-changed"}
    assert PaperOrder.objects.count() == 0
    assert RiskEvent.objects.filter(kind="refused", limit="halted", actor="trader").count() == 1


def test_a_daily_loss_refusal_that_halts_the_account_refreshes_orders_and_balances(
    trader_client, trader, account, market
):
    set_limits(account, max_daily_loss="100", halt_on_daily_loss=True)
    order = resting_buy(account, user=trader)
    start_day_at(account, STARTING_EQUITY + 150)  # 150 lost today, over the 100 limit

    response = trader_client.post(ORDER_FORM, limit_form(quantity="0.01", price="30000"), **HX)

    assert response.status_code == 422
    assert "Refused by the risk limit max_daily_loss (today's loss): The account has lost 150 since 00:00 UTC" in (
        html.unescape(response.content.decode())
    )
    account.refresh_from_db()
    order.refresh_from_db()
    assert account.halted_at is not None and account.halted_by == "risk limits"
    assert order.status == "CANCELLED"  # the halt cancelled it: the table and balances must redraw
    assert client_events(response) == {"risk-changed", "orders-changed", "account-changed"}
    banner = text(section(trader_client.get(DESK).content.decode(), "halt-banner"))
    assert "Daily loss limit breached" in banner and "Halted by risk limits" in banner
