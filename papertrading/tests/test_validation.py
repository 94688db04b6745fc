"""validate_order, alone and through the API: every refusal names its field and leaves nothing behind."""

from decimal import Decimal

import pytest

from papertrading.balances import ensure_account
from papertrading.errors import OrderValidationError
from papertrading.models import MarketPrice, OrderEvent, PaperOrder, SimulatedBalance, SymbolRule
from papertrading.services import place_order
from papertrading.validation import fires_at_or_below, validate_client_order_id, validate_order

ORDERS_URL = "/api/paper-trading/orders"
STARTING = {
    "BTC": (Decimal("1"), Decimal("0")),
    "ETH": (Decimal("10"), Decimal("0")),
    "USDT": (Decimal("100000"), Decimal("0")),
}


def balances() -> dict[str, tuple[Decimal, Decimal]]:
    return {row.asset: (row.free, row.locked) for row in SimulatedBalance.objects.all()}


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

LIMIT_BUY = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "order_type": "LIMIT",
    "quantity": "0.01",
    "price": "67000",
    "time_in_force": "GTC",
}
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"}
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
        {**LIMIT_BUY, "order_type": "STOP_LOSS_LIMIT"},
        "order_type",
        '"STOP_LOSS_LIMIT" is not a valid choice.',
        id="unknown-order-type",
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
def test_invalid_order_returns_400_on_its_field_and_leaves_nothing_behind(api, market, body, field, message):
    ensure_account()
    response = api.post(ORDERS_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert any(text.startswith(message) for text in response.json()[field]), response.json()
    assert PaperOrder.objects.count() == 0
    assert OrderEvent.objects.count() == 0
    assert balances() == STARTING


@pytest.mark.django_db
def test_invalid_order_through_the_service_writes_no_row_and_opens_no_reservation(market):
    ensure_account()
    with pytest.raises(OrderValidationError) as caught:
        place_order(
            symbol="BTCUSDT",
            side="SELL",
            order_type="LIMIT",
            quantity=Decimal("0.5"),
            price=Decimal("69000.001"),
            time_in_force="GTC",
        )
    assert list(caught.value.errors) == ["price"]
    assert PaperOrder.objects.count() == 0
    assert balances() == STARTING


@pytest.mark.django_db
def test_lowercase_symbol_is_accepted_as_the_exchange_symbol(api, market):
    response = api.post(ORDERS_URL, {**LIMIT_BUY, "symbol": "btcusdt"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["symbol"] == "BTCUSDT"
    assert PaperOrder.objects.get().symbol == "BTCUSDT"


@pytest.mark.django_db
def test_market_order_on_a_symbol_without_a_price_fetches_one_first(api):
    # No `market` fixture: the simulator asks the (synthetic) source for a first price before validating.
    assert not MarketPrice.objects.filter(symbol="ETHUSDT").exists()
    response = api.post(ORDERS_URL, {**MARKET_BUY, "symbol": "ETHUSDT", "quantity": "0.01"}, format="json")
    assert response.status_code == 201, response.json()
    assert MarketPrice.objects.get(symbol="ETHUSDT").price == Decimal("3500")
    assert response.json()["fills"][0]["market_price"] == "3500.00000000"
