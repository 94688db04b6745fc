import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from papertrading import risk, services
from papertrading.accounts import issue_api_key, revoke_api_key
from papertrading.acting import account_in_request, request_account, visible_accounts
from papertrading.api.serializers import ErrorSerializer, FieldErrorsSerializer
from papertrading.api.views import INVALID_FILTER, INVALID_INPUT, INVALID_PAGE, RETRY_AFTER, VENUE_UNAVAILABLE
from papertrading.models import Account, ApiKey, OrderEvent, RiskEvent

from .. import selectors
from ..models import Trade
from .serializers import (
    AccountCreatedSerializer,
    AccountCreateSerializer,
    AccountDetailSerializer,
    AccountSummarySerializer,
    ApiKeySerializer,
    HaltRequestSerializer,
    HaltResultSerializer,
    IssuedKeySerializer,
    KeyCreateSerializer,
    LeaderboardEntrySerializer,
    LimitsUpdateSerializer,
    PositionSerializer,
    RiskEventSerializer,
    RiskStateSerializer,
    SummarySerializer,
    TradeSerializer,
)


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
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a request's account
            return Trade.objects.none()
        return selectors.trade_list(request_account(self.request))


# --- accounts and their keys --------------------------------------------------------------------------------------

NO_SUCH_ACCOUNT = OpenApiResponse(ErrorSerializer, description="No such account (or not one you may see).")
ACCOUNT_INPUT_ERROR = OpenApiResponse(
    INVALID_INPUT.response,
    description="Invalid name or starting balances, or balances the testnet account cannot fund (a message per "
    "field), or a body that could not be read (`detail`); nothing was written.",
)


def refuse_account_key(request, action: str) -> None:
    """Managing accounts and keys takes the user's own token or session: a leaked key must not mint keys that
    outlive its revocation."""
    if isinstance(request.auth, ApiKey):
        raise PermissionDenied(f"An account's API key cannot {action}; use your own token or sign in.")


