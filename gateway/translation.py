"""Binance's order parameters in the desk's terms, and the desk's refusals in Binance's codes and messages."""

import re
from dataclasses import dataclass
from decimal import Decimal

from papertrading import selectors as desk
from papertrading.errors import (
    DUPLICATE_ORDER,
    LEG_ID_TAKEN,
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
            grid = "PRICE_FILTER" if field.lower().endswith("price") else "LOT_SIZE"
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


# A list leg's parameters, after its prefix (`above`, `working`, `pendingBelow`, ...), as the desk's leg fields.
LEG_PARAMETERS = {
    "Type": "type",
    "Side": "side",
    "Quantity": "quantity",
    "Price": "price",
    "StopPrice": "stop_price",
    "TrailingDelta": "trailing_delta",
    "TimeInForce": "time_in_force",
    "IcebergQty": "iceberg_quantity",
    "ClientOrderId": "client_order_id",
}
# The leg fields each kind of leg takes; Binance's other leg parameters (pegs, and what a kind refuses here) are
# refused rather than ignored, so a bot never believes it placed something the desk did not.
OCO_LEG = ("Type", "Price", "StopPrice", "TimeInForce", "ClientOrderId")
WORKING_LEG = ("Type", "Side", "Quantity", "Price", "TimeInForce", "IcebergQty", "ClientOrderId")
PENDING_LEG = ("Type", "Side", "Quantity", "Price", "StopPrice", "TrailingDelta", "TimeInForce", "ClientOrderId")
PEGS = ("PegPriceType", "PegOffsetType", "PegOffsetValue")
LEG_SIDE_MESSAGE = re.compile(r" leg's \w+ must be (above|below) ")
# The desk's leg prefixes in Binance's words, longest first (`pending_above_price` is pendingAbovePrice).
LEG_PREFIXES = {
    "pending_above": "pendingAbove",
    "pending_below": "pendingBelow",
    "working": "working",
    "pending": "pending",
    "above": "above",
    "below": "below",
}


def _leg(call: Call, prefix: str, takes: tuple[str, ...], *, required: tuple[str, ...] = ("Type",)) -> dict:
    """One leg's parameters (`prefix` + a name of LEG_PARAMETERS) as the desk's leg fields, leaving out those not
    sent; refused in Binance's words when malformed or when the leg takes no such parameter here."""
    for name in (*LEG_PARAMETERS, *PEGS):
        if name not in takes and call.text(f"{prefix}{name}") is not None:
            raise BinanceApiError(-1013, f"Parameter '{prefix}{name}' is not supported for this order list here.")
    for name in required:
        call.text(f"{prefix}{name}", required=True)
    leg = {}
    for name in takes:
        parameter = f"{prefix}{name}"
        if name in ("Quantity", "Price", "StopPrice", "IcebergQty"):
            value = call.decimal(parameter)
        elif name == "TrailingDelta":
            value = call.integer(parameter)
        else:
            value = call.text(parameter)
        if value is None:
            continue
        if name == "Type" and value not in OrderType.values:
            raise BinanceApiError(-1116, "Invalid orderType.")
        if name == "Side" and value not in Side.values:
            raise BinanceApiError(-1117, "Invalid side.")
        if name == "TimeInForce" and value not in TimeInForce.values:
            raise BinanceApiError(-1115, "Invalid timeInForce.")
        if name == "ClientOrderId" and not CLIENT_ORDER_ID_PATTERN.fullmatch(value):
            raise errors.illegal_chars(parameter, errors.CLIENT_ORDER_ID_RANGE)
        leg[LEG_PARAMETERS[name]] = value
    return leg


def _list_client_order_id(call: Call) -> str | None:
    value = call.text("listClientOrderId")
    if value is not None and not CLIENT_ORDER_ID_PATTERN.fullmatch(value):
        raise errors.illegal_chars("listClientOrderId", errors.CLIENT_ORDER_ID_RANGE)
    return value


def oco_terms(call: Call) -> dict:
    """POST orderList/oco's parameters as place_oco's arguments, refused in Binance's words when malformed."""
    symbol = call.symbol()
    side = call.text("side", required=True)
    if side not in Side.values:
        raise BinanceApiError(-1117, "Invalid side.")
    quantity = call.decimal("quantity", required=True)
    terms = {"symbol": symbol, "side": side, "quantity": quantity}
    terms["list_client_order_id"] = _list_client_order_id(call)
    for prefix in ("above", "below"):
        terms[prefix] = _leg(call, prefix, OCO_LEG)
    return terms


def oto_terms(call: Call) -> dict:
    """POST orderList/oto's parameters as place_oto's arguments: a working order and the pending order it
    triggers, each with Binance's mandatory parameters; refused in Binance's words when malformed."""
    return {
        "symbol": call.symbol(),
        "list_client_order_id": _list_client_order_id(call),
        "working": _leg(call, "working", WORKING_LEG, required=("Type", "Side", "Price", "Quantity")),
        "pending": _leg(call, "pending", PENDING_LEG, required=("Type", "Side", "Quantity")),
    }


def otoco_terms(call: Call) -> dict:
    """POST orderList/otoco's parameters as place_otoco's arguments: a working order and the OCO pair it
    triggers (one side and quantity, an above and a below leg); refused in Binance's words when malformed."""
    symbol = call.symbol()
    list_client_order_id = _list_client_order_id(call)
    working = _leg(call, "working", WORKING_LEG, required=("Type", "Side", "Price", "Quantity"))
    pending_side = call.text("pendingSide", required=True)
    if pending_side not in Side.values:
        raise BinanceApiError(-1117, "Invalid side.")
    return {
        "symbol": symbol,
        "list_client_order_id": list_client_order_id,
        "working": working,
        "pending_side": pending_side,
        "pending_quantity": call.decimal("pendingQuantity", required=True),
        "pending_above": _leg(call, "pendingAbove", OCO_LEG),
        "pending_below": _leg(call, "pendingBelow", OCO_LEG),
    }


def _binance_field(field: str) -> str:
    """A desk error's field in Binance's words: `pending_above_stop_price` is pendingAboveStopPrice."""
    for prefix, binance_prefix in LEG_PREFIXES.items():
        if field.startswith(prefix + "_"):
            rest = field[len(prefix) + 1 :]
            parameter = next((name for name, desk_name in LEG_PARAMETERS.items() if desk_name == rest), None)
            if parameter is not None:
                return binance_prefix + parameter
    return PARAMETER_NAMES.get(field, "listClientOrderId" if field == "list_client_order_id" else field)


def list_error(exc: PaperTradingError) -> BinanceApiError:
    """The desk's refusal of an order list in Binance's words; field names become Binance's (`above_price`:
    abovePrice, `working_price`: workingPrice)."""
    if not isinstance(exc, OrderValidationError):
        return desk_error(exc)
    if any(text.startswith(LEG_ID_TAKEN[:-1]) for texts in exc.errors.values() for text in texts):
        # A leg's client order id is already an order of the account (or another leg's).
        return errors.engine_rejected(DUPLICATE_ORDER[1])
    messages = [message for texts in exc.errors.values() for message in texts]
    # An OCO pair's leg on the wrong side of the market (or, for an OTOCO, of the working order's price).
    if any(LEG_SIDE_MESSAGE.search(message) for message in messages):
        return errors.engine_rejected("The relationship of the prices for the orders is not correct.")
    renamed = {_binance_field(field): texts for field, texts in exc.errors.items()}
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
