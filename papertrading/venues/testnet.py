"""The Binance Spot Testnet venue: the same result types as the simulator, exactly once under faults.

How the rules of DESIGN.md ("An order's life") and REFERENCE.md §7 map onto the client's typed errors:

- The order row exists (status UNKNOWN, with its ``client_order_id``) before :meth:`TestnetVenue.place` runs, and
  that id is sent as ``newClientOrderId``. The POST is never resent (the client's only resend is after -1021,
  which Binance decides before the matching engine).
- ``BinanceOutcomeUnknown`` (read timeout, reset, 5xx, -1006/-1007) leaves the order UNKNOWN; :meth:`sync` asks
  by ``origClientOrderId`` and adopts what the exchange says. Only -2013 after the recvWindow has passed turns it
  into REJECTED. -2013 for an order the exchange once confirmed means the testnet was wiped: the order is closed
  with a reason that says so.
- A request that provably never left (connection refused, connect timeout) or that the exchange refused before
  processing it (429/418, a local rate-limit pause) closes the order as REJECTED "not sent" and answers 503.
- No database transaction is open during a network call; each change is applied under the order's row lock and
  only while the order is still working or unknown, so a concurrent cancel, fill or place always wins cleanly.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from ..binance import (
    BinanceAPIError,
    BinanceAuthError,
    BinanceError,
    BinanceNoSuchOrder,
    BinanceNotConfigured,
    BinanceOutcomeUnknown,
    BinanceRateLimited,
    BinanceRejected,
    BinanceTestnetClient,
    BinanceUnavailable,
)
from ..errors import OrderRejected, VenueUnavailable
from ..locks import job_lock
from ..models import OrderEvent, OrderFill, OrderType, PaperOrder, SymbolRule, Venue
from ..symbols import get_symbol_rule, load_symbol_rules
from .base import BalanceReport, ExecutionReport, FillReport, SyncReport

logger = logging.getLogger(__name__)
Status = PaperOrder.Status
ZERO = Decimal("0")

NOT_CONFIGURED_MESSAGE = (
    "Testnet mode needs BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_API_SECRET (an HMAC secret, or an Ed25519 "
    "private key in PEM form) from testnet.binance.vision. Set both, or switch PAPER_TRADING_MODE to simulation."
)
UNREACHABLE_MESSAGE = "The Binance Spot Testnet cannot be reached right now; try again shortly."
NOT_SENT_REASON = "Exchange unreachable; order not sent"
NO_SUCH_ORDER_REASON = "Exchange has no such order (-2013)"
RESET_REASON = "Testnet was reset: the exchange no longer knows this order"
NO_SUCH_ORDER_CODE = -2013
INVALID_SYMBOL_CODE = -1121

# Binance order status → ours (REFERENCE.md §5.2). PENDING_NEW / PENDING_CANCEL are still working.
STATUS_MAP = {
    "NEW": Status.PENDING,
    "PENDING_NEW": Status.PENDING,
    "PENDING_CANCEL": Status.PENDING,
    "PARTIALLY_FILLED": Status.PARTIALLY_FILLED,
    "FILLED": Status.FILLED,
    "CANCELED": Status.CANCELLED,
    "EXPIRED": Status.EXPIRED,
    "EXPIRED_IN_MATCH": Status.EXPIRED,
    "REJECTED": Status.REJECTED,
}
# Binance order types this desk can represent; other open orders found on the account are skipped with a note.
IMPORTABLE_TYPES = {
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "STOP_LOSS": OrderType.STOP_LOSS,
    "TAKE_PROFIT": OrderType.TAKE_PROFIT,
}
# Which sync outcome each final status counts as.
FINAL_KIND = {
    Status.FILLED: "filled",
    Status.CANCELLED: "cancelled",
    Status.EXPIRED: "expired",
    Status.REJECTED: "rejected",
}

PRICE_CACHE_SECONDS = 5
RULE_CACHE_SECONDS = 3600
ABSENT_SYMBOL_CACHE_SECONDS = 600
SYNC_LOCK_SECONDS = 300
# Slack on top of the recvWindow before -2013 is believed for an order whose POST outcome is unknown: covers the
# time between our clock reading and the request reaching the exchange.
UNKNOWN_GRACE = timedelta(seconds=1)
OPEN_STATUSES = (*PaperOrder.WORKING_STATUSES, Status.UNKNOWN)
# Sync progress: (symbols done, symbols in all, the symbol just synced, its local orders checked).
SyncProgress = Callable[[int, int, str, int], None]


def max_send_delay(client: BinanceTestnetClient) -> timedelta:
    """The longest an order POST can leave after its row was written: a clock sync (a GET with retries) and the
    POST itself, twice over when a -1021 triggers the one resend."""
    connect, read = client.timeout
    clock_sync = (client.max_get_retries + 1) * (connect + read) + sum(client.retry_backoff_seconds)
    return timedelta(seconds=2 * (clock_sync + connect + read))


def map_status(binance_status: str | None, executed: Decimal = ZERO) -> str:
    status = STATUS_MAP.get(binance_status or "", Status.PENDING)
    if status == Status.PENDING and executed > 0:
        return Status.PARTIALLY_FILLED
    return status


def _dec(value: Any, default: str = "0") -> Decimal:
    if value is None or value == "":
        return Decimal(default)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _retry_after(exc: BinanceRateLimited) -> int:
    return max(1, math.ceil(exc.retry_after_seconds))


def _rate_limited_message(exc: BinanceRateLimited) -> str:
    until = f" until {exc.until:%H:%M:%S} UTC" if exc.until else ""
    if exc.banned:
        return f"The Binance testnet has banned this IP (HTTP 418){until}; every exchange call is paused."
    what = "New orders are" if exc.scope == "orders" else "Exchange calls are"
    return f"{what} paused by the Binance testnet's rate limit{until}; retry after {_retry_after(exc)} s."


@contextmanager
def exchange_errors() -> Iterator[None]:
    """Turn the client's "cannot use the exchange now" errors into VenueUnavailable (API 503), never a crash."""
    try:
        yield
    except BinanceNotConfigured:
        raise VenueUnavailable(NOT_CONFIGURED_MESSAGE) from None
    except BinanceRateLimited as exc:
        raise VenueUnavailable(_rate_limited_message(exc), retry_after=_retry_after(exc)) from None
    except BinanceAuthError as exc:
        raise VenueUnavailable(
            f"The Binance testnet refused the API credentials ({exc.code}: {exc.msg}). Check "
            "BINANCE_TESTNET_API_KEY / BINANCE_TESTNET_API_SECRET and the key's permissions."
        ) from None
    except (BinanceUnavailable, BinanceOutcomeUnknown):
        raise VenueUnavailable(UNREACHABLE_MESSAGE, retry_after=5) from None
    except BinanceError as exc:
        # Anything else the exchange refused on a read (e.g. -1021 twice): a clear 503, never a 500.
        raise VenueUnavailable(f"The Binance testnet refused the request ({exc.code}: {exc.msg or exc}).") from None


