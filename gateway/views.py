"""Binance's Spot REST API under /binance/api/v3/, in front of the desk's services.

Each endpoint reads Binance's parameters, verifies a signed request as Binance does (calls.py), translates to the
desk's terms (translation.py), calls the same services and selectors as the desk's own API, and answers in
Binance's shapes, codes and headers. Nothing here decides anything about an order: validation, funds, risk limits
and execution are the services'.
"""

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from papertrading import selectors as desk
from papertrading import services as desk_services
from papertrading.errors import DUPLICATE_ORDER, OrderNotWorking, PaperTradingError
from papertrading.models import OrderEvent, OrderList, PaperOrder

from . import errors, limits, market, selectors, shapes
from .calls import Call, authenticate, now_ms, read_call
from .errors import BinanceApiError
from .translation import (
    CLIENT_ORDER_ID_PATTERN,
    desk_error,
    list_error,
    oco_terms,
    order_terms,
    oto_terms,
    otoco_terms,
    symbol_rule,
)

NONE, USER_DATA, TRADE = "NONE", "USER_DATA", "TRADE"
ORDER_ID_ALPHABET = string.ascii_letters + string.digits
CANCEL_RESTRICTIONS = {
    "ONLY_NEW": PaperOrder.Status.PENDING,
    "ONLY_PARTIALLY_FILLED": PaperOrder.Status.PARTIALLY_FILLED,
}


@dataclass(frozen=True)
class Operation:
    handler: Callable[[Call], object]
    weight: int | Callable[[Call], int]
    security: str = NONE
    # The desk permission the key's owner needs, as the desk's own API asks it.
    permission: str = ""


def endpoint(**operations: Operation):
    """A view answering each HTTP method with its operation (another method: 405 in Binance's error shape)."""

    @csrf_exempt
    def view(request):
        return dispatch(request, operations)

    return view


def dispatch(request, operations: dict[str, Operation]) -> JsonResponse:
    """Count the request's weight (per key, or per address without one), verify it when it is signed, run the
    operation; every answer, refusals included, carries the weight used and, after an order, the order counts."""
    raw_key = request.headers.get("X-MBX-APIKEY", "")
    bucket = f"key:{raw_key}" if raw_key else f"ip:{request.META.get('REMOTE_ADDR', '')}"
    call = None
    retry_after = None
    try:
        operation = operations.get(request.method)
        if operation is None:
            raise BinanceApiError(-1000, f"Method {request.method} is not allowed here.", status=405)
        call, query, body = read_call(request)
        weight = operation.weight(call) if callable(operation.weight) else operation.weight
        limits.spend_weight(bucket, weight)
        if operation.security != NONE:
            authenticate(call, query, body, permission=operation.permission)
        data, status = operation.handler(call), 200
    except BinanceApiError as exc:
        data, status, retry_after = {"code": exc.code, "msg": exc.msg}, exc.status, exc.retry_after
    used = limits.used_weight(bucket)
    headers = {"X-MBX-USED-WEIGHT-1M": str(used), "X-MBX-USED-WEIGHT": str(used)}
    if call is not None and call.order_counts is not None:
        headers.update({f"X-MBX-ORDER-COUNT-{suffix}": str(n) for suffix, n in call.order_counts.items()})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JsonResponse(data, status=status, safe=False, headers=headers)


# --- public market data ------------------------------------------------------------------------------------


def ping(call: Call) -> dict:
    return {}


def server_time(call: Call) -> dict:
    return {"serverTime": now_ms()}


def _requested_rules(call: Call) -> list:
    symbol, symbols = call.symbol(required=False), call.symbols()
    if symbol is not None:
        return [symbol_rule(symbol)]
    if symbols is not None:
        return [symbol_rule(name) for name in symbols]
    return desk.tradable_symbol_rules()


def exchange_info(call: Call) -> dict:
    return {
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": shapes.rate_limits(),
        "exchangeFilters": [],
        "symbols": [shapes.symbol_info(rule) for rule in _requested_rules(call)],
    }


def _from_testnet(call: Call, kind: str):
    """A ticker from the testnet, for the desk's symbols asked for (another symbol: -1121 as in simulation)."""
    names = [rule.symbol for rule in _requested_rules(call)]
    return market.testnet_tickers(kind, call.symbol(required=False), names)


def ticker_price(call: Call):
    if market.from_testnet():
        return _from_testnet(call, "ticker_price")
    symbol = call.symbol(required=False)
    if symbol is not None:
        symbol_rule(symbol)
        row = selectors.price_row(symbol)
        if row is None:
            raise errors.bad_symbol()
        return {"symbol": row.symbol, "price": shapes.amount(row.price)}
    names = [rule.symbol for rule in _requested_rules(call)]
    return [{"symbol": row.symbol, "price": shapes.amount(row.price)} for row in selectors.price_rows(names)]


