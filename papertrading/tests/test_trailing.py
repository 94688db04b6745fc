"""Trailing stops (Binance's trailingDelta, in basis points) on the four stop types, in both venues.

The simulator tracks the best price since tracking started (at placement without a stop price, else once the stop
is reached) and triggers when the market moves the delta back. BTCUSDT ticks 0.01; its TRAILING_DELTA filter takes
10 to 2000 basis points on both sides. Market 68000; slippage 0.05 % against the taker; fee 0.1 %.
"""

import re
from decimal import Decimal as D

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st

from conftest import page_client_for
from papertrading.balances import check_balances
from papertrading.descriptions import describe_order
from papertrading.errors import OrderValidationError
from papertrading.models import PaperOrder, SymbolRule
from papertrading.services import cancel_order
from papertrading.tests.support import ORDERS_URL
from papertrading.tests.test_limit_maker import open_testnet_desk
from papertrading.tests.test_properties import PROPERTY_SETTINGS, Rollback, grid_price
from papertrading.tests.test_simulator import balance, place, reread
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    exchange_fixture,
    testnet_fixture,
)
from papertrading.tests.test_testnet_venue import place as post_order
from papertrading.validation import trailing_trigger
from papertrading.venues.testnet.answers import external_order_fields

pytestmark = pytest.mark.django_db
Status = PaperOrder.Status
ORDER_FORM = reverse("papertrading:order_form")
HX = {"HTTP_HX_REQUEST": "true"}


def set_rule(**fields) -> None:
    """Change BTCUSDT's filters (saved, so the cached rule is forgotten)."""
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.save()


def notes(order: PaperOrder) -> list[str]:
    return [event.detail for event in order.events.order_by("id")]


# --- validation ----------------------------------------------------------------------------------------------


def test_shipped_symbols_carry_the_trailing_delta_filter(db):
    rule = SymbolRule.objects.get(symbol="BTCUSDT")

    assert rule.trailing_allowed is True
    assert (rule.min_trailing_above_delta, rule.max_trailing_above_delta) == (10, 2000)
    assert (rule.min_trailing_below_delta, rule.max_trailing_below_delta) == (10, 2000)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        pytest.param(
            {"order_type": "LIMIT", "price": "60000", "time_in_force": "GTC", "trailing_delta": 100},
            "Only a STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT or TAKE_PROFIT_LIMIT order can trail.",
            id="limit",
        ),
        pytest.param(
            {"order_type": "STOP_LOSS", "side": "SELL", "trailing_delta": 5},
            "Filter failure: TRAILING_DELTA. For a STOP_LOSS SELL it must be between 10 and 2000 basis points.",
            id="below-the-minimum",
        ),
        pytest.param(
            {"order_type": "TAKE_PROFIT", "side": "SELL", "trailing_delta": 2001},
            "Filter failure: TRAILING_DELTA. For a TAKE_PROFIT SELL it must be between 10 and 2000 basis points.",
            id="above-the-maximum",
        ),
        pytest.param({"order_type": "STOP_LOSS", "trailing_delta": 0}, "Must be greater than zero.", id="zero"),
        pytest.param(
            {"order_type": "STOP_LOSS", "trailing_delta": 10000}, "Must be below 10000 basis points (100 %).", id="all"
        ),
    ],
)
def test_trailing_delta_binance_would_refuse_is_a_400_on_its_field(api, market, account, terms, message):
    body = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01", **terms}

    response = api.post(ORDERS_URL, body, format="json")

    assert response.status_code == 400
    assert message in response.json()["trailing_delta"]
    assert not PaperOrder.objects.exists()
    assert balance(account, "BTC") == (D("1"), D("0"))


def test_the_above_and_below_bounds_apply_to_their_own_stops(account, market):
    set_rule(max_trailing_above_delta=50)

    sell = place(account, side="SELL", order_type="STOP_LOSS", quantity="0.01", trailing_delta=100)  # below
    with pytest.raises(OrderValidationError) as refused:
        place(account, side="BUY", order_type="STOP_LOSS", quantity="0.01", trailing_delta=100)  # above

    assert sell.status == Status.PENDING
    assert refused.value.errors == {
        "trailing_delta": [
            "Filter failure: TRAILING_DELTA. For a STOP_LOSS BUY it must be between 10 and 50 basis points."
        ]
    }


