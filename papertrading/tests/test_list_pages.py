"""Order lists on the desk: the form places an OCO, an OTO or a bracket (OTOCO) with only the fields each needs,
the orders table draws a list's legs under it, and the list's Cancel cancels it whole.

Users (root conftest): `trader` may place, cancel and sync; `viewer` may only read; `rival` has another account.
The market (root conftest) is at BTCUSDT 68000; the account starts with 100000 USDT and 1 BTC.
"""

import html
import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from conftest import page_client_for
from papertrading import services
from papertrading.models import OrderEvent, OrderList, PaperOrder, SimulatedBalance

pytestmark = pytest.mark.django_db

DESK = reverse("papertrading:desk")
ORDERS = reverse("papertrading:orders")
ORDER_FORM = reverse("papertrading:order_form")
HX = {"HTTP_HX_REQUEST": "true"}
LIMIT_MAKER, TAKE_PROFIT, TAKE_PROFIT_LIMIT = "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"
STOP_LOSS, STOP_LOSS_LIMIT = "STOP_LOSS", "STOP_LOSS_LIMIT"


def oco_form(**fields) -> dict:
    """The desk form of a SELL OCO of 0.01 BTC: take profit at 70000 (LIMIT_MAKER), stop at 66000 (STOP_LOSS)."""
    return {
        "kind": "OCO",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": "0.01",
        "above_type": "LIMIT_MAKER",
        "above_price": "70000",
        "below_type": "STOP_LOSS",
        "below_stop_price": "66000",
        **fields,
    }


def working_fields(**fields) -> dict:
    """A GTC LIMIT BUY of 0.01 BTC at 67000, below the market: it rests."""
    return {
        "symbol": "BTCUSDT",
        "working_side": "BUY",
        "working_type": "LIMIT",
        "working_quantity": "0.01",
        "working_price": "67000",
        "working_time_in_force": "GTC",
        **fields,
    }


def oto_form(**fields) -> dict:
    """Buy 0.01 BTC at 67000, then sell what it receives at 70000 (LIMIT GTC)."""
    pending = {
        "pending_side": "SELL",
        "pending_type": "LIMIT",
        "pending_price": "70000",
        "pending_time_in_force": "GTC",
    }
    return working_fields(kind="OTO", **{**pending, **fields})


def bracket_form(**fields) -> dict:
    """Buy 0.01 BTC at 67000, then a take profit at 70000 (LIMIT_MAKER) and a stop at 65000 (STOP_LOSS)."""
    pending = {
        "pending_side": "SELL",
        "pending_above_type": "LIMIT_MAKER",
        "pending_above_price": "70000",
        "pending_below_type": "STOP_LOSS",
        "pending_below_stop_price": "65000",
    }
    return working_fields(kind="OTOCO", **{**pending, **fields})


@pytest.fixture
def trader_client(trader) -> Client:
    return page_client_for(trader)


def client_events(response) -> dict:
    header = response.headers.get("HX-Trigger")
    return json.loads(header) if header else {}


def notices(response) -> list[dict]:
    return client_events(response).get("notice", {}).get("items", [])


def field_errors(body: str, name: str) -> list[str]:
    """The messages shown beside the field `name`."""
    found = re.search(rf'<ul class="field-error" id="id_{name}_error">(.*?)</ul>', body, re.S)
    return [html.unescape(text) for text in re.findall(r"<li>(.*?)</li>", found.group(1))] if found else []


def form_errors(body: str) -> list[str]:
    found = re.search(r'<div class="form-errors" role="alert" id="order-form-errors">(.*?)</div>', body, re.S)
    return [html.unescape(text) for text in re.findall(r"<p>(.*?)</p>", found.group(1))] if found else []


def field_names(body: str) -> set[str]:
    form = body[body.index('id="order-form"') : body.index("</form>", body.index('id="order-form"'))]
    return set(re.findall(r'<(?:input|select)[^>]*\bname="([^"]+)"', form)) - {"csrfmiddlewaretoken"}


def options(body: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', body, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"', select)