def _one_or_many(call: Call, build: Callable) -> object:
    single = call.symbol(required=False) is not None
    rows = [row for rule in _requested_rules(call) if (row := build(rule)) is not None]
    if single:
        if not rows:
            raise errors.bad_symbol()
        return rows[0]
    return rows


def book_ticker(call: Call):
    if market.from_testnet():
        return _from_testnet(call, "book_ticker")

    def build(rule):
        levels = market.book(rule.symbol, rule)
        if levels is None:
            return None
        bid, ask, depth = levels
        quantity = shapes.amount(depth)
        return {
            "symbol": rule.symbol,
            "bidPrice": shapes.amount(bid),
            "bidQty": quantity,
            "askPrice": shapes.amount(ask),
            "askQty": quantity,
        }

    return _one_or_many(call, build)


def ticker_24hr(call: Call):
    if market.from_testnet():
        return _from_testnet(call, "ticker_24hr")
    now = now_ms()
    return _one_or_many(call, lambda rule: market.ticker_24hr(rule.symbol, rule, now=now))


def depth(call: Call) -> dict:
    rule = symbol_rule(call.symbol())
    limit = call.limit(default=100, maximum=5000)
    if market.from_testnet():
        return market.testnet_depth(rule.symbol, limit)
    levels = market.book(rule.symbol, rule)
    row = selectors.price_row(rule.symbol)
    if levels is None or row is None:
        return {"lastUpdateId": 0, "bids": [], "asks": []}
    bid, ask, quantity = levels
    return {
        "lastUpdateId": shapes.millis(row.updated_at),
        "bids": [[shapes.amount(bid), shapes.amount(quantity)]],
        "asks": [[shapes.amount(ask), shapes.amount(quantity)]],
    }


def depth_weight(call: Call) -> int:
    limit = call.limit(default=100, maximum=5000)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def klines(call: Call) -> list:
    rule = symbol_rule(call.symbol())
    interval = call.text("interval", required=True)
    if interval not in market.intervals():
        raise BinanceApiError(-1120, "Invalid interval.")
    start, end, limit = call.integer("startTime"), call.integer("endTime"), call.limit(default=500, maximum=1000)
    if market.from_testnet():
        return market.testnet_klines(rule.symbol, interval, start=start, end=end, limit=limit)
    return market.klines(rule.symbol, interval, start=start, end=end, limit=limit, now=now_ms())


def new_order(call: Call) -> dict:
    terms = order_terms(call)
    order_bucket = f"binance-key:{call.key.pk}"
    limits.check_order_room(order_bucket)
    try:
        result = desk_services.place_order(
            account=call.account,
            client_order_id=terms.client_order_id,
            placed_by=call.owner,
            source=OrderEvent.Source.API,
            **terms.fields,
        )
    except PaperTradingError as exc:
        raise desk_error(exc) from None
    if not result.created:
        # The account already has an order under this client order id: Binance's answer to a duplicate.
        raise errors.engine_rejected(DUPLICATE_ORDER[1])
    call.order_counts = limits.count_order(order_bucket)
    return shapes.new_order(result.order, terms.response_type, orig_quote=terms.quote_quantity)


def _new_cancel_id() -> str:
    """The client order id Binance gives a cancel that names none: 22 random letters and digits."""
    return "".join(secrets.choice(ORDER_ID_ALPHABET) for _ in range(22))


def _place_list(call: Call, place: Callable, terms: dict, *, orders: int) -> dict:
    """Place an order list through the desk's service; it counts `orders` new orders, one per leg, as Binance
    counts them (OCO and OTO 2, OTOCO 3)."""
    order_bucket = f"binance-key:{call.key.pk}"
    limits.check_order_room(order_bucket, orders)
    try:
        result = place(account=call.account, placed_by=call.owner, source=OrderEvent.Source.API, **terms)
    except PaperTradingError as exc:
        raise list_error(exc) from None
    if not result.created:
        # The account already has a list under this listClientOrderId: Binance's answer to a duplicate.
        raise errors.engine_rejected(DUPLICATE_ORDER[1])
    call.order_counts = limits.count_order(order_bucket, orders)
    legs = list(result.order_list.orders.order_by("id"))
    return shapes.order_list(result.order_list, legs)


def new_oco(call: Call) -> dict:
    """POST orderList/oco: both legs placed by the desk's OCO service."""
    return _place_list(call, desk_services.place_oco, oco_terms(call), orders=2)


def new_oto(call: Call) -> dict:
    """POST orderList/oto: a working order, and a pending one that goes to work once the working order fills."""
    return _place_list(call, desk_services.place_oto, oto_terms(call), orders=2)


def new_otoco(call: Call) -> dict:
    """POST orderList/otoco: a working order, and a pending OCO pair that goes to work once it fills."""
    return _place_list(call, desk_services.place_otoco, otoco_terms(call), orders=3)


