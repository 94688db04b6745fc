"""Secrets at rest and Binance's request signatures (HMAC-SHA256 hex, Ed25519 base64)."""

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings


def _fernet() -> Fernet:
    """GATEWAY_KEY_ENCRYPTION_KEY (a Fernet key) when set; otherwise a key derived from SECRET_KEY, so changing
    SECRET_KEY makes the stored HMAC secrets unreadable (their keys then fail every signature)."""
    configured = getattr(settings, "GATEWAY_KEY_ENCRYPTION_KEY", "")
    if configured:
        return Fernet(configured.encode())
    digest = hashlib.sha256(b"gateway.binance-key-secrets:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def load_ed25519_public_key(pem: str) -> Ed25519PublicKey | None:
    """The key a PEM text holds when it is an Ed25519 public key; None otherwise."""
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def hmac_signature(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def hmac_matches(secret: str, payload: str, signature: str) -> bool:
    # Binance reads the hex case-insensitively.
    return hmac.compare_digest(hmac_signature(secret, payload), signature.lower())


def ed25519_matches(public_key_pem: str, payload: str, signature: str) -> bool:
    key = load_ed25519_public_key(public_key_pem)
    if key is None:
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), payload.encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
