"""Analysis runs: an agent's decision on a symbol and what became of it; price samples for the demo agents."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from papertrading.models import Account, money_field


class AnalysisRun(models.Model):
    class Decision(models.TextChoices):
        BUY = "BUY", "Buy"
        SELL = "SELL", "Sell"
        HOLD = "HOLD", "Hold"

    class Status(models.TextChoices):
        """What became of the decision.

            RECEIVED --> EXECUTED  (an order was accepted by the venue, or a direct trade was booked)
                     \\-> FAILED   (rejected by the venue, with its code and reason; or the venue was unavailable)
            SKIPPED                (HOLD: recorded, nothing else)

        RECEIVED only lasts while the order is being placed; a run left in it (a crash) is resumed by posting the
        same run_id again, which reuses the same client order id, so it never makes a second order.
        """

        RECEIVED = "received", "Received"
        EXECUTED = "executed", "Executed"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="analysis_runs")
    # Unique per account: an order can carry only a run_id of its own account.
    run_id = models.UUIDField(default=uuid.uuid4, editable=False)
    agent = models.CharField(max_length=100)
    symbol = models.CharField(max_length=20)
    decision = models.CharField(max_length=4, choices=Decision.choices)
    # The size to trade in the base asset: as posted, or converted from `quote_amount` at `reference_price`.
    quantity = money_field(null=True, blank=True)
    quote_amount = money_field(null=True, blank=True)
    reference_price = money_field(null=True, blank=True, help_text="The market price when the decision was sized.")
    confidence = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    rationale = models.TextField(blank=True)
    # The demo agents' individual votes behind a consensus decision.
    signals = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error_code = models.IntegerField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    mode = models.CharField(max_length=20, blank=True, help_text="paper:simulation, paper:testnet or direct.")
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="analysis_runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The runs list (newest first) and its agent/symbol filters.
            models.Index(fields=["account", "-created_at", "-id"], name="analysis_run_newest_idx"),
            models.Index(fields=["account", "agent", "-created_at"], name="analysis_run_agent_idx"),
            models.Index(fields=["account", "symbol", "-created_at"], name="analysis_run_symbol_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["account", "run_id"], name="analysis_run_id_per_account"),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="analysis_run_confidence_0_1",
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gt=0), name="analysis_run_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.decision} {self.symbol} ({self.status})"

    @property
    def is_trade(self) -> bool:
        return self.decision in (self.Decision.BUY, self.Decision.SELL)


class PriceSample(models.Model):
    """One observed market price; the demo agents' indicators read the recent ones."""

    symbol = models.CharField(max_length=20)
    price = money_field()
    observed_at = models.DateTimeField()

    class Meta:
        ordering = ["symbol", "observed_at"]
        constraints = [
            # The price table's refresh time identifies an observation, so sampling it twice stores it once.
            models.UniqueConstraint(fields=["symbol", "observed_at"], name="analysis_price_sample_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.price} @ {self.observed_at:%H:%M:%S}"
