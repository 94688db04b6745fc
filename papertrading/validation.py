"""validate_order: the one place that decides whether an order may be sent, before anything is written."""

import math
import re
from decimal import Decimal

from .errors import OrderValidationError
from .models import OrderType, Side, SymbolRule, TimeInForce
from .money import format_decimal, is_on_step, round_to_step

CLIENT_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
# Stops that fill at the market once reached.
STOP_TYPES = (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT)
# Stops that, once reached, put a LIMIT at their `price` to work with their time in force.
STOP_LIMIT_TYPES = (OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
# Orders with a limit price of their own: they rest at it.
LIMIT_TYPES = (OrderType.LIMIT, OrderType.LIMIT_MAKER)
# Orders whose value is judged, and whose cost is held, at their own `price`.
PRICED_TYPES = (*LIMIT_TYPES, *STOP_LIMIT_TYPES)
# Binance's "algo" orders (MAX_NUM_ALGO_ORDERS): every stop-loss and take-profit kind.
ALGO_TYPES = (*STOP_TYPES, *STOP_LIMIT_TYPES)


def fires_at_or_below(order_type: str, side: str) -> bool:
    """Whether a resting order fires when the market falls to its trigger (True) or rises to it (False).

    LIMIT BUY, STOP_LOSS SELL and TAKE_PROFIT BUY wait for a fall; their mirrors wait for a rise. A stop-limit
    waits for its stop as the stop of the same name does.
    """
    if order_type in LIMIT_TYPES:
        return side == Side.BUY
    if order_type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT):
        return side == Side.SELL
    return side == Side.BUY  # TAKE_PROFIT, TAKE_PROFIT_LIMIT


def trailing_trigger(*, side: str, trailing_delta: int, best_price: Decimal, tick_size: Decimal) -> Decimal:
    """Where a trailing stop triggers: `trailing_delta` basis points back from the best price seen (below it for a
    SELL, above it for a BUY), on the tick grid on the near side, so a price on the grid triggers exactly when
    it has moved the delta."""
    if side == Side.SELL:
        return round_to_step(best_price * (10000 - trailing_delta) / 10000, tick_size, up=False)
    return round_to_step(best_price * (10000 + trailing_delta) / 10000, tick_size, up=True)


# Which leg types an OCO takes, by side and leg (Binance's orderList/oco): a SELL's above leg takes profit and its
# below leg stops the loss; a BUY is the mirror.
OCO_LEG_TYPES = {
    (Side.SELL, "above"): (OrderType.LIMIT_MAKER, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT),
    (Side.SELL, "below"): (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT),
    (Side.BUY, "above"): (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT),
    (Side.BUY, "below"): (OrderType.LIMIT_MAKER, OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT),
}


def oco_leg_type_error(*, side: str, leg: str, order_type: str) -> str | None:
    """Why an OCO's `leg` ("above" or "below") may not be of `order_type`, or None when it may."""
    allowed = OCO_LEG_TYPES.get((side, leg))
    if allowed is None or order_type in allowed:
        return None
    return f"The {leg} leg of a {side} OCO is one of {', '.join(allowed)}."


def oco_leg_price_errors(
    *,
    leg: str,
    order_type: str,
    price: Decimal | None,
    stop_price: Decimal | None,
    market_price: Decimal | None,
    reference: str = "the market",
) -> dict[str, list[str]]:
    """An OCO leg's trigger (a LIMIT_MAKER's price, a stop's stop price) on its side of the market: the above leg
    above it, the below leg below it (Binance: for a SELL, limit price > last price > stop price; a BUY mirrors)."""
    field = "price" if order_type == OrderType.LIMIT_MAKER else "stop_price"
    trigger = price if field == "price" else stop_price
    if market_price is None or trigger is None:
        return {}
    if (trigger > market_price) if leg == "above" else (trigger < market_price):
        return {}
    return {field: [f"The {leg} leg's {field} must be {leg} {reference} ({format_decimal(market_price)})."]}


def validate_client_order_id(client_order_id: str | None) -> None:
    if client_order_id and not CLIENT_ORDER_ID_RE.match(client_order_id):
        raise OrderValidationError({"client_order_id": ["Use 1 to 36 characters from A-Z, a-z, 0-9, '-' and '_'."]})