def table_lines(body: str) -> list[tuple]:
    """The orders table's rows in order: ("list", id, contingency type, list status), ("leg", order id, list id,
    leg, status text) or ("order", order id, status text)."""
    lines = []
    for row in re.findall(r"<tr id=\"(?:list|order)-\d+\".*?</tr>", body, re.S):
        tag = row[: row.index(">")]
        attribute = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if attribute["id"].startswith("list-"):
            lines.append(
                (
                    "list",
                    int(attribute["data-list-id"]),
                    attribute["data-contingency-type"],
                    attribute["data-list-status"],
                )
            )
            continue
        cell = re.search(r'<td class="col-status">(.*?)</td>', row, re.S).group(1)
        status = " ".join(re.sub(r"<[^>]+>", " ", cell).split())  # what a person reads there
        if "list-leg" in attribute.get("class", ""):
            leg = (int(attribute["data-order-id"]), int(attribute["data-list-id"]), attribute["data-leg"], status)
            lines.append(("leg", *leg))
        else:
            lines.append(("order", int(attribute["data-order-id"]), status))
    return lines


def balance(account, asset: str) -> tuple[Decimal, Decimal]:
    row = SimulatedBalance.objects.get(account=account, asset=asset)
    return row.free, row.locked


def legs_of(order_list: OrderList) -> dict[str, PaperOrder]:
    return {leg.list_leg: leg for leg in order_list.orders.all()}


# --- the form offers each kind with the fields it needs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        (
            {"kind": "OCO"},
            {"symbol", "side", "quantity", "above_type", "above_price", "below_type", "below_stop_price"},
            {"order_type", "price", "above_stop_price", "above_time_in_force", "below_price", "below_time_in_force"},
        ),
        (
            {"kind": "OCO", "above_type": "TAKE_PROFIT_LIMIT", "below_type": "STOP_LOSS_LIMIT"},
            {"above_price", "above_stop_price", "above_time_in_force", "below_price", "below_stop_price"},
            {"order_type", "above_trailing_delta"},
        ),
        (
            {"kind": "OTO"},
            {"working_side", "working_type", "working_quantity", "working_price", "working_time_in_force"}
            | {"pending_side", "pending_type", "pending_quantity", "pending_price", "pending_time_in_force"},
            {"order_type", "side", "quantity", "pending_stop_price", "pending_trailing_delta"},
        ),
        (
            {"kind": "OTO", "working_type": "LIMIT_MAKER", "pending_type": "STOP_LOSS"},
            {"working_price", "pending_stop_price", "pending_trailing_delta"},
            {"working_time_in_force", "pending_price", "pending_time_in_force"},
        ),
        (
            {"kind": "OTOCO"},
            {"working_side", "working_type", "working_quantity", "working_price", "working_time_in_force"}
            | {"pending_side", "pending_quantity", "pending_above_type", "pending_above_price"}
            | {"pending_below_type", "pending_below_stop_price"},
            {"order_type", "pending_type", "pending_price", "pending_above_stop_price", "pending_below_price"},
        ),
    ],
)
def test_each_kind_shows_only_the_fields_its_types_need(trader_client, market, query, shown, hidden):
    body = trader_client.get(ORDER_FORM, query, **HX).content.decode()
    names = field_names(body)
    assert shown <= names - {"kind"}, shown - names
    assert not hidden & names, hidden & names
    assert re.search(rf'<option value="{query["kind"]}" selected>', body)
    # The lists' fields all have a label.
    for input_id in re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', body):
        assert f'<label for="{input_id}">' in body, input_id


def test_switching_kind_keeps_what_was_typed_and_offers_the_kinds(trader_client, market):
    body = trader_client.get(ORDER_FORM, {"kind": "OCO", "symbol": "ETHUSDT", "quantity": "0.5"}, **HX).content.decode()
    assert options(body, "kind") == ["single", "OCO", "OTO", "OTOCO"]
    assert 'value="ETHUSDT" selected' in body and 'name="quantity"' in body and 'value="0.5"' in body
    assert 'id="place-order-button" class="button button-primary">Place OCO<' in body
    # Back to a single order: the fields of its default type again.
    single = trader_client.get(ORDER_FORM, {"kind": "single", "symbol": "ETHUSDT"}, **HX).content.decode()
    assert {"order_type", "price", "time_in_force"} <= field_names(single)
    assert "above_type" not in field_names(single)


