"""Binance-style API keys of an account: what the gateway under /binance/api/v3/ verifies requests with."""

from django.conf import settings
from django.db import models

from papertrading.models import Account


class BinanceKey(models.Model):
    """An API key that signs Binance-style requests for one account and nothing else.

    HMAC keys keep their secret encrypted at rest (it must be readable to check a signature); the secret is shown
    once, in the answer that creates the key. Ed25519 keys keep only the public half: the server never holds the
    private key.
    """

    class Kind(models.TextChoices):
        HMAC = "HMAC", "HMAC-SHA256"
        ED25519 = "ED25519", "Ed25519"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="binance_keys")
    name = models.CharField(max_length=100, blank=True)
    # What clients send in X-MBX-APIKEY; looked up on every signed request (the unique index serves it).
    api_key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    encrypted_secret = models.TextField(blank=True, editable=False)
    public_key = models.TextField(blank=True, help_text="The Ed25519 public key (PEM).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.api_key[:8]}… {self.kind} ({self.account})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
