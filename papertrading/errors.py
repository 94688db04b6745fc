"""The one family of errors the paper trading services raise; the API's exception handler shapes them."""


class PaperTradingError(Exception):
    """Base class. `http_status` is what the API answers with."""

    http_status = 400

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class OrderValidationError(PaperTradingError):
    """Input that no venue would accept; nothing was written, reserved or sent."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()))


class OrderRejected(PaperTradingError):
    """The venue refused the order, with the exchange's own code and message (e.g. -2010 insufficient balance);
    `code` is None when the refusal came with no code."""

    def __init__(self, code: int | None, message: str, order=None):
        super().__init__(message)
        self.code = code
        self.order = order


class DuplicateOrder(OrderRejected):
    """A `client_order_id` already used by an order with other terms (Binance: -2010 "Duplicate order sent.")."""

    http_status = 409

    def __init__(self, order):
        super().__init__(
            DUPLICATE_ORDER[0],
            f"{DUPLICATE_ORDER[1]} client_order_id {order.client_order_id!r} is already order {order.pk}, "
            "placed with other terms.",
            order=order,
        )


class RiskLimitExceeded(PaperTradingError):
    """A risk limit of the account refuses the order (or the account is halted: limit "halted"); nothing was
    written, reserved or sent. HTTP 400 with `code` "RISK_LIMIT", the limit, its value and the order's."""

    code = "RISK_LIMIT"

    def __init__(self, limit: str, detail: str, *, limit_value=None, value=None):
        super().__init__(detail)
        self.limit = limit
        self.limit_value = limit_value
        self.value = value
        self.order = ""  # the refused order's terms for people to read, set by the check that refused it

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "limit": self.limit,
            "detail": self.message,
            "limit_value": None if self.limit_value is None else str(self.limit_value),
            "value": None if self.value is None else str(self.value),
        }


class OrderNotWorking(PaperTradingError):
    """A cancel of an order that already finished."""

    http_status = 409


class VenueUnavailable(PaperTradingError):
    """The venue cannot be reached or used now (no credentials, exchange down, rate-limit pause)."""

    http_status = 503

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


# Binance's codes and messages, reused by the simulator so both venues answer alike.
INSUFFICIENT_BALANCE = (-2010, "Account has insufficient balance for requested action.")
DUPLICATE_ORDER = (-2010, "Duplicate order sent.")
# A list leg's client_order_id already names an order of the account (the list is refused whole).
LEG_ID_TAKEN = "Already an order of this account."
WOULD_TAKE = (-2010, "Order would immediately match and take.")
WOULD_TRIGGER_IMMEDIATELY = (-2010, "Order would trigger immediately.")
UNKNOWN_ORDER = (-2011, "Unknown order sent.")
FILTER_FAILURE = -1013
BAD_SYMBOL = (-1121, "Invalid symbol.")
