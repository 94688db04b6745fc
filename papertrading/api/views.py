from dataclasses import asdict

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..acting import request_account
from ..models import OrderEvent, PaperOrder
from .filters import OrderFilter
from .permissions import CanSyncOrders, OrderPermissions
from .serializers import (
    AccountSerializer,
    ErrorSerializer,
    FieldErrorsSerializer,
    OcoCreateSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderErrorSerializer,
    OrderListDetailSerializer,
    OrderListSerializer,
    OrderSerializer,
    OtocoCreateSerializer,
    OtoCreateSerializer,
    RiskLimitErrorSerializer,
    SyncResultSerializer,
)

# The error answers, shared by the views of every app (each documents the ones it can give).
INVALID_FILTER = OpenApiResponse(FieldErrorsSerializer, description="A filter value is invalid (a message per field).")
INVALID_PAGE = OpenApiResponse(ErrorSerializer, description="No such page.")
INVALID_INPUT = OpenApiResponse(
    PolymorphicProxySerializer(
        component_name="InvalidInput",
        serializers=[FieldErrorsSerializer, ErrorSerializer],
        resource_type_field_name=None,
    ),
    description="Invalid input (a message per field), or a body that could not be read (`detail`).",
)
VENUE_UNAVAILABLE = OpenApiResponse(
    ErrorSerializer,
    description="The venue cannot be used now (no credentials, unreachable, rate-limited); `Retry-After` when known.",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[503],
    description="Seconds to wait before trying again, when known.",
)
ORDER_ERROR = OpenApiResponse(
    PolymorphicProxySerializer(
        component_name="OrderInputError",
        serializers=[FieldErrorsSerializer, OrderErrorSerializer, RiskLimitErrorSerializer],
        resource_type_field_name=None,
    ),
    description="Invalid input (a message per field), a body that could not be read (`detail`), refused by the "
    "venue (`code`, `detail` and the order, kept as REJECTED), or refused by a risk limit of the account (`code` "
    '"RISK_LIMIT", the `limit`, its `limit_value` and the order\'s `value`; nothing written, reserved or sent).',
)
# The answers of the three list placements (OCO, OTO, OTOCO): one component each, whichever list it is about.
LIST_INPUT_ERROR = PolymorphicProxySerializer(
    component_name="OrderListInputError",
    serializers=[FieldErrorsSerializer, OrderErrorSerializer, RiskLimitErrorSerializer],
    resource_type_field_name=None,
)


def list_input_error(fields: str) -> OpenApiResponse:
    return OpenApiResponse(
        LIST_INPUT_ERROR,
        description=f"Invalid input (a message per field: {fields}, ...), a body that could not be read (`detail`), "
        "refused by the venue (`code` -2010 and `detail`; nothing written), or refused by a risk limit of the "
        'account (`code` "RISK_LIMIT"; every leg counts as an order; nothing written).',
    )


LIST_PLACED = OpenApiResponse(OrderListSerializer, description="A list with this `list_client_order_id` exists.")
LIST_DUPLICATE = OpenApiResponse(
    OrderErrorSerializer,
    description="The `list_client_order_id` is already a list with other terms (`code` -2010).",
)


class OrderListCreateApi(generics.GenericAPIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()  # for the permission class's model lookup
    serializer_class = OrderSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter

    def get_queryset(self):
        return selectors.order_list(request_account(self.request))

    @extend_schema(
        summary="List orders, newest first",
        operation_id="paper_trading_orders_list",
        responses={200: OrderSerializer(many=True), 400: INVALID_FILTER, 404: INVALID_PAGE},
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        summary="Place an order",
        request=OrderCreateSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: OpenApiResponse(OrderDetailSerializer, description="The order was placed."),
            200: OpenApiResponse(OrderDetailSerializer, description="An order with this `client_order_id` exists."),
            400: ORDER_ERROR,
            409: OpenApiResponse(
                OrderErrorSerializer,
                description="The `client_order_id` is already an order with other terms (`code` -2010, that order).",
            ),
            503: VENUE_UNAVAILABLE,
        },
        description="A repeated `client_order_id` with the same terms returns the existing order with 200 instead of "
        "a second order; with other terms it answers 409.",
    )
    def post(self, request):
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.place_order(
            account=request_account(request),
            **serializer.validated_data,
            placed_by=request.user,
            source=OrderEvent.Source.API,
        )
        order = selectors.with_history(result.order)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(OrderDetailSerializer(order).data, status=code)


