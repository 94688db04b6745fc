"""What the stream sends for a batch of live rows: each row's event with its subject as the API shows it now, and
the account's balances after a batch that touched its orders. A batch costs one query per kind it holds (and one
for the balances of each account), however many pages watch it."""

import json
from dataclasses import asdict, dataclass

from django.core.serializers.json import DjangoJSONEncoder

from analysis.api.serializers import RunSerializer
from analysis.models import AnalysisRun
from papertrading import selectors
from papertrading.api.serializers import AccountSerializer, OrderSerializer
from papertrading.models import Account, PaperOrder, RiskEvent
from portfolio.api.serializers import RiskEventSerializer

from . import log
from .models import LiveEvent


class RunSummarySerializer(RunSerializer):
    """A run without its orders, trades and P&L (`GET /api/analysis/runs/{run_id}` has them)."""

    orders = trades = pnl = None

    class Meta(RunSerializer.Meta):
        fields = [name for name in RunSerializer.Meta.fields if name not in {"orders", "trades", "pnl"}]
        read_only_fields = fields


@dataclass(frozen=True)
class Message:
    """One server-sent event: its name, its id (a live row's position; none for a balance snapshot), its data."""

    event: str
    data: dict
    position: log.Position | None = None

    def frame(self) -> bytes:
        lines = [f"event: {self.event}"]
        if self.position is not None:
            lines.append(f"id: {self.position[0]}-{self.position[1]}")
        lines.append("data: " + json.dumps(self.data, cls=DjangoJSONEncoder, separators=(",", ":")))
        return ("\n".join(lines) + "\n\n").encode()


def _subjects(events: list[LiveEvent], kind: str, queryset, serializer) -> dict[int, dict]:
    ids = {event.subject_id for event in events if event.kind == kind}
    if not ids:
        return {}
    return {pk: serializer(row).data for pk, row in queryset.in_bulk(ids).items()}


def messages(events: list[LiveEvent]) -> dict[int, list[Message]]:
    """The messages of each account in `events`, in the rows' order, each account's balances last."""
    orders = _subjects(events, LiveEvent.Kind.ORDER, PaperOrder.objects.select_related("placed_by"), OrderSerializer)
    runs = _subjects(events, LiveEvent.Kind.RUN, AnalysisRun.objects.select_related("posted_by"), RunSummarySerializer)
    risks = _subjects(events, LiveEvent.Kind.RISK, RiskEvent.objects.all(), RiskEventSerializer)
    subjects = {LiveEvent.Kind.ORDER: orders, LiveEvent.Kind.RUN: runs, LiveEvent.Kind.RISK: risks}
    by_account: dict[int, list[Message]] = {}
    for event in events:
        subject = subjects[event.kind].get(event.subject_id)
        data = {**event.data, event.kind: subject, "created": event.created_at}
        by_account.setdefault(event.account_id, []).append(Message(event.kind, data, log.position_of(event)))
    touched = {event.account_id for event in events if event.kind == LiveEvent.Kind.ORDER}
    for account in Account.objects.filter(pk__in=touched):
        by_account[account.pk].append(balance_message(account))
    return by_account


def balance_message(account: Account) -> Message:
    venue, balances = selectors.account_balances(account)
    shown = AccountSerializer({"venue": venue, "balances": [asdict(b) for b in balances]}).data
    return Message("balance", {"account": account.pk, **shown})
