"""Mapping the exchange's answers (REFERENCE.md §5) onto the venue's types; nothing here talks to the network.

An answer that does not have the shape an order needs (not an object, an error object in a 200, no `orderId`,
a status we do not know) raises MalformedAnswer: the caller keeps the order's outcome unknown and lets sync ask
again, rather than guess.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from ...models import OrderType, PaperOrder
from ...validation import ALGO_TYPES, PRICED_TYPES, STOP_LIMIT_TYPES
from ..base import BalanceReport, ExecutionReport, FillReport
from .messages import NO_SUCH_ORDER_CODE, RESET_REASON

Status = PaperOrder.Status
TIMED_TYPES = (OrderType.LIMIT, *STOP_LIMIT_TYPES)  # the types that carry a time in force
ZERO = Decimal("0")

# Binance order status → ours (REFERENCE.md §5.2). PENDING_NEW / PENDING_CANCEL are still working.
STATUS_MAP = {
    "NEW": Status.PENDING,
    "PENDING_NEW": Status.PENDING,
    "PENDING_CANCEL": Status.PENDING,
    "PARTIALLY_FILLED": Status.PARTIALLY_FILLED,
    "FILLED": Status.FILLED,
    "CANCELED": Status.CANCELLED,
    "EXPIRED": Status.EXPIRED,
    "EXPIRED_IN_MATCH": Status.EXPIRED,
    "REJECTED": Status.REJECTED,
}
# Binance order types this desk can represent; other open orders found on the account are skipped with a note.
IMPORTABLE_TYPES = {
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT_MAKER,
    "MARKET": OrderType.MARKET,
    "STOP_LOSS": OrderType.STOP_LOSS,
    "TAKE_PROFIT": OrderType.TAKE_PROFIT,
    "STOP_LOSS_LIMIT": OrderType.STOP_LOSS_LIMIT,
    "TAKE_PROFIT_LIMIT": OrderType.TAKE_PROFIT_LIMIT,
}


class MalformedAnswer(ValueError):
    """The exchange answered 2xx with something that is not the order (or trade) we asked about."""


def map_status(binance_status: str | None, executed: Decimal = ZERO) -> str | None:
    """Our status for Binance's; None for a status we do not know (never guessed as PENDING)."""
    status = STATUS_MAP.get(binance_status or "")
    if status == Status.PENDING and executed > 0:
        return Status.PARTIALLY_FILLED
    return status


