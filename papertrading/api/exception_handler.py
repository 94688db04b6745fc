"""Turns the services' errors into HTTP answers; the only place that knows their status codes and shapes."""

from rest_framework.response import Response
from rest_framework.views import exception_handler

from ..errors import (
    OrderNotWorking,
    OrderRejected,
    OrderValidationError,
    PaperTradingError,
    RiskLimitExceeded,
    VenueUnavailable,
)
from ..models import PaperOrder


def paper_trading_exception_handler(exc, context):
    if isinstance(exc, OrderValidationError):
        return Response(exc.errors, status=400)
    if isinstance(exc, RiskLimitExceeded):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, OrderRejected):
        from .serializers import OrderSerializer

        body = {"code": exc.code, "detail": exc.message}
        if exc.order is not None:
            body["order"] = OrderSerializer(exc.order).data
        return Response(body, status=exc.http_status)
    if isinstance(exc, VenueUnavailable):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return Response({"detail": exc.message}, status=503, headers=headers)
    if isinstance(exc, OrderNotWorking | PaperTradingError):
        return Response({"detail": exc.message}, status=exc.http_status)
    if isinstance(exc, PaperOrder.DoesNotExist):
        return Response({"detail": "No such order."}, status=404)
    return exception_handler(exc, context)
