"""validate_order, alone and through the API: every refusal names its field and leaves nothing behind."""

from decimal import Decimal

import pytest

from papertrading.errors import OrderValidationError
from papertrading.models import MarketPrice, OrderEvent, PaperOrder, SymbolRule
from papertrading.services import place_order
from papertrading.tests.support import LIMIT_BUY, MARKET_BUY, ORDERS_URL, balances
from papertrading.validation import fires_at_or_below, validate_client_order_id, validate_order

STARTING = {
    "BTC": (Decimal("1"), Decimal("0")),
    "ETH": (Decimal("10"), Decimal("0")),
    "USDT": (Decimal("100000"), Decimal("0")),
}


def order_of(**overrides) -> dict:
    """validate_order's arguments for a GTC LIMIT BUY of 0.01 BTCUSDT at 67000, market 68000, with these overrides."""
    kwargs = dict(
        rule=SymbolRule.objects.get(symbol="BTCUSDT"),
        side="BUY",
        order_type="LIMIT",
        quantity=Decimal("0.01"),
        price=Decimal("67000"),
        stop_price=None,
        time_in_force="GTC",
        market_price=Decimal("68000"),
    )
    return {**kwargs, **overrides}


def errors_of(**overrides) -> dict[str, list[str]]:
    """The field errors validate_order raises for a BTCUSDT order at market 68000 with these overrides."""
    with pytest.raises(OrderValidationError) as caught:
        validate_order(**order_of(**overrides))
    return caught.value.errors


# --- validate_order, unit level --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_valid_limit_order_passes():
    assert validate_order(**order_of(price=Decimal("67000.01"))) is None


@pytest.mark.django_db
def test_unknown_symbol_is_the_only_error_reported_when_rule_is_missing():
    assert errors_of(rule=None) == {"symbol": ["Invalid symbol."]}


@pytest.mark.django_db
def test_symbol_not_trading_is_refused():
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    rule.status = "BREAK"
    assert errors_of(rule=rule) == {"symbol": ["Market is closed (BREAK)."]}


@pytest.mark.django_db
def test_every_failing_field_is_reported_at_once():
    errors = errors_of(side="HOLD", order_type="LIMIT", quantity=Decimal("0"), price=None, time_in_force="")
    assert set(errors) == {"side", "quantity", "price", "time_in_force"}
    assert errors["quantity"] == ["Must be greater than zero."]
    assert errors["price"] == ["A LIMIT order needs a price."]


@pytest.mark.django_db
def test_quantity_off_step_grid_names_the_step():
    assert errors_of(quantity=Decimal("0.000015")) == {
        "quantity": ["Filter failure: LOT_SIZE. Quantity must be a multiple of 0.00001."]
    }


@pytest.mark.django_db
def test_price_off_tick_names_the_tick():
    assert errors_of(price=Decimal("67000.005")) == {
        "price": ["Filter failure: PRICE_FILTER. Price must be a multiple of 0.01."]
    }


@pytest.mark.django_db
def test_stop_price_off_tick_is_refused_under_stop_price():
    errors = errors_of(order_type="STOP_LOSS", side="SELL", price=None, time_in_force="", stop_price=Decimal("1.001"))
    assert errors == {"stop_price": ["Filter failure: PRICE_FILTER. Price must be a multiple of 0.01."]}


@pytest.mark.django_db
def test_notional_below_minimum_is_refused_under_quantity():
    # 0.00007 BTC at 67000 is 4.69 USDT, below the 5 USDT minimum.
    assert errors_of(quantity=Decimal("0.00007")) == {
        "quantity": ["Filter failure: NOTIONAL. Order value 4.69 is below the minimum 5 USDT."]
    }


@pytest.mark.django_db
def test_market_order_notional_uses_the_market_price():
    errors = errors_of(order_type="MARKET", price=None, time_in_force="", quantity=Decimal("0.00007"))
    assert errors == {"quantity": ["Filter failure: NOTIONAL. Order value 4.76 is below the minimum 5 USDT."]}