def _fill(row: dict, *, trade_id, is_maker: bool) -> FillReport:
    return FillReport(
        price=_dec(row.get("price")),
        quantity=_dec(row.get("qty")),
        commission=_dec(row.get("commission")),
        commission_asset=str(row.get("commissionAsset") or ""),
        trade_id="" if trade_id is None else str(trade_id),
        is_maker=is_maker,
    )


def fills_from_response(data: dict) -> list[FillReport]:
    """The inline ``fills`` of a FULL placement answer (taker fills: they matched on arrival)."""
    return [_fill(fill, trade_id=fill.get("tradeId"), is_maker=False) for fill in data.get("fills") or []]


def fills_from_trades(trades: list[dict]) -> list[FillReport]:
    """``GET /api/v3/myTrades`` rows → fills; the trade id makes applying them twice a no-op."""
    return [_fill(trade, trade_id=trade["id"], is_maker=bool(trade.get("isMaker", False))) for trade in trades]


def report_from_order(data: dict, *, fills: list[FillReport] | None = None, detail: str = "") -> ExecutionReport:
    """An order object (placement, cancel, query or open-orders entry) → ExecutionReport."""
    executed = _dec(data.get("executedQty"))
    # cummulativeQuoteQty (sic) may be negative for very old orders, meaning "unknown".
    quote = max(ZERO, _dec(data.get("cummulativeQuoteQty")))
    raw = data.get("status")
    notes = [f"Binance status {raw}"] if raw else ["Acknowledged by Binance"]
    if data.get("expiryReason") and data.get("expiryReason") != "NONE":
        notes.append(f"expiry reason {data['expiryReason']}")
    return ExecutionReport(
        status=map_status(raw, executed),
        executed_quantity=executed,
        cumulative_quote_quantity=quote,
        fills=fills if fills is not None else fills_from_response(data),
        exchange_order_id=int(data["orderId"]) if data.get("orderId") is not None else None,
        detail=detail or f"{'; '.join(notes)} (order #{data.get('orderId')}).",
    )


