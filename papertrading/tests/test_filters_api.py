"""MARKET_LOT_SIZE, PERCENT_PRICE_BY_SIDE and the LIMIT notional through the API: 400 on the field, nothing left."""

from decimal import Decimal

import pytest

from papertrading.models import OrderEvent, PaperOrder, SimulatedBalance
from papertrading.tests.support import LIMIT_BUY, MARKET_BUY, ORDERS_URL, balances

STARTING = {
    "BTC": (Decimal("1"), Decimal("0")),
    "ETH": (Decimal("10"), Decimal("0")),
    "USDT": (Decimal("100000"), Decimal("0")),
}
BELOW = "Filter failure: PERCENT_PRICE_BY_SIDE. A {side} price must be at least 13600 (0.2 × the market price 68000)."
ABOVE = "Filter failure: PERCENT_PRICE_BY_SIDE. A {side} price must be at most 340000 (5 × the market price 68000)."


def assert_refused(response, account, field: str, message: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json() == {field: [message]}
    assert PaperOrder.objects.count() == 0
    assert OrderEvent.objects.count() == 0
    assert balances(account) == STARTING


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {**MARKET_BUY, "quantity": "120.50001"},
            "Filter failure: MARKET_LOT_SIZE. Maximum quantity of a MARKET order is 120.5.",
            id="market-buy",
        ),
        pytest.param(
            {**MARKET_BUY, "side": "SELL", "quantity": "121"},
            "Filter failure: MARKET_LOT_SIZE. Maximum quantity of a MARKET order is 120.5.",
            id="market-sell",
        ),
    ],
)
@pytest.mark.django_db
def test_market_order_above_market_lot_size_is_refused_on_quantity(api, market, account, body, message):
    assert_refused(api.post(ORDERS_URL, body, format="json"), account, "quantity", message)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {**LIMIT_BUY, "price": "340000.01"},
            ABOVE.format(side="BUY"),
            id="buy-above",
        ),
        pytest.param(
            {**LIMIT_BUY, "price": "13599.99"},
            BELOW.format(side="BUY"),
            id="buy-below",
        ),
        pytest.param(
            {**LIMIT_BUY, "side": "SELL", "price": "340000.01"},
            ABOVE.format(side="SELL"),
            id="sell-above",
        ),
        pytest.param(
            {**LIMIT_BUY, "side": "SELL", "price": "13599.99"},
            BELOW.format(side="SELL"),
            id="sell-below",
        ),
    ],
)
@pytest.mark.django_db
def test_limit_price_too_far_from_the_market_is_refused_on_price(api, market, account, body, message):
    assert_refused(api.post(ORDERS_URL, body, format="json"), account, "price", message)


@pytest.mark.django_db
def test_limit_price_at_the_percent_price_bound_is_accepted_one_tick_past_it_refused(api, market, account):
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "price": "13599.99"}, format="json")
    assert_refused(
        response,
        account,
        "price",
        BELOW.format(side="BUY"),
    )
    # 13600 is exactly 0.2 × 68000: the GTC BUY rests and locks its quote.
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "price": "13600"}, format="json")
    assert response.status_code == 201, response.json()
    assert PaperOrder.objects.get().status == PaperOrder.Status.PENDING
    assert SimulatedBalance.objects.get(account=account, asset="USDT").locked == Decimal("136")


@pytest.mark.django_db
def test_limit_notional_above_the_maximum_is_refused_at_the_limit_price(api, market, account):
    market.set("BTCUSDT", "900000")
    # 10 × 900000.01 = 9000000.1 USDT, over maxNotional 9000000: a LIMIT meets it even though applyMaxToMarket
    # is false (that flag is for MARKET orders).
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "quantity": "10", "price": "900000.01"}, format="json")
    assert_refused(
        response,
        account,
        "quantity",
        "Filter failure: NOTIONAL. Order value 9000000.1 is above the maximum 9000000 USDT.",
    )
    # And the minimum at the LIMIT's own price: 0.0001 × 49999.99 is below 5 USDT, though 0.0001 BTC is worth
    # more than 5 USDT at the market.
    market.set("BTCUSDT", "68000")
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "quantity": "0.0001", "price": "49999.99"}, format="json")
    assert_refused(
        response, account, "quantity", "Filter failure: NOTIONAL. Order value 4.999999 is below the minimum 5 USDT."
    )


