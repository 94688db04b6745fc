"""The live log: one row per change an account's watchers are told about, written in the change's transaction."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from papertrading.models import Account


class LiveEvent(models.Model):
    """Something that happened to an account: an order's change, an analysis run's outcome, a risk event.

    A row is written inside the transaction of the change it reports, so it exists exactly when the change does.
    Readers take rows in (`txid`, `id`) order and only below the oldest transaction still running (see
    `live.log`), which on PostgreSQL is the order in which they became visible: a reader that resumes after the
    last pair it saw misses nothing and sees nothing twice. On SQLite, which writes one transaction at a time,
    `txid` is 0 and `id` alone is that order.
    """

    class Kind(models.TextChoices):
        ORDER = "order", "Order"
        RUN = "run", "Analysis run"
        RISK = "risk", "Risk event"

    id = models.BigAutoField(primary_key=True)
    txid = models.BigIntegerField(default=0)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="live_events", db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The order, run or risk event's primary key.
    subject_id = models.BigIntegerField()
    # What changed, as it was at the change (the stream adds the subject as the API shows it when it sends).
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The process's reader: everything after a position.
            models.Index(fields=["txid", "id"], name="live_event_position_idx"),
            # A reconnecting page: its account's events after the last one it saw.
            models.Index(fields=["account", "txid", "id"], name="live_event_account_idx"),
            models.Index(fields=["created_at"], name="live_event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_id} ({self.position})"

    @property
    def position(self) -> str:
        return f"{self.txid}-{self.id}"
