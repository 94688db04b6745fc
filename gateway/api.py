"""`/api/accounts/{id}/binance-keys`: an account's keys for the Binance-compatible gateway."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from papertrading.acting import account_in_request
from papertrading.api.serializers import ErrorSerializer
from papertrading.api.views import INVALID_INPUT
from papertrading.models import ApiKey

from . import services
from .models import BinanceKey

NO_SUCH_ACCOUNT = OpenApiResponse(ErrorSerializer, description="No such account (or not one you may see).")
KEY_REFUSED = OpenApiResponse(
    ErrorSerializer, description="An account's API key may not create or revoke keys; use your own token (403)."
)


class BinanceKeyCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=BinanceKey.Kind.choices,
        default=BinanceKey.Kind.HMAC,
        help_text="HMAC: the desk generates a secret. ED25519: send your public key; you keep the private one.",
    )
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    public_key = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="ED25519 only: the public key in PEM."
    )


class BinanceKeySerializer(serializers.ModelSerializer):
    """A key as stored: never its secret."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    is_active = serializers.BooleanField(read_only=True, help_text="False once revoked.")

    class Meta:
        model = BinanceKey
        fields = ["id", "name", "kind", "api_key", "public_key", "created_at", "created_by", "revoked_at", "is_active"]
        read_only_fields = fields


class IssuedBinanceKeySerializer(BinanceKeySerializer):
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="HMAC keys: the secret, shown in this answer only (store it now); null for Ed25519 keys.",
    )

    class Meta(BinanceKeySerializer.Meta):
        fields = [*BinanceKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields


def _refuse_account_key(request, action: str) -> None:
    # A leaked desk key must not mint exchange-style keys that outlive its revocation.
    if isinstance(request.auth, ApiKey):
        raise PermissionDenied(f"An account's API key cannot {action}; use your own token or sign in.")


class BinanceKeyListCreateApi(APIView):
    @extend_schema(
        summary="The account's Binance-style keys, newest first (never a secret)",
        operation_id="accounts_binance_keys_list",
        responses={200: BinanceKeySerializer(many=True), 404: NO_SUCH_ACCOUNT},
    )
    def get(self, request, pk: int):
        account = account_in_request(request, pk)
        keys = account.binance_keys.select_related("created_by").order_by("-created_at", "-id")
        return Response(BinanceKeySerializer(keys, many=True).data)

    @extend_schema(
        summary="Create a Binance-style key for the gateway under /binance/api/v3/",
        operation_id="accounts_binance_keys_create",
        request=BinanceKeyCreateSerializer,
        responses={
            201: OpenApiResponse(
                IssuedBinanceKeySerializer, description="The key; for HMAC its `secret`, shown in this answer only."
            ),
            400: INVALID_INPUT,
            403: KEY_REFUSED,
            404: NO_SUCH_ACCOUNT,
        },
        description="Send `X-MBX-APIKEY: <api_key>` and sign as Binance does: HMAC-SHA256 of the query string "
        "and body with the secret (hex), or Ed25519 with your private key (base64). The key acts on this account "
        "alone. Needs the user's own token or session.",
    )
    def post(self, request, pk: int):
        account = account_in_request(request, pk)
        _refuse_account_key(request, "create keys")
        serializer = BinanceKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.create_binance_key(account=account, created_by=request.user, **serializer.validated_data)
        issued.key.secret = issued.secret
        return Response(IssuedBinanceKeySerializer(issued.key).data, status=status.HTTP_201_CREATED)


class BinanceKeyRevokeApi(APIView):
    @extend_schema(
        summary="Revoke a Binance-style key: the gateway refuses it (-2015) from now on",
        operation_id="accounts_binance_keys_revoke",
        responses={
            200: OpenApiResponse(BinanceKeySerializer, description="The key, with `revoked_at`."),
            403: KEY_REFUSED,
            404: OpenApiResponse(ErrorSerializer, description="No such account or key."),
        },
    )
    def delete(self, request, pk: int, key_id: int):
        account = account_in_request(request, pk)
        key = get_object_or_404(account.binance_keys, pk=key_id)
        _refuse_account_key(request, "revoke keys")
        return Response(BinanceKeySerializer(services.revoke_binance_key(key=key)).data)
