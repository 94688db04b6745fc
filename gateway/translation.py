"""Binance's order parameters in the desk's terms, and the desk's refusals in Binance's codes and messages."""

import re
from dataclasses import dataclass
from decimal import Decimal

from papertrading import selectors as desk
from papertrading.errors import (
    DUPLICATE_ORDER,
    DuplicateOrder,
    OrderNotWorking,
    OrderRejected,
    OrderValidationError,
    PaperTradingError,
    RiskLimitExceeded,
    VenueUnavailable,
)
from papertrading.models import OrderType, Side, TimeInForce
from papertrading.money import round_to_step

from . import errors
from .calls import Call
from .errors import BinanceApiError

CLIENT_ORDER_ID_PATTERN = re.compile(r"[a-zA-Z0-9\-_]{1,36}")
# Which parameters each type needs and which it refuses (-1102 / -1106), as Binance checks them.
REQUIRED = {
    OrderType.MARKET: (),
    OrderType.LIMIT: ("timeInForce", "quantity", "price"),
    OrderType.LIMIT_MAKER: ("quantity", "price"),
    # The stop types need stopPrice or trailingDelta (checked apart).
    OrderType.STOP_LOSS: ("quantity",),
    OrderType.TAKE_PROFIT: ("quantity",),
    OrderType.STOP_LOSS_LIMIT: ("timeInForce", "quantity", "price"),
    OrderType.TAKE_PROFIT_LIMIT: ("timeInForce", "quantity", "price"),
}
STOP_TYPES = (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
REFUSED = {
    OrderType.MARKET: ("timeInForce", "price", "stopPrice", "icebergQty", "trailingDelta"),
    OrderType.LIMIT: ("quoteOrderQty", "stopPrice", "trailingDelta"),
    OrderType.LIMIT_MAKER: ("quoteOrderQty", "timeInForce", "stopPrice", "trailingDelta"),
    OrderType.STOP_LOSS: ("quoteOrderQty", "timeInForce", "price", "icebergQty"),
    OrderType.TAKE_PROFIT: ("quoteOrderQty", "timeInForce", "price", "icebergQty"),
    OrderType.STOP_LOSS_LIMIT: ("quoteOrderQty",),
    OrderType.TAKE_PROFIT_LIMIT: ("quoteOrderQty",),
}
# The desk's field names in Binance's words, for the messages of its validation errors.
PARAMETER_NAMES = {
    "symbol": "symbol",
    "side": "side",
    "order_type": "type",
    "quantity": "quantity",
    "price": "price",
    "stop_price": "stopPrice",
    "time_in_force": "timeInForce",
    "iceberg_quantity": "icebergQty",
    "trailing_delta": "trailingDelta",
    "client_order_id": "newClientOrderId",
}


def symbol_rule(symbol: str):
    """The stored filters of `symbol`; -1121 when the desk does not list it."""
    rule = desk.stored_symbol_rule(symbol)
    if rule is None:
        raise errors.bad_symbol()
    return rule


def _validation_error(exc: OrderValidationError) -> BinanceApiError:
    messages = [(field, message) for field, texts in exc.errors.items() for message in texts]
    if any(field == "symbol" and message.startswith("Invalid symbol") for field, message in messages):
        return errors.bad_symbol()
    for field, message in messages:
        name = PARAMETER_NAMES.get(field, field)
        if found := re.search(r"Filter failure: ([A-Z_]+)", message):
            return BinanceApiError(-1013, f"Filter failure: {found.group(1)}")
        if "would trigger immediately" in message:
            return errors.engine_rejected("Order would trigger immediately.")
        if "orders are not supported" in message:
            kind = message.split(" orders", 1)[0].replace("_", " ").capitalize()
            return errors.engine_rejected(f"{kind} orders are not supported for this symbol.")
        if message.startswith("Market is closed"):
            return errors.engine_rejected("Market is closed.")
        if message == "Must be greater than zero.":
            grid = "PRICE_FILTER" if field in ("price", "stop_price") else "LOT_SIZE"
            return BinanceApiError(-1013, f"Filter failure: {grid}")
        if " needs " in message or message == "This field is required.":
            return errors.mandatory(name)
        if " takes no " in message or message.startswith("Only a LIMIT"):
            return errors.not_required(name)
        if field == "client_order_id":
            return errors.illegal_chars("newClientOrderId", errors.CLIENT_ORDER_ID_RANGE)
    field, message = messages[0] if messages else ("", exc.message)
    return BinanceApiError(-1013, message)


def desk_error(exc: PaperTradingError) -> BinanceApiError:
    if isinstance(exc, OrderValidationError):
        return _validation_error(exc)
    if isinstance(exc, DuplicateOrder):
        return errors.engine_rejected(DUPLICATE_ORDER[1])
    if isinstance(exc, OrderRejected):
        return BinanceApiError(exc.code or -2010, exc.message)
    if isinstance(exc, RiskLimitExceeded):
        # The desk's risk limits refuse as the matching engine would: nothing placed.
        return errors.engine_rejected(exc.message)
    if isinstance(exc, OrderNotWorking):
        return errors.unknown_order_sent()
    if isinstance(exc, VenueUnavailable):
        return BinanceApiError(-1001, exc.message, status=503, retry_after=exc.retry_after)
    return BinanceApiError(-1000, exc.message or "An unknown error occurred while processing the request.")


# An OCO leg's parameters (after its `above`/`below` prefix) as place_oco's leg fields.
OCO_LEG_PARAMETERS = {
    "Type": "type",
    "Price": "price",
    "StopPrice": "stop_price",
    "TimeInForce": "time_in_force",
    "ClientOrderId": "client_order_id",
}
# What an OCO leg may carry on Binance that the desk does not take.
OCO_LEG_UNSUPPORTED = ("TrailingDelta", "IcebergQty", "PegPriceType", "PegOffsetType", "PegOffsetValue")


def oco_terms(call: Call) -> dict:
    """POST orderList/oco's parameters as place_oco's arguments, refused in Binance's words when malformed."""
    symbol = call.symbol()
    side = call.text("side", required=True)
    if side not in Side.values:
        raise BinanceApiError(-1117, "Invalid side.")
    quantity = call.decimal("quantity", required=True)
    terms = {"symbol": symbol, "side": side, "quantity": quantity}
    list_client_order_id = call.text("listClientOrderId")
    if list_client_order_id is not None and not CLIENT_ORDER_ID_PATTERN.fullmatch(list_client_order_id):
        raise errors.illegal_chars("listClientOrderId", errors.CLIENT_ORDER_ID_RANGE)
    terms["list_client_order_id"] = list_client_order_id
    for prefix in ("above", "below"):
        leg_type = call.text(f"{prefix}Type", required=True)
        if leg_type not in OrderType.values:
            raise BinanceApiError(-1116, "Invalid orderType.")
        time_in_force = call.text(f"{prefix}TimeInForce")
        if time_in_force is not None and time_in_force not in TimeInForce.values:
            raise BinanceApiError(-1115, "Invalid timeInForce.")
        client_order_id = call.text(f"{prefix}ClientOrderId")
        if client_order_id is not None and not CLIENT_ORDER_ID_PATTERN.fullmatch(client_order_id):
            raise errors.illegal_chars(f"{prefix}ClientOrderId", errors.CLIENT_ORDER_ID_RANGE)
        for name in OCO_LEG_UNSUPPORTED:
            if call.text(f"{prefix}{name}") is not None:
                raise BinanceApiError(-1013, f"Parameter '{prefix}{name}' is not supported for OCO legs here.")
        leg = {
            "type": leg_type,
            "price": call.decimal(f"{prefix}Price"),
            "stop_price": call.decimal(f"{prefix}StopPrice"),
            "time_in_force": time_in_force or "",
            "client_order_id": client_order_id,
        }
        terms[prefix] = {name: value for name, value in leg.items() if value not in (None, "")}
    return terms


def oco_error(exc: PaperTradingError) -> BinanceApiError:
    """The desk's refusal of an OCO in Binance's words; field names become Binance's (`above_price`: abovePrice)."""
    if not isinstance(exc, OrderValidationError):
        return desk_error(exc)
    messages = [message for texts in exc.errors.values() for message in texts]
    if any("the market (" in message and " leg's " in message for message in messages):
        return errors.engine_rejected("The relationship of the prices for the orders is not correct.")
    renamed = {}
    for field, texts in exc.errors.items():
        prefix, _, rest = field.partition("_")
        if prefix in ("above", "below") and rest:
            parameter = next((k for k, v in OCO_LEG_PARAMETERS.items() if v == rest), rest)
            field = f"{prefix}{parameter}"
        renamed[field] = texts
    return _validation_error(OrderValidationError(renamed))


@dataclass
class OrderTerms:
    fields: dict
    client_order_id: str | None
    response_type: str
    quote_quantity: Decimal | None


def order_terms(call: Call) -> OrderTerms:
    """Binance's order parameters as the desk's order fields, refused in Binance's words when malformed."""
    symbol = call.symbol()
    side = call.text("side", required=True)
    if side not in Side.values:
        raise BinanceApiError(-1117, "Invalid side.")
    order_type = call.text("type", required=True)
    if order_type not in OrderType.values:
        raise BinanceApiError(-1116, "Invalid orderType.")
    time_in_force = call.text("timeInForce")
    if time_in_force is not None and time_in_force not in TimeInForce.values:
        raise BinanceApiError(-1115, "Invalid timeInForce.")
    for name in REQUIRED[order_type]:
        if call.text(name) is None:
            raise errors.mandatory(name)
    for name in REFUSED[order_type]:
        if call.text(name) is not None:
            raise errors.not_required(name)
    if order_type in STOP_TYPES and call.text("stopPrice") is None and call.text("trailingDelta") is None:
        raise BinanceApiError(-1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!")
    quantity, quote_quantity = call.decimal("quantity"), call.decimal("quoteOrderQty")
    if order_type == OrderType.MARKET:
        if quantity is None and quote_quantity is None:
            raise BinanceApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
        if quantity is not None and quote_quantity is not None:
            raise errors.not_required("quoteOrderQty")
    client_order_id = call.text("newClientOrderId")
    if client_order_id is not None and not CLIENT_ORDER_ID_PATTERN.fullmatch(client_order_id):
        raise errors.illegal_chars("newClientOrderId", errors.CLIENT_ORDER_ID_RANGE)
    default_response = "FULL" if order_type in (OrderType.MARKET, OrderType.LIMIT) else "ACK"
    response_type = call.text("newOrderRespType") or default_response
    if response_type not in ("ACK", "RESULT", "FULL"):
        raise errors.illegal_chars("newOrderRespType", "ACK|RESULT|FULL")
    if quote_quantity is not None:
        quantity = _quantity_for_quote(symbol, side, quote_quantity)
    return OrderTerms(
        fields={
            "symbol": symbol,
            "side": side,
            "order_type": order_type,
            "quantity": quantity,
            "price": call.decimal("price"),
            "stop_price": call.decimal("stopPrice"),
            "time_in_force": time_in_force or "",
            "iceberg_quantity": call.decimal("icebergQty"),
            "trailing_delta": call.integer("trailingDelta"),
        },
        client_order_id=client_order_id,
        response_type=response_type,
        quote_quantity=quote_quantity,
    )


def _quantity_for_quote(symbol: str, side: str, quote_quantity: Decimal) -> Decimal:
    """The most base quantity on the symbol's grid that `quote_quantity` buys (or that sells for at most it) at
    the price a MARKET order fills at now."""
    rule = symbol_rule(symbol)
    try:
        price = desk.market_fill_price(symbol, side)
    except PaperTradingError as exc:
        raise desk_error(exc) from None
    if not price:
        raise BinanceApiError(-1013, f"No market price for {symbol} yet; try again in a moment.")
    return round_to_step(quote_quantity / price, rule.market_step_size or rule.step_size, up=False)