@pytest.mark.django_db
def test_market_order_without_known_price_is_refused():
    errors = errors_of(order_type="MARKET", price=None, time_in_force="", market_price=None)
    assert errors == {"symbol": ["No market price for BTCUSDT yet; try again in a moment."]}


@pytest.mark.django_db
def test_quantity_below_lot_minimum_and_above_maximum_are_refused():
    assert "Filter failure: LOT_SIZE. Maximum quantity is 9000." in errors_of(quantity=Decimal("9000.1"))["quantity"]
    rule = SymbolRule.objects.get(symbol="XRPUSDT")
    assert errors_of(rule=rule, quantity=Decimal("0.05"), price=Decimal("0.5"))["quantity"][0] == (
        "Filter failure: LOT_SIZE. Minimum quantity is 0.1."
    )


@pytest.mark.django_db
def test_order_type_the_symbol_does_not_offer_is_refused():
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    rule.order_types = ["LIMIT", "MARKET"]
    errors = errors_of(
        rule=rule, order_type="STOP_LOSS", side="SELL", price=None, time_in_force="", stop_price=Decimal("60000")
    )
    assert errors == {"order_type": ["STOP_LOSS orders are not supported for BTCUSDT."]}


# --- filters beyond LOT_SIZE / PRICE_FILTER: exactly at the limit passes, one step or tick over fails ----------

MARKET = {"order_type": "MARKET", "price": None, "time_in_force": ""}
STOP = {"order_type": "STOP_LOSS", "side": "SELL", "price": None, "time_in_force": "", "stop_price": Decimal("60000")}


@pytest.mark.django_db
def test_shipped_rules_carry_the_new_filters():
    # Loaded by the migrations into a fresh database, as on a new install.
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    assert (rule.market_min_quantity, rule.market_max_quantity, rule.market_step_size) == (0, Decimal("120.5"), 0)
    assert (rule.bid_multiplier_down, rule.bid_multiplier_up) == (Decimal("0.2"), Decimal("5"))
    assert (rule.ask_multiplier_down, rule.ask_multiplier_up) == (Decimal("0.2"), Decimal("5"))
    assert (rule.max_num_orders, rule.max_num_algo_orders) == (200, 5)
    assert rule.apply_min_notional_to_market is True
    assert rule.apply_max_notional_to_market is False
    assert SymbolRule.objects.get(symbol="ETHUSDT").market_max_quantity == Decimal("2400")


@pytest.mark.django_db
def test_market_quantity_is_capped_by_market_lot_size_not_by_lot_size():
    # BTCUSDT: LOT_SIZE allows 9000, MARKET_LOT_SIZE 120.5 (its minQty and stepSize are "0": off).
    assert validate_order(**order_of(**MARKET, quantity=Decimal("120.5"))) is None
    assert errors_of(**MARKET, quantity=Decimal("120.50001")) == {
        "quantity": ["Filter failure: MARKET_LOT_SIZE. Maximum quantity of a MARKET order is 120.5."]
    }
    # A LIMIT (and a stop) of the same size is held to LOT_SIZE only.
    assert validate_order(**order_of(quantity=Decimal("120.50001"), price=Decimal("67000"))) is None
    assert validate_order(**order_of(**STOP, quantity=Decimal("120.50001"))) is None


@pytest.mark.django_db
def test_market_lot_size_minimum_and_step_apply_when_set():
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    rule.market_min_quantity = Decimal("0.002")
    rule.market_step_size = Decimal("0.001")
    assert validate_order(**order_of(**MARKET, rule=rule, quantity=Decimal("0.002"))) is None
    assert errors_of(**MARKET, rule=rule, quantity=Decimal("0.001")) == {
        "quantity": ["Filter failure: MARKET_LOT_SIZE. Minimum quantity of a MARKET order is 0.002."]
    }
    assert errors_of(**MARKET, rule=rule, quantity=Decimal("0.00201")) == {
        "quantity": ["Filter failure: MARKET_LOT_SIZE. Quantity of a MARKET order must be a multiple of 0.001."]
    }