def validate_order(
    *,
    rule: SymbolRule | None,
    side: str,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    stop_price: Decimal | None,
    time_in_force: str,
    market_price: Decimal | None,
    open_orders: int | None = None,
    open_algo_orders: int | None = None,
    iceberg_quantity: Decimal | None = None,
    trailing_delta: int | None = None,
) -> None:
    """Check an order against the symbol's filters and Binance's per-type rules.

    Raises OrderValidationError with every failing field at once. `market_price` is the last price, needed for
    the notional of a MARKET order, PERCENT_PRICE_BY_SIDE and the side of a stop; pass None when no price is
    known. `open_orders` / `open_algo_orders` are the account's open orders on the symbol (all kinds / stop-loss
    and take-profit only) before this one, for MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS; None leaves them unchecked.
    """
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if rule is None:
        fail("symbol", "Invalid symbol.")
    elif rule.status != "TRADING":
        fail("symbol", f"Market is closed ({rule.status}).")
    if side not in Side.values:
        fail("side", f"Must be one of {', '.join(Side.values)}.")
    if order_type not in OrderType.values:
        fail("order_type", f"Must be one of {', '.join(OrderType.values)}.")
    if time_in_force and time_in_force not in TimeInForce.values:
        fail("time_in_force", f"Must be one of {', '.join(TimeInForce.values)}.")
    if quantity is None:
        fail("quantity", "This field is required.")
    elif quantity <= 0:
        fail("quantity", "Must be greater than zero.")
    for field, value in (("price", price), ("stop_price", stop_price), ("iceberg_quantity", iceberg_quantity)):
        if value is not None and value <= 0:
            fail(field, "Must be greater than zero.")
    if iceberg_quantity is not None and order_type not in LIMIT_TYPES:
        fail("iceberg_quantity", "Only a LIMIT or LIMIT_MAKER order can be an iceberg.")
    elif iceberg_quantity is not None and order_type == OrderType.LIMIT and time_in_force != TimeInForce.GTC:
        fail("iceberg_quantity", "An iceberg LIMIT order must be GTC.")
    if trailing_delta is not None and order_type not in ALGO_TYPES:
        fail("trailing_delta", "Only a STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT or TAKE_PROFIT_LIMIT order can trail.")
    elif trailing_delta is not None and trailing_delta <= 0:
        fail("trailing_delta", "Must be greater than zero.")
    elif trailing_delta is not None and trailing_delta >= 10000:
        fail("trailing_delta", "Must be below 10000 basis points (100 %).")

    # Which fields each type takes, as Binance requires (-1102 when missing, -1106 when not required).
    if order_type == OrderType.LIMIT:
        if price is None:
            fail("price", "A LIMIT order needs a price.")
        if not time_in_force:
            fail("time_in_force", "A LIMIT order needs a time in force (GTC, IOC or FOK).")
        if stop_price is not None:
            fail("stop_price", "A LIMIT order takes no stop price.")
    elif order_type == OrderType.LIMIT_MAKER:
        if price is None:
            fail("price", "A LIMIT_MAKER order needs a price.")
        if time_in_force:
            fail("time_in_force", "A LIMIT_MAKER order takes no time in force: it rests until filled or cancelled.")
        if stop_price is not None:
            fail("stop_price", "A LIMIT_MAKER order takes no stop price.")
    elif order_type in STOP_LIMIT_TYPES:
        if price is None:
            fail("price", f"A {order_type} order needs a price: the limit that works once the stop is reached.")
        if stop_price is None and trailing_delta is None:
            fail("stop_price", f"A {order_type} order needs a stop price.")
        if not time_in_force:
            fail("time_in_force", f"A {order_type} order needs a time in force (GTC, IOC or FOK).")
    elif order_type in (OrderType.MARKET, *STOP_TYPES):
        if price is not None:
            fail("price", f"A {order_type} order takes no price: it fills at the market.")
        if time_in_force:
            fail("time_in_force", f"A {order_type} order takes no time in force.")
        if order_type in STOP_TYPES and stop_price is None and trailing_delta is None:
            fail("stop_price", f"A {order_type} order needs a stop price.")
        if order_type == OrderType.MARKET and stop_price is not None:
            fail("stop_price", "A MARKET order takes no stop price.")

    if errors or rule is None:
        raise OrderValidationError(errors)

    if rule.order_types and order_type not in rule.order_types:
        fail("order_type", f"{order_type} orders are not supported for {rule.symbol}.")
    _check_open_orders(rule, order_type, open_orders, open_algo_orders, fail)
    _check_lot_size(rule, quantity, fail)
    if iceberg_quantity is not None:
        _check_iceberg(rule, quantity, iceberg_quantity, fail)
    if trailing_delta is not None:
        _check_trailing_delta(rule, order_type, side, trailing_delta, fail)
    if order_type == OrderType.MARKET:
        _check_market_lot_size(rule, quantity, fail)
    for field, value in (("price", price), ("stop_price", stop_price)):
        if value is not None:
            _check_price_filter(rule, field, value, fail)
    if price is not None and market_price is not None:
        # Binance bounds the order's `price` only; a stop price is held to PRICE_FILTER alone.
        _check_percent_price_by_side(rule, side, price, market_price, fail)

    # What the order is worth: at its price, else its stop, else (a MARKET, or a trailing stop without a stop
    # price) the market.
    reference = price if order_type in PRICED_TYPES else stop_price if stop_price is not None else market_price
    if reference is None:
        fail("symbol", f"No market price for {rule.symbol} yet; try again in a moment.")
    elif not errors:
        _check_notional(rule, order_type, quantity * reference, fail)

    if order_type in ALGO_TYPES and market_price is not None and stop_price is not None and not errors:
        # Binance rejects a stop that is already reached (-2010 "Order would trigger immediately.").
        at_or_below = fires_at_or_below(order_type, side)
        if (at_or_below and market_price <= stop_price) or (not at_or_below and market_price >= stop_price):
            direction = "below" if at_or_below else "above"
            fail(
                "stop_price",
                f"Order would trigger immediately. For a {order_type} {side} the stop price must be {direction} "
                f"the market ({format_decimal(market_price)}).",
            )

    if errors:
        raise OrderValidationError(errors)


