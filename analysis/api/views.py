import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from papertrading.acting import request_account
from papertrading.api.serializers import ErrorSerializer
from papertrading.api.views import INVALID_FILTER, INVALID_INPUT, INVALID_PAGE, RETRY_AFTER, VENUE_UNAVAILABLE

from .. import selectors, services
from ..models import AnalysisRun
from .permissions import RunPermissions
from .serializers import LeaderboardRowSerializer, RunCreateSerializer, RunSerializer


class RunFilter(django_filters.FilterSet):
    agent = django_filters.CharFilter()
    symbol = django_filters.CharFilter(method="filter_symbol")
    decision = django_filters.ChoiceFilter(choices=AnalysisRun.Decision.choices)
    status = django_filters.MultipleChoiceFilter(choices=AnalysisRun.Status.choices)

    class Meta:
        model = AnalysisRun
        fields = ["agent", "symbol", "decision", "status"]

    def filter_symbol(self, queryset, name, value):
        return queryset.filter(symbol=value.upper())


class RunListCreateApi(generics.ListAPIView):
    permission_classes = [RunPermissions]
    serializer_class = RunSerializer
    filterset_class = RunFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a request's account
            return AnalysisRun.objects.none()
        return selectors.run_list(request_account(self.request))

    @extend_schema(
        summary="List analysis runs, newest first, with their orders and P&L",
        operation_id="analysis_runs_list",
        responses={200: RunSerializer(many=True), 400: INVALID_FILTER, 404: INVALID_PAGE},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        runs = selectors.attach_outcomes(request_account(request), page)
        return self.get_paginated_response(RunSerializer(runs, many=True).data)

    @extend_schema(
        summary="Post an agent's decision; BUY/SELL is executed at once",
        request=RunCreateSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: OpenApiResponse(
                RunSerializer,
                description="The run was recorded: `executed` with its order(s), `skipped` for HOLD, or `failed` "
                "with the exchange's `error_code` and `reason` (e.g. -2010 insufficient balance), or refused by a "
                'risk limit of the account (`error_code` null, `reason` "Refused by the risk limit <name>: ..."; '
                "no order was placed).",
            ),
            200: OpenApiResponse(RunSerializer, description="A run with this `run_id` already exists."),
            400: OpenApiResponse(
                INVALID_INPUT.response,
                description="Invalid decision (a message per field) or an unreadable body (`detail`); no run was "
                "stored.",
            ),
            503: OpenApiResponse(
                VENUE_UNAVAILABLE.response,
                description="The venue cannot be used now; no run was stored. `Retry-After` when known.",
            ),
        },
    )
    def post(self, request):
        serializer = RunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = request_account(request)
        result = services.submit_decision(account=account, **serializer.validated_data, posted_by=request.user)
        run = selectors.attach_outcomes(account, [selectors.run_list(account).get(pk=result.run.pk)])[0]
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(RunSerializer(run).data, status=code)


class RunDetailApi(APIView):
    @extend_schema(
        summary="One analysis run with its orders, trades and P&L",
        responses={200: RunSerializer, 404: OpenApiResponse(ErrorSerializer, description="No such run.")},
    )
    def get(self, request, run_id):
        account = request_account(request)
        run = get_object_or_404(selectors.run_list(account), run_id=run_id)
        return Response(RunSerializer(selectors.attach_outcomes(account, [run])[0]).data)


class LeaderboardApi(APIView):
    @extend_schema(summary="Agents by P&L, best first", responses=LeaderboardRowSerializer(many=True))
    def get(self, request):
        return Response(LeaderboardRowSerializer(selectors.leaderboard(request_account(request)), many=True).data)
