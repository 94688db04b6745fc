"""The desk's orders, fills, balances and symbol rules in Binance's response shapes."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings

from papertrading.models import OrderList, OrderType, PaperOrder, SymbolRule

ZERO = Decimal("0")
# The desk's statuses in Binance's words; an order whose outcome is not known yet (testnet timeout) is still NEW.
STATUS = {
    PaperOrder.Status.PENDING: "NEW",
    PaperOrder.Status.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    PaperOrder.Status.FILLED: "FILLED",
    PaperOrder.Status.CANCELLED: "CANCELED",
    PaperOrder.Status.REJECTED: "REJECTED",
    PaperOrder.Status.EXPIRED: "EXPIRED",
    PaperOrder.Status.UNKNOWN: "NEW",
}
STOP_TYPES = {OrderType.STOP_LOSS, OrderType.TAKE_PROFIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT}


def amount(value: Decimal | None) -> str:
    """Binance writes every amount with 8 decimals."""
    return f"{value if value is not None else ZERO:.8f}"


def millis(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment is not None else 0


def status(order: PaperOrder) -> str:
    """Binance's status of the order: a list's pending leg that is not working yet is PENDING_NEW."""
    if order.waits_for_list and order.status == PaperOrder.Status.PENDING:
        return "PENDING_NEW"
    return STATUS[order.status]


def is_working(order: PaperOrder) -> bool:
    """On the book: a stop only once its stop price was reached, a list's pending leg only once it went to work."""
    if order.waits_for_list:
        return False
    if order.order_type in STOP_TYPES:
        return order.stop_triggered_at is not None
    return order.status != PaperOrder.Status.UNKNOWN


def _result_fields(order: PaperOrder, *, orig_quote: Decimal | None = None) -> dict:
    data = {
        "price": amount(order.price),
        "origQty": amount(order.quantity),
        "executedQty": amount(order.executed_quantity),
        "origQuoteOrderQty": amount(orig_quote),
        "cummulativeQuoteQty": amount(order.cumulative_quote_quantity),
        "status": status(order),
        # Binance shows GTC on orders that take no time in force.
        "timeInForce": order.time_in_force or "GTC",
        "type": order.order_type,
        "side": order.side,
    }
    if order.stop_price is not None:
        data["stopPrice"] = amount(order.stop_price)
    if order.iceberg_quantity is not None:
        data["icebergQty"] = amount(order.iceberg_quantity)
    if order.trailing_delta is not None:
        data["trailingDelta"] = order.trailing_delta
        if order.trailing_started_at is not None:
            data["trailingTime"] = millis(order.trailing_started_at)
    return data


def list_id(order: PaperOrder) -> int:
    """The order's list (a leg of an OCO, OTO or OTOCO), -1 for an order on its own."""
    return order.order_list_id if order.order_list_id is not None else -1


# Binance reports an OTOCO as an OTO: the pending OCO pair shows in its legs, not in the contingency type.
CONTINGENCY_TYPE = {OrderList.ContingencyType.OTOCO: OrderList.ContingencyType.OTO}


def in_list_order(legs: list[PaperOrder]) -> list[PaperOrder]:
    """A list's legs as Binance lists them: an OTO or OTOCO's working order first, then the others oldest first."""
    return sorted(legs, key=lambda leg: (leg.list_leg != PaperOrder.ListLeg.WORKING, leg.pk))


def list_status(order_list: OrderList, legs: list[PaperOrder], *, transaction_time: int | None = None) -> dict:
    """An order list as GET orderList, openOrderList and allOrderList show it: its state and its legs' ids."""
    legs = in_list_order(legs)
    return {
        "orderListId": order_list.pk,
        "contingencyType": CONTINGENCY_TYPE.get(order_list.contingency_type, order_list.contingency_type),
        "listStatusType": order_list.list_status_type,
        "listOrderStatus": order_list.list_order_status,
        "listClientOrderId": order_list.list_client_order_id,
        "transactionTime": transaction_time if transaction_time is not None else millis(order_list.created_at),
        "symbol": order_list.symbol,
        "orders": [{"symbol": leg.symbol, "orderId": leg.pk, "clientOrderId": leg.client_order_id} for leg in legs],
    }