@pytest.mark.parametrize(
    ("side", "above", "below", "legends"),
    [
        ("SELL", [LIMIT_MAKER, TAKE_PROFIT, TAKE_PROFIT_LIMIT], [STOP_LOSS, STOP_LOSS_LIMIT], ("take profit", "stop")),
        ("BUY", [STOP_LOSS, STOP_LOSS_LIMIT], [LIMIT_MAKER, TAKE_PROFIT, TAKE_PROFIT_LIMIT], ("stop", "take profit")),
    ],
)  # fmt: skip
def test_oco_legs_offer_the_types_their_side_allows(trader_client, market, side, above, below, legends):
    body = trader_client.get(ORDER_FORM, {"kind": "OCO", "side": side}, **HX).content.decode()
    assert options(body, "above_type") == above and options(body, "below_type") == below
    assert f"<legend>Above leg: {legends[0]}</legend>" in body and f"<legend>Below leg: {legends[1]}</legend>" in body
    # The side and the types redraw the form (what a leg takes follows them).
    assert re.search(r'<select name="side" hx-get="/paper-trading/orders/new/"', body)
    assert re.search(r'<select name="above_type" hx-get="/paper-trading/orders/new/"', body)

    bracket = trader_client.get(ORDER_FORM, {"kind": "OTOCO", "pending_side": side}, **HX).content.decode()
    assert options(bracket, "pending_above_type") == above and options(bracket, "pending_below_type") == below


# --- placing lists --------------------------------------------------------------------------------------------


def test_placing_an_oco_writes_the_list_and_both_legs_holding_the_funds_once(trader_client, trader, account, market):
    response = trader_client.post(ORDER_FORM, oco_form(), **HX)

    assert response.status_code == 200
    order_list = OrderList.objects.get()
    assert (order_list.account, order_list.symbol, order_list.contingency_type, order_list.list_order_status) == (
        account,
        "BTCUSDT",
        "OCO",
        "EXECUTING",
    )
    legs = legs_of(order_list)
    assert set(legs) == {"above", "below"} and PaperOrder.objects.count() == 2
    above, below = legs["above"], legs["below"]
    assert (above.side, above.order_type, above.quantity, above.price, above.stop_price, above.status) == (
        "SELL", "LIMIT_MAKER", Decimal("0.01"), Decimal("70000"), None, "PENDING",
    )  # fmt: skip
    assert (below.side, below.order_type, below.quantity, below.price, below.stop_price, below.status) == (
        "SELL", "STOP_LOSS", Decimal("0.01"), None, Decimal("66000"), "PENDING",
    )  # fmt: skip
    assert {leg.placed_by for leg in legs.values()} == {trader}
    assert {e.source for leg in legs.values() for e in leg.events.all()} == {OrderEvent.Source.PAGE}
    assert balance(account, "BTC") == (Decimal("0.99"), Decimal("0.01"))  # held once for both legs
    assert {"orders-changed", "account-changed"} <= set(client_events(response))
    message = notices(response)[0]["message"]
    assert message.startswith(f"OCO list #{order_list.pk} placed on BTCUSDT: above #{above.pk} SELL 0.01 BTCUSDT")
    # A fresh OCO form for the next list: the same kind, side and types, without the amounts.
    body = response.content.decode()
    assert '<option value="OCO" selected>' in body and 'value="SELL" selected' in body
    assert 'value="LIMIT_MAKER" selected' in body and 'value="70000"' not in body and 'value="0.01"' not in body


