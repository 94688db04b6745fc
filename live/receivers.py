"""Receivers of the other apps' signals: one live row per change, inside the change's own transaction (one INSERT,
nothing read), so the row exists exactly when the change does."""

from analysis.models import AnalysisRun
from papertrading.models import PaperOrder, RiskEvent

from . import log
from .models import LiveEvent


def on_order_changed(sender, *, order: PaperOrder, from_status: str, to_status: str, fills: list, **kwargs) -> None:
    data = {
        "change": "created" if not from_status else ("fill" if from_status == to_status else "status"),
        "from_status": from_status,
        "status": to_status,
        "executed_quantity": order.executed_quantity,
        "fills": [{"price": fill.price, "quantity": fill.quantity} for fill in fills],
    }
    log.record(account_id=order.account_id, kind=LiveEvent.Kind.ORDER, subject_id=order.pk, data=data)


def on_run_saved(sender, *, instance: AnalysisRun, created: bool, update_fields=None, **kwargs) -> None:
    if created or update_fields is None or "status" in update_fields:
        log.record(
            account_id=instance.account_id,
            kind=LiveEvent.Kind.RUN,
            subject_id=instance.pk,
            data={"status": instance.status},
        )


def on_risk_event_saved(sender, *, instance: RiskEvent, created: bool, **kwargs) -> None:
    if created:
        log.record(
            account_id=instance.account_id,
            kind=LiveEvent.Kind.RISK,
            subject_id=instance.pk,
            data={"kind": instance.kind, "limit": instance.limit},
        )
