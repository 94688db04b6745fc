from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ..accounts import KEY_PREFIX, key_for


class AccountKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token ptk_...`: an account's API key, acting as that account and nothing else.

    Other tokens (a user's own) are left to the next authentication class; an unknown or revoked key is refused
    with 401.
    """

    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower().encode():
            return None
        try:
            raw = parts[1].decode()
        except UnicodeError:
            return None
        if not raw.startswith(KEY_PREFIX):
            return None
        key = key_for(raw)
        if key is None or key.account.owner is None or not key.account.owner.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        return key.account.owner, key

    def authenticate_header(self, request):
        return self.keyword


class AccountKeyScheme(OpenApiAuthenticationExtension):
    """Documents AccountKeyAuthentication in the OpenAPI schema."""

    target_class = AccountKeyAuthentication
    name = "accountKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An account's API key: `Token ptk_...`. It acts as that account and nothing else.",
        }