def order_list(order_list: OrderList, legs: list[PaperOrder]) -> dict:
    """POST orderList/oco, oto and otoco's answer: the list, its legs, and each leg as a RESULT."""
    legs = in_list_order(legs)
    return {**list_status(order_list, legs), "orderReports": [new_order(leg, "RESULT") for leg in legs]}


def cancelled_list(
    order_list: OrderList, legs: list[PaperOrder], *, cancel_client_order_id: str, transact_time: int
) -> dict:
    """DELETE orderList's answer: the list, now done, and each leg's cancel report under the cancel's id."""
    reports = [
        cancelled(leg, cancel_client_order_id=cancel_client_order_id, transact_time=transact_time)
        for leg in in_list_order(legs)
    ]
    return {**list_status(order_list, legs, transaction_time=transact_time), "orderReports": reports}


def fill_list(order: PaperOrder) -> list[dict]:
    return [
        {
            "price": amount(fill.price),
            "qty": amount(fill.quantity),
            "commission": amount(fill.commission),
            "commissionAsset": fill.commission_asset,
            "tradeId": fill.pk,
        }
        for fill in order.fills.all()
    ]


def new_order(order: PaperOrder, response_type: str, *, orig_quote: Decimal | None = None) -> dict:
    """POST /api/v3/order's answer: ACK, RESULT or FULL."""
    data = {
        "symbol": order.symbol,
        "orderId": order.pk,
        "orderListId": list_id(order),
        "clientOrderId": order.client_order_id,
        "transactTime": millis(order.created_at),
    }
    if response_type == "ACK":
        return data
    data.update(_result_fields(order, orig_quote=orig_quote))
    data["workingTime"] = millis(order.created_at) if is_working(order) else -1
    data["selfTradePreventionMode"] = "NONE"
    if response_type == "FULL":
        data["fills"] = fill_list(order)
    return data


def order(order: PaperOrder) -> dict:
    """An order as GET order, openOrders and allOrders show it."""
    working = is_working(order)
    return {
        "symbol": order.symbol,
        "orderId": order.pk,
        "orderListId": list_id(order),
        "clientOrderId": order.client_order_id,
        **_result_fields(order),
        "stopPrice": amount(order.stop_price),
        "icebergQty": amount(order.iceberg_quantity),
        "time": millis(order.created_at),
        "updateTime": millis(order.updated_at),
        "isWorking": working,
        "workingTime": millis(order.stop_triggered_at or order.created_at) if working else -1,
        "origQuoteOrderQty": amount(None),
        "selfTradePreventionMode": "NONE",
    }


def cancelled(order: PaperOrder, *, cancel_client_order_id: str, transact_time: int) -> dict:
    """DELETE order's answer: the cancel's own client id, the order's in origClientOrderId."""
    return {
        "symbol": order.symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order.pk,
        "orderListId": list_id(order),
        "clientOrderId": cancel_client_order_id,
        "transactTime": transact_time,
        **_result_fields(order),
        "selfTradePreventionMode": "NONE",
    }


def trade(fill) -> dict:
    order = fill.order
    return {
        "symbol": order.symbol,
        "id": fill.pk,
        "orderId": order.pk,
        "orderListId": list_id(order),
        "price": amount(fill.price),
        "qty": amount(fill.quantity),
        "quoteQty": amount(fill.price * fill.quantity),
        "commission": amount(fill.commission),
        "commissionAsset": fill.commission_asset,
        "time": millis(fill.created_at),
        "isBuyer": order.side == "BUY",
        "isMaker": fill.is_maker,
        "isBestMatch": True,
    }