def test_placing_an_oto_leaves_the_pending_order_waiting_and_holding_nothing(trader_client, account, market):
    response = trader_client.post(ORDER_FORM, oto_form(pending_quantity="0.005"), **HX)

    assert response.status_code == 200
    order_list = OrderList.objects.get()
    assert order_list.contingency_type == "OTO"
    legs = legs_of(order_list)
    working, pending = legs["working"], legs["pending"]
    assert (working.side, working.order_type, working.quantity, working.price, working.time_in_force) == (
        "BUY", "LIMIT", Decimal("0.01"), Decimal("67000"), "GTC",
    )  # fmt: skip
    assert (working.status, working.waits_for_list, working.locked_amount) == ("PENDING", False, Decimal("670"))
    assert (pending.side, pending.order_type, pending.quantity, pending.price, pending.time_in_force) == (
        "SELL", "LIMIT", Decimal("0.005"), Decimal("70000"), "GTC",
    )  # fmt: skip
    assert (pending.status, pending.waits_for_list, pending.locked_amount) == ("PENDING", True, Decimal("0"))
    assert balance(account, "USDT") == (Decimal("99330"), Decimal("670"))
    assert "waiting for the working order" in notices(response)[0]["message"]


def test_an_oto_pending_stop_takes_a_trailing_delta_and_its_quantity_defaults_to_what_the_buy_receives(
    trader_client, market
):
    data = oto_form(pending_type="STOP_LOSS", pending_stop_price="66000", pending_trailing_delta="150")
    data.pop("pending_price")  # a price typed for a LIMIT, the type since changed, would be dropped anyway
    assert trader_client.post(ORDER_FORM, {**data, "pending_price": "70000"}, **HX).status_code == 200

    pending = PaperOrder.objects.get(list_leg="pending")
    assert (pending.order_type, pending.stop_price, pending.price, pending.trailing_delta) == (
        "STOP_LOSS", Decimal("66000"), None, 150,
    )  # fmt: skip
    assert pending.time_in_force == ""
    # 0.01 bought, less the 0.1 % fee taken in BTC, on the 0.00001 step.
    assert pending.quantity == Decimal("0.00999")


def test_placing_a_bracket_writes_the_working_order_and_a_waiting_pair(trader_client, account, market):
    response = trader_client.post(ORDER_FORM, bracket_form(), **HX)

    assert response.status_code == 200
    order_list = OrderList.objects.get()
    assert (order_list.contingency_type, order_list.list_order_status) == ("OTOCO", "EXECUTING")
    legs = legs_of(order_list)
    assert set(legs) == {"working", "above", "below"}
    assert (legs["working"].order_type, legs["working"].price, legs["working"].waits_for_list) == (
        "LIMIT", Decimal("67000"), False,
    )  # fmt: skip
    take_profit, stop = legs["above"], legs["below"]
    assert (take_profit.side, take_profit.order_type, take_profit.price, take_profit.quantity) == (
        "SELL", "LIMIT_MAKER", Decimal("70000"), Decimal("0.00999"),
    )  # fmt: skip
    assert (stop.side, stop.order_type, stop.stop_price, stop.quantity) == (
        "SELL", "STOP_LOSS", Decimal("65000"), Decimal("0.00999"),
    )  # fmt: skip
    assert all(leg.waits_for_list and leg.locked_amount == 0 for leg in (take_profit, stop))
    assert balance(account, "BTC") == (Decimal("1"), Decimal("0"))  # the pair holds nothing yet
    assert balance(account, "USDT") == (Decimal("99330"), Decimal("670"))
    assert '<option value="OTOCO" selected>' in response.content.decode()


def test_placing_without_htmx_redirects_to_the_desk_which_shows_the_list(trader_client, market):
    response = trader_client.post(ORDER_FORM, bracket_form())

    assert response.status_code == 302 and response.url == DESK
    order_list = OrderList.objects.get()
    page = trader_client.get(DESK).content.decode()
    assert "toast-success" in page and f"OTOCO list #{order_list.pk} placed" in page
    assert ("list", order_list.pk, "OTOCO", "EXECUTING") in table_lines(page)


