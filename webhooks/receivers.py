"""Receivers of the other apps' signals. They run inside the caller's transaction, so they read nothing there: once
the transaction commits (never when it rolls back), an account with an active webhook gets one task queued per
change, and the task does the rest (which webhooks want that event, the body, the deliveries)."""

import logging

from django.db import transaction

from analysis.models import AnalysisRun
from papertrading.models import RiskEvent

from . import selectors, tasks
from .services import ORDER_EVENT_TYPES, RISK_EVENT_TYPES, RUN_EVENT_TYPES

logger = logging.getLogger(__name__)


def on_order_changed(sender, *, order, from_status: str, to_status: str, fills: list, **kwargs) -> None:
    if to_status not in ORDER_EVENT_TYPES:
        return
    if from_status != to_status:
        _queue_on_commit(order.account_id, tasks.emit_order_change, order.pk, to_status)
    elif fills:  # a further fill of a partly filled order: an event of its own, told apart by what is filled now
        executed = str(order.executed_quantity)
        _queue_on_commit(order.account_id, tasks.emit_order_change, order.pk, to_status, executed)


def on_run_saved(sender, *, instance: AnalysisRun, **kwargs) -> None:
    if instance.status in RUN_EVENT_TYPES:
        _queue_on_commit(instance.account_id, tasks.emit_run_status, instance.pk, instance.status)


def on_risk_event_saved(sender, *, instance: RiskEvent, created: bool, **kwargs) -> None:
    if created and instance.kind in RISK_EVENT_TYPES:
        _queue_on_commit(instance.account_id, tasks.emit_risk_event, instance.pk)


def _queue_on_commit(account_id: int, task, *args) -> None:
    def queue():
        # One indexed read after the commit, outside the order's transaction, spares the broker a message for
        # every change of the many accounts without a webhook (the demo agents', most people's).
        if not selectors.has_active_webhooks(account_id):
            return
        try:
            task.delay(*args)
        except Exception:  # the order stands; only its webhook is lost
            logger.exception("Could not queue %s%r", task.name, args)

    transaction.on_commit(queue)
