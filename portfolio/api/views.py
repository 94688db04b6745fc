import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from papertrading.acting import request_account
from papertrading.api.views import INVALID_FILTER, INVALID_PAGE

from .. import selectors
from ..models import Trade
from .serializers import PositionSerializer, SummarySerializer, TradeSerializer


class PositionListApi(APIView):
    @extend_schema(
        summary="Positions per asset: quantity, average cost, market value, unrealized and realized P&L",
        parameters=[OpenApiParameter("include_closed", bool, description="Also positions now at zero.")],
        responses=PositionSerializer(many=True),
    )
    def get(self, request):
        include_closed = request.query_params.get("include_closed", "").lower() in {"1", "true", "yes"}
        return Response(
            PositionSerializer(
                selectors.position_list(request_account(request), include_closed=include_closed), many=True
            ).data
        )


class SummaryApi(APIView):
    @extend_schema(
        summary="Totals, open positions, P&L per agent and the recent equity curve",
        responses=SummarySerializer,
    )
    def get(self, request):
        account = request_account(request)
        summary = selectors.portfolio_summary(account)
        data = {
            **vars(summary),
            "agents": selectors.pnl_by_agent(account),
            "equity_curve": selectors.equity_curve(account, limit=200),
        }
        return Response(SummarySerializer(data).data)


class TradeFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(method="filter_symbol")
    run_id = django_filters.UUIDFilter()

    class Meta:
        model = Trade
        fields = ["symbol", "side", "source", "agent", "run_id"]

    def filter_symbol(self, queryset, name, value):
        return queryset.filter(symbol=value.upper())


@extend_schema_view(
    get=extend_schema(
        summary="The trade ledger, newest first",
        responses={200: TradeSerializer(many=True), 400: INVALID_FILTER, 404: INVALID_PAGE},
    )
)
class TradeListApi(generics.ListAPIView):
    """The trade ledger, newest first."""

    serializer_class = TradeSerializer
    filterset_class = TradeFilter

    def get_queryset(self):
        return selectors.trade_list(request_account(self.request))