# --- bad input and refusals: errors beside the fields, nothing written -----------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # The take profit of a SELL must be above the market (68000), the stop below it.
        (oco_form(above_price="67000"), {"above_price": "The above leg's price must be above the market (68000)."}),
        (oco_form(below_stop_price="69000"), {"below_stop_price": "the stop price must be below the market (68000)."}),
        (oco_form(quantity=""), {"quantity": "This field is required."}),
        (oco_form(quantity="0.000001"), {"quantity": "Filter failure: LOT_SIZE"}),
        (oco_form(above_type="STOP_LOSS"), {"above_type": "The above leg of a SELL OCO is one of"}),
        (oco_form(above_type="TAKE_PROFIT_LIMIT", above_stop_price="69000"), {"above_time_in_force": ""}),
        (oto_form(working_price=""), {"working_price": "A LIMIT order needs a price."}),
        (oto_form(pending_type="STOP_LOSS", pending_stop_price=""), {"pending_stop_price": ""}),
        (oto_form(working_type="MARKET"), {"working_type": "Select a valid choice."}),
        (oto_form(pending_price="70000.001"), {"pending_price": "Filter failure: PRICE_FILTER"}),
        (bracket_form(working_quantity="abc"), {"working_quantity": ""}),
        # The pair is judged against the working order's price (67000), not today's market.
        (bracket_form(pending_above_price="66000"), {"pending_above_price": "above"}),
        (bracket_form(pending_below_stop_price="67500"), {"pending_below_stop_price": "below"}),
        (bracket_form(pending_quantity="-1"), {"pending_quantity": ""}),
    ],
)
def test_bad_input_is_an_error_beside_its_field_and_writes_nothing(trader_client, account, market, data, expected):
    response = trader_client.post(ORDER_FORM, data, **HX)

    body = response.content.decode()
    assert response.status_code == 422
    for name, message in expected.items():
        errors = field_errors(body, name)
        assert errors and any(message in error for error in errors), (name, errors, form_errors(body))
        assert re.search(rf'name="{name}"[^>]*aria-invalid="true"', body)
    assert OrderList.objects.count() == 0 and PaperOrder.objects.count() == 0
    assert balance(account, "USDT") == (Decimal("100000"), Decimal("0"))
    assert balance(account, "BTC") == (Decimal("1"), Decimal("0"))
    # What was typed stays, and the form is still the list's.
    assert f'<option value="{data["kind"]}" selected>' in body
    assert 'value="BTCUSDT" selected' in body


def test_a_list_kind_chosen_without_javascript_answers_its_form_with_what_is_missing(trader_client, market):
    # Without JavaScript the kind select does not redraw the form: the single order's fields come with the list.
    data = {"kind": "OTOCO", "symbol": "ETHUSDT", "side": "BUY", "order_type": "LIMIT", "quantity": "0.5"}
    response = trader_client.post(ORDER_FORM, data)

    body = response.content.decode()
    assert response.status_code == 422 and "<html" in body
    assert field_errors(body, "working_quantity") == ["This field is required."]
    assert {"working_price", "pending_above_price", "pending_below_stop_price"} <= field_names(body)
    assert 'value="ETHUSDT" selected' in body
    assert OrderList.objects.count() == 0 and PaperOrder.objects.count() == 0


def test_without_javascript_a_button_asks_for_the_fields_of_what_is_chosen(trader_client, market):
    desk = trader_client.get(DESK).content.decode()
    noscript = re.search(r"<noscript>(.*?)</noscript>", desk, re.S).group(1)
    assert re.search(r'<button type="submit" formmethod="get" formaction="/paper-trading/orders/new/"', noscript)

    # What that button sends: the form's values, as a plain GET; the whole desk comes back with the chosen form.
    query = {"csrfmiddlewaretoken": "x", "kind": "OTOCO", "symbol": "ETHUSDT", "pending_side": "BUY"}
    response = trader_client.get(ORDER_FORM, query)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert '<option value="OTOCO" selected>' in body and 'value="ETHUSDT" selected' in body
    assert options(body, "pending_above_type") == [STOP_LOSS, STOP_LOSS_LIMIT]  # a BUY pair stops above
    assert OrderList.objects.count() == 0