# --- MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS: the simulator counts the working orders on the symbol ----------------
STOP_SELL = {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "0.01", "stop_price": "60000"}


def limited(**fields) -> None:
    from papertrading.models import SymbolRule

    SymbolRule.objects.filter(symbol="BTCUSDT").update(**fields)
    SymbolRule.objects.get(symbol="BTCUSDT").save()  # clears the in-process rule cache


def test_max_num_orders_lets_the_last_resting_order_in_and_refuses_the_next(api, market, account):
    limited(max_num_orders=3)
    for price in ("67000", "66900", "66800"):
        assert api.post(ORDERS_URL, {**LIMIT_BUY, "price": price}, format="json").status_code == 201
    before = balances(account)

    response = api.post(ORDERS_URL, {**LIMIT_BUY, "price": "66700"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "symbol": ["Filter failure: MAX_NUM_ORDERS. At most 3 open orders on BTCUSDT; cancel one first."]
    }
    assert PaperOrder.objects.count() == 3 and balances(account) == before
    # An order that would not rest is not an open order: a MARKET still fills, and another symbol is not counted.
    assert api.post(ORDERS_URL, MARKET_BUY, format="json").json()["status"] == "FILLED"
    eth = {**LIMIT_BUY, "symbol": "ETHUSDT", "price": "3000", "quantity": "0.1"}
    assert api.post(ORDERS_URL, eth, format="json").status_code == 201
    # Cancelling one makes room again.
    api.delete(f"{ORDERS_URL}/{PaperOrder.objects.filter(symbol='BTCUSDT', status='PENDING').first().pk}")
    assert api.post(ORDERS_URL, {**LIMIT_BUY, "price": "66700"}, format="json").status_code == 201


def test_max_num_algo_orders_counts_only_stops(api, market, account):
    limited(max_num_algo_orders=2)
    for stop in ("60000", "59000"):
        assert api.post(ORDERS_URL, {**STOP_SELL, "stop_price": stop}, format="json").status_code == 201
    assert api.post(ORDERS_URL, LIMIT_BUY, format="json").status_code == 201  # a limit is not an algo order

    response = api.post(ORDERS_URL, {**STOP_SELL, "stop_price": "58000"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "symbol": [
            "Filter failure: MAX_NUM_ALGO_ORDERS. At most 2 open STOP_LOSS and TAKE_PROFIT orders on BTCUSDT; "
            "cancel one first."
        ]
    }
    assert PaperOrder.objects.filter(order_type="STOP_LOSS").count() == 2


def test_max_num_orders_counts_only_the_accounts_own_orders(api, rival_api, market, account, rival_account):
    limited(max_num_orders=2)
    for price in ("67000", "66900"):
        assert rival_api.post(ORDERS_URL, {**LIMIT_BUY, "price": price}, format="json").status_code == 201
    assert rival_api.post(ORDERS_URL, {**LIMIT_BUY, "price": "66800"}, format="json").status_code == 400

    # The rival's two working orders leave the trader's own limit untouched.
    for price in ("67000", "66900"):
        assert api.post(ORDERS_URL, {**LIMIT_BUY, "price": price}, format="json").status_code == 201
    assert api.post(ORDERS_URL, {**LIMIT_BUY, "price": "66800"}, format="json").status_code == 400
    assert account.orders.filter(status="PENDING").count() == 2
    assert rival_account.orders.filter(status="PENDING").count() == 2