@pytest.mark.django_db
def test_buy_price_must_stay_within_the_bid_multipliers_of_the_market():
    # Market 68000, bidMultiplierDown 0.2 and bidMultiplierUp 5: a BUY price in [13600, 340000].
    assert validate_order(**order_of(price=Decimal("340000"))) is None
    assert validate_order(**order_of(price=Decimal("13600"))) is None
    assert errors_of(price=Decimal("340000.01")) == {
        "price": [
            "Filter failure: PERCENT_PRICE_BY_SIDE. A BUY price must be at most 340000 (5 × the market price 68000)."
        ]
    }
    assert errors_of(price=Decimal("13599.99")) == {
        "price": [
            "Filter failure: PERCENT_PRICE_BY_SIDE. A BUY price must be at least 13600 (0.2 × the market price 68000)."
        ]
    }


@pytest.mark.django_db
def test_sell_price_is_bounded_by_the_ask_multipliers_not_the_bid_ones():
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    rule.ask_multiplier_up, rule.ask_multiplier_down = Decimal("1.5"), Decimal("0.8")
    sell = {"rule": rule, "side": "SELL"}
    assert validate_order(**order_of(**sell, price=Decimal("102000"))) is None
    assert validate_order(**order_of(**sell, price=Decimal("54400"))) is None
    assert errors_of(**sell, price=Decimal("102000.01"))["price"] == [
        "Filter failure: PERCENT_PRICE_BY_SIDE. A SELL price must be at most 102000 (1.5 × the market price 68000)."
    ]
    assert errors_of(**sell, price=Decimal("54399.99"))["price"] == [
        "Filter failure: PERCENT_PRICE_BY_SIDE. A SELL price must be at least 54400 (0.8 × the market price 68000)."
    ]
    # A BUY at the same price answers to the bid multipliers (5 and 0.2), which it meets.
    assert validate_order(**order_of(rule=rule, price=Decimal("102000.01"))) is None


@pytest.mark.django_db
def test_percent_price_by_side_bounds_the_price_not_the_stop_price():
    # PRICE_FILTER covers price and stopPrice; PERCENT_PRICE_BY_SIDE only price. A stop BUY far above the market:
    stop_buy = {**STOP, "side": "BUY", "stop_price": Decimal("400000")}
    assert validate_order(**order_of(**stop_buy)) is None
    assert errors_of(price=Decimal("400000"))["price"][0].startswith("Filter failure: PERCENT_PRICE_BY_SIDE.")


@pytest.mark.django_db
def test_open_orders_on_the_symbol_are_capped_by_max_num_orders():
    message = "Filter failure: MAX_NUM_ORDERS. At most 200 open orders on BTCUSDT; cancel one first."
    assert validate_order(**order_of(open_orders=199)) is None
    assert validate_order(**order_of(open_orders=None)) is None  # not counted: not checked
    assert errors_of(open_orders=200) == {"symbol": [message]}
    # Stops count too (normal and algo orders together), and so does a MARKET order.
    assert errors_of(**STOP, open_orders=200, open_algo_orders=0) == {"symbol": [message]}
    assert errors_of(**MARKET, open_orders=200) == {"symbol": [message]}


@pytest.mark.django_db
def test_open_stops_on_the_symbol_are_capped_by_max_num_algo_orders():
    message = (
        "Filter failure: MAX_NUM_ALGO_ORDERS. At most 5 open STOP_LOSS and TAKE_PROFIT orders on BTCUSDT; "
        "cancel one first."
    )
    assert validate_order(**order_of(**STOP, open_orders=4, open_algo_orders=4)) is None
    assert errors_of(**STOP, open_orders=5, open_algo_orders=5) == {"symbol": [message]}
    take_profit = {**STOP, "order_type": "TAKE_PROFIT", "stop_price": Decimal("70000")}
    assert errors_of(**take_profit, open_algo_orders=5) == {"symbol": [message]}
    # A LIMIT or MARKET order is not an algo order: five open stops do not stop it.
    assert validate_order(**order_of(open_orders=5, open_algo_orders=5)) is None
    assert validate_order(**order_of(**MARKET, open_algo_orders=5)) is None