def _check_iceberg(rule: SymbolRule, quantity: Decimal, iceberg_quantity: Decimal, fail) -> None:
    """ICEBERG_PARTS, and LOT_SIZE on the visible part (Binance applies it to icebergQty too)."""
    if not rule.iceberg_allowed:
        fail("iceberg_quantity", f"Iceberg orders are not allowed on {rule.symbol}.")
        return
    if iceberg_quantity >= quantity:
        fail("iceberg_quantity", "An iceberg shows less than its whole quantity.")
        return
    parts = math.ceil(quantity / iceberg_quantity)
    if rule.iceberg_parts and parts > rule.iceberg_parts:
        fail(
            "iceberg_quantity",
            f"Filter failure: ICEBERG_PARTS. {format_decimal(quantity)} in parts of {format_decimal(iceberg_quantity)} "
            f"is {parts} parts; at most {rule.iceberg_parts}.",
        )
    _check_lot_size(rule, iceberg_quantity, lambda field, message: fail("iceberg_quantity", message))


def _check_trailing_delta(rule: SymbolRule, order_type: str, side: str, trailing_delta: int, fail) -> None:
    """allowTrailingStop and TRAILING_DELTA: STOP_LOSS BUY and TAKE_PROFIT SELL (the stops that wait for a rise) are
    held to the "above" bounds, the others to the "below" ones."""
    if not rule.trailing_allowed:
        fail("trailing_delta", f"Trailing stops are not supported for {rule.symbol}.")
        return
    if fires_at_or_below(order_type, side):
        low, high = rule.min_trailing_below_delta, rule.max_trailing_below_delta
    else:
        low, high = rule.min_trailing_above_delta, rule.max_trailing_above_delta
    if (low and trailing_delta < low) or (high and trailing_delta > high):
        bounds = f"between {low} and {high}" if low and high else f"at least {low}" if low else f"at most {high}"
        fail(
            "trailing_delta",
            f"Filter failure: TRAILING_DELTA. For a {order_type} {side} it must be {bounds} basis points.",
        )


def _check_lot_size(rule: SymbolRule, quantity: Decimal, fail) -> None:
    if rule.min_quantity and quantity < rule.min_quantity:
        fail("quantity", f"Filter failure: LOT_SIZE. Minimum quantity is {format_decimal(rule.min_quantity)}.")
    if rule.max_quantity and quantity > rule.max_quantity:
        fail("quantity", f"Filter failure: LOT_SIZE. Maximum quantity is {format_decimal(rule.max_quantity)}.")
    if not is_on_step(quantity, rule.step_size):
        fail("quantity", f"Filter failure: LOT_SIZE. Quantity must be a multiple of {format_decimal(rule.step_size)}.")


def _check_price_filter(rule: SymbolRule, field: str, value: Decimal, fail) -> None:
    if rule.min_price and value < rule.min_price:
        fail(field, f"Filter failure: PRICE_FILTER. Minimum price is {format_decimal(rule.min_price)}.")
    if rule.max_price and value > rule.max_price:
        fail(field, f"Filter failure: PRICE_FILTER. Maximum price is {format_decimal(rule.max_price)}.")
    if not is_on_step(value, rule.tick_size):
        fail(field, f"Filter failure: PRICE_FILTER. Price must be a multiple of {format_decimal(rule.tick_size)}.")