def decimal_field(data: dict, name: str, default: str = "0") -> Decimal:
    value = data.get(name)
    if value is None or value == "":
        return Decimal(default)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise MalformedAnswer(f"{name} is not a number: {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise MalformedAnswer(f"{name} is not a finite number")
    return number


def _fill(row: Any, *, trade_id, is_maker: bool) -> FillReport:
    if not isinstance(row, dict):
        raise MalformedAnswer("a fill is not an object")
    return FillReport(
        price=decimal_field(row, "price"),
        quantity=decimal_field(row, "qty"),
        commission=decimal_field(row, "commission"),
        commission_asset=str(row.get("commissionAsset") or ""),
        trade_id="" if trade_id is None else str(trade_id),
        is_maker=is_maker,
    )


def fills_from_response(data: dict) -> list[FillReport]:
    """The inline ``fills`` of a FULL placement answer (taker fills: they matched on arrival)."""
    fills = data.get("fills") or []
    if not isinstance(fills, list):
        raise MalformedAnswer("fills is not a list")
    return [
        _fill(fill, trade_id=fill.get("tradeId") if isinstance(fill, dict) else None, is_maker=False) for fill in fills
    ]


def fills_from_trades(trades: Any) -> list[FillReport]:
    """``GET /api/v3/myTrades`` rows → fills; the trade id makes applying them twice a no-op."""
    if not isinstance(trades, list):
        raise MalformedAnswer("myTrades did not answer a list")
    fills = []
    for trade in trades:
        if not isinstance(trade, dict) or trade.get("id") is None:
            raise MalformedAnswer("a trade has no id")
        fills.append(_fill(trade, trade_id=trade["id"], is_maker=bool(trade.get("isMaker", False))))
    return fills


def exchange_order_id(data: Any) -> int:
    if not isinstance(data, dict):
        raise MalformedAnswer(f"expected an order object, got {type(data).__name__}")
    if "code" in data and "orderId" not in data:
        raise MalformedAnswer(f"an error object in a 2xx answer (code {data.get('code')})")
    try:
        return int(data["orderId"])
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswer("the order has no orderId") from None


def report_from_order(data: Any, *, fills: list[FillReport] | None = None, detail: str = "") -> ExecutionReport:
    """An order object (placement, cancel, query or open-orders entry) → ExecutionReport; MalformedAnswer when the
    answer is not an order we can read."""
    order_id = exchange_order_id(data)
    executed = decimal_field(data, "executedQty")
    # cummulativeQuoteQty (sic) may be negative for very old orders, meaning "unknown".
    quote = max(ZERO, decimal_field(data, "cummulativeQuoteQty"))
    raw = data.get("status")
    status = map_status(raw, executed)
    if status is None:
        raise MalformedAnswer(f"unknown order status {str(raw)[:30]!r}")
    notes = [f"Binance status {raw}"]
    if data.get("expiryReason") and data.get("expiryReason") != "NONE":
        notes.append(f"expiry reason {data['expiryReason']}")
    return ExecutionReport(
        status=status,
        executed_quantity=executed,
        cumulative_quote_quantity=quote,
        fills=fills if fills is not None else fills_from_response(data),
        exchange_order_id=order_id,
        detail=detail or f"{'; '.join(notes)} (order #{order_id}).",
        venue_status=f"Binance {raw}",
    )


def reset_report() -> ExecutionReport:
    """-2013 for an order the exchange once confirmed: the testnet was wiped, so the order is closed."""
    return ExecutionReport(
        status=Status.CANCELLED,
        reject_code=NO_SUCH_ORDER_CODE,
        reject_reason=RESET_REASON,
        detail=f"{RESET_REASON} (-2013 for an order it had confirmed); closed locally, nothing resent.",
    )


def external_order_fields(symbol: str, entry: dict) -> dict | None:
    """PaperOrder fields for an open order placed on the account elsewhere; None when the desk cannot hold it."""
    exchange_id = exchange_order_id(entry)
    order_type = IMPORTABLE_TYPES.get(str(entry.get("type")))
    quantity = decimal_field(entry, "origQty")
    side = str(entry.get("side"))
    if order_type is None or quantity <= 0 or side not in ("BUY", "SELL"):
        return None
    client_id = str(entry.get("clientOrderId") or "")
    if not client_id or len(client_id) > 36:
        client_id = f"ext-{exchange_id}"
    return dict(
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=decimal_field(entry, "price") if order_type in PRICED_TYPES else None,
        # A trailing stop may have no stop price: Binance shows it as zero.
        stop_price=(decimal_field(entry, "stopPrice") or None) if order_type in ALGO_TYPES else None,
        trailing_delta=int(entry["trailingDelta"]) if order_type in ALGO_TYPES and entry.get("trailingDelta") else None,
        time_in_force=str(entry.get("timeInForce") or "GTC") if order_type in TIMED_TYPES else "",
        iceberg_quantity=decimal_field(entry, "icebergQty") or None,
        client_order_id=client_id,
        is_external=True,
    )


def balances_from_account(data: Any) -> list[BalanceReport]:
    """Each non-empty balance of ``GET /api/v3/account``, by asset."""
    if not isinstance(data, dict) or not isinstance(data.get("balances") or [], list):
        raise MalformedAnswer("the account answer has no balances list")
    rows = []
    for entry in data.get("balances") or []:
        if not isinstance(entry, dict) or not entry.get("asset"):
            raise MalformedAnswer("a balance has no asset")
        free, locked = decimal_field(entry, "free"), decimal_field(entry, "locked")
        if free or locked:
            rows.append(BalanceReport(str(entry["asset"]), free, locked))
    return sorted(rows, key=lambda row: row.asset)


def report_from_event(event: Any) -> ExecutionReport:
    """A user data stream ``executionReport`` (REFERENCE.md §9.1) → ExecutionReport: the order's status (``X``) and
    cumulative amounts (``z``, ``Z``), with this event's own fill when it is a trade (``x`` TRADE: ``t`` trade id,
    ``l`` quantity, ``L`` price, ``n`` commission, ``N`` its asset). MalformedAnswer when it cannot be read."""
    if not isinstance(event, dict) or event.get("e") != "executionReport":
        raise MalformedAnswer("not an executionReport")
    try:
        order_id = int(event["i"])
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswer("the executionReport has no order id") from None
    executed = decimal_field(event, "z")
    quote = max(ZERO, decimal_field(event, "Z"))
    raw, execution = event.get("X"), str(event.get("x") or "")
    status = map_status(raw, executed)
    if status is None:
        raise MalformedAnswer(f"unknown order status {str(raw)[:30]!r}")
    fills = []
    if execution == "TRADE":
        trade_id = event.get("t")
        if trade_id is None or str(trade_id) == "-1":
            raise MalformedAnswer("a TRADE executionReport has no trade id")
        fills.append(
            FillReport(
                price=decimal_field(event, "L"),
                quantity=decimal_field(event, "l"),
                commission=decimal_field(event, "n"),
                commission_asset=str(event.get("N") or ""),
                trade_id=str(trade_id),
                is_maker=bool(event.get("m", False)),
            )
        )
    reason = str(event.get("r") or "")
    return ExecutionReport(
        status=status,
        executed_quantity=executed,
        cumulative_quote_quantity=quote,
        fills=fills,
        exchange_order_id=order_id,
        reject_reason=reason if status == Status.REJECTED and reason != "NONE" else "",
        detail=f"Binance status {raw} ({execution}) from the user data stream (order #{order_id}).",
        venue_status=f"Binance {raw}",
    )
