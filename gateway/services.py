"""Writes of the gateway: issuing, registering and revoking an account's Binance-style keys."""

import secrets
import string
from dataclasses import dataclass

from django.utils import timezone

from papertrading.accounts import AccountInputError
from papertrading.models import Account

from .crypto import encrypt_secret, load_ed25519_public_key
from .models import BinanceKey

# Binance's keys and secrets are 64 letters and digits.
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64


def _random_text() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


@dataclass
class IssuedBinanceKey:
    key: BinanceKey
    secret: str | None  # the HMAC secret, shown once and stored only encrypted; None for Ed25519


def create_binance_key(
    *, account: Account, kind: str, name: str = "", public_key: str = "", created_by=None
) -> IssuedBinanceKey:
    """An HMAC key with a new secret, or an Ed25519 key for a public key the caller holds the private half of.

    AccountInputError (a message per field) for the external account, an unknown kind, or a public key that is
    not an Ed25519 public key in PEM; nothing is written then.
    """
    if account.is_external:
        raise AccountInputError({"account": ["The external account cannot have keys."]})
    public_key = (public_key or "").strip()
    if kind == BinanceKey.Kind.HMAC:
        if public_key:
            raise AccountInputError({"public_key": ["An HMAC key takes no public key; its secret is generated."]})
        secret = _random_text()
        fields = {"encrypted_secret": encrypt_secret(secret)}
    elif kind == BinanceKey.Kind.ED25519:
        if load_ed25519_public_key(public_key) is None:
            raise AccountInputError({"public_key": ["An Ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----)."]})
        secret = None
        fields = {"public_key": public_key + "\n"}
    else:
        raise AccountInputError({"kind": [f"One of {', '.join(BinanceKey.Kind.values)}."]})
    key = BinanceKey.objects.create(
        account=account,
        kind=kind,
        name=(name or "").strip()[:100],
        api_key=_random_text(),
        created_by=created_by if getattr(created_by, "pk", None) else None,
        **fields,
    )
    return IssuedBinanceKey(key, secret)


def revoke_binance_key(*, key: BinanceKey) -> BinanceKey:
    """From now on the key answers -2015; revoking a revoked key changes nothing."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key