def _check_market_lot_size(rule: SymbolRule, quantity: Decimal, fail) -> None:
    # Live symbols ship minQty and stepSize "0" here: zero turns that part off, as in PRICE_FILTER.
    if rule.market_min_quantity and quantity < rule.market_min_quantity:
        fail(
            "quantity",
            f"Filter failure: MARKET_LOT_SIZE. Minimum quantity of a MARKET order is "
            f"{format_decimal(rule.market_min_quantity)}.",
        )
    if rule.market_max_quantity and quantity > rule.market_max_quantity:
        fail(
            "quantity",
            f"Filter failure: MARKET_LOT_SIZE. Maximum quantity of a MARKET order is "
            f"{format_decimal(rule.market_max_quantity)}.",
        )
    if not is_on_step(quantity, rule.market_step_size):
        fail(
            "quantity",
            f"Filter failure: MARKET_LOT_SIZE. Quantity of a MARKET order must be a multiple of "
            f"{format_decimal(rule.market_step_size)}.",
        )


def _check_percent_price_by_side(rule: SymbolRule, side: str, price: Decimal, market_price: Decimal, fail) -> None:
    """A BUY's price within [bidMultiplierDown, bidMultiplierUp] × the market price, a SELL's within the ask ones.

    Binance measures against the average price of the last `avgPriceMins` minutes (or its reference price); the
    last price is the one price both venues know here.
    """
    if side == Side.BUY:
        up, down = rule.bid_multiplier_up, rule.bid_multiplier_down
    else:
        up, down = rule.ask_multiplier_up, rule.ask_multiplier_down
    if up and price > market_price * up:
        fail(
            "price",
            f"Filter failure: PERCENT_PRICE_BY_SIDE. A {side} price must be at most "
            f"{format_decimal(market_price * up)} ({format_decimal(up)} × the market price "
            f"{format_decimal(market_price)}).",
        )
    if down and price < market_price * down:
        fail(
            "price",
            f"Filter failure: PERCENT_PRICE_BY_SIDE. A {side} price must be at least "
            f"{format_decimal(market_price * down)} ({format_decimal(down)} × the market price "
            f"{format_decimal(market_price)}).",
        )


def _check_open_orders(
    rule: SymbolRule, order_type: str, open_orders: int | None, open_algo_orders: int | None, fail
) -> None:
    """The new order must fit: Binance counts every open order for MAX_NUM_ORDERS, stops for the algo limit."""
    if rule.max_num_orders and open_orders is not None and open_orders >= rule.max_num_orders:
        fail(
            "symbol",
            f"Filter failure: MAX_NUM_ORDERS. At most {rule.max_num_orders} open orders on {rule.symbol}; "
            "cancel one first.",
        )
    if (
        order_type in ALGO_TYPES
        and rule.max_num_algo_orders
        and open_algo_orders is not None
        and open_algo_orders >= rule.max_num_algo_orders
    ):
        fail(
            "symbol",
            f"Filter failure: MAX_NUM_ALGO_ORDERS. At most {rule.max_num_algo_orders} open STOP_LOSS and "
            f"TAKE_PROFIT orders on {rule.symbol}; cancel one first.",
        )


def _check_notional(rule: SymbolRule, order_type: str, notional: Decimal, fail) -> None:
    """NOTIONAL (or the legacy MIN_NOTIONAL) on `notional`, the order's value at the price Binance uses.

    That price is the order's own `price` for a LIMIT (wherever the market is), the market price for a MARKET,
    and the stop price for a stop. A LIMIT always meets both bounds; a MARKET meets each only when the symbol's
    applyMinToMarket / applyMaxToMarket says so.
    """
    market = order_type == OrderType.MARKET
    if (not market or rule.apply_min_notional_to_market) and rule.min_notional and notional < rule.min_notional:
        fail(
            "quantity",
            f"Filter failure: NOTIONAL. Order value {format_decimal(notional)} is below the minimum "
            f"{format_decimal(rule.min_notional)} {rule.quote_asset}.",
        )
    if (not market or rule.apply_max_notional_to_market) and rule.max_notional and notional > rule.max_notional:
        fail(
            "quantity",
            f"Filter failure: NOTIONAL. Order value {format_decimal(notional)} is above the maximum "
            f"{format_decimal(rule.max_notional)} {rule.quote_asset}.",
        )
