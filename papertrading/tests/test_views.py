"""The desk pages: full pages and htmx fragments, permissions, CSRF, and the writes they make through services.

Users (root conftest): `trader` may place, cancel and sync; `viewer` may only read.
"""

import json
import re
from decimal import Decimal

import pytest
import responses
from django.test import Client
from django.urls import reverse

from conftest import page_client_for
from papertrading import services
from papertrading.errors import OrderRejected
from papertrading.models import OrderEvent, PaperOrder, SimulatedBalance
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    exchange_fixture,
    limit_payload,
    testnet_fixture,
)
from papertrading.tests.test_testnet_venue import place as place_on_testnet

pytestmark = pytest.mark.django_db

DESK = reverse("papertrading:desk")
ACCOUNT = reverse("papertrading:account")
ORDERS = reverse("papertrading:orders")
ORDER_FORM = reverse("papertrading:order_form")
SYNC = reverse("papertrading:sync")
HX = {"HTTP_HX_REQUEST": "true"}
MARKET_FORM = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"}


def limit_form(**fields) -> dict:
    """Order-form fields of a GTC LIMIT BUY of BTCUSDT, with `fields` (quantity, price, ...) added or replaced."""
    return {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT", "time_in_force": "GTC", **fields}


def cancel_url(order) -> str:
    return reverse("papertrading:cancel", args=[order.pk])


@pytest.fixture
def trader_client(trader) -> Client:
    return page_client_for(trader)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return page_client_for(viewer)


def place(
    symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity="0.01", price="50000", user=None, account=None, **extra
):
    """An order placed by `user` in their own (default) account, or in `account` by no one in particular."""
    kwargs = dict(
        account=account or services.default_account_for(user),
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=Decimal(quantity),
        placed_by=user,
    )
    if order_type == "LIMIT":
        kwargs.update(price=Decimal(price), time_in_force=extra.pop("time_in_force", "GTC"))
    kwargs.update(extra)
    return services.place_order(**kwargs).order


def notices(response) -> list[dict]:
    """The toasts an htmx response asks for (HX-Trigger `notice`)."""
    header = response.headers.get("HX-Trigger")
    if not header:
        return []
    return json.loads(header).get("notice", {}).get("items", [])


def client_events(response) -> set[str]:
    header = response.headers.get("HX-Trigger")
    return set(json.loads(header)) if header else set()


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="order-(\d+)"', html)]


# --- login and pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [DESK, ACCOUNT, ORDERS, ORDER_FORM])
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


def test_anonymous_post_places_nothing(client, market):
    response = client.post(ORDER_FORM, {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "1"})
    assert response.status_code == 302
    assert PaperOrder.objects.count() == 0


def test_login_page_renders_a_labelled_form(client):
    response = client.get(reverse("login"))
    body = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username">' in body and '<label for="id_password">' in body


def test_desk_full_page_has_layout_and_every_panel(trader_client, trader, market):
    response = trader_client.get(DESK)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body and "django_htmx/htmx-2.min.js" in body  # htmx from static, no CDN
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
    assert 'id="account-panel"' in body and 'id="order-panel"' in body and 'id="orders"' in body
    assert "Paper Trading" in body and "trader" in body and "Log out" in body
    assert 'action="/accounts/logout/"' in body
    assert "https://" not in re.sub(r"<a [^>]*>", "", body)  # no external script or stylesheet
    assert ">Admin<" not in body  # not staff


def test_admin_link_only_for_staff(trader_client, trader, market):
    trader.is_staff = True
    trader.save()
    assert ">Admin</a>" in trader_client.get(DESK).content.decode()


def test_navigation_leaves_out_pages_that_do_not_exist_yet(trader_client, market):
    from django.urls import NoReverseMatch
    from django.urls import reverse as url_for

    body = trader_client.get(DESK).content.decode()
    for name, label in (("portfolio:index", "Portfolio"), ("analysis:index", "Analysis")):
        try:
            url_for(name)
        except NoReverseMatch:
            assert f">{label}</a>" not in body
        else:
            assert f">{label}</a>" in body


def test_desk_with_htmx_answers_the_fragment(trader_client, market):
    response = trader_client.get(DESK, **HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="desk"' in body and 'id="orders"' in body


@pytest.mark.parametrize(
    ("url", "fragment_id"), [(ACCOUNT, "account-panel"), (ORDERS, "orders"), (ORDER_FORM, "order-panel")]
)
def test_each_partial_is_a_fragment_with_htmx_and_the_page_without(trader_client, market, url, fragment_id):
    fragment = trader_client.get(url, **HX)
    page = trader_client.get(url)
    assert fragment.status_code == page.status_code == 200
    fragment_body, page_body = fragment.content.decode(), page.content.decode()
    assert fragment_body.lstrip().startswith("<section") and f'id="{fragment_id}"' in fragment_body
    assert "<html" not in fragment_body
    assert "<html" in page_body and f'id="{fragment_id}"' in page_body


# --- account panel ------------------------------------------------------------------------------------------


def test_account_panel_shows_balances_and_venue_and_polls(trader_client, market):
    body = trader_client.get(ACCOUNT, **HX).content.decode()
    assert "badge-simulation" in body and "Simulation" in body
    assert re.search(
        r'data-asset="USDT">\s*<th scope="row">USDT</th>\s*<td class="num" data-field="free">100000<', body
    )
    assert 'hx-trigger="every 5s' in body


def test_account_panel_explains_testnet_without_credentials(trader_client, market, settings):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = ""
    settings.BINANCE_TESTNET_API_SECRET = ""
    response = trader_client.get(ACCOUNT, **HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in body and "Testnet unavailable." in body
    assert "badge-testnet" in body


def test_account_panel_masks_the_testnet_key_and_never_shows_the_secret(trader_client, market, settings):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    settings.BINANCE_TESTNET_API_SECRET = "super-secret-value-that-must-not-leak"
    body = trader_client.get(ACCOUNT, **HX).content.decode()
    assert "AbCd…6789" in body
    assert settings.BINANCE_TESTNET_API_KEY not in body
    assert settings.BINANCE_TESTNET_API_SECRET not in body


@responses.activate  # nothing registered: the venue's own calls fail at once, no network
def test_account_panel_tells_of_orders_closed_by_a_testnet_reset_and_of_an_order_rate_pause(
    trader_client, account, market, settings
):
    from papertrading.binance import RateLimitState
    from papertrading.venues.testnet import RESET_REASON

    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY, settings.BINANCE_TESTNET_API_SECRET = "k" * 20, "s" * 20
    PaperOrder.objects.create(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity="0.001", price="60000",
        time_in_force="GTC", venue="testnet", client_order_id="reset-1", status=PaperOrder.Status.CANCELLED,
        reject_reason=RESET_REASON,
    )  # fmt: skip
    RateLimitState().record_rate_limited(30, banned=False, orders_only=True, msg="Too many new orders")

    body = trader_client.get(ACCOUNT, **HX).content.decode()

    assert "1 order(s) were closed because the testnet was reset" in body
    assert "New orders are paused by the exchange" in body


# --- order form ---------------------------------------------------------------------------------------------


def test_placing_a_limit_from_the_page_creates_the_order(trader_client, trader, market):
    data = limit_form(quantity="0.01", price="50000")
    response = trader_client.post(ORDER_FORM, data, **HX)
    assert response.status_code == 200
    order = PaperOrder.objects.get()
    assert (order.symbol, order.side, order.order_type, order.quantity, order.price, order.status) == (
        "BTCUSDT",
        "BUY",
        "LIMIT",
        Decimal("0.01"),
        Decimal("50000"),
        "PENDING",
    )
    assert order.placed_by == trader
    event = order.events.get()
    assert (event.source, event.actor) == (OrderEvent.Source.PAGE, "trader")
    assert {"orders-changed", "account-changed"} <= client_events(response)
    assert notices(response)[0]["level"] == "success"
    assert f"#{order.pk}" in notices(response)[0]["message"]
    # The fresh form keeps the type and symbol but not the amounts.
    body = response.content.decode()
    assert 'value="BTCUSDT" selected' in body and 'name="quantity"' in body and 'value="0.01"' not in body


def test_placing_without_htmx_redirects_back_with_a_message(trader_client, market):
    data = MARKET_FORM
    response = trader_client.post(ORDER_FORM, data)
    assert response.status_code == 302 and response.url == DESK
    assert PaperOrder.objects.get().status == "FILLED"
    page = trader_client.get(DESK).content.decode()
    assert "toast-success" in page and "filled at" in page


def test_limit_without_price_shows_the_error_beside_the_field_and_keeps_what_was_typed(trader_client, market):
    data = limit_form(symbol="ETHUSDT", side="SELL", quantity="0.5", price="", time_in_force="IOC")
    response = trader_client.post(ORDER_FORM, data, **HX)
    body = response.content.decode()
    assert response.status_code == 422
    assert PaperOrder.objects.count() == 0
    error = re.search(r'<ul class="field-error" id="id_price_error">\s*<li>(.*?)</li>', body)
    assert error and error.group(1) == "A LIMIT order needs a price."
    assert 'aria-describedby="id_price_error"' in body and 'aria-invalid="true"' in body
    assert 'value="0.5"' in body and 'value="ETHUSDT" selected' in body
    assert 'value="SELL" selected' in body and 'value="IOC" selected' in body


def test_service_errors_land_on_their_fields(trader_client, market):
    # Off the LOT_SIZE grid and off the PRICE_FILTER grid: both reported, each beside its own field.
    data = limit_form(quantity="0.000001", price="50000.001")
    body = trader_client.post(ORDER_FORM, data, **HX).content.decode()
    assert re.search(r'id="id_quantity_error">\s*<li>Filter failure: LOT_SIZE', body)
    assert re.search(r'id="id_price_error">\s*<li>Filter failure: PRICE_FILTER', body)
    assert 'value="0.000001"' in body and 'value="50000.001"' in body
    assert PaperOrder.objects.count() == 0


def test_invalid_post_without_htmx_renders_the_page_with_errors(trader_client, market):
    data = limit_form(quantity="abc")
    response = trader_client.post(ORDER_FORM, data)
    body = response.content.decode()
    assert response.status_code == 422
    assert "<html" in body and 'id="id_quantity_error"' in body and 'value="abc"' in body


def test_venue_rejection_is_a_form_error_with_code_and_message(trader_client, market):
    data = limit_form(quantity="10", price="60000")
    response = trader_client.post(ORDER_FORM, data, **HX)
    body = response.content.decode()
    assert response.status_code == 422
    assert "Rejected by the venue (-2010): Account has insufficient balance for requested action." in body
    assert PaperOrder.objects.get().status == "REJECTED"
    assert "orders-changed" in client_events(response)
    assert notices(response)[0]["level"] == "error"


def test_venue_unavailable_is_a_form_error(trader_client, market, settings):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = ""
    settings.BINANCE_TESTNET_API_SECRET = ""
    data = MARKET_FORM
    response = trader_client.post(ORDER_FORM, data, **HX)
    assert response.status_code == 422
    assert 'class="form-errors" role="alert"' in response.content.decode()


@pytest.mark.parametrize(
    ("order_type", "shown", "hidden"),
    [
        ("MARKET", [], ["price", "stop_price", "time_in_force"]),
        ("LIMIT", ["price", "time_in_force"], ["stop_price"]),
        ("STOP_LOSS", ["stop_price"], ["price", "time_in_force"]),
        ("TAKE_PROFIT", ["stop_price"], ["price", "time_in_force"]),
    ],
)
def test_form_shows_and_requires_the_fields_of_the_order_type(trader_client, market, order_type, shown, hidden):
    body = trader_client.get(ORDER_FORM, {"order_type": order_type, "quantity": "0.25"}, **HX).content.decode()
    assert 'value="0.25"' in body  # what was typed survives the redraw
    for name in shown:
        assert re.search(rf'name="{name}"[^>]*required', body) or re.search(rf'required[^>]*name="{name}"', body)
        assert f'<label for="id_{name}">' in body
    for name in hidden:
        assert f'name="{name}"' not in body


@pytest.mark.parametrize(
    "order_type, help_text",
    [
        ("MARKET", "Fills at once at the market price."),
        ("LIMIT", "IOC and FOK expire if it does not at once."),
        ("STOP_LOSS", "(SELL: falls to it, BUY: rises to it)"),
        ("TAKE_PROFIT", "(SELL: rises to it, BUY: falls to it)"),
    ],
)
def test_form_explains_the_chosen_order_type(trader_client, market, order_type, help_text):
    body = trader_client.get(ORDER_FORM, {"order_type": order_type}, **HX).content.decode()
    help_paragraph = re.search(r'<p [^>]*id="order-type-help">(.*?)</p>', body, re.S).group(1)
    assert help_text in help_paragraph


def test_hidden_fields_are_not_sent_to_the_service(trader_client, market):
    # A price typed before switching to MARKET must not make the service refuse the order.
    data = {**MARKET_FORM, "price": "1", "time_in_force": "GTC"}
    trader_client.post(ORDER_FORM, data, **HX)
    order = PaperOrder.objects.get()
    assert (order.order_type, order.price, order.time_in_force, order.status) == ("MARKET", None, "", "FILLED")


def test_every_field_has_a_label(trader_client, market):
    body = trader_client.get(DESK).content.decode()
    form = body[body.index('id="order-form"') : body.index("</form>", body.index('id="order-form"'))]
    for input_id in re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', form):
        assert f'<label for="{input_id}">' in form, input_id


# --- CSRF ---------------------------------------------------------------------------------------------------


def test_posts_without_csrf_token_are_refused(trader, market):
    client = page_client_for(trader, enforce_csrf_checks=True)
    order = place(user=trader)
    data = MARKET_FORM
    assert client.post(ORDER_FORM, data, **HX).status_code == 403
    assert client.post(cancel_url(order), **HX).status_code == 403
    assert client.post(SYNC, **HX).status_code == 403
    assert PaperOrder.objects.count() == 1
    assert PaperOrder.objects.get().status == "PENDING"


def test_post_with_the_csrf_header_from_the_page_is_accepted(trader, market):
    client = page_client_for(trader, enforce_csrf_checks=True)
    page = client.get(DESK).content.decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    data = MARKET_FORM
    response = client.post(ORDER_FORM, data, HTTP_X_CSRFTOKEN=token, **HX)
    assert response.status_code == 200
    assert PaperOrder.objects.get().status == "FILLED"


# --- read-only users ---------------------------------------------------------------------------------------


def test_read_only_user_sees_orders_but_no_form_no_cancel_and_no_sync(viewer_client, viewer, trader, market):
    order = place(account=services.default_account_for(viewer))  # say, by an agent with the account's key
    others = place(user=trader)
    body = viewer_client.get(DESK).content.decode()
    assert f'id="order-{order.pk}"' in body
    assert f'id="order-{others.pk}"' not in body  # another account's order is not theirs to see
    assert 'id="order-form"' not in body and "can view orders but not place them" in body
    assert "Cancel</button>" not in body and 'id="sync-button"' not in body


def test_read_only_user_gets_403_on_every_post(viewer_client, viewer, market):
    order = place(account=services.default_account_for(viewer))
    data = MARKET_FORM
    for headers in ({}, HX):
        assert viewer_client.post(ORDER_FORM, data, **headers).status_code == 403
        assert viewer_client.post(cancel_url(order), **headers).status_code == 403
        assert viewer_client.post(SYNC, **headers).status_code == 403
    assert viewer_client.get(ORDER_FORM, **HX).status_code == 403
    order.refresh_from_db()
    assert order.status == "PENDING" and PaperOrder.objects.count() == 1


# --- orders table ------------------------------------------------------------------------------------------


def test_cancel_from_the_page_cancels_and_answers_the_table(trader_client, trader, market):
    order = place(user=trader)
    usdt_locked = SimulatedBalance.objects.get(account=order.account, asset="USDT").locked
    assert usdt_locked > 0
    response = trader_client.post(cancel_url(order) + "?show=open&sort=symbol", **HX)
    body = response.content.decode()
    order.refresh_from_db()
    assert order.status == "CANCELLED"
    assert order.events.last().source == "page" and order.events.last().actor == "trader"
    assert SimulatedBalance.objects.get(account=order.account, asset="USDT").locked == 0
    assert body.lstrip().startswith('<section id="orders"') and 'aria-sort="ascending"' in body
    assert f'id="order-{order.pk}"' not in body  # the open view kept, and the order left it
    assert "account-changed" in client_events(response)
    assert notices(response) == [{"level": "success", "message": f"Order #{order.pk} cancelled."}]


def test_cancel_without_htmx_redirects_back_keeping_the_table_state(trader_client, trader, market):
    order = place(user=trader)
    response = trader_client.post(cancel_url(order) + "?show=open&sort=symbol")
    assert response.status_code == 302 and response.url == DESK + "?show=open&sort=symbol"
    order.refresh_from_db()
    assert order.status == "CANCELLED"


def test_cancel_of_a_finished_order_warns(trader_client, trader, market):
    order = place(order_type="MARKET", user=trader)
    response = trader_client.post(cancel_url(order), **HX)
    assert response.status_code == 200
    assert notices(response)[0]["level"] == "warning"
    assert trader_client.post(reverse("papertrading:cancel", args=[999999]), **HX).status_code == 404


def test_cancel_of_another_accounts_order_is_a_404_and_leaves_it_working(trader_client, trader, rival, market):
    theirs = place(user=rival)
    locked = SimulatedBalance.objects.get(account=theirs.account, asset="USDT").locked

    for headers in ({}, HX):
        assert trader_client.post(cancel_url(theirs), **headers).status_code == 404

    theirs.refresh_from_db()
    assert (theirs.status, theirs.locked_amount) == ("PENDING", locked)
    assert SimulatedBalance.objects.get(account=theirs.account, asset="USDT").locked == locked == Decimal("500")
    assert not theirs.events.filter(source="page").exists()


def test_sync_button_reports_what_changed(trader_client, trader, market):
    place(user=trader, price="67000")
    market.set("BTCUSDT", "66000")  # the limit is crossed; sync runs the matcher
    response = trader_client.post(SYNC, **HX)
    assert response.status_code == 204
    assert {"orders-changed", "account-changed"} <= client_events(response)
    [notice] = notices(response)
    assert notice == {"level": "success", "message": "Synced with Simulation: checked 1 order on 1 symbol; 1 filled."}
    assert PaperOrder.objects.get().status == "FILLED"


def test_sync_button_on_the_testnet_counts_orders_and_symbols(trader_client, api, account, exchange):
    ids = [
        place_on_testnet(api, limit_payload()).json()["id"],
        place_on_testnet(api, limit_payload(price="59000")).json()["id"],
        place_on_testnet(api, limit_payload(symbol="ETHUSDT", price="3000", quantity="0.01")).json()["id"],
    ]
    exchange.fill(PaperOrder.objects.get(pk=ids[0]).binance_order_id)

    response = trader_client.post(SYNC, **HX)

    [notice] = notices(response)
    assert notice == {
        "level": "success",
        "message": "Synced with Binance Spot Testnet: checked 3 orders on 2 symbols; 1 filled.",
    }


def test_sync_without_htmx_redirects_with_a_message(trader_client, market):
    response = trader_client.post(SYNC)
    assert response.status_code == 302 and response.url == DESK
    assert "nothing changed" in trader_client.get(DESK).content.decode()


def test_status_colour_classes(trader_client, trader, market):
    pending = place(user=trader)
    filled = place(order_type="MARKET", user=trader)
    cancelled = place(user=trader)
    services.cancel_order(account=cancelled.account, order_id=cancelled.pk)
    expired = place(user=trader, time_in_force="IOC")
    with pytest.raises(OrderRejected):
        place(user=trader, quantity="10", price="60000")
    rejected = PaperOrder.objects.get(status="REJECTED")
    body = trader_client.get(ORDERS, **HX).content.decode()

    def status_class(order) -> str:
        row = re.search(rf'<tr id="order-{order.pk}".*?</tr>', body, re.S).group(0)
        return re.search(r'class="status (status-\w+)"', row).group(1)

    assert status_class(filled) == "status-filled"
    assert status_class(pending) == "status-working"
    assert status_class(cancelled) == "status-cancelled"
    assert status_class(rejected) == "status-failed"
    assert status_class(expired) == "status-failed"


def test_cancel_buttons_only_on_working_orders_with_confirmation(trader_client, trader, market):
    working = place(user=trader)
    filled = place(order_type="MARKET", user=trader)
    body = trader_client.get(ORDERS, **HX).content.decode()
    assert f'id="cancel-{working.pk}"' in body and "hx-confirm=" in body
    assert f'id="cancel-{filled.pk}"' not in body


def test_open_filter_and_sort_by_symbol(trader_client, trader, market):
    eth = place(symbol="ETHUSDT", quantity="0.1", price="3000", user=trader)
    btc = place(symbol="BTCUSDT", user=trader)
    filled = place(symbol="BNBUSDT", order_type="MARKET", quantity="0.1", user=trader)

    body = trader_client.get(ORDERS, {"show": "open", "sort": "symbol"}, **HX).content.decode()
    assert row_ids(body) == [btc.pk, eth.pk]
    assert filled.pk not in row_ids(body)
    assert re.search(r'<th scope="col" class="col-symbol" aria-sort="ascending">', body)
    # Links and the poll keep the filter and the sort.
    assert 'hx-get="/paper-trading/orders/?show=open&amp;sort=symbol&amp;since=' in body
    assert 'href="/paper-trading/?show=open&amp;sort=-symbol"' in body  # clicking again reverses

    body = trader_client.get(ORDERS, {"show": "open", "sort": "-symbol"}, **HX).content.decode()
    assert row_ids(body) == [eth.pk, btc.pk]
    body = trader_client.get(ORDERS, {"sort": "time"}, **HX).content.decode()
    assert row_ids(body) == [eth.pk, btc.pk, filled.pk]
    body = trader_client.get(ORDERS, **HX).content.decode()  # default: newest first
    assert row_ids(body) == [filled.pk, btc.pk, eth.pk]


def test_full_page_respects_table_params(trader_client, trader, market):
    place(symbol="ETHUSDT", quantity="0.1", price="3000", user=trader)
    filled = place(order_type="MARKET", user=trader)
    body = trader_client.get(DESK, {"show": "open"}).content.decode()
    assert filled.pk not in row_ids(body) and len(row_ids(body)) == 1
    assert 'id="show-open" href="/paper-trading/?show=open"' in body and 'aria-current="true"' in body


def test_bad_table_params_fall_back_to_defaults(trader_client, trader, market):
    place(user=trader)
    response = trader_client.get(ORDERS, {"sort": "password", "show": "x", "page": "abc"}, **HX)
    assert response.status_code == 200 and len(row_ids(response.content.decode())) == 1


def test_pagination_keeps_sort_and_filter(trader_client, trader, market):
    orders = [place(user=trader, price=str(50000 + i)) for i in range(23)]
    first = trader_client.get(ORDERS, {"show": "open", "sort": "price"}, **HX).content.decode()
    assert row_ids(first) == [o.pk for o in orders[:20]]
    assert "Page 1 of 2" in first and 'href="/paper-trading/?show=open&amp;sort=price&amp;page=2"' in first
    second = trader_client.get(ORDERS, {"show": "open", "sort": "price", "page": "2"}, **HX).content.decode()
    assert row_ids(second) == [o.pk for o in orders[20:]]
    assert "show=open&amp;sort=price&amp;page=2&amp;since=" in second  # the poll stays on page 2


def test_poll_announces_fills_of_my_orders_only(trader_client, trader, viewer, market):
    mine = place(user=trader, price="67000")
    place(user=viewer, price="67000")  # someone else's order fills too, without a notice for me
    first = trader_client.get(ORDERS, **HX)
    since = re.search(r"since=(\d+)", first.content.decode()).group(1)
    assert notices(first) == []

    market.move("BTCUSDT", "66000")  # the matcher fills both
    response = trader_client.get(ORDERS, {"since": since}, **HX)
    items = notices(response)
    assert len(items) == 1 and items[0]["level"] == "success"
    assert items[0]["message"].startswith(f"Your order #{mine.pk} BUY 0.01 BTCUSDT Limit @ 67000 filled at")
    # The next poll has seen it: no repeat.
    since = re.search(r"since=(\d+)", response.content.decode()).group(1)
    assert notices(trader_client.get(ORDERS, {"since": since}, **HX)) == []


def test_log_out_is_a_post_that_ends_the_session(trader_client, market):
    response = trader_client.post(reverse("logout"))
    assert response.status_code == 302
    assert trader_client.get(DESK).status_code == 302  # back to the login page


def test_favicon_is_served_from_static_for_pages_that_name_no_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.url.endswith("favicon.svg")


def test_desk_form_offers_an_optional_iceberg_part_for_limits_and_places_it(trader_client, market):
    limit_form = trader_client.get(ORDER_FORM, {"order_type": "LIMIT"}, **HX).content.decode()
    market_form = trader_client.get(ORDER_FORM, {"order_type": "MARKET"}, **HX).content.decode()
    assert 'name="iceberg_quantity"' in limit_form
    assert not re.search(r'name="iceberg_quantity"[^>]*required', limit_form)  # shown, never required
    assert 'name="iceberg_quantity"' not in market_form

    body = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "LIMIT", "quantity": "0.01", "price": "60000",
            "time_in_force": "GTC", "iceberg_quantity": "0.002"}  # fmt: skip
    assert trader_client.post(ORDER_FORM, body, **HX).status_code == 200
    # A part typed before switching to MARKET is dropped with the type's other fields.
    market_body = {**body, "order_type": "MARKET", "price": "", "time_in_force": ""}
    assert trader_client.post(ORDER_FORM, market_body, **HX).status_code == 200

    limit, market_order = PaperOrder.objects.order_by("id")
    assert (limit.order_type, limit.iceberg_quantity) == ("LIMIT", Decimal("0.002"))
    assert (market_order.order_type, market_order.iceberg_quantity) == ("MARKET", None)
