"""Binance's error answers: `{"code": ..., "msg": ...}` with its codes, messages and HTTP statuses."""

DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
CLIENT_ORDER_ID_RANGE = "^[a-zA-Z0-9-_]{1,36}$"


class BinanceApiError(Exception):
    """An answer the gateway gives instead of doing what was asked; nothing was written."""

    def __init__(self, code: int, msg: str, *, status: int = 400, retry_after: int | None = None):
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.retry_after = retry_after


def mandatory(name: str) -> BinanceApiError:
    return BinanceApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> BinanceApiError:
    return BinanceApiError(-1106, f"Parameter '{name}' sent when not required.")


def illegal_chars(name: str, legal: str) -> BinanceApiError:
    return BinanceApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def too_precise(name: str) -> BinanceApiError:
    return BinanceApiError(-1111, f"Parameter '{name}' has too much precision.")


def bad_key_format() -> BinanceApiError:
    return BinanceApiError(-2014, "API-key format invalid.", status=401)


def rejected_key() -> BinanceApiError:
    return BinanceApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)


def bad_signature() -> BinanceApiError:
    return BinanceApiError(-1022, "Signature for this request is not valid.")


def outside_recv_window() -> BinanceApiError:
    return BinanceApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def ahead_of_server() -> BinanceApiError:
    return BinanceApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def bad_symbol() -> BinanceApiError:
    return BinanceApiError(-1121, "Invalid symbol.")


def no_such_order() -> BinanceApiError:
    return BinanceApiError(-2013, "Order does not exist.")


def unknown_order_sent() -> BinanceApiError:
    return BinanceApiError(-2011, "Unknown order sent.")


def no_such_order_list() -> BinanceApiError:
    return BinanceApiError(-2013, "Order list does not exist.")


def unknown_order_list_sent() -> BinanceApiError:
    return BinanceApiError(-2011, "Unknown order list sent.")


def engine_rejected(msg: str) -> BinanceApiError:
    return BinanceApiError(-2010, msg)


def too_much_weight(limit: int, retry_after: int) -> BinanceApiError:
    return BinanceApiError(
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket "
        "Streams for live updates to avoid polling the API.",
        status=429,
        retry_after=retry_after,
    )


def too_many_orders(limit: int, interval: str, retry_after: int) -> BinanceApiError:
    return BinanceApiError(
        -1015,
        f"Too many new orders; current limit is {limit} orders per {interval}.",
        status=429,
        retry_after=retry_after,
    )