def test_a_symbol_without_trailing_stops_refuses_them(account, market):
    set_rule(trailing_allowed=False)

    with pytest.raises(OrderValidationError) as refused:
        place(account, side="SELL", order_type="STOP_LOSS", quantity="0.01", trailing_delta=100)

    assert refused.value.errors == {"trailing_delta": ["Trailing stops are not supported for BTCUSDT."]}


def test_a_stop_needs_a_stop_price_or_a_trailing_delta(api, market):
    response = api.post(ORDERS_URL, {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS",
                                     "quantity": "0.01"}, format="json")  # fmt: skip

    assert response.status_code == 400
    assert response.json() == {"stop_price": ["A STOP_LOSS order needs a stop price."]}


def test_repeating_a_client_order_id_with_another_trailing_delta_is_a_duplicate(api, market):
    body = {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "0.01",
            "trailing_delta": 100, "client_order_id": "trail-1"}  # fmt: skip
    assert api.post(ORDERS_URL, body, format="json").status_code == 201

    assert api.post(ORDERS_URL, body, format="json").status_code == 200
    assert api.post(ORDERS_URL, {**body, "trailing_delta": 200}, format="json").status_code == 409
    assert PaperOrder.objects.count() == 1


# --- the simulator -----------------------------------------------------------------------------------------------


def test_trailing_sell_without_stop_price_tracks_from_placement_and_fills_after_the_delta_back(api, account, market):
    response = api.post(ORDERS_URL, {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS",
                                     "quantity": "0.1", "trailing_delta": 100}, format="json")  # fmt: skip

    assert response.status_code == 201, response.content
    shown = response.json()
    assert (shown["status"], shown["trailing_delta"], shown["stop_price"]) == ("PENDING", 100, None)
    assert (shown["trailing_price"], shown["trailing_stop_price"]) == ("68000.00000000", "67320.00000000")  # 1 % down
    assert shown["trailing_started_at"] is not None
    order = PaperOrder.objects.get()
    assert balance(account, "BTC") == (D("0.9"), D("0.1"))

    market.move("BTCUSDT", "69000")  # a new high: the trigger follows it up
    assert (reread(order).trailing_price, reread(order).trailing_stop_price) == (D("69000"), D("68310"))
    market.move("BTCUSDT", "68400")  # down 0.87 %: not yet
    assert reread(order).status == Status.PENDING and reread(order).trigger_price == D("68310")
    market.move("BTCUSDT", "68310")  # down 1 % from the high

    order = reread(order)
    assert order.status == Status.FILLED
    assert order.fills.get().price == D("68275.84")  # 68310 × 0.9995, snapped down against the seller
    assert balance(account, "BTC") == (D("0.9"), D("0"))
    assert check_balances() == []


def test_trailing_stop_limit_with_a_stop_price_waits_for_it_then_tracks(account, market):
    order = place(account, side="SELL", order_type="STOP_LOSS_LIMIT", time_in_force="GTC", quantity="0.1",
                  stop_price="67000", price="66000", trailing_delta=100)  # fmt: skip
    assert order.trailing_started_at is None and order.trailing_stop_price is None

    market.move("BTCUSDT", "67500")  # the stop is not reached: no tracking, whatever the moves
    market.move("BTCUSDT", "69000")
    assert reread(order).trailing_price is None
    market.move("BTCUSDT", "66900")  # the stop is reached: tracking starts from here

    order = reread(order)
    assert order.status == Status.PENDING and order.stop_triggered_at is None
    assert (order.trailing_price, order.trailing_stop_price) == (D("66900"), D("66231"))
    assert notes(order)[-1] == "Stop price reached at 66900. Trailing 100 bps from 66900: triggers at 66231."
    market.move("BTCUSDT", "67100")
    assert reread(order).trailing_stop_price == D("66429")
    market.move("BTCUSDT", "66500")
    assert reread(order).status == Status.PENDING
    market.move("BTCUSDT", "66429")  # 1 % back from 67100: its limit (66000) goes to work and crosses

    order = reread(order)
    assert order.status == Status.FILLED
    assert order.fills.get().price == D("66395.78")  # 66429 × 0.9995, never below its limit
    assert check_balances() == []


