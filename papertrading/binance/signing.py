"""Request signing for Binance SIGNED endpoints (REFERENCE.md §2.2).

The secret is either an HMAC secret (plain string → lowercase hex HMAC-SHA256) or a PKCS#8 PEM private key
(Ed25519 recommended by Binance; RSA also accepted) → base64 signature. The signed string must be byte-identical
to what is sent, so :func:`build_signed_query` encodes once and the client sends that exact string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

PEM_MARKER = "-----BEGIN PRIVATE KEY-----"


def is_private_key(secret: str) -> bool:
    """True when ``secret`` holds a PEM private key rather than an HMAC secret."""
    return PEM_MARKER in secret


def _normalise_pem(secret: str) -> bytes:
    # Env files often carry a PEM on one line with literal "\n"; turn those back into newlines.
    text = secret.strip()
    if "\\n" in text and "\n" not in text:
        text = text.replace("\\n", "\n")
    return text.encode("ascii")


@lru_cache(maxsize=4)
def _load_private_key(secret: str) -> ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey:
    # Parsing a PEM costs far more than signing; cache per secret (a handful at most per process).
    key = serialization.load_pem_private_key(_normalise_pem(secret), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise ValueError("Unsupported private key type: Binance accepts Ed25519 or RSA keys.")
    return key


def sign_payload(payload: str, secret: str) -> str:
    """Sign ``payload`` (the exact, already percent-encoded string that will be sent).

    HMAC secret → 64-char lowercase hex; Ed25519 PEM → base64 (88 chars); RSA PEM → base64 PKCS#1 v1.5 SHA-256.
    """
    data = payload.encode("utf-8")
    if not is_private_key(secret):
        return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
    key = _load_private_key(secret)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.sign(data)
    else:
        raw = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def encode_params(params: Sequence[tuple[str, str]]) -> str:
    """Percent-encode ``name=value`` pairs (UTF-8) in the given order, as Binance expects."""
    return urlencode(list(params), encoding="utf-8")


def build_signed_query(params: Sequence[tuple[str, str]], secret: str) -> str:
    """Encode ``params``, sign that exact string and append ``&signature=`` (percent-encoded for base64)."""
    query = encode_params(params)
    signature = sign_payload(query, secret)
    # quote(safe="") turns base64 "+", "/", "=" into %2B, %2F, %3D; hex signatures pass through unchanged.
    return f"{query}&signature={quote(signature, safe='')}" if query else f"signature={quote(signature, safe='')}"