@extend_schema_view(
    get=extend_schema(
        summary="List working orders, newest first",
        responses={200: OrderSerializer(many=True), 400: INVALID_FILTER, 404: INVALID_PAGE},
    )
)
class OpenOrderListApi(generics.ListAPIView):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a request's account
            return PaperOrder.objects.none()
        return selectors.open_order_list(request_account(self.request))


class OrderDetailApi(APIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()

    @extend_schema(
        summary="One order with its fills and events",
        responses={200: OrderDetailSerializer, 404: OpenApiResponse(ErrorSerializer, description="No such order.")},
    )
    def get(self, request, pk: int):
        order = get_object_or_404(selectors.order_with_history(request_account(request)), pk=pk)
        return Response(OrderDetailSerializer(order).data)

    @extend_schema(
        summary="Cancel a working order",
        parameters=[RETRY_AFTER],
        responses={
            200: OpenApiResponse(OrderDetailSerializer, description="The order, now cancelled."),
            400: OpenApiResponse(
                OrderErrorSerializer, description="The exchange refused the cancel (`code`, `detail`, the order)."
            ),
            404: OpenApiResponse(ErrorSerializer, description="No such order."),
            409: OpenApiResponse(ErrorSerializer, description="The order is no longer working."),
            503: VENUE_UNAVAILABLE,
        },
    )
    def delete(self, request, pk: int):
        account = request_account(request)
        get_object_or_404(account.orders, pk=pk)
        services.cancel_order(account=account, order_id=pk, source=OrderEvent.Source.API, actor=request.user.username)
        return Response(OrderDetailSerializer(selectors.order_with_history(account).get(pk=pk)).data)


class OrderSyncApi(APIView):
    permission_classes = [CanSyncOrders]
    queryset = PaperOrder.objects.none()

    @extend_schema(
        summary="Sync the account's orders with the venue now",
        request=None,
        parameters=[RETRY_AFTER],
        responses={200: SyncResultSerializer, 503: VENUE_UNAVAILABLE},
    )
    def post(self, request):
        report = services.sync_orders(account=request_account(request), source=OrderEvent.Source.API)
        return Response(SyncResultSerializer({**asdict(report), "summary": report.summary()}).data)


class OrderListsApi(generics.GenericAPIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()  # for the permission class's model lookup
    serializer_class = OrderListSerializer

    @extend_schema(
        summary="List order lists (OCO, OTO and OTOCO) with their legs, newest first",
        operation_id="paper_trading_order_lists_list",
        responses={200: OrderListSerializer(many=True), 404: INVALID_PAGE},
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.order_lists(request_account(request)))
        return self.get_paginated_response(OrderListSerializer(page, many=True).data)


def _place_list(request, serializer_class, place) -> Response:
    """Read a list's input, place it with `place` (one of the list services) and answer the list: 201 when it
    was placed now, 200 when the `list_client_order_id` named it already."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    account = request_account(request)
    result = place(
        account=account, **serializer.service_arguments(), placed_by=request.user, source=OrderEvent.Source.API
    )
    order_list = selectors.order_lists(account).get(pk=result.order_list.pk)
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(OrderListSerializer(order_list).data, status=code)


class OcoCreateApi(APIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()

    @extend_schema(
        summary="Place an OCO: an above leg and a below leg, the first reached expiring the other",
        request=OcoCreateSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: OpenApiResponse(OrderListSerializer, description="The list was placed; both legs work."),
            200: LIST_PLACED,
            400: list_input_error("`above_price`, `below_type`"),
            409: LIST_DUPLICATE,
            503: VENUE_UNAVAILABLE,
        },
        description="The funds are held once for the list (for a SELL, the quantity; for a BUY, the larger cost of "
        "its two legs). When one leg fills or triggers, the other expires; cancelling either leg cancels the list.",
    )
    def post(self, request):
        return _place_list(request, OcoCreateSerializer, services.place_oco)


class OtoCreateApi(APIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()

    @extend_schema(
        summary="Place an OTO: a working order that, once filled, puts a pending order to work",
        request=OtoCreateSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: OpenApiResponse(
                OrderListSerializer,
                description="The list was placed: the working order works, the pending one waits (`waits_for_list`).",
            ),
            200: LIST_PLACED,
            400: list_input_error("`working_price`, `pending_type`, `pending_stop_price`"),
            409: LIST_DUPLICATE,
            503: VENUE_UNAVAILABLE,
        },
        description="Only the working order holds funds at first. When it has filled completely the pending order "
        "goes to work (and holds its own funds) in the same step; when it ends any other way (cancelled, expired) "
        "the pending order ends too. Cancelling either order cancels the list.",
    )
    def post(self, request):
        return _place_list(request, OtoCreateSerializer, services.place_oto)


class OtocoCreateApi(APIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()

    @extend_schema(
        summary="Place an OTOCO: a working order that, once filled, puts a pending OCO pair (a bracket) to work",
        request=OtocoCreateSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: OpenApiResponse(
                OrderListSerializer,
                description="The list was placed: the working order works, the pending pair waits (`waits_for_list`).",
            ),
            200: LIST_PLACED,
            400: list_input_error("`working_price`, `pending_side`, `pending_above_type`, `pending_below_stop_price`"),
            409: LIST_DUPLICATE,
            503: VENUE_UNAVAILABLE,
        },
        description="Only the working order holds funds at first. When it has filled completely the pending pair "
        "goes to work as an OCO, its funds held once; when it ends any other way (cancelled, expired) the pair ends "
        "too. Cancelling any leg cancels the list.",
    )
    def post(self, request):
        return _place_list(request, OtocoCreateSerializer, services.place_otoco)


class OrderListDetailApi(APIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()

    @extend_schema(
        summary="One order list with its legs and its history (every leg's events)",
        responses={
            200: OrderListDetailSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such list."),
        },
    )
    def get(self, request, pk: int):
        order_list = get_object_or_404(selectors.order_list_history(request_account(request)), pk=pk)
        return Response(OrderListDetailSerializer(order_list).data)

    @extend_schema(
        summary="Cancel an order list (every leg)",
        parameters=[RETRY_AFTER],
        responses={
            200: OpenApiResponse(
                OrderListSerializer, description="The list, now done, its working and waiting legs cancelled."
            ),
            404: OpenApiResponse(ErrorSerializer, description="No such list."),
            409: OpenApiResponse(ErrorSerializer, description="The list is no longer executing."),
            503: VENUE_UNAVAILABLE,
        },
    )
    def delete(self, request, pk: int):
        account = request_account(request)
        get_object_or_404(account.order_lists, pk=pk)
        services.cancel_order_list(
            account=account, list_id=pk, source=OrderEvent.Source.API, actor=request.user.username
        )
        return Response(OrderListSerializer(selectors.order_lists(account).get(pk=pk)).data)


class AccountApi(APIView):
    @extend_schema(
        summary="Balances of the account the request acts as",
        responses={200: AccountSerializer},
    )
    def get(self, request):
        venue, balances = selectors.account_balances(request_account(request))
        data = {"venue": venue, "balances": [asdict(b) for b in balances]}
        return Response(AccountSerializer(data).data)