def test_insufficient_balance_is_the_forms_error_and_writes_no_list(trader_client, account, market):
    response = trader_client.post(ORDER_FORM, bracket_form(working_quantity="2"), **HX)  # 134000 USDT

    body = response.content.decode()
    assert response.status_code == 422
    assert form_errors(body) == [
        "Rejected by the venue (-2010): Account has insufficient balance for requested action."
    ]
    assert OrderList.objects.count() == 0 and PaperOrder.objects.count() == 0
    assert balance(account, "USDT") == (Decimal("100000"), Decimal("0"))
    assert 'value="2"' in body and 'value="67000"' in body  # kept, to correct


def test_a_risk_limit_refusal_is_the_forms_error_and_writes_no_list(trader_client, account, market):
    account.max_open_orders = 1  # an OCO is two working orders
    account.save(update_fields=["max_open_orders"])

    response = trader_client.post(ORDER_FORM, oco_form(), **HX)

    body = response.content.decode()
    assert response.status_code == 422
    errors = form_errors(body)
    assert len(errors) == 1 and errors[0].startswith("Refused by the risk limit max_open_orders")
    assert OrderList.objects.count() == 0 and PaperOrder.objects.count() == 0
    assert balance(account, "BTC") == (Decimal("1"), Decimal("0"))
    assert account.risk_events.filter(kind="refused", limit="max_open_orders").count() == 1
    assert "risk-changed" in client_events(response)


def test_a_venue_that_cannot_take_lists_is_the_forms_error(trader_client, market, settings):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = ""
    settings.BINANCE_TESTNET_API_SECRET = ""

    response = trader_client.post(ORDER_FORM, oco_form(), **HX)

    assert response.status_code == 422
    assert form_errors(response.content.decode())
    assert OrderList.objects.count() == 0 and PaperOrder.objects.count() == 0


def test_a_read_only_user_may_not_place_a_list(page_viewer, market):
    for headers in ({}, HX):
        assert page_viewer.post(ORDER_FORM, oco_form(), **headers).status_code == 403
    assert page_viewer.get(ORDER_FORM, {"kind": "OCO"}, **HX).status_code == 403
    assert OrderList.objects.count() == 0


@pytest.fixture
def page_viewer(viewer) -> Client:
    return page_client_for(viewer)


# --- the orders table -------------------------------------------------------------------------------------------


def place_single(account, price="50000"):
    return services.place_order(
        account=account, symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=Decimal("0.01"),
        price=Decimal(price), time_in_force="GTC",
    ).order  # fmt: skip


def place_oco(account, quantity="0.01"):
    return services.place_oco(
        account=account, symbol="BTCUSDT", side="SELL", quantity=Decimal(quantity),
        above={"type": "LIMIT_MAKER", "price": Decimal("70000")},
        below={"type": "STOP_LOSS", "stop_price": Decimal("66000")},
    ).order_list  # fmt: skip


def place_bracket(account):
    return services.place_otoco(
        account=account, symbol="BTCUSDT", working={"side": "BUY", "type": "LIMIT", "quantity": Decimal("0.01"),
        "price": Decimal("67000"), "time_in_force": "GTC"}, pending_side="SELL", pending_quantity=None,
        pending_above={"type": "LIMIT_MAKER", "price": Decimal("70000")},
        pending_below={"type": "STOP_LOSS", "stop_price": Decimal("65000")},
    ).order_list  # fmt: skip