def account(account, balances, *, omit_zero: bool, now_ms: int) -> dict:
    fee = settings.SIMULATOR_FEE_RATE
    rows = [
        {"asset": b.asset, "free": amount(b.free), "locked": amount(b.locked)}
        for b in balances
        if not (omit_zero and not b.free and not b.locked)
    ]
    return {
        # Commissions in basis points, as Binance gives them (10 = 0.1 %).
        "makerCommission": int(fee * 10000),
        "takerCommission": int(fee * 10000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": amount(fee), "taker": amount(fee), "buyer": amount(ZERO), "seller": amount(ZERO)},
        "canTrade": account.halted_at is None,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now_ms,
        "accountType": "SPOT",
        "balances": rows,
        "permissions": ["SPOT"],
        "uid": account.pk,
    }


def symbol_info(rule: SymbolRule) -> dict:
    """One exchangeInfo symbol: the desk's rule and the filters it enforces (the others are left out)."""
    filters = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": amount(rule.min_price),
            "maxPrice": amount(rule.max_price),
            "tickSize": amount(rule.tick_size),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": amount(rule.min_quantity),
            "maxQty": amount(rule.max_quantity),
            "stepSize": amount(rule.step_size),
        },
    ]
    if rule.iceberg_parts:
        filters.append({"filterType": "ICEBERG_PARTS", "limit": rule.iceberg_parts})
    filters.append(
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": amount(rule.market_min_quantity),
            "maxQty": amount(rule.market_max_quantity),
            "stepSize": amount(rule.market_step_size),
        }
    )
    if any((rule.bid_multiplier_up, rule.bid_multiplier_down, rule.ask_multiplier_up, rule.ask_multiplier_down)):
        filters.append(
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": str(rule.bid_multiplier_up.normalize()),
                "bidMultiplierDown": str(rule.bid_multiplier_down.normalize()),
                "askMultiplierUp": str(rule.ask_multiplier_up.normalize()),
                "askMultiplierDown": str(rule.ask_multiplier_down.normalize()),
                # The desk judges against the last price, not an average.
                "avgPriceMins": 0,
            }
        )
    filters.append(
        {
            "filterType": "NOTIONAL",
            "minNotional": amount(rule.min_notional),
            "applyMinToMarket": rule.apply_min_notional_to_market,
            "maxNotional": amount(rule.max_notional),
            "applyMaxToMarket": rule.apply_max_notional_to_market,
            "avgPriceMins": 0,
        }
    )
    if rule.trailing_allowed and rule.max_trailing_above_delta:
        filters.append(
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": rule.min_trailing_above_delta,
                "maxTrailingAboveDelta": rule.max_trailing_above_delta,
                "minTrailingBelowDelta": rule.min_trailing_below_delta,
                "maxTrailingBelowDelta": rule.max_trailing_below_delta,
            }
        )
    if rule.max_num_orders:
        filters.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": rule.max_num_orders})
    if rule.max_num_algo_orders:
        filters.append({"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": rule.max_num_algo_orders})
    return {
        "symbol": rule.symbol,
        "status": rule.status,
        "baseAsset": rule.base_asset,
        "baseAssetPrecision": settings.MONEY_DECIMAL_PLACES,
        "quoteAsset": rule.quote_asset,
        "quotePrecision": settings.MONEY_DECIMAL_PLACES,
        "quoteAssetPrecision": settings.MONEY_DECIMAL_PLACES,
        "baseCommissionPrecision": settings.MONEY_DECIMAL_PLACES,
        "quoteCommissionPrecision": settings.MONEY_DECIMAL_PLACES,
        "orderTypes": list(rule.order_types) or list(OrderType.values),
        "icebergAllowed": rule.iceberg_allowed,
        # The gateway places OCO, OTO and OTOCO lists (orderList/oco, oto, otoco).
        "ocoAllowed": True,
        "otoAllowed": True,
        "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": rule.trailing_allowed,
        "cancelReplaceAllowed": False,
        "amendAllowed": False,
        "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": filters,
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def rate_limits() -> list[dict]:
    return [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": settings.GATEWAY_WEIGHT_LIMIT_1M,
        },
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": settings.GATEWAY_ORDER_LIMIT_10S},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": settings.GATEWAY_ORDER_LIMIT_1D},
    ]
