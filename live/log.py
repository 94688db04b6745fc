"""Writing and reading the live log (`LiveEvent`), in the order its rows became visible.

A position is the pair (`txid`, `id`) of the last row a reader took. On PostgreSQL a row's `txid` is its
transaction's id, and a reader takes only rows whose transaction is older than every transaction still running
(the snapshot's xmin): those can no longer change, and every row still to come has a larger `txid`. So reading on
from a position, in (`txid`, `id`) order, misses nothing and repeats nothing, however transactions interleave;
plain `id` order would not do (a transaction that took id 10 may commit after one that took id 11).

SQLite writes one transaction at a time: `txid` is 0 and ids are handed out in commit order.
"""

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from .models import LiveEvent

Position = tuple[int, int]
START: Position = (0, 0)

TXID_SQL = "pg_current_xact_id()::text::bigint"
HORIZON_SQL = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
OWN_TXID_SQL = "pg_current_xact_id_if_assigned()::text::bigint"


def record(*, account_id: int, kind: str, subject_id: int, data: dict) -> None:
    """One row, in the caller's transaction (a single INSERT)."""
    txid = RawSQL(TXID_SQL, []) if connection.vendor == "postgresql" else 0
    LiveEvent.objects.create(account_id=account_id, kind=kind, subject_id=subject_id, data=data, txid=txid)


def parse_position(text: str) -> Position | None:
    """'<txid>-<id>', as the stream's `id:` lines give it; None when it is not one."""
    txid, dash, row = (text or "").strip().partition("-")
    if not (dash and txid.isdigit() and row.isdigit() and len(txid) <= 18 and len(row) <= 18):
        return None
    return int(txid), int(row)


def position_of(event: LiveEvent) -> Position:
    return event.txid, event.id


def _settled():
    rows = LiveEvent.objects.all()
    if connection.vendor == "postgresql":
        # And the reader's own rows, should it have written any (a test inside one transaction does).
        rows = rows.filter(Q(txid__lt=RawSQL(HORIZON_SQL, [])) | Q(txid=RawSQL(OWN_TXID_SQL, [])))
    return rows


def after(position: Position, *, account_id: int | None = None, limit: int = 500) -> list[LiveEvent]:
    """The settled rows after `position` (of one account, or of all), oldest first, at most `limit`."""
    rows = _settled()
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    txid, row = position
    rows = rows.filter(Q(txid__gt=txid) | Q(txid=txid, id__gt=row))
    return list(rows.order_by("txid", "id")[:limit])


def head(*, account_id: int | None = None) -> Position:
    """The position of the last settled row (of one account, or of all); START when there is none."""
    rows = _settled()
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    last = rows.order_by("-txid", "-id").values_list("txid", "id").first()
    return tuple(last) if last else START


def prune(*, before) -> int:
    """Forget rows created before `before`; a page that was away longer reloads instead of replaying."""
    deleted, _ = LiveEvent.objects.filter(created_at__lt=before).delete()
    return deleted