def test_the_table_draws_each_lists_legs_under_it(trader_client, account, market):
    single = place_single(account)
    oco = place_oco(account)
    bracket = place_bracket(account)
    oco_legs, bracket_legs = legs_of(oco), legs_of(bracket)

    body = trader_client.get(ORDERS, **HX).content.decode()

    waiting = "Waiting for the working order"
    assert table_lines(body) == [  # newest first; a list's legs in the order people read them
        ("list", bracket.pk, "OTOCO", "EXECUTING"),
        ("leg", bracket_legs["working"].pk, bracket.pk, "working", "Pending"),
        ("leg", bracket_legs["above"].pk, bracket.pk, "above", waiting),
        ("leg", bracket_legs["below"].pk, bracket.pk, "below", waiting),
        ("list", oco.pk, "OCO", "EXECUTING"),
        ("leg", oco_legs["above"].pk, oco.pk, "above", "Pending"),
        ("leg", oco_legs["below"].pk, oco.pk, "below", "Pending"),
        ("order", single.pk, "Pending"),
    ]
    # The list carries the Cancel (of every leg); its legs have none of their own.
    assert f'id="cancel-list-{oco.pk}"' in body and f'id="cancel-list-{bracket.pk}"' in body
    assert f'id="cancel-{single.pk}"' in body
    assert not any(f'id="cancel-{leg.pk}"' in body for leg in [*oco_legs.values(), *bracket_legs.values()])
    # Each leg names its place in the list where the other rows show their time.
    above_row = re.search(rf'<tr id="order-{oco_legs["above"].pk}".*?</tr>', body, re.S).group(0)
    assert re.search(r'<td class="col-time">.*?<span class="leg-name"[^>]*>above</span></td>', above_row)
    assert re.search(r'<td class="col-type">Limit maker</td>', above_row)


def test_a_filled_working_order_sets_the_pending_legs_to_work_and_the_open_filter_keeps_them(
    trader_client, account, market
):
    bracket = place_bracket(account)
    legs = legs_of(bracket)
    market.move("BTCUSDT", "66900")  # the working BUY at 67000 fills: the pair goes to work

    everything = table_lines(trader_client.get(ORDERS, **HX).content.decode())
    assert everything == [
        ("list", bracket.pk, "OTOCO", "EXECUTING"),
        ("leg", legs["working"].pk, bracket.pk, "working", "Filled"),
        ("leg", legs["above"].pk, bracket.pk, "above", "Pending"),
        ("leg", legs["below"].pk, bracket.pk, "below", "Pending"),
    ]
    # "Open" keeps the list with its working legs only.
    open_lines = table_lines(trader_client.get(ORDERS, {"show": "open"}, **HX).content.decode())
    assert open_lines == [everything[0], everything[2], everything[3]]


def test_a_finished_list_leaves_the_open_view_and_has_no_cancel(trader_client, account, market):
    oco = place_oco(account)
    market.move("BTCUSDT", "70100")  # the take profit fills; the stop expires with it

    body = trader_client.get(ORDERS, **HX).content.decode()
    legs = legs_of(oco)
    assert table_lines(body) == [
        ("list", oco.pk, "OCO", "ALL_DONE"),
        ("leg", legs["above"].pk, oco.pk, "above", "Filled"),
        ("leg", legs["below"].pk, oco.pk, "below", "Expired"),
    ]
    assert f'id="cancel-list-{oco.pk}"' not in body
    assert table_lines(trader_client.get(ORDERS, {"show": "open"}, **HX).content.decode()) == []


def test_paging_counts_a_list_as_one_line_and_keeps_its_legs_together(trader_client, account, market):
    singles = [place_single(account, price=str(50000 + i)) for i in range(19)]
    oco = place_oco(account)
    older = place_single(account, price="49000")
    PaperOrder.objects.filter(pk=older.pk).update(created_at=singles[0].created_at.replace(year=2020))

    first = trader_client.get(ORDERS, **HX).content.decode()
    lines = table_lines(first)
    assert lines[0] == ("list", oco.pk, "OCO", "EXECUTING") and [line[0] for line in lines[1:3]] == ["leg", "leg"]
    assert [line[1] for line in lines[3:]] == [o.pk for o in reversed(singles)]
    assert len([line for line in lines if line[0] != "leg"]) == 20 and "Page 1 of 2" in first
    second = trader_client.get(ORDERS, {"page": "2"}, **HX).content.decode()
    assert table_lines(second) == [("order", older.pk, "Pending")]


