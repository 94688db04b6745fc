"""One testnet sync run: network calls here, database writes in short row-locked transactions.

Each local order is looked at once: from its entry on the symbol's open list, else by one order query (by
exchange id when known, else by client id). Open orders on the account that this desk did not place are imported
as external. The legs of an order list read in a pass are applied together, per list, after the symbol's orders
were read (``lists.apply_list_reports``). A problem with one order (an unreadable answer, an answer the database
refuses) is a note on the report, never the end of the sync for the others.
"""

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from ...accounts import external_account
from ...binance import BinanceNoSuchOrder, BinanceRejected, BinanceTestnetClient
from ...models import OrderEvent, OrderFill, PaperOrder, Venue
from ...money import MoneySum
from ..base import ExecutionReport, SyncProgress, SyncReport
from ..recording import apply_report
from .answers import MalformedAnswer, exchange_order_id, external_order_fields, report_from_order, reset_report
from .funds import apply_with_funds
from .lists import apply_list_reports, is_pending_new
from .messages import NO_SUCH_ORDER_CODE, NO_SUCH_ORDER_REASON

Status = PaperOrder.Status
ZERO = Decimal("0")
# Slack on top of the recvWindow before -2013 is believed for an order whose POST outcome is unknown: covers the
# time between our clock reading and the request reaching the exchange.
UNKNOWN_GRACE = timedelta(seconds=1)


def max_send_delay(client: BinanceTestnetClient) -> timedelta:
    """The longest an order POST can leave after its row was written: a clock sync (a GET with retries) and the
    POST itself, twice over when a -1021 triggers the one resend."""
    connect, read = client.timeout
    clock_sync = (client.max_get_retries + 1) * (connect + read) + sum(client.retry_backoff_seconds)
    return timedelta(seconds=2 * (clock_sync + connect + read))


def is_unchanged(row: dict, report: ExecutionReport) -> bool:
    """The exchange says nothing the local row does not already hold (a waiting leg of a list still waits)."""
    return (
        row["status"] == report.status
        and row["binance_order_id"] == report.exchange_order_id
        and report.executed_quantity <= row["filled"]
        and row["waits_for_list"] == is_pending_new(report)
    )