def _looked_up_list(call: Call, client_id_parameter: str) -> OrderList | None:
    """The account's list by orderListId, or else by its list client order id (sent as `client_id_parameter`);
    when both are sent, the list found by id must also carry that client id."""
    list_id, client_id = call.integer("orderListId"), call.text(client_id_parameter)
    if list_id is None and client_id is None:
        raise BinanceApiError(
            -1102, f"Param '{client_id_parameter}' or 'orderListId' must be sent, but both were empty/null!"
        )
    found = selectors.find_order_list(call.account, list_id=list_id, list_client_order_id=client_id)
    if found is not None and client_id is not None and found.list_client_order_id != client_id:
        return None
    return found


def query_order_list(call: Call) -> dict:
    """GET orderList: one list by orderListId or origClientOrderId (its listClientOrderId)."""
    order_list = _looked_up_list(call, "origClientOrderId")
    if order_list is None:
        raise errors.no_such_order_list()
    return shapes.list_status(order_list, list(order_list.orders.all()))


def cancel_order_list(call: Call) -> dict:
    """DELETE orderList: cancel an executing list on `symbol` (every leg), by orderListId or listClientOrderId."""
    symbol = call.symbol()
    cancel_id = call.text("newClientOrderId")
    if cancel_id is not None and not CLIENT_ORDER_ID_PATTERN.fullmatch(cancel_id):
        raise errors.illegal_chars("newClientOrderId", errors.CLIENT_ORDER_ID_RANGE)
    order_list = _looked_up_list(call, "listClientOrderId")
    if order_list is None or order_list.symbol != symbol or not order_list.is_executing:
        raise errors.unknown_order_list_sent()
    try:
        desk_services.cancel_order_list(
            account=call.account, list_id=order_list.pk, source=OrderEvent.Source.API, actor=call.owner.get_username()
        )
    except (OrderList.DoesNotExist, OrderNotWorking):
        raise errors.unknown_order_list_sent() from None  # it finished meanwhile
    except PaperTradingError as exc:
        raise desk_error(exc) from None
    order_list = selectors.find_order_list(call.account, list_id=order_list.pk, list_client_order_id=None)
    return shapes.cancelled_list(
        order_list,
        list(order_list.orders.all()),
        cancel_client_order_id=cancel_id or _new_cancel_id(),
        transact_time=now_ms(),
    )


def open_order_lists(call: Call) -> list:
    return [
        shapes.list_status(order_list, list(order_list.orders.all()))
        for order_list in selectors.open_order_lists(call.account)
    ]


def all_order_lists(call: Call) -> list:
    order_lists = selectors.all_order_lists(
        call.account,
        from_id=call.integer("fromId"),
        start=_moment(call, "startTime"),
        end=_moment(call, "endTime"),
        limit=call.limit(default=500, maximum=1000),
    )
    return [shapes.list_status(order_list, list(order_list.orders.all())) for order_list in order_lists]


def test_order(call: Call) -> dict:
    """Validates like POST order and places nothing."""
    terms = order_terms(call)
    try:
        desk_services.check_order(**terms.fields)
    except PaperTradingError as exc:
        raise desk_error(exc) from None
    if call.text("computeCommissionRates") == "true":
        fee = shapes.amount(settings.SIMULATOR_FEE_RATE)
        zero = shapes.amount(None)
        return {
            "standardCommissionForOrder": {"maker": fee, "taker": fee},
            "specialCommissionForOrder": {"maker": zero, "taker": zero},
            "taxCommissionForOrder": {"maker": zero, "taker": zero},
            "discount": {
                "enabledForAccount": False,
                "enabledForSymbol": False,
                "discountAsset": "BNB",
                "discount": zero,
            },
        }
    return {}


def _looked_up(call: Call) -> PaperOrder | None:
    symbol = call.symbol()
    order_id, client_order_id = call.integer("orderId"), call.text("origClientOrderId")
    if order_id is None and client_order_id is None:
        raise BinanceApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    order = selectors.find_order(call.account, symbol=symbol, order_id=order_id, client_order_id=client_order_id)
    if order is not None and order_id is not None and client_order_id and order.client_order_id != client_order_id:
        raise BinanceApiError(-2039, "Client order ID is not correct for this order ID.")
    return order


def query_order(call: Call) -> dict:
    order = _looked_up(call)
    if order is None:
        raise errors.no_such_order()
    return shapes.order(order)