def test_sorting_places_a_list_by_its_legs_and_keeps_them_beneath_it(trader_client, account, market):
    first = place_single(account)
    oco = place_oco(account, quantity="0.02")  # both legs: the largest quantity
    last = place_single(account)

    singles = [("order", last.pk), ("order", first.pk)]  # equal quantities: the newer first
    for sort, expected in (("quantity", [*singles, ("list", oco.pk)]), ("-quantity", [("list", oco.pk), *singles])):
        lines = table_lines(trader_client.get(ORDERS, {"sort": sort}, **HX).content.decode())
        assert [line[:2] for line in lines if line[0] != "leg"] == expected
        position = lines.index(("list", oco.pk, "OCO", "EXECUTING"))
        assert [line[:3] for line in lines[position + 1 : position + 3]] == [
            ("leg", leg.pk, oco.pk) for leg in (legs_of(oco)["above"], legs_of(oco)["below"])
        ]


# --- cancelling a list ---------------------------------------------------------------------------------------------


def cancel_list_url(order_list) -> str:
    return reverse("papertrading:cancel_list", args=[order_list.pk])


def test_the_lists_cancel_cancels_every_leg_and_answers_the_table(trader_client, account, market):
    bracket = place_bracket(account)

    response = trader_client.post(cancel_list_url(bracket) + "?show=open&sort=symbol", **HX)

    assert response.status_code == 200
    bracket.refresh_from_db()
    assert (bracket.list_status_type, bracket.list_order_status) == ("ALL_DONE", "ALL_DONE")
    assert {leg.status for leg in bracket.orders.all()} == {"CANCELLED"}
    assert {e.source for leg in bracket.orders.all() for e in leg.events.filter(to_status="CANCELLED")} == {"page"}
    assert balance(account, "USDT") == (Decimal("100000"), Decimal("0"))
    assert notices(response)[0] == {
        "level": "success",
        "message": f"OTOCO list #{bracket.pk} cancelled, with its legs.",
    }
    assert "account-changed" in client_events(response)
    body = response.content.decode()
    assert table_lines(body) == []  # the table keeps its "open" filter: nothing is open now
    assert 'hx-get="/paper-trading/orders/?show=open&amp;sort=symbol&amp;since=' in body


def test_the_lists_cancel_without_htmx_redirects_back_keeping_the_table_state(trader_client, account, market):
    oco = place_oco(account)

    response = trader_client.post(cancel_list_url(oco) + "?show=open")

    assert response.status_code == 302 and response.url == DESK + "?show=open"
    assert set(oco.orders.values_list("status", flat=True)) == {"CANCELLED"}
    assert balance(account, "BTC") == (Decimal("1"), Decimal("0"))


def test_cancelling_a_finished_list_warns_and_changes_nothing(trader_client, account, market):
    oco = place_oco(account)
    services.cancel_order_list(account=account, list_id=oco.pk)

    response = trader_client.post(cancel_list_url(oco), **HX)

    assert response.status_code == 200 and notices(response)[0]["level"] == "warning"
    assert not PaperOrder.objects.filter(order_list=oco, events__source="page").exists()


def test_cancelling_another_accounts_list_is_a_404_and_leaves_it_working(trader_client, rival_account, market):
    theirs = place_oco(rival_account)

    for headers in ({}, HX):
        assert trader_client.post(cancel_list_url(theirs), **headers).status_code == 404

    theirs.refresh_from_db()
    assert theirs.list_order_status == "EXECUTING"
    assert set(theirs.orders.values_list("status", flat=True)) == {"PENDING"}
    assert balance(rival_account, "BTC") == (Decimal("0.99"), Decimal("0.01"))


def test_a_read_only_user_sees_lists_but_may_not_cancel_them(page_viewer, viewer, market):
    own = place_oco(services.default_account_for(viewer))  # placed by an agent with the account's key, say

    body = page_viewer.get(ORDERS, **HX).content.decode()
    assert ("list", own.pk, "OCO", "EXECUTING") in table_lines(body) and "Cancel</button>" not in body
    for headers in ({}, HX):
        assert page_viewer.post(cancel_list_url(own), **headers).status_code == 403
    assert set(own.orders.values_list("status", flat=True)) == {"PENDING"}