def test_trailing_buy_stop_holds_what_it_would_pay_and_frees_it_as_the_low_falls(account, market):
    order = place(account, side="BUY", order_type="STOP_LOSS", quantity="0.1", trailing_delta=200)

    assert reread(order).trailing_stop_price == D("69360")  # 2 % above 68000
    assert balance(account, "USDT") == (D("93064"), D("6936"))
    market.move("BTCUSDT", "67000")  # a new low: the trigger falls to 68340, and so does what it holds
    assert reread(order).locked_amount == D("6834")
    assert balance(account, "USDT") == (D("93166"), D("6834"))
    assert check_balances() == []

    market.move("BTCUSDT", "68340")

    order = reread(order)
    assert order.status == Status.FILLED
    assert order.fills.get().price == D("68374.17")  # 68340 × 1.0005, snapped up against the buyer
    assert balance(account, "USDT") == (D("93162.583"), D("0"))
    assert check_balances() == []


def test_trailing_buy_stop_with_a_stop_price_holds_more_when_tracking_starts_above_it(account, market):
    order = place(account, side="BUY", order_type="STOP_LOSS", quantity="0.1", stop_price="69000", trailing_delta=100)
    assert balance(account, "USDT") == (D("93031"), D("6969"))  # at 69690: 1 % above its stop price

    market.move("BTCUSDT", "69500")  # past the stop: tracking from 69500 triggers at 70195

    assert reread(order).locked_amount == D("7019.5")
    assert balance(account, "USDT") == (D("92980.5"), D("7019.5"))
    cancel_order(account=account, order_id=order.pk)
    assert balance(account, "USDT") == (D("100000"), D("0"))
    assert check_balances() == []


def test_trailing_buy_stop_that_cannot_hold_its_trigger_expires(account, market):
    order = place(account, side="BUY", order_type="STOP_LOSS", quantity="1.43", stop_price="69000", trailing_delta=100)
    assert balance(account, "USDT")[1] == D("99656.7")  # 1.43 × 69690

    market.move("BTCUSDT", "69500")  # it would need 1.43 × 70195 = 100378.85: more than the account has

    order = reread(order)
    assert order.status == Status.EXPIRED and order.reject_code == -2010
    assert balance(account, "USDT") == (D("100000"), D("0"))
    assert check_balances() == []


# --- the desk form ---------------------------------------------------------------------------------------------


def test_desk_form_offers_an_optional_trailing_delta_for_stops_and_places_it(trader, market):
    client = page_client_for(trader)
    stop_form = client.get(ORDER_FORM, {"order_type": "STOP_LOSS_LIMIT"}, **HX).content.decode()
    limit_form = client.get(ORDER_FORM, {"order_type": "LIMIT"}, **HX).content.decode()
    assert 'name="trailing_delta"' in stop_form
    assert not re.search(r'name="trailing_delta"[^>]*required', stop_form)  # shown, never required
    assert 'name="trailing_delta"' not in limit_form

    body = {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "0.01",
            "trailing_delta": "150"}  # fmt: skip
    assert client.post(ORDER_FORM, body, **HX).status_code == 200
    # A delta typed before switching to LIMIT is dropped with the type's other fields.
    limit_body = {**body, "order_type": "LIMIT", "side": "BUY", "price": "60000", "time_in_force": "GTC"}
    assert client.post(ORDER_FORM, limit_body, **HX).status_code == 200

    stop, limit = PaperOrder.objects.order_by("id")
    assert (stop.order_type, stop.trailing_delta, stop.stop_price) == ("STOP_LOSS", 150, None)
    assert describe_order(stop) == f"#{stop.pk} SELL 0.01 BTCUSDT Stop loss trailing 150 bps"
    assert (limit.order_type, limit.trailing_delta) == ("LIMIT", None)
    # The orders table shows the delta and, while the stop tracks the market, the price it triggers at now.
    row = re.search(rf'<tr id="order-{stop.pk}".*?</tr>', client.get("/paper-trading/").content.decode(), re.S)
    assert "trailing 150 bps" in row.group(0)
    assert stop.trailing_stop_price == D("66980")  # 150 bps under the 68000 market
    assert re.search(r"trigger 66,?980", row.group(0))