class TestnetSync:
    def __init__(
        self, venue, report: SyncReport, source: str, *, actor: str = "", progress: SyncProgress | None = None
    ):
        self.venue = venue
        self.client = venue.client
        self.report = report
        self.source = source
        self.actor = actor
        self.progress = progress
        self.recv_window = timedelta(milliseconds=self.client.recv_window_ms)
        self.checked: list[int] = []
        self.reset_closed = 0
        # Reports read on legs of order lists, by list then leg: applied together by flush_lists.
        self.leg_reports: dict[int, dict[int, tuple[ExecutionReport, str | None]]] = defaultdict(dict)

    @staticmethod
    def open_rows(**filters: Any) -> list[dict]:
        """The testnet orders to check, with the quantity their stored fills add up to."""
        rows = list(
            PaperOrder.objects.filter(venue=Venue.TESTNET, **filters)
            .order_by("symbol", "id")
            .values(
                "pk",
                "symbol",
                "status",
                "venue_order_ref",
                "binance_order_id",
                "created_at",
                "updated_at",
                "order_list_id",
                "waits_for_list",
            )
        )
        filled = dict(
            OrderFill.objects.filter(order_id__in=[r["pk"] for r in rows])
            .values("order_id")
            .annotate(q=MoneySum("quantity"))
            .values_list("order_id", "q")
        )
        for row in rows:
            row["filled"] = filled.get(row["pk"]) or ZERO
        return rows

    def run(self) -> None:
        by_symbol: dict[str, list[dict]] = defaultdict(list)
        for row in self.open_rows(status__in=PaperOrder.OPEN_STATUSES):
            by_symbol[row["symbol"]].append(row)
        with self.finishing():
            if not by_symbol:
                # Nothing to look at, but a sync still proves the exchange answers (weight 1): health relies on it.
                self.client.server_time()
            for done, (symbol, orders) in enumerate(sorted(by_symbol.items()), start=1):
                self.sync_symbol(symbol, orders)
                if self.progress is not None:
                    self.progress(done, len(by_symbol), symbol, len(orders))

    def run_orders(self, order_ids: list[int], *, statuses: tuple[str, ...] = PaperOrder.OPEN_STATUSES) -> None:
        """One query per chosen order (no openOrders pass); orders outside `statuses` are left alone."""
        statuses = tuple(s for s in statuses if s in PaperOrder.OPEN_STATUSES)
        with self.finishing():
            rows = self.open_rows(pk__in=order_ids, status__in=statuses)
            self.report.symbols_checked = len({row["symbol"] for row in rows})
            for row in rows:
                self.report.orders_checked += 1
                self.checked.append(row["pk"])
                self.from_order_query(row)
            self.flush_lists()

    @contextmanager
    def finishing(self) -> Iterator[None]:
        """Stamp every order checked so far, even when the exchange fails half way; then note any reset."""
        try:
            yield
        finally:
            if self.checked:
                PaperOrder.objects.filter(pk__in=self.checked).update(last_synced_at=timezone.now())
        if self.reset_closed:
            self.report.notes.append(
                f"{self.reset_closed} order(s) closed because the testnet no longer knows them (testnet reset); "
                "nothing was resent."
            )

    def sync_symbol(self, symbol: str, orders: list[dict]) -> None:
        self.report.symbols_checked += 1
        open_list = self.client.open_orders(symbol)
        entries: dict[int, dict] = {}
        for entry in open_list if isinstance(open_list, list) else []:
            try:
                entries[exchange_order_id(entry)] = entry
            except MalformedAnswer as exc:
                self.report.notes.append(f"{symbol}: an open-orders entry was skipped ({exc}).")
        by_client_id = {str(entry.get("clientOrderId")): exchange_id for exchange_id, entry in entries.items()}
        matched: set[int] = set()
        for row in orders:
            self.report.orders_checked += 1
            self.checked.append(row["pk"])
            exchange_id = row["binance_order_id"]
            if exchange_id is None:
                exchange_id = by_client_id.get(row["venue_order_ref"])
            if exchange_id in entries:
                matched.add(exchange_id)
                self.from_report(row, lambda entry=entries[exchange_id]: report_from_order(entry, fills=[]))
            else:
                self.from_order_query(row)
        self.flush_lists()
        self.import_external(symbol, [entry for exchange_id, entry in entries.items() if exchange_id not in matched])

    # --- one local order ---------------------------------------------------------------------------------------
    def from_order_query(self, row: dict) -> None:
        """The order is not (or no longer) on the open list: ask for it once, by exchange id or client id."""

        def fetch() -> ExecutionReport:
            return self.venue.fetch(
                row["symbol"], exchange_order_id=row["binance_order_id"], client_order_id=row["venue_order_ref"]
            )

        try:
            self.from_report(row, fetch)
        except BinanceNoSuchOrder:
            self.no_such_order(row)
        except BinanceRejected as exc:
            self.report.notes.append(f"Order {row['pk']}: the exchange refused the query ({exc.code}: {exc.msg}).")

    def from_report(self, row: dict, read) -> None:
        try:
            report = read()
            if is_unchanged(row, report):
                return
            self.venue.complete_fills(report, symbol=row["symbol"], stored=row["filled"])
        except MalformedAnswer as exc:
            self.report.notes.append(f"Order {row['pk']}: the exchange's answer was not readable ({exc}); left as is.")
            return
        self.apply(row, report)

    def no_such_order(self, row: dict) -> None:
        if row["binance_order_id"] is not None:
            # It was confirmed once (we hold its exchange id) and now it is gone: the testnet was wiped.
            self.reset_closed += self.apply(row, reset_report(), kind="reset_closed")
            return
        # Never confirmed (UNKNOWN): -2013 proves it was not placed only once the exchange would refuse the POST
        # anyway, i.e. a recvWindow after its timestamp. The POST attempt's end is recorded by place(); without
        # that record (the placing process died, or is still waiting) allow for the longest a send can take.
        ended = (
            OrderEvent.objects.filter(order_id=row["pk"], from_status=Status.UNKNOWN, to_status=Status.UNKNOWN)
            .order_by("-id")
            .values_list("created_at", flat=True)
            .first()
        )
        sent_by = ended or row["created_at"] + max_send_delay(self.client)
        deadline = sent_by + self.recv_window + UNKNOWN_GRACE
        if timezone.now() < deadline:
            self.report.count("still_unknown")
            self.report.notes.append(
                f"Order {row['pk']}: not on the exchange yet; asked again after the recvWindow has passed."
            )
            return
        self.apply(
            row,
            ExecutionReport(
                status=Status.REJECTED,
                reject_code=NO_SUCH_ORDER_CODE,
                reject_reason=NO_SUCH_ORDER_REASON,
                detail=f"{NO_SUCH_ORDER_REASON} after the recvWindow had passed: it was never placed.",
            ),
        )

    def apply(self, row: dict, report: ExecutionReport, *, kind: str | None = None) -> int:
        """Apply under the row lock, only while the order is still working or unknown; 1 when it changed (a leg of a
        list is kept for flush_lists, which counts it: 0)."""
        if row["order_list_id"] is not None:
            # A leg of an order list: applied with the other legs read in this pass (flush_lists).
            self.leg_reports[row["order_list_id"]][row["pk"]] = (report, kind)
            return 0
        try:
            with transaction.atomic():
                order = (
                    PaperOrder.objects.select_for_update()
                    .filter(pk=row["pk"], status__in=PaperOrder.OPEN_STATUSES)
                    .first()
                )
                if order is None:
                    # A cancel, the placing request or another writer finished it meanwhile: theirs stands.
                    return 0
                if order.status in PaperOrder.WORKING_STATUSES and report.status == Status.UNKNOWN:
                    return 0
                before = (order.status, order.executed_quantity, order.binance_order_id)
                fills_before = order.fills.count()
                apply_with_funds(order, report, source=self.source, actor=self.actor)
                changed = (order.status, order.executed_quantity, order.binance_order_id) != before
                changed = changed or order.fills.count() != fills_before
        except DatabaseError as exc:
            # The answer breaks a rule of the ledger (e.g. more executed than ordered): keep the order as it was,
            # tell the operator, and go on with the others.
            self.report.notes.append(
                f"Order {row['pk']}: the exchange's answer could not be recorded ({type(exc).__name__}); left as is."
            )
            return 0
        if not changed:
            return 0
        if kind is not None:
            self.report.count(kind)
        else:
            self.report.count_outcome(order.status, was_unknown=before[0] == Status.UNKNOWN)
        return 1

    def flush_lists(self) -> None:
        """Apply the reports read on legs of order lists, each list's together (``lists.apply_list_reports``): its
        working order first, so a pending leg that went to work holds what the working order brought in, whatever
        order the legs were read in; an OCO's other leg's funds and the list's own status follow."""
        batches, self.leg_reports = self.leg_reports, defaultdict(dict)
        for list_id, legs in batches.items():
            try:
                outcome = apply_list_reports(
                    list_id, {pk: report for pk, (report, _) in legs.items()}, source=self.source, actor=self.actor
                )
            except DatabaseError as exc:
                self.report.notes.append(
                    f"Order list {list_id}: the exchange's answer could not be recorded ({type(exc).__name__}); "
                    "left as is."
                )
                continue
            for pk, (_, kind) in legs.items():
                if pk not in outcome.changed:
                    continue
                if kind is not None:
                    self.report.count(kind)
                    self.reset_closed += kind == "reset_closed"
                else:
                    was = outcome.changed[pk]
                    self.report.count_outcome(outcome.leg(pk).status, was_unknown=was == Status.UNKNOWN)

    # --- orders placed elsewhere -------------------------------------------------------------------------------
    def import_external(self, symbol: str, entries: list[dict]) -> None:
        if not entries:
            return
        client_ids = [str(e.get("clientOrderId") or "") for e in entries]
        exchange_ids = [int(e["orderId"]) for e in entries]
        known_client_ids = dict(
            PaperOrder.objects.filter(venue_order_ref__in=client_ids).values_list("venue_order_ref", "status")
        )
        known_exchange_ids = set(
            PaperOrder.objects.filter(
                venue=Venue.TESTNET, symbol=symbol, binance_order_id__in=exchange_ids
            ).values_list("binance_order_id", flat=True)
        )
        for entry in entries:
            exchange_id, client_id = int(entry["orderId"]), str(entry.get("clientOrderId") or "")
            if exchange_id in known_exchange_ids or client_id in known_client_ids:
                status = known_client_ids.get(client_id)
                if status and status not in PaperOrder.OPEN_STATUSES:
                    self.report.notes.append(
                        f"Exchange order #{exchange_id} ({client_id}) is open but the local order is {status}."
                    )
                # Placed by this desk (possibly a moment ago, after this sync read its list): not external.
                continue
            self.import_one(symbol, entry)

    def import_one(self, symbol: str, entry: dict) -> None:
        exchange_id = int(entry["orderId"])
        try:
            fields = external_order_fields(symbol, entry)
            report = report_from_order(entry, fills=[]) if fields else None
        except MalformedAnswer as exc:
            fields, report = None, None
            self.report.notes.append(f"External order #{exchange_id} could not be read ({exc}).")
        if fields is None or report is None:
            self.report.count("skipped_external")
            self.report.notes.append(f"External order #{exchange_id} of type {entry.get('type')} was not imported.")
            return
        try:
            self.venue.complete_fills(report, symbol=symbol)
        except MalformedAnswer as exc:
            self.report.notes.append(f"External order #{exchange_id}: its trades could not be read ({exc}).")
            return
        report.detail = f"Imported from the testnet: order #{exchange_id} was not placed by this desk."
        try:
            with transaction.atomic():
                order = PaperOrder.objects.create(
                    **fields,
                    account=external_account(Venue.TESTNET),
                    venue_order_ref=fields["client_order_id"],
                    status=Status.UNKNOWN,
                    venue=Venue.TESTNET,
                    last_synced_at=timezone.now(),
                )
                apply_report(order, report, source=self.source, actor=self.actor, from_status="")
        except IntegrityError:
            self.report.notes.append(
                f"External order #{exchange_id} ({fields['client_order_id']}) clashes with a local id."
            )
            return
        self.report.count("imported")