@pytest.mark.django_db
def test_limit_notional_is_its_own_price_times_quantity_within_both_bounds():
    # At the LIMIT's price, wherever the market is: 0.0001 at 50000 is 5 USDT (6.8 at the market's 68000).
    assert validate_order(**order_of(quantity=Decimal("0.0001"), price=Decimal("50000"))) is None
    assert errors_of(quantity=Decimal("0.0001"), price=Decimal("49999.99")) == {
        "quantity": ["Filter failure: NOTIONAL. Order value 4.999999 is below the minimum 5 USDT."]
    }
    # maxNotional 9000000 binds a LIMIT whatever applyMaxToMarket says (market 900000 keeps PERCENT_PRICE quiet).
    at_the_top = {"quantity": Decimal("10"), "market_price": Decimal("900000")}
    assert validate_order(**order_of(**at_the_top, price=Decimal("900000"))) is None
    assert errors_of(**at_the_top, price=Decimal("900000.01")) == {
        "quantity": ["Filter failure: NOTIONAL. Order value 9000000.1 is above the maximum 9000000 USDT."]
    }


@pytest.mark.django_db
def test_market_notional_maximum_applies_only_when_apply_max_to_market_is_set():
    big = {**MARKET, "quantity": Decimal("100"), "market_price": Decimal("90000.01")}  # 9000001 USDT at market
    assert validate_order(**order_of(**big)) is None  # shipped applyMaxToMarket is false
    rule = SymbolRule.objects.get(symbol="BTCUSDT")
    rule.apply_max_notional_to_market = True
    assert validate_order(**order_of(**{**big, "market_price": Decimal("90000")}, rule=rule)) is None
    assert errors_of(**big, rule=rule) == {
        "quantity": ["Filter failure: NOTIONAL. Order value 9000001 is above the maximum 9000000 USDT."]
    }
    rule.apply_min_notional_to_market = False
    assert validate_order(**order_of(**MARKET, rule=rule, quantity=Decimal("0.00007"))) is None


@pytest.mark.parametrize(
    ("order_type", "side", "stop_price"),
    [
        ("STOP_LOSS", "SELL", "68000"),  # SELL stop fires when price falls to it: at the market already
        ("STOP_LOSS", "SELL", "68500"),
        ("STOP_LOSS", "BUY", "68000"),
        ("STOP_LOSS", "BUY", "67000"),
        ("TAKE_PROFIT", "SELL", "67000"),
        ("TAKE_PROFIT", "BUY", "69000"),
    ],
)
@pytest.mark.django_db
def test_stop_already_reached_would_trigger_immediately(order_type, side, stop_price):
    errors = errors_of(order_type=order_type, side=side, price=None, time_in_force="", stop_price=Decimal(stop_price))
    assert list(errors) == ["stop_price"]
    assert errors["stop_price"][0].startswith("Order would trigger immediately.")
    assert "(68000)" in errors["stop_price"][0]


@pytest.mark.parametrize(
    ("order_type", "side", "expected"),
    [
        ("LIMIT", "BUY", True),
        ("LIMIT", "SELL", False),
        ("STOP_LOSS", "SELL", True),
        ("STOP_LOSS", "BUY", False),
        ("TAKE_PROFIT", "BUY", True),
        ("TAKE_PROFIT", "SELL", False),
    ],
)
def test_fires_at_or_below_follows_binance_semantics(order_type, side, expected):
    assert fires_at_or_below(order_type, side) is expected


@pytest.mark.parametrize("client_order_id", ["a" * 36, "abc-DEF_123", "x"])
def test_client_order_id_in_binance_charset_is_accepted(client_order_id):
    assert validate_client_order_id(client_order_id) is None


@pytest.mark.parametrize("client_order_id", ["a" * 37, "has space", "semi;colon", "ünicode", "dot.ted"])
def test_client_order_id_outside_binance_charset_is_refused(client_order_id):
    with pytest.raises(OrderValidationError) as caught:
        validate_client_order_id(client_order_id)
    assert list(caught.value.errors) == ["client_order_id"]


# --- through the API: 400, a message per field, no row, no reservation ---------------------------------------

STOP_SELL = {"symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_LOSS", "quantity": "0.01", "stop_price": "60000"}


