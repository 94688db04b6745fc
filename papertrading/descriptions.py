"""How the desk words orders for people: the notices after an action or a fill, and each order type's help."""

from .models import OrderType, PaperOrder
from .money import format_decimal

ORDER_TYPE_HELP = {
    OrderType.MARKET: "Fills at once at the market price.",
    OrderType.LIMIT: "Rests until the market reaches your price; IOC and FOK expire if it does not at once.",
    OrderType.LIMIT_MAKER: "Post-only: rests at your price and fills as a maker; refused if it would fill at once.",
    OrderType.STOP_LOSS: (
        "Becomes a market order when the price reaches the stop (SELL: falls to it, BUY: rises to it)."
    ),
    OrderType.TAKE_PROFIT: (
        "Becomes a market order when the price reaches the stop (SELL: rises to it, BUY: falls to it)."
    ),
    OrderType.STOP_LOSS_LIMIT: (
        "When the price reaches the stop (SELL: falls to it, BUY: rises to it), a limit at your price goes to work."
    ),
    OrderType.TAKE_PROFIT_LIMIT: (
        "When the price reaches the stop (SELL: rises to it, BUY: falls to it), a limit at your price goes to work."
    ),
}


def describe_order(order: PaperOrder) -> str:
    text = f"#{order.pk} {order.side} {format_decimal(order.quantity)} {order.symbol} {order.get_order_type_display()}"
    if order.price is not None:
        text += f" @ {format_decimal(order.price)}"
    if order.stop_price is not None:
        text += f" stop {format_decimal(order.stop_price)}"
    if order.trailing_delta:
        text += f" trailing {order.trailing_delta} bps"
    return text


def describe_placed(order: PaperOrder) -> str:
    if order.status == PaperOrder.Status.FILLED:
        return f"Order {describe_order(order)} filled at {format_decimal(order.average_price)}."
    if order.status == PaperOrder.Status.EXPIRED and order.executed_quantity:
        # The liquidity model filled part of it (an IOC, or a MARKET order larger than the book).
        return (
            f"Order {describe_order(order)} filled {format_decimal(order.executed_quantity)} at "
            f"{format_decimal(order.average_price)}; the rest expired."
        )
    if order.status == PaperOrder.Status.EXPIRED:
        return f"Order {describe_order(order)} expired: the market did not take it at once."
    if order.status == PaperOrder.Status.UNKNOWN:
        return f"Order {describe_order(order)} sent; its outcome is not known yet — sync will resolve it."
    return f"Order {describe_order(order)} placed: {order.get_status_display().lower()}."


def describe_fill(order: PaperOrder, *, to_status: str) -> str:
    """A fill the trader did not cause from the page (the matcher's, sync's), announced to the order's owner."""
    done = "filled" if to_status == PaperOrder.Status.FILLED else "partially filled"
    average = f" at {format_decimal(order.average_price)}" if order.average_price else ""
    return f"Your order {describe_order(order)} {done}{average}."