class TestnetVenue:
    """Places, cancels and syncs orders on the Binance Spot Testnet through :class:`BinanceTestnetClient`."""

    __test__ = False  # not a pytest test class, despite the name
    name = Venue.TESTNET.value
    is_remote = True

    def __init__(self, client: BinanceTestnetClient | None = None) -> None:
        self.client = client or BinanceTestnetClient()
        self._cache_prefix = "papertrading:testnet:" + hashlib.sha256(self.client.base_url.encode()).hexdigest()[:16]

    # --- configuration -------------------------------------------------------------------------------------
    def _require_configured(self) -> None:
        if not self.client.is_configured():
            raise VenueUnavailable(NOT_CONFIGURED_MESSAGE)

    # --- symbols and prices --------------------------------------------------------------------------------
    def symbol_rule(self, symbol: str) -> SymbolRule | None:
        """The symbol's filters as the testnet states them (exchangeInfo, refreshed hourly), for validate_order.

        Called by the order service before anything is written, so it also refuses early (503) when the venue
        cannot take an order now: no credentials, or a rate-limit pause/ban in force.
        """
        self._require_configured()
        with exchange_errors():
            self.client.rate_limits.before_request(1, is_order=True)
        symbol = (symbol or "").upper()
        if not symbol:
            return None
        key = f"{self._cache_prefix}:rule:{symbol}"
        state = cache.get(key)
        if state is None:
            state = self._refresh_rule(symbol)
            if state is not None:
                cache.set(key, state, RULE_CACHE_SECONDS if state == "loaded" else ABSENT_SYMBOL_CACHE_SECONDS)
        if state == "absent":
            return None
        return get_symbol_rule(symbol)

    def _refresh_rule(self, symbol: str) -> str | None:
        """ "loaded", "absent" (the testnet does not list it) or None (could not ask; keep the stored rule)."""
        try:
            with exchange_errors():
                try:
                    info = self.client.exchange_info(symbol)
                except BinanceRejected as exc:
                    if exc.code == INVALID_SYMBOL_CODE:
                        return "absent"
                    return None
        except VenueUnavailable:
            if get_symbol_rule(symbol) is None:
                raise
            logger.warning("testnet exchangeInfo for %s unavailable; validating with the stored rule", symbol)
            return None
        return "loaded" if load_symbol_rules(info, symbols=[symbol]) else "absent"

    def market_price(self, symbol: str) -> Decimal | None:
        """Last price from the testnet's ticker (cached a few seconds); None for a symbol it does not list."""
        self._require_configured()
        key = f"{self._cache_prefix}:price:{symbol}"
        cached = cache.get(key)
        if cached is not None:
            return Decimal(cached)
        with exchange_errors():
            try:
                data = self.client.ticker_price(symbol)
            except BinanceRejected:
                return None
        if not isinstance(data, dict) or data.get("price") is None:
            return None
        price = _dec(data["price"])
        cache.set(key, str(price), PRICE_CACHE_SECONDS)
        return price

    # --- place ---------------------------------------------------------------------------------------------
    def place(self, order: PaperOrder, *, market_price: Decimal | None) -> ExecutionReport:
        """POST the order once with ``newClientOrderId = order.client_order_id``; never resent."""
        is_limit = order.order_type == OrderType.LIMIT
        try:
            data = self.client.place_order(
                order.symbol,
                order.side,
                order.order_type,
                order.quantity,
                price=order.price if is_limit else None,
                stop_price=order.stop_price
                if order.order_type in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT)
                else None,
                time_in_force=(order.time_in_force or "GTC") if is_limit else None,
                client_order_id=order.client_order_id,
            )
        except BinanceOutcomeUnknown as exc:
            # Marks when the POST attempt ended: sync believes -2013 only a recvWindow after this moment.
            self._record_on_order(
                order,
                f"{exc}. Sync will ask the exchange for client order id {order.client_order_id}; "
                "the order is not resent.",
            )
            return ExecutionReport(status=Status.UNKNOWN)
        except BinanceAPIError as exc:
            # Refused before the matching engine (-2010, -1013, -1021 twice, -2015, …): nothing was executed.
            return ExecutionReport(
                status=Status.REJECTED,
                reject_code=exc.code,
                reject_reason=exc.msg or str(exc),
                detail=f"Rejected by Binance ({exc.code}): {exc.msg}",
            )
        except BinanceRateLimited as exc:
            # A local pause, or a 429/418 answer to this POST: the exchange did not process it.
            self._close_unsent(order, f"Not sent: {_rate_limited_message(exc)}", code=exc.code)
            raise VenueUnavailable(_rate_limited_message(exc), retry_after=_retry_after(exc)) from None
        except BinanceNotConfigured:
            self._close_unsent(order, "Not sent: testnet credentials are not configured")
            raise VenueUnavailable(NOT_CONFIGURED_MESSAGE) from None
        except BinanceUnavailable:
            # The client raises this for a write only when the request provably never left (refused/connect timeout).
            self._close_unsent(order, NOT_SENT_REASON)
            raise VenueUnavailable(UNREACHABLE_MESSAGE, retry_after=5) from None
        except ValueError as exc:
            # The client's own argument check: nothing was sent.
            return ExecutionReport(status=Status.REJECTED, reject_code=-1102, reject_reason=str(exc))
        return report_from_order(data)

    @staticmethod
    def _record_on_order(order: PaperOrder, detail: str) -> None:
        """An UNKNOWN → UNKNOWN event, attributed like the event that created the order."""
        last = order.events.order_by("-id").first()
        OrderEvent.objects.create(
            order=order,
            from_status=Status.UNKNOWN,
            to_status=Status.UNKNOWN,
            source=last.source if last else OrderEvent.Source.API,
            actor=last.actor if last else "",
            detail=detail,
        )

    def _close_unsent(self, order: PaperOrder, reason: str, *, code: int | None = None) -> None:
        """Record that an order was provably never placed (REJECTED); only an order still UNKNOWN is touched."""
        from ..services import apply_report

        with transaction.atomic():
            row = PaperOrder.objects.select_for_update().filter(pk=order.pk, status=Status.UNKNOWN).first()
            if row is None:
                return
            last = row.events.order_by("-id").first()
            apply_report(
                row,
                ExecutionReport(status=Status.REJECTED, reject_code=code, reject_reason=reason, detail=reason),
                source=last.source if last else OrderEvent.Source.API,
                actor=last.actor if last else "",
            )
        order.status = Status.REJECTED

    # --- cancel --------------------------------------------------------------------------------------------
    def cancel(self, order: PaperOrder) -> ExecutionReport:
        """DELETE the order; if the exchange says it is unknown or final, re-query and report its real state.

        The service applies the report; a final state other than CANCELLED (e.g. it filled meanwhile) makes the
        service answer 409 after recording it.
        """
        self._require_configured()
        order_id, client_id = order.binance_order_id, None if order.binance_order_id else order.client_order_id
        with exchange_errors():
            try:
                data = self.client.cancel_order(order.symbol, order_id=order_id, client_order_id=client_id)
            except (BinanceRejected, BinanceNoSuchOrder, BinanceOutcomeUnknown) as exc:
                # -2011 "Unknown order sent." usually means it already finished; a lost answer may or may not
                # have cancelled it. Either way, the exchange's current state is the answer.
                return self._state_after_failed_cancel(order, exc)
        return self._with_missing_fills(order, report_from_order(data, fills=[]), data)

    def _state_after_failed_cancel(self, order: PaperOrder, exc: Exception) -> ExecutionReport:
        try:
            if order.binance_order_id is not None:
                data = self.client.get_order(order.symbol, order_id=order.binance_order_id)
            else:
                data = self.client.get_order(order.symbol, client_order_id=order.client_order_id)
        except BinanceNoSuchOrder:
            if order.binance_order_id:
                return self._reset_report()
            raise VenueUnavailable("The exchange does not know this order yet; sync will resolve it.") from None
        report = self._with_missing_fills(order, report_from_order(data, fills=[]), data)
        if report.status in PaperOrder.WORKING_STATUSES:
            if isinstance(exc, BinanceAPIError):
                raise OrderRejected(exc.code, exc.msg or str(exc), order=order)
            raise VenueUnavailable("The exchange did not confirm the cancel and the order is still working; try again.")
        report.detail = f"Cancel answered {getattr(exc, 'code', None) or type(exc).__name__}: {report.detail}"
        return report

    # --- account -------------------------------------------------------------------------------------------
    def balances(self) -> list[BalanceReport]:
        """Testnet balances with a non-zero free or locked amount."""
        self._require_configured()
        with exchange_errors():
            data = self.client.account(omit_zero_balances=True)
        balances = []
        for entry in data.get("balances") or []:
            free, locked = _dec(entry.get("free")), _dec(entry.get("locked"))
            if free or locked:
                balances.append(BalanceReport(asset=str(entry["asset"]), free=free, locked=locked))
        return sorted(balances, key=lambda b: b.asset)

    # --- sync ----------------------------------------------------------------------------------------------
    def sync(self, *, source: str = OrderEvent.Source.SYNC, progress: SyncProgress | None = None) -> SyncReport:
        """Bring local testnet orders up to date: one openOrders call per symbol with working/unknown orders.

        Counts by kind: updated (still working, new fills or status), filled, cancelled, expired, resolved
        (unknown → found on the exchange), rejected (unknown → -2013 after the recvWindow), reset_closed (the
        exchange no longer knows an order it confirmed), imported (open on the account, not placed here).
        `progress` is called after each symbol.
        """
        self._require_configured()
        report = SyncReport(venue=self.name)
        start_weight = self.client.weight_used
        try:
            with job_lock("testnet_sync", timeout=SYNC_LOCK_SECONDS) as acquired:
                if not acquired:
                    report.notes.append("Another sync is running; this one was skipped.")
                    return report
                with exchange_errors():
                    _Sync(self, report, source, progress=progress).run()
        finally:
            report.request_weight = self.client.weight_used - start_weight
        logger.info("testnet sync: %s request_weight=%s", report.changed or "no changes", report.request_weight)
        return report

    def sync_orders_by_id(
        self, order_ids: Iterable[int], *, source: str, actor: str = "", statuses: Iterable[str] = OPEN_STATUSES
    ) -> SyncReport:
        """Sync chosen orders now (the admin's actions): each open one is queried once and applied as sync does.

        Same rules as :meth:`sync` (-2013 rejects an UNKNOWN order only after no send can be in flight, -2013
        for a confirmed order means a testnet reset), without the openOrders pass or the import of foreign
        orders. Not under the sync's job lock: every change is applied under the order's row lock, only while
        the order is still open, so a concurrent sync and this one cannot apply anything twice.
        """
        self._require_configured()
        report = SyncReport(venue=self.name)
        start_weight = self.client.weight_used
        try:
            with exchange_errors():
                _Sync(self, report, source, actor=actor).run_orders(list(order_ids), statuses=tuple(statuses))
        finally:
            report.request_weight = self.client.weight_used - start_weight
        return report

    def query_order(self, order: PaperOrder) -> tuple[dict | None, list[dict]]:
        """The exchange's copy of one order and its trades, read only; (None, []) when it says -2013."""
        self._require_configured()
        with exchange_errors():
            try:
                if order.binance_order_id is not None:
                    data = self.client.get_order(order.symbol, order_id=order.binance_order_id)
                else:
                    data = self.client.get_order(order.symbol, client_order_id=order.client_order_id)
            except BinanceNoSuchOrder:
                return None, []
            trades = []
            if _dec(data.get("executedQty")) > 0 and data.get("orderId") is not None:
                trades = self.client.my_trades(order.symbol, order_id=int(data["orderId"]))
        return data, trades

    # --- shared helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _reset_report() -> ExecutionReport:
        return ExecutionReport(
            status=Status.CANCELLED,
            reject_code=NO_SUCH_ORDER_CODE,
            reject_reason=RESET_REASON,
            detail=f"{RESET_REASON} (-2013 for an order it had confirmed); closed locally, nothing resent.",
        )

    def _with_missing_fills(self, order: PaperOrder, report: ExecutionReport, data: dict) -> ExecutionReport:
        """Add the order's trades when the exchange executed more than the fills stored locally."""
        filled_locally = ZERO
        if order.pk:
            filled_locally = order.fills.aggregate(q=Sum("quantity"))["q"] or ZERO
        if report.executed_quantity > filled_locally and report.exchange_order_id is not None:
            trades = self.client.my_trades(order.symbol, order_id=report.exchange_order_id)
            report.fills = fills_from_trades(trades)
        return report