# --- the testnet ---------------------------------------------------------------------------------------------------


def test_testnet_trailing_stop_is_sent_with_trailing_delta_and_no_stop_price(api, exchange, trader):
    open_testnet_desk(trader)

    response = post_order(api, {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS_LIMIT",
                                "time_in_force": "GTC", "quantity": "0.001", "price": "60000",
                                "trailing_delta": 250})  # fmt: skip

    assert response.status_code == 201, response.content
    [sent] = exchange.posts()
    assert (sent["type"], sent["trailingDelta"], sent["price"]) == ("STOP_LOSS_LIMIT", "250", "60000")
    assert "stopPrice" not in sent
    order = PaperOrder.objects.get()
    assert (order.trailing_delta, order.trailing_stop_price) == (250, None)  # the exchange tracks it


def test_an_order_found_on_the_exchange_keeps_its_trailing_delta_and_no_zero_stop_price():
    entry = {
        "orderId": 9,
        "symbol": "BTCUSDT",
        "type": "STOP_LOSS",
        "side": "SELL",
        "origQty": "0.01000000",
        "stopPrice": "0.00000000",
        "trailingDelta": 300,
        "clientOrderId": "elsewhere",
    }

    fields = external_order_fields("BTCUSDT", entry)

    assert (fields["order_type"], fields["stop_price"], fields["trailing_delta"]) == ("STOP_LOSS", None, 300)


def test_testnet_trailing_buy_stop_reserves_the_delta_above_its_stop_price(api, exchange, trader):
    open_testnet_desk(trader)

    response = post_order(api, {"symbol": "BTCUSDT", "side": "BUY", "order_type": "STOP_LOSS",
                                "quantity": "0.001", "stop_price": "70000", "trailing_delta": 100})  # fmt: skip

    assert response.status_code == 201, response.content
    [sent] = exchange.posts()
    assert (sent["stopPrice"], sent["trailingDelta"]) == ("70000", "100")
    assert PaperOrder.objects.get().locked_amount == D("70.7")  # 0.001 × 70700


# --- a property ------------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    side=st.sampled_from(["BUY", "SELL"]),
    delta=st.integers(min_value=10, max_value=500),
    path=st.lists(st.integers(min_value=-300, max_value=300), min_size=1, max_size=25),
)
def test_a_trailing_stop_follows_the_best_price_and_fills_at_the_first_move_the_delta_back(
    account, market, side, delta, path
):
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    try:
        with transaction.atomic():
            price = best = market.set("BTCUSDT", "68000")
            order = place(account, side=side, order_type="STOP_LOSS", quantity="0.01", trailing_delta=delta)
            for bps in path:
                trigger = trailing_trigger(side=side, trailing_delta=delta, best_price=best, tick_size=rule.tick_size)
                price = grid_price(rule, price, bps)
                market.move("BTCUSDT", price)
                order = reread(order)
                if price <= trigger if side == "SELL" else price >= trigger:
                    event("filled")
                    assert order.status == Status.FILLED
                    break
                best = max(best, price) if side == "SELL" else min(best, price)
                assert order.status == Status.PENDING
                assert order.trailing_price == best
                assert order.trailing_stop_price == trailing_trigger(
                    side=side, trailing_delta=delta, best_price=best, tick_size=rule.tick_size
                )
            assert check_balances() == []
            raise Rollback
    except Rollback:
        pass