def require_permission(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied()


class AccountListCreateApi(generics.GenericAPIView):
    serializer_class = AccountSummarySerializer
    filter_backends = []

    def get_queryset(self):
        return visible_accounts(self.request).order_by("id")

    @extend_schema(
        summary="Your accounts with balances, equity and P&L (staff: every account)",
        operation_id="accounts_list",
        description="With an account's API key, that account alone.",
        responses={200: AccountSummarySerializer(many=True), 404: INVALID_PAGE},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        overviews = [selectors.account_overview(account) for account in page]
        return self.get_paginated_response(AccountSummarySerializer(overviews, many=True).data)

    @extend_schema(
        summary="Open an account, with its first API key",
        request=AccountCreateSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: OpenApiResponse(
                AccountCreatedSerializer,
                description="The account, and its API key (`api_key`), shown in this answer only.",
            ),
            400: ACCOUNT_INPUT_ERROR,
            503: OpenApiResponse(
                VENUE_UNAVAILABLE.response,
                description="The testnet could not be asked what it holds; nothing was written.",
            ),
        },
        description="Needs the user's own token or session (an account's API key is refused with 403) and the "
        "`papertrading.add_paperorder` permission. On the testnet the starting balances are an allocation of the "
        "exchange account and must fit in what no other account has been given.",
    )
    def post(self, request):
        refuse_account_key(request, "open accounts")
        require_permission(request, "papertrading.add_paperorder")
        serializer = AccountCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = services.open_account(
            owner=request.user, name=data["name"], starting_balances=data.get("starting_balances")
        )
        issued = issue_api_key(account, name=data["key_name"], created_by=request.user)
        overview = selectors.account_overview(account, with_performance=True)
        body = AccountCreatedSerializer(overview, context={"issued": issued}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AccountDetailApi(APIView):
    @extend_schema(
        summary="One account: balances, equity, P&L and the current period's figures",
        responses={200: AccountDetailSerializer, 404: NO_SUCH_ACCOUNT},
    )
    def get(self, request, pk: int):
        account = account_in_request(request, pk)
        return Response(AccountDetailSerializer(selectors.account_overview(account, with_performance=True)).data)


class AccountResetApi(APIView):
    @extend_schema(
        summary="Reset an account: cancel its working orders, restore its starting balances, start a new period",
        operation_id="accounts_reset",
        request=None,
        parameters=[RETRY_AFTER],
        responses={
            200: OpenApiResponse(AccountDetailSerializer, description="The account in its new period."),
            400: OpenApiResponse(FieldErrorsSerializer, description="The account cannot be reset (external)."),
            404: NO_SUCH_ACCOUNT,
            409: OpenApiResponse(
                ErrorSerializer,
                description="An order's outcome is not known yet (sync first), or one was placed meanwhile.",
            ),
            503: VENUE_UNAVAILABLE,
        },
        description="The orders, trades and P&L of earlier periods stay readable. Needs the "
        "`papertrading.change_paperorder` permission (it cancels orders).",
    )
    def post(self, request, pk: int):
        account = account_in_request(request, pk)
        require_permission(request, "papertrading.change_paperorder")
        account = services.reset_account(
            account=account, actor=request.user.get_username(), source=OrderEvent.Source.API
        )
        return Response(AccountDetailSerializer(selectors.account_overview(account, with_performance=True)).data)


class AccountKeyListCreateApi(APIView):
    @extend_schema(
        summary="The account's API keys, newest first (prefix, name, dates; never the key)",
        responses={200: ApiKeySerializer(many=True), 404: NO_SUCH_ACCOUNT},
    )
    def get(self, request, pk: int):
        account = account_in_request(request, pk)
        keys = account.api_keys.select_related("created_by").order_by("-created_at", "-id")
        return Response(ApiKeySerializer(keys, many=True).data)

    @extend_schema(
        summary="Issue another API key for the account",
        request=KeyCreateSerializer,
        responses={
            201: OpenApiResponse(IssuedKeySerializer, description="The key, shown in this answer only."),
            400: INVALID_INPUT,
            404: NO_SUCH_ACCOUNT,
        },
        description="Needs the user's own token or session: an account's API key is refused with 403.",
    )
    def post(self, request, pk: int):
        account = account_in_request(request, pk)
        refuse_account_key(request, "issue keys")
        serializer = KeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = issue_api_key(account, name=serializer.validated_data["name"], created_by=request.user)
        body = IssuedKeySerializer(issued.key, context={"raw_key": issued.raw}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AccountKeyRevokeApi(APIView):
    @extend_schema(
        summary="Revoke an API key: it answers 401 from now on",
        operation_id="accounts_keys_revoke",
        responses={
            200: OpenApiResponse(ApiKeySerializer, description="The key, with `revoked_at`."),
            404: OpenApiResponse(ErrorSerializer, description="No such account or key."),
        },
        description="Revoking a revoked key changes nothing. Needs the user's own token or session: an account's "
        "API key is refused with 403.",
    )
    def delete(self, request, pk: int, key_id: int):
        account = account_in_request(request, pk)
        key = get_object_or_404(account.api_keys, pk=key_id)
        refuse_account_key(request, "revoke keys")
        return Response(ApiKeySerializer(revoke_api_key(key)).data)


# --- risk limits and the kill switch ------------------------------------------------------------------------------


def risk_state(account: Account) -> dict:
    """The account's limits (effective, own, default, used) and its halt, as RiskStateSerializer shows them."""
    usage = risk.usage(account)
    defaults = risk.default_limits()
    limits = {}
    for name in risk.SETTINGS:
        own = getattr(account, name)
        if name == "allowed_symbols" and not own:
            own = None
        limits[name] = {"effective": usage[name]["limit"], "own": own, "default": defaults.get(name)}
        if usage[name]["used"] is not None:
            limits[name]["used"] = usage[name]["used"]
        elif name in risk.MONEY_LIMITS:
            limits[name]["used"] = None
    switch = limits["halt_on_daily_loss"]
    switch["effective"], switch["default"] = bool(switch["effective"]), bool(switch["default"])
    halted = None
    if account.halted_at is not None:
        halted = {"at": account.halted_at, "reason": account.halted_reason, "by": account.halted_by}
    return {"account": account.pk, "limits": limits, "halted": halted}


def may_loosen_limits(request) -> bool:
    """Only staff with the change permission on accounts, with their own credentials, may set a limit past the
    default; an account's API key may only tighten its own limits."""
    if isinstance(request.auth, ApiKey):
        return False
    return request.user.is_staff and request.user.has_perm("papertrading.change_account")


LIMITS_INPUT_ERROR = OpenApiResponse(
    INVALID_INPUT.response,
    description="A message per limit: not a limit, a value of the wrong shape, an unknown symbol, or a value past "
    "the default set by someone who may not loosen it; or a body that could not be read (`detail`). Nothing "
    "changed.",
)


class AccountLimitsApi(APIView):
    @extend_schema(
        summary="The account's risk limits: each one's effective value, own value, default and usage; and its halt",
        operation_id="accounts_limits_retrieve",
        responses={200: RiskStateSerializer, 404: NO_SUCH_ACCOUNT},
    )
    def get(self, request, pk: int):
        account = account_in_request(request, pk)
        return Response(RiskStateSerializer(risk_state(account)).data)

    @extend_schema(
        summary="Change the account's risk limits: only the limits given change, null restores the default",
        operation_id="accounts_limits_update",
        request=LimitsUpdateSerializer,
        responses={200: RiskStateSerializer, 400: LIMITS_INPUT_ERROR, 404: NO_SUCH_ACCOUNT},
        description="Anyone who may act on the account (its owner, or its API key) may tighten a limit: a value at or "
        "inside the default. Setting one past the default (a larger amount or count, a symbol the default does not "
        "allow, halt_on_daily_loss off when the default is on) needs staff with the `papertrading.change_account` "
        "permission, using their own token or session; an account's API key never loosens. Needs the "
        "`papertrading.change_paperorder` or `papertrading.change_account` permission. Every change is recorded as "
        "a risk event with who made it.",
    )
    def put(self, request, pk: int):
        account = account_in_request(request, pk)
        if not (
            request.user.has_perm("papertrading.change_paperorder")
            or request.user.has_perm("papertrading.change_account")
        ):
            raise PermissionDenied()
        serializer = LimitsUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = services.set_limits(
            account=account,
            values=serializer.validated_data,
            user=request.user,
            may_loosen=may_loosen_limits(request),
            tighten_only=isinstance(request.auth, ApiKey),
        )
        return Response(RiskStateSerializer(risk_state(account)).data)


class AccountHaltApi(APIView):
    @extend_schema(
        summary="Halt the account (kill switch): refuse every new order and cancel its working orders",
        operation_id="accounts_halt",
        request=HaltRequestSerializer,
        responses={
            200: OpenApiResponse(
                HaltResultSerializer,
                description="The account, halted, with the orders cancelled and those still working (and why).",
            ),
            400: OpenApiResponse(INVALID_INPUT.response, description="No reason given; nothing changed."),
            404: NO_SUCH_ACCOUNT,
        },
        description='Every new order is refused from now on (400, `code` "RISK_LIMIT", `limit` "halted") until '
        "the account is resumed. An order whose outcome is not known yet, or whose cancel the venue refused, stays "
        "working and is listed in `not_cancelled`. Halting a halted account keeps its first reason and cancels what "
        "is still working. Needs the `papertrading.change_paperorder` permission (it cancels orders); an account's "
        "API key may halt its own account, but not resume it.",
    )
    def post(self, request, pk: int):
        account = account_in_request(request, pk)
        require_permission(request, "papertrading.change_paperorder")
        serializer = HaltRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.halt_account(
            account=account,
            reason=serializer.validated_data["reason"],
            actor=request.user.get_username(),
            source=OrderEvent.Source.API,
        )
        body = {
            **risk_state(result.account),
            "cancelled": result.cancelled,
            "not_cancelled": {str(order_id): why for order_id, why in result.not_cancelled.items()},
        }
        return Response(HaltResultSerializer(body).data)


class AccountResumeApi(APIView):
    @extend_schema(
        summary="Resume a halted account: new orders are judged by its limits again",
        operation_id="accounts_resume",
        request=None,
        responses={
            200: RiskStateSerializer,
            403: OpenApiResponse(
                ErrorSerializer,
                description="An account's API key, or no `papertrading.change_paperorder` permission.",
            ),
            404: NO_SUCH_ACCOUNT,
        },
        description="Resuming an account that is not halted changes nothing. Needs the user's own token or session "
        "(an account's API key is refused with 403: a bot that halted itself does not lift its own halt) and the "
        "`papertrading.change_paperorder` permission.",
    )
    def post(self, request, pk: int):
        account = account_in_request(request, pk)
        refuse_account_key(request, "resume an account")
        require_permission(request, "papertrading.change_paperorder")
        account = services.resume_account(
            account=account, actor=request.user.get_username(), source=OrderEvent.Source.API
        )
        return Response(RiskStateSerializer(risk_state(account)).data)


class RiskEventFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=RiskEvent.Kind.choices)

    class Meta:
        model = RiskEvent
        fields = ["kind", "limit"]


@extend_schema_view(
    get=extend_schema(
        summary="The account's risk events, newest first: refusals, halts, resumes and limit changes",
        operation_id="accounts_risk_events_list",
        responses={
            200: RiskEventSerializer(many=True),
            400: INVALID_FILTER,
            404: OpenApiResponse(ErrorSerializer, description="No such account (or not one you may see), or page."),
        },
    )
)
class AccountRiskEventListApi(generics.ListAPIView):
    serializer_class = RiskEventSerializer
    filterset_class = RiskEventFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a request
            return RiskEvent.objects.none()
        return account_in_request(self.request, self.kwargs["pk"]).risk_events.order_by("-created_at", "-id")


class LeaderboardApi(APIView):
    @extend_schema(
        summary="Every account's return, P&L, fees, drawdown, Sharpe ratio and win rate, best return first",
        responses=LeaderboardEntrySerializer(many=True),
        description="Open to anyone signed in; the figures only (balances, positions and orders stay with each "
        "account's owner). Each account lists its agents, with the line for what no agent decided.",
    )
    def get(self, request):
        return Response(LeaderboardEntrySerializer(selectors.account_leaderboard(request.user), many=True).data)
