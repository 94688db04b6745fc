from dataclasses import asdict

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..models import OrderEvent, PaperOrder
from .filters import OrderFilter
from .permissions import CanSyncOrders, OrderPermissions
from .serializers import (
    AccountSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    SyncResultSerializer,
)

ERRORS = {
    400: OpenApiResponse(description="Invalid input (a message per field) or rejected by the venue (code, detail)."),
    503: OpenApiResponse(description="The venue cannot be used now (no credentials, unreachable, rate-limited)."),
}


class OrderListCreateApi(generics.GenericAPIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()  # for the permission class's model lookup
    serializer_class = OrderSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter

    def get_queryset(self):
        return selectors.order_list()

    @extend_schema(summary="List orders, newest first", operation_id="paper_trading_orders_list")
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        summary="Place an order",
        request=OrderCreateSerializer,
        responses={201: OrderDetailSerializer, 200: OrderDetailSerializer, **ERRORS},
        description="A repeated `client_order_id` returns the existing order with 200 instead of a second order.",
    )
    def post(self, request):
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.place_order(**serializer.validated_data, placed_by=request.user, source=OrderEvent.Source.API)
        order = selectors.with_history(result.order)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(OrderDetailSerializer(order).data, status=code)


class OpenOrderListApi(generics.ListAPIView):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        return selectors.open_order_list()


class OrderDetailApi(APIView):
    permission_classes = [OrderPermissions]
    queryset = PaperOrder.objects.none()

    @extend_schema(summary="One order with its fills and events", responses=OrderDetailSerializer)
    def get(self, request, pk: int):
        order = get_object_or_404(selectors.order_with_history(), pk=pk)
        return Response(OrderDetailSerializer(order).data)

    @extend_schema(
        summary="Cancel a working order",
        responses={200: OrderDetailSerializer, 409: OpenApiResponse(description="The order is no longer working.")},
    )
    def delete(self, request, pk: int):
        get_object_or_404(PaperOrder, pk=pk)
        services.cancel_order(order_id=pk, source=OrderEvent.Source.API, actor=request.user.username)
        return Response(OrderDetailSerializer(selectors.order_with_history().get(pk=pk)).data)


class OrderSyncApi(APIView):
    permission_classes = [CanSyncOrders]
    queryset = PaperOrder.objects.none()

    @extend_schema(
        summary="Sync orders with the venue now", request=None, responses={200: SyncResultSerializer, **ERRORS}
    )
    def post(self, request):
        report = services.sync_orders(source=OrderEvent.Source.API)
        return Response(SyncResultSerializer(asdict(report)).data)


class AccountApi(APIView):
    @extend_schema(summary="Balances of the active venue's account", responses={200: AccountSerializer, **ERRORS})
    def get(self, request):
        venue, balances = services.get_account_balances()
        data = {"venue": venue, "balances": [asdict(b) for b in balances]}
        return Response(AccountSerializer(data).data)