def without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


REJECTIONS = [
    pytest.param(without(LIMIT_BUY, "price"), "price", "A LIMIT order needs a price.", id="limit-without-price"),
    pytest.param(
        without(LIMIT_BUY, "time_in_force"),
        "time_in_force",
        "A LIMIT order needs a time in force (GTC, IOC or FOK).",
        id="limit-without-tif",
    ),
    pytest.param(
        {**LIMIT_BUY, "stop_price": "60000"},
        "stop_price",
        "A LIMIT order takes no stop price.",
        id="limit-with-stop-price",
    ),
    pytest.param(
        without(STOP_SELL, "stop_price"),
        "stop_price",
        "A STOP_LOSS order needs a stop price.",
        id="stop-loss-without-stop-price",
    ),
    pytest.param(
        {**without(STOP_SELL, "stop_price"), "order_type": "TAKE_PROFIT"},
        "stop_price",
        "A TAKE_PROFIT order needs a stop price.",
        id="take-profit-without-stop-price",
    ),
    pytest.param(
        {**STOP_SELL, "price": "60000"},
        "price",
        "A STOP_LOSS order takes no price: it fills at the market.",
        id="stop-with-price",
    ),
    pytest.param(
        {**STOP_SELL, "time_in_force": "GTC"},
        "time_in_force",
        "A STOP_LOSS order takes no time in force.",
        id="stop-with-tif",
    ),
    pytest.param(
        {**MARKET_BUY, "price": "68000"},
        "price",
        "A MARKET order takes no price: it fills at the market.",
        id="market-with-price",
    ),
    pytest.param(
        {**MARKET_BUY, "time_in_force": "IOC"},
        "time_in_force",
        "A MARKET order takes no time in force.",
        id="market-with-tif",
    ),
    pytest.param(
        {**MARKET_BUY, "stop_price": "68000"},
        "stop_price",
        "A MARKET order takes no stop price.",
        id="market-with-stop-price",
    ),
    pytest.param(
        {**LIMIT_BUY, "quantity": "0.000015"},
        "quantity",
        "Filter failure: LOT_SIZE. Quantity must be a multiple of 0.00001.",
        id="quantity-off-step",
    ),
    pytest.param(
        {**LIMIT_BUY, "price": "67000.005"},
        "price",
        "Filter failure: PRICE_FILTER. Price must be a multiple of 0.01.",
        id="price-off-tick",
    ),
    pytest.param(
        {**STOP_SELL, "stop_price": "60000.001"},
        "stop_price",
        "Filter failure: PRICE_FILTER. Price must be a multiple of 0.01.",
        id="stop-price-off-tick",
    ),
    pytest.param({**LIMIT_BUY, "symbol": "DOGEBTC"}, "symbol", "Invalid symbol.", id="unknown-symbol"),
    pytest.param({**LIMIT_BUY, "quantity": "-0.01"}, "quantity", "Must be greater than zero.", id="negative-qty"),
    pytest.param({**LIMIT_BUY, "quantity": "0"}, "quantity", "Must be greater than zero.", id="zero-quantity"),
    pytest.param({**LIMIT_BUY, "price": "0"}, "price", "Must be greater than zero.", id="zero-price"),
    pytest.param({**LIMIT_BUY, "price": "-1"}, "price", "Must be greater than zero.", id="negative-price"),
    pytest.param({**STOP_SELL, "stop_price": "-5"}, "stop_price", "Must be greater than zero.", id="negative-stop"),
    pytest.param({**LIMIT_BUY, "side": "HOLD"}, "side", '"HOLD" is not a valid choice.', id="unknown-side"),
    pytest.param(
        {**LIMIT_BUY, "order_type": "TRAILING_STOP"},
        "order_type",
        '"TRAILING_STOP" is not a valid choice.',
        id="unknown-order-type",
    ),
    pytest.param(
        {**LIMIT_BUY, "order_type": "STOP_LOSS_LIMIT"},
        "stop_price",
        "A STOP_LOSS_LIMIT order needs a stop price.",
        id="stop-limit-without-stop",
    ),
    pytest.param(
        {**LIMIT_BUY, "time_in_force": "GTX"}, "time_in_force", '"GTX" is not a valid choice.', id="unknown-tif"
    ),
    pytest.param(
        {**LIMIT_BUY, "quantity": "0.00007"},
        "quantity",
        "Filter failure: NOTIONAL. Order value 4.69 is below the minimum 5 USDT.",
        id="below-min-notional",
    ),
    pytest.param(
        {**MARKET_BUY, "quantity": "0.00007"},
        "quantity",
        "Filter failure: NOTIONAL. Order value 4.76 is below the minimum 5 USDT.",
        id="market-below-min-notional",
    ),
    pytest.param(
        {**LIMIT_BUY, "client_order_id": "bad id!"},
        "client_order_id",
        "Use 1 to 36 characters from A-Z, a-z, 0-9, '-' and '_'.",
        id="client-order-id-charset",
    ),
    pytest.param(
        {**LIMIT_BUY, "client_order_id": "a" * 37},
        "client_order_id",
        "Ensure this field has no more than 36 characters.",
        id="client-order-id-too-long",
    ),
    pytest.param({**LIMIT_BUY, "quantity": "abc"}, "quantity", "A valid number is required.", id="qty-not-number"),
    pytest.param(
        {**STOP_SELL, "stop_price": "68000"}, "stop_price", "Order would trigger immediately.", id="stop-would-trigger"
    ),
    pytest.param(
        {**STOP_SELL, "side": "BUY", "stop_price": "67000"},
        "stop_price",
        "Order would trigger immediately.",
        id="stop-buy-would-trigger",
    ),
    pytest.param(
        {**STOP_SELL, "order_type": "TAKE_PROFIT", "stop_price": "67000"},
        "stop_price",
        "Order would trigger immediately.",
        id="take-profit-sell-would-trigger",
    ),
    pytest.param(
        {**STOP_SELL, "order_type": "TAKE_PROFIT", "side": "BUY", "stop_price": "69000"},
        "stop_price",
        "Order would trigger immediately.",
        id="take-profit-buy-would-trigger",
    ),
]


