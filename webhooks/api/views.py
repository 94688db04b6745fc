from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from papertrading.acting import request_account
from papertrading.api.serializers import ErrorSerializer
from papertrading.api.views import INVALID_INPUT, INVALID_PAGE
from papertrading.models import ApiKey

from .. import selectors, services
from ..models import Webhook, WebhookDelivery
from .serializers import CreatedWebhookSerializer, DeliverySerializer, WebhookInputSerializer, WebhookSerializer

NO_SUCH_WEBHOOK = OpenApiResponse(ErrorSerializer, description="No such webhook in the request's account.")
KEY_REFUSED = OpenApiResponse(
    ErrorSerializer, description="An account's API key may not register or change webhooks (403)."
)


def _refuse_account_key(request) -> None:
    # A leaked key could otherwise keep receiving the account's events after it is revoked.
    if isinstance(request.auth, ApiKey):
        raise PermissionDenied("An account's API key may not register or change webhooks; use the owner's token.")


def _webhook(request, pk: int) -> Webhook:
    return get_object_or_404(selectors.webhook_list(request_account(request)), pk=pk)


class WebhookListCreateApi(generics.ListAPIView):
    serializer_class = WebhookSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema is generated without a request's account
            return Webhook.objects.none()
        return selectors.webhook_list(request_account(self.request))

    @extend_schema(
        summary="The account's webhooks, newest first (never their secrets)",
        operation_id="webhooks_list",
        responses={200: WebhookSerializer(many=True), 404: INVALID_PAGE},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Register a webhook; its signing secret is shown in this answer only",
        request=WebhookInputSerializer,
        responses={
            201: OpenApiResponse(CreatedWebhookSerializer, description="The webhook, with its `secret`."),
            400: INVALID_INPUT,
            403: KEY_REFUSED,
        },
    )
    def post(self, request):
        _refuse_account_key(request)
        serializer = WebhookInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        webhook = services.create_webhook(
            account=request_account(request), **serializer.validated_data, actor=request.user.get_username()
        )
        return Response(CreatedWebhookSerializer(webhook).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(summary="One webhook", responses={200: WebhookSerializer, 404: NO_SUCH_WEBHOOK})
    def get(self, request, pk: int):
        return Response(WebhookSerializer(_webhook(request, pk)).data)

    @extend_schema(
        summary="Change a webhook's URL, events or pause it (the secret stays)",
        request=WebhookInputSerializer(partial=True),
        responses={200: WebhookSerializer, 400: INVALID_INPUT, 403: KEY_REFUSED, 404: NO_SUCH_WEBHOOK},
    )
    def patch(self, request, pk: int):
        webhook = _webhook(request, pk)
        _refuse_account_key(request)
        serializer = WebhookInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        webhook = services.update_webhook(webhook=webhook, **serializer.validated_data)
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(
        summary="Delete a webhook: nothing more is sent to it, its pending retries stop",
        responses={204: None, 404: NO_SUCH_WEBHOOK},
    )
    def delete(self, request, pk: int):
        services.delete_webhook(webhook=_webhook(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTestApi(APIView):
    @extend_schema(
        summary="Send a signed `ping` event to the webhook now and answer how it went",
        request=None,
        responses={
            200: OpenApiResponse(DeliverySerializer, description="The attempt, delivered or not (`succeeded`)."),
            404: NO_SUCH_WEBHOOK,
        },
        description="One attempt, at most 5 s, not retried.",
    )
    def post(self, request, pk: int):
        return Response(DeliverySerializer(services.send_test_ping(webhook=_webhook(request, pk))).data)


class WebhookDeliveryListApi(generics.ListAPIView):
    serializer_class = DeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return selectors.delivery_list(_webhook(self.request, self.kwargs["pk"]))

    @extend_schema(
        summary="Every attempt to deliver to this webhook, newest first: status, latency, an excerpt of the answer",
        operation_id="webhooks_deliveries_list",
        responses={200: DeliverySerializer(many=True), 404: NO_SUCH_WEBHOOK},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class WebhookRedeliverApi(APIView):
    @extend_schema(
        summary="Send a delivery's event again, now (the same body and `id`)",
        request=None,
        responses={
            200: OpenApiResponse(DeliverySerializer, description="The new attempt, delivered or not (`succeeded`)."),
            404: OpenApiResponse(ErrorSerializer, description="No such webhook or delivery."),
        },
        description="One attempt, at most 5 s, not retried.",
    )
    def post(self, request, pk: int, delivery_id: int):
        delivery = get_object_or_404(selectors.delivery_list(_webhook(request, pk)), pk=delivery_id)
        return Response(DeliverySerializer(services.redeliver(delivery=delivery)).data)