class _Sync:
    """One sync run; network calls happen here, database writes in short row-locked transactions."""

    def __init__(
        self,
        venue: TestnetVenue,
        report: SyncReport,
        source: str,
        *,
        actor: str = "",
        progress: SyncProgress | None = None,
    ) -> None:
        self.venue = venue
        self.client = venue.client
        self.report = report
        self.source = source
        self.actor = actor
        self.progress = progress
        self.now = timezone.now()
        self.recv_window = timedelta(milliseconds=self.client.recv_window_ms)
        self.checked: list[int] = []
        self.reset_closed = 0

    @staticmethod
    def open_rows(**filters: Any) -> list[dict]:
        """The testnet orders to check, with the quantity their stored fills add up to."""
        rows = list(
            PaperOrder.objects.filter(venue=Venue.TESTNET, **filters)
            .order_by("symbol", "id")
            .values("pk", "symbol", "status", "client_order_id", "binance_order_id", "created_at", "updated_at")
        )
        filled = dict(
            OrderFill.objects.filter(order_id__in=[r["pk"] for r in rows])
            .values("order_id")
            .annotate(q=Sum("quantity"))
            .values_list("order_id", "q")
        )
        for row in rows:
            row["filled"] = filled.get(row["pk"]) or ZERO
        return rows

    def run(self) -> None:
        by_symbol: dict[str, list[dict]] = defaultdict(list)
        for row in self.open_rows(status__in=OPEN_STATUSES):
            by_symbol[row["symbol"]].append(row)
        with self.finishing():
            for done, (symbol, orders) in enumerate(sorted(by_symbol.items()), start=1):
                self.sync_symbol(symbol, orders)
                if self.progress is not None:
                    self.progress(done, len(by_symbol), symbol, len(orders))

    def run_orders(self, order_ids: list[int], *, statuses: tuple[str, ...] = OPEN_STATUSES) -> None:
        """One query per chosen order (no openOrders pass); orders outside `statuses` are left alone."""
        statuses = tuple(s for s in statuses if s in OPEN_STATUSES)
        with self.finishing():
            for row in self.open_rows(pk__in=order_ids, status__in=statuses):
                self.report.checked += 1
                self.checked.append(row["pk"])
                self.from_order_query(row)

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
        open_list = self.client.open_orders(symbol)
        by_id = {int(o["orderId"]): o for o in open_list}
        by_client_id = {o.get("clientOrderId"): o for o in open_list}
        matched: set[int] = set()
        for row in orders:
            self.report.checked += 1
            self.checked.append(row["pk"])
            if row["binance_order_id"] is not None:
                entry = by_id.get(row["binance_order_id"])
            else:
                entry = by_client_id.get(row["client_order_id"])
            if entry is not None:
                matched.add(int(entry["orderId"]))
                self.from_open_entry(row, entry)
            else:
                self.from_order_query(row)
        self.import_external(symbol, [o for o in open_list if int(o["orderId"]) not in matched])

    # --- one local order ---------------------------------------------------------------------------------------
    def from_open_entry(self, row: dict, entry: dict) -> None:
        report = report_from_order(entry, fills=[])
        unchanged = (
            row["status"] == report.status
            and row["binance_order_id"] == report.exchange_order_id
            and report.executed_quantity <= row["filled"]
        )
        if unchanged:
            return
        self.add_missing_fills(row, report)
        self.apply(row, report)

    def from_order_query(self, row: dict) -> None:
        """The order is not (or no longer) on the open list: ask for it once, by exchange id or client id."""
        try:
            if row["binance_order_id"] is not None:
                data = self.client.get_order(row["symbol"], order_id=row["binance_order_id"])
            else:
                data = self.client.get_order(row["symbol"], client_order_id=row["client_order_id"])
        except BinanceNoSuchOrder:
            self.no_such_order(row)
            return
        except BinanceRejected as exc:
            self.report.notes.append(f"Order {row['pk']}: the exchange refused the query ({exc.code}: {exc.msg}).")
            return
        report = report_from_order(data, fills=[])
        if (
            row["status"] == report.status
            and row["binance_order_id"] == report.exchange_order_id
            and report.executed_quantity <= row["filled"]
        ):
            return
        self.add_missing_fills(row, report)
        self.apply(row, report)

    def no_such_order(self, row: dict) -> None:
        if row["binance_order_id"] is not None:
            # It was confirmed once (we hold its exchange id) and now it is gone: the testnet was wiped.
            self.reset_closed += self.apply(row, TestnetVenue._reset_report(), kind="reset_closed")
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
            kind="rejected",
        )

    def add_missing_fills(self, row: dict, report: ExecutionReport) -> None:
        if report.executed_quantity > row["filled"] and report.exchange_order_id is not None:
            report.fills = fills_from_trades(self.client.my_trades(row["symbol"], order_id=report.exchange_order_id))

    def apply(self, row: dict, report: ExecutionReport, *, kind: str | None = None) -> int:
        """Apply under the row lock, only while the order is still working or unknown; 1 when it changed."""
        from ..services import apply_report

        with transaction.atomic():
            order = PaperOrder.objects.select_for_update().filter(pk=row["pk"], status__in=OPEN_STATUSES).first()
            if order is None:
                # A cancel, the placing request or another writer finished it meanwhile: theirs stands.
                return 0
            if order.status in PaperOrder.WORKING_STATUSES and report.status == Status.UNKNOWN:
                return 0
            before = (order.status, order.executed_quantity, order.binance_order_id)
            fills_before = order.fills.count()
            apply_report(order, report, source=self.source, actor=self.actor)
            changed = (order.status, order.executed_quantity, order.binance_order_id) != before
            changed = changed or order.fills.count() != fills_before
        if not changed:
            return 0
        if kind is None:
            kind = "resolved" if before[0] == Status.UNKNOWN else FINAL_KIND.get(order.status, "updated")
        self.report.count(kind)
        return 1

    # --- orders placed elsewhere -------------------------------------------------------------------------------
    def import_external(self, symbol: str, entries: list[dict]) -> None:
        if not entries:
            return
        client_ids = [str(e.get("clientOrderId") or "") for e in entries]
        exchange_ids = [int(e["orderId"]) for e in entries]
        known_client_ids = dict(
            PaperOrder.objects.filter(client_order_id__in=client_ids).values_list("client_order_id", "status")
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
                if status and status not in OPEN_STATUSES:
                    self.report.notes.append(
                        f"Exchange order #{exchange_id} ({client_id}) is open but the local order is {status}."
                    )
                # Placed by this desk (possibly a moment ago, after this sync read its list): not external.
                continue
            self.import_one(symbol, entry)

    def import_one(self, symbol: str, entry: dict) -> None:
        exchange_id = int(entry["orderId"])
        order_type = IMPORTABLE_TYPES.get(str(entry.get("type")))
        quantity = _dec(entry.get("origQty"))
        if order_type is None or quantity <= 0:
            self.report.count("skipped_external")
            self.report.notes.append(f"External order #{exchange_id} of type {entry.get('type')} was not imported.")
            return
        report = report_from_order(entry, fills=[])
        if report.executed_quantity > 0:
            report.fills = fills_from_trades(self.client.my_trades(symbol, order_id=exchange_id))
        client_id = str(entry.get("clientOrderId") or "")
        if not client_id or len(client_id) > 36:
            client_id = f"ext-{exchange_id}"
        fields = dict(
            symbol=symbol,
            side=str(entry["side"]),
            order_type=order_type,
            quantity=quantity,
            price=_dec(entry.get("price")) if order_type == OrderType.LIMIT else None,
            stop_price=_dec(entry.get("stopPrice"))
            if order_type in (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT)
            else None,
            time_in_force=str(entry.get("timeInForce") or "GTC") if order_type == OrderType.LIMIT else "",
            status=Status.UNKNOWN,
            venue=Venue.TESTNET,
            client_order_id=client_id,
            is_external=True,
            placed_by=None,
            last_synced_at=timezone.now(),
        )
        report.detail = f"Imported from the testnet: order #{exchange_id} was not placed by this desk."
        from ..services import apply_report

        try:
            with transaction.atomic():
                order = PaperOrder.objects.create(**fields)
                apply_report(order, report, source=self.source, actor=self.actor, from_status="")
        except IntegrityError:
            self.report.notes.append(f"External order #{exchange_id} ({client_id}) clashes with a local id.")
            return
        self.report.count("imported")