@pytest.mark.parametrize(("body", "field", "message"), REJECTIONS)
@pytest.mark.django_db
def test_invalid_order_returns_400_on_its_field_and_leaves_nothing_behind(api, account, market, body, field, message):
    response = api.post(ORDERS_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert any(text.startswith(message) for text in response.json()[field]), response.json()
    assert PaperOrder.objects.count() == 0
    assert OrderEvent.objects.count() == 0
    assert balances(account) == STARTING


@pytest.mark.django_db
def test_invalid_order_through_the_service_writes_no_row_and_opens_no_reservation(account, market):
    with pytest.raises(OrderValidationError) as caught:
        place_order(
            account=account,
            symbol="BTCUSDT",
            side="SELL",
            order_type="LIMIT",
            quantity=Decimal("0.5"),
            price=Decimal("69000.001"),
            time_in_force="GTC",
        )
    assert list(caught.value.errors) == ["price"]
    assert PaperOrder.objects.count() == 0
    assert balances(account) == STARTING


@pytest.mark.django_db
def test_lowercase_symbol_is_accepted_as_the_exchange_symbol(api, market):
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "symbol": "btcusdt"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["symbol"] == "BTCUSDT"
    assert PaperOrder.objects.get().symbol == "BTCUSDT"


@pytest.mark.django_db
def test_market_order_on_a_symbol_without_a_price_fetches_one_first(api, account):
    # No `market` fixture, and no starting balance in SOL (opening the account priced BTC and ETH only): the
    # simulator asks the (synthetic) source for a first price before validating.
    assert not MarketPrice.objects.filter(symbol="SOLUSDT").exists()
    response = api.post(ORDERS_URL, {**MARKET_BUY, "symbol": "SOLUSDT", "quantity": "1"}, format="json")
    assert response.status_code == 201, response.json()
    assert MarketPrice.objects.get(symbol="SOLUSDT").price == Decimal("150")
    assert response.json()["fills"][0]["market_price"] == "150.00000000"