def _cancel(call: Call, order: PaperOrder) -> dict:
    try:
        cancelled = desk_services.cancel_order(
            account=call.account, order_id=order.pk, source=OrderEvent.Source.API, actor=call.owner.get_username()
        )
    except PaperOrder.DoesNotExist:
        raise errors.unknown_order_sent() from None
    except PaperTradingError as exc:
        raise desk_error(exc) from None
    cancel_id = call.text("newClientOrderId") or _new_cancel_id()
    return shapes.cancelled(cancelled, cancel_client_order_id=cancel_id, transact_time=now_ms())


def cancel_order(call: Call) -> dict:
    order = _looked_up(call)
    if order is None or not order.is_working:
        raise errors.unknown_order_sent()
    restriction = call.text("cancelRestrictions")
    if restriction is not None:
        if restriction not in CANCEL_RESTRICTIONS:
            raise errors.illegal_chars("cancelRestrictions", "ONLY_NEW|ONLY_PARTIALLY_FILLED")
        if order.status != CANCEL_RESTRICTIONS[restriction]:
            raise BinanceApiError(-2011, "Order was not canceled due to cancel restrictions.")
    return _cancel(call, order)


def open_orders(call: Call) -> list:
    return [shapes.order(order) for order in selectors.working_orders(call.account, call.symbol(required=False))]


def cancel_open_orders(call: Call) -> list:
    orders = selectors.working_orders(call.account, call.symbol())
    if not orders:
        raise errors.unknown_order_sent()
    answers = []
    for order in orders:
        try:
            answers.append(_cancel(call, order))
        except BinanceApiError:
            continue  # it finished meanwhile
    return answers


def _moment(call: Call, name: str):
    value = call.integer(name)
    return market.moment(value) if value is not None else None


def all_orders(call: Call) -> list:
    orders = selectors.all_orders(
        call.account,
        symbol=call.symbol(),
        from_id=call.integer("orderId"),
        start=_moment(call, "startTime"),
        end=_moment(call, "endTime"),
        limit=call.limit(default=500, maximum=1000),
    )
    return [shapes.order(order) for order in orders]


def my_trades(call: Call) -> list:
    fills = selectors.account_fills(
        call.account,
        symbol=call.symbol(),
        order_id=call.integer("orderId"),
        from_id=call.integer("fromId"),
        start=_moment(call, "startTime"),
        end=_moment(call, "endTime"),
        limit=call.limit(default=500, maximum=1000),
    )
    return [shapes.trade(fill) for fill in fills]


def account(call: Call) -> dict:
    _, balances = desk.account_balances(call.account)
    omit_zero = call.text("omitZeroBalances") == "true"
    return shapes.account(call.account, balances, omit_zero=omit_zero, now_ms=now_ms())


def _by_symbol(one: int, many: int) -> Callable[[Call], int]:
    return lambda call: one if call.params.get("symbol") else many


PLACE = "papertrading.add_paperorder"
CANCEL = "papertrading.change_paperorder"

ping_view = endpoint(GET=Operation(ping, 1))
time_view = endpoint(GET=Operation(server_time, 1))
exchange_info_view = endpoint(GET=Operation(exchange_info, 20))
ticker_price_view = endpoint(GET=Operation(ticker_price, _by_symbol(2, 4)))
ticker_24hr_view = endpoint(GET=Operation(ticker_24hr, _by_symbol(2, 80)))
book_ticker_view = endpoint(GET=Operation(book_ticker, _by_symbol(2, 4)))
depth_view = endpoint(GET=Operation(depth, depth_weight))
klines_view = endpoint(GET=Operation(klines, 2))
order_view = endpoint(
    POST=Operation(new_order, 1, TRADE, PLACE),
    GET=Operation(query_order, 4, USER_DATA),
    DELETE=Operation(cancel_order, 1, TRADE, CANCEL),
)
test_order_view = endpoint(POST=Operation(test_order, 1, TRADE, PLACE))
oco_view = endpoint(POST=Operation(new_oco, 1, TRADE, PLACE))
oto_view = endpoint(POST=Operation(new_oto, 1, TRADE, PLACE))
otoco_view = endpoint(POST=Operation(new_otoco, 1, TRADE, PLACE))
order_list_view = endpoint(
    GET=Operation(query_order_list, 4, USER_DATA),
    DELETE=Operation(cancel_order_list, 1, TRADE, CANCEL),
)
open_order_list_view = endpoint(GET=Operation(open_order_lists, 6, USER_DATA))
all_order_list_view = endpoint(GET=Operation(all_order_lists, 20, USER_DATA))
open_orders_view = endpoint(
    GET=Operation(open_orders, _by_symbol(6, 80), USER_DATA),
    DELETE=Operation(cancel_open_orders, 1, TRADE, CANCEL),
)
all_orders_view = endpoint(GET=Operation(all_orders, 20, USER_DATA))
my_trades_view = endpoint(GET=Operation(my_trades, lambda call: 5 if call.params.get("orderId") else 20, USER_DATA))
account_view = endpoint(GET=Operation(account, 20, USER_DATA))
