"""The Binance Spot Testnet venue: the same interface and types as the simulator, exactly once under faults.

How the rules of DESIGN.md ("An order's life") and REFERENCE.md §7 map onto the client's typed errors:

- The order row is written (status UNKNOWN, with its ``venue_order_ref``) and committed before the POST, and that
  id is sent as ``newClientOrderId``. The POST is never resent (the client's only resend is after -1021, which
  Binance decides before the matching engine).
- The transaction that writes the row reserves what the order needs from its account's free balance (``funds``);
  an account that cannot pay gets a REJECTED order (-2010) and nothing is sent. Every report of the exchange is
  recorded together with the balance moves it implies.
- ``BinanceOutcomeUnknown`` (read timeout, reset, 5xx, -1006/-1007) and an answer that is not a readable order
  leave the order UNKNOWN; sync asks by ``origClientOrderId`` and adopts what the exchange says. Only -2013 after
  the recvWindow has passed turns it into REJECTED; -2013 for an order the exchange once confirmed means the
  testnet was wiped, and the order is closed with a reason that says so.
- A request that provably never left (connection refused, connect timeout), or that the exchange refused before
  processing it (429/418, a local rate-limit pause, refused credentials), closes the order as REJECTED "not sent"
  and answers 503 — refused credentials mean the same on every call.
- An order list (OCO, OTO, OTOCO) follows the same rules: the list and every leg are written UNKNOWN (each leg's
  ``venue_order_ref`` its client order id, the list's ``list_client_order_id`` its listClientOrderId), its funds held
  once (``lists``), committed, POSTed once; the answer's orderReports land on the legs in one transaction, and a lost
  answer leaves every leg for sync to find by its client order id.
- No database transaction is open during a network call; each change is applied under the order's row lock and
  only while the order is still working or unknown, so a concurrent cancel, fill or place always wins cleanly.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from ...balances import InsufficientBalance, reserve_free_amount
from ...binance import (
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
from ...errors import INSUFFICIENT_BALANCE, OrderNotWorking, OrderRejected, VenueUnavailable
from ...locks import job_lock
from ...models import (
    OrderEvent,
    OrderFill,
    OrderList,
    OrderType,
    PaperOrder,
    Side,
    SimulatedBalance,
    SymbolRule,
    Venue,
)
from ...money import MoneySum
from ...risk import lock_for_order
from ...symbols import get_symbol_rule, load_symbol_rules, venue_symbol_rule
from ...validation import ALGO_TYPES, PRICED_TYPES, STOP_LIMIT_TYPES
from ..base import BalanceReport, ExecutionReport, SyncProgress, SyncReport, VenueStatus
from ..recording import apply_report, record_event, record_note
from .answers import (
    MalformedAnswer,
    balances_from_account,
    decimal_field,
    fills_from_trades,
    report_from_order,
    reset_report,
)
from .funds import apply_with_funds, reservation
from .lists import ListOutcome, apply_list_reports, assign_holdings, note_legs
from .messages import (
    INVALID_SYMBOL_CODE,
    NOT_CONFIGURED_MESSAGE,
    NOT_SENT_REASON,
    RESET_REASON,
    exchange_errors,
    unavailable,
)
from .sync import TestnetSync

logger = logging.getLogger(__name__)
Status = PaperOrder.Status
Leg = PaperOrder.ListLeg
ZERO = Decimal("0")

PRICE_CACHE_SECONDS = 5
SYNC_LOCK_SECONDS = 300
RESET_NOTICE_WINDOW = timedelta(days=7)


class TestnetVenue:
    """Places, cancels and syncs orders on the Binance Spot Testnet through :class:`BinanceTestnetClient`."""

    __test__ = False  # not a pytest test class, despite the name
    name = Venue.TESTNET.value
    label = Venue.TESTNET.label

    def __init__(self, client: BinanceTestnetClient | None = None) -> None:
        self.client = client or BinanceTestnetClient()
        self._cache_prefix = "papertrading:testnet:" + hashlib.sha256(self.client.base_url.encode()).hexdigest()[:16]

    @property
    def weight_used(self) -> int:
        """Exchange request weight this venue object has spent so far."""
        return self.client.weight_used

    def _require_configured(self) -> None:
        if not self.client.is_configured():
            raise VenueUnavailable(NOT_CONFIGURED_MESSAGE)

    # --- what a person should know ----------------------------------------------------------------------------
    def status(self) -> VenueStatus:
        limits = self.client.rate_limits.status()
        status = VenueStatus(
            venue=self.name,
            label=self.label,
            masked_api_key=self.client.masked_api_key,
            error="" if self.client.is_configured() else NOT_CONFIGURED_MESSAGE,
            paused=limits["paused"],
            banned=limits["banned"],
            paused_until=limits["until"],
            used_weight_1m=limits["used_weight_1m"],
        )
        if limits["orders_paused"] and not limits["paused"]:
            status.notices.append(
                f"New orders are paused by the exchange's order rate limit until {limits['orders_until']:%H:%M:%S} UTC."
            )
        closed = PaperOrder.objects.filter(
            venue=self.name, reject_reason=RESET_REASON, updated_at__gte=timezone.now() - RESET_NOTICE_WINDOW
        )
        if count := closed.count():
            status.notices.append(
                f"{count} order(s) were closed because the testnet was reset and no longer knew them; "
                "nothing was resent."
            )
        return status

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
        return venue_symbol_rule(symbol, venue=self._cache_prefix, load=self._load_rule)

    def _load_rule(self, symbol: str) -> bool | None:
        """Store the testnet's filters for `symbol`: True; False when it does not list it; None when it cannot be
        asked now but a stored rule exists (validate with that one)."""
        try:
            with exchange_errors():
                try:
                    info = self.client.exchange_info(symbol)
                except BinanceRejected as exc:
                    return False if exc.code == INVALID_SYMBOL_CODE else None
        except VenueUnavailable:
            if get_symbol_rule(symbol) is None:
                raise
            logger.warning("testnet exchangeInfo for %s unavailable; validating with the stored rule", symbol)
            return None
        return bool(load_symbol_rules(info, symbols=[symbol]))

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
        try:
            price = decimal_field(data, "price") if isinstance(data, dict) and data.get("price") else None
        except MalformedAnswer:
            price = None
        if price is None or price <= 0:
            return None
        cache.set(key, str(price), PRICE_CACHE_SECONDS)
        return price

    def taker_price(self, symbol: str, side: str) -> Decimal | None:
        """The last price: what the book will give a MARKET order is known only once it has filled."""
        return self.market_price(symbol)

    # --- place ---------------------------------------------------------------------------------------------
    def submit(self, fields: dict, *, market_price: Decimal | None, source: str, actor: str) -> PaperOrder:
        """Reserve the order's funds from its account and write it as UNKNOWN in one transaction, commit, then POST
        it once and record the answer. An account whose free balance does not cover the order gets a REJECTED
        order (-2010, as Binance answers) and nothing is sent."""
        order = PaperOrder(status=Status.UNKNOWN, **fields)
        rule = get_symbol_rule(order.symbol)
        if market_price is None and order.order_type == OrderType.MARKET and order.side == Side.BUY:
            market_price = self.market_price(order.symbol)
        asset, amount = reservation(order, rule, market_price)
        with transaction.atomic():
            # The account's risk limits are judged under its row lock, before anything is sent.
            check = lock_for_order(order, market_price)
            reserved = reserve_free_amount(order.account_id, asset, amount, risk=check)
            if not reserved:
                check.enforce_by_reading()  # a limit, rather than the funds, may be what refuses it
            if reserved:
                order.locked_asset, order.locked_amount = asset, amount
                order.save(force_insert=True)
                record_event(order, "", Status.UNKNOWN, source=source, actor=actor, detail=f"Sending to {self.label}.")
        if not reserved:
            return self._refuse_for_funds(fields, asset, amount, source=source, actor=actor)
        # The network call runs outside any transaction: the row above is committed first, so whatever happens
        # next (timeout, crash), the order exists locally with its venue_order_ref and sync can find it.
        report = self.place(order)
        return self.record_answer(order, report, source=source, actor=actor)

    @staticmethod
    def _refuse_for_funds(fields: dict, asset: str, amount: Decimal, *, source: str, actor: str) -> PaperOrder:
        """Record an order its account cannot pay for as REJECTED, without sending it."""
        account = fields["account"]
        free = SimulatedBalance.objects.filter(account=account, asset=asset).values_list("free", flat=True).first()
        code, message = INSUFFICIENT_BALANCE
        with transaction.atomic():
            return apply_report(
                PaperOrder(status=Status.UNKNOWN, **fields),
                ExecutionReport(
                    status=Status.REJECTED,
                    reject_code=code,
                    reject_reason=message,
                    detail=f"Not sent: the order needs {amount} {asset} and the account has {free or ZERO} free.",
                ),
                source=source,
                actor=actor,
                from_status="",
            )

    def record_answer(self, order: PaperOrder, report: ExecutionReport, *, source: str, actor: str) -> PaperOrder:
        """Apply the exchange's answer to an order still UNKNOWN; an answer the database refuses (say, more
        executed than ordered) leaves the order UNKNOWN for sync, with a note, instead of an error."""
        try:
            with transaction.atomic():
                row = PaperOrder.objects.select_for_update().get(pk=order.pk)
                if row.status == Status.UNKNOWN and report.status != Status.UNKNOWN:
                    apply_with_funds(row, report, source=source, actor=actor)
                return row
        except DatabaseError as exc:
            logger.warning("order %s: the exchange's answer could not be stored (%s)", order.pk, type(exc).__name__)
            with transaction.atomic():
                row = PaperOrder.objects.select_for_update().get(pk=order.pk)
                record_note(
                    row,
                    f"The exchange's answer could not be recorded ({type(exc).__name__}: {str(exc)[:120]}); "
                    "sync will ask again. Nothing was resent.",
                )
            return row

    def place(self, order: PaperOrder) -> ExecutionReport:
        """POST the order once with ``newClientOrderId = order.venue_order_ref``; never resent."""
        timed = order.order_type in (OrderType.LIMIT, *STOP_LIMIT_TYPES)
        try:
            data = self.client.place_order(
                order.symbol,
                order.side,
                order.order_type,
                order.quantity,
                price=order.price if order.order_type in PRICED_TYPES else None,
                stop_price=order.stop_price if order.order_type in ALGO_TYPES else None,
                time_in_force=(order.time_in_force or "GTC") if timed else None,
                iceberg_quantity=order.iceberg_quantity,
                trailing_delta=order.trailing_delta,
                client_order_id=order.venue_order_ref,
            )
        except BinanceOutcomeUnknown as exc:
            # Marks when the POST attempt ended: sync believes -2013 only a recvWindow after this moment.
            self._note_unknown(order, f"{exc}")
            return ExecutionReport(status=Status.UNKNOWN)
        except BinanceAuthError as exc:
            # Refused credentials are a venue that cannot be used now, on this call as on every other.
            code = exc.code or None  # a 401 without a JSON code keeps none
            self._close_unsent(
                order, f"Not sent: the exchange refused the credentials (HTTP {exc.http_status})", code=code
            )
            raise unavailable(exc) from None
        except BinanceAPIError as exc:
            # Refused before the matching engine (-2010, -1013, -1021 twice, …): nothing was executed. An answer
            # without a code (a WAF or proxy page) keeps none: the client's 0 is not a code the exchange gave.
            code = exc.code or None
            return ExecutionReport(
                status=Status.REJECTED,
                reject_code=code,
                reject_reason=exc.msg or str(exc),
                detail=f"Rejected by Binance ({code if code is not None else f'HTTP {exc.http_status}'}): {exc.msg}",
            )
        except (BinanceRateLimited, BinanceNotConfigured, BinanceUnavailable) as exc:
            # A local pause or a 429/418 answer, no credentials, or a request that provably never left.
            reason = NOT_SENT_REASON if isinstance(exc, BinanceUnavailable) else f"Not sent: {unavailable(exc).message}"
            self._close_unsent(order, reason, code=exc.code if isinstance(exc, BinanceRateLimited) else None)
            raise unavailable(exc) from None
        except ValueError as exc:
            # The client's own argument check: nothing was sent, and the exchange gave no code.
            return ExecutionReport(status=Status.REJECTED, reject_reason=str(exc), detail=f"Not sent: {exc}")
        try:
            return self.complete_fills(report_from_order(data), symbol=order.symbol)
        except MalformedAnswer as exc:
            self._note_unknown(order, f"The exchange's answer is not a readable order ({exc})")
        except BinanceError as exc:
            self._note_unknown(order, f"The order was answered but its trades could not be read ({type(exc).__name__})")
        return ExecutionReport(status=Status.UNKNOWN)

    def _note_unknown(self, order: PaperOrder, what: str) -> None:
        with transaction.atomic():
            record_note(
                order,
                f"{what}. Sync will ask the exchange for client order id {order.venue_order_ref}; "
                "the order is not resent.",
            )

    def _close_unsent(self, order: PaperOrder, reason: str, *, code: int | None = None) -> None:
        """Record that an order was provably never placed (REJECTED); only an order still UNKNOWN is touched."""
        with transaction.atomic():
            row = PaperOrder.objects.select_for_update().filter(pk=order.pk, status=Status.UNKNOWN).first()
            if row is None:
                return
            last = row.events.order_by("-id").first()
            apply_with_funds(
                row,
                ExecutionReport(status=Status.REJECTED, reject_code=code, reject_reason=reason, detail=reason),
                source=last.source if last else OrderEvent.Source.API,
                actor=last.actor if last else "",
            )
        order.status = Status.REJECTED

    # --- order lists (OCO, OTO, OTOCO) ---------------------------------------------------------------------------
    def submit_list(
        self, list_fields: dict, legs: list[dict], *, market_price: Decimal | None, source: str, actor: str
    ) -> tuple[OrderList, list[PaperOrder]]:
        """Write the list and its legs as UNKNOWN with their funds reserved (``lists.assign_holdings``), commit, POST
        the list once (each leg's client order id its venue_order_ref, the list's its list_client_order_id) and
        record the answer on every leg in one transaction. Raises InsufficientBalance (nothing written, nothing
        sent) when the account's free balance does not cover the list, RiskLimitExceeded when a limit refuses it.

        legs: OCO [above, below]; OTO [working, pending]; OTOCO [working, pending above, pending below].
        """
        order_list = OrderList(**list_fields)
        orders = [PaperOrder(status=Status.UNKNOWN, **fields) for fields in legs]
        rule = get_symbol_rule(order_list.symbol)
        # One leg holds for the whole list: an OCO's needier leg, or the working order of an OTO / OTOCO.
        holder = assign_holdings(orders, rule, market_price)
        with transaction.atomic():
            # The account's risk limits are judged under its row lock, before anything is sent: those that read the
            # account by the holder's reservation, written after the other legs, so that it counts them as open
            # orders and orders of the last minute (the list counts as all its orders, as Binance counts them).
            check = lock_for_order(holder, market_price)
            check.judged = False
            order_list.save(force_insert=True)
            for order in [*(leg for leg in orders if leg is not holder), holder]:
                if order is holder and not reserve_free_amount(
                    holder.account_id, holder.locked_asset, holder.locked_amount, risk=check
                ):
                    check.enforce_by_reading()  # a limit, rather than the funds, may be what refuses it
                    raise InsufficientBalance(holder.locked_asset)  # and the transaction writes nothing
                order.order_list = order_list
                order.save(force_insert=True)
                what = f"the {order.list_leg} leg of {order_list.contingency_type} list {order_list.pk}"
                detail = f"Sending to {self.label} as {what}."
                record_event(order, "", Status.UNKNOWN, source=source, actor=actor, detail=detail)
        # The network call runs outside any transaction, after the rows above are committed: whatever happens next,
        # every leg exists locally under the client order id it was sent with, and sync can find it.
        reports = self.place_list(order_list, orders)
        if reports:
            self.record_list_answer(order_list, reports, source=source, actor=actor)
        order_list.refresh_from_db()
        return order_list, list(order_list.orders.order_by("id"))

    def place_list(self, order_list: OrderList, legs: list[PaperOrder]) -> dict[int, ExecutionReport]:
        """POST the list once; each leg's report by its pk, or {} when the outcome is unknown (sync resolves each
        leg by its client order id). Raises VenueUnavailable, having closed the legs, when it provably never left."""
        try:
            data = self._post_list(order_list, legs)
        except BinanceOutcomeUnknown as exc:
            note_legs(legs, f"{exc}. Sync will ask the exchange for each leg by its client order id; not resent.")
            return {}
        except (BinanceAuthError, BinanceRateLimited, BinanceNotConfigured, BinanceUnavailable) as exc:
            if isinstance(exc, BinanceAuthError):
                reason = f"Not sent: the exchange refused the credentials (HTTP {exc.http_status})"
            else:
                reason = (
                    NOT_SENT_REASON if isinstance(exc, BinanceUnavailable) else f"Not sent: {unavailable(exc).message}"
                )
            code = exc.code or None if isinstance(exc, BinanceAuthError | BinanceRateLimited) else None
            refusal = ExecutionReport(status=Status.REJECTED, reject_code=code, reject_reason=reason, detail=reason)
            self._close_unsent_list(order_list, legs, refusal)
            raise unavailable(exc) from None
        except BinanceAPIError as exc:
            # Refused before the matching engine (-2010, -1013, ...): no leg was placed.
            code = exc.code or None
            said = code if code is not None else f"HTTP {exc.http_status}"
            return {
                leg.pk: ExecutionReport(
                    status=Status.REJECTED,
                    reject_code=code,
                    reject_reason=exc.msg or str(exc),
                    detail=f"Rejected by Binance ({said}): {exc.msg}",
                )
                for leg in legs
            }
        except ValueError as exc:
            return {
                leg.pk: ExecutionReport(status=Status.REJECTED, reject_reason=str(exc), detail=f"Not sent: {exc}")
                for leg in legs
            }
        try:
            return self._list_reports(legs, data)
        except MalformedAnswer as exc:
            note_legs(legs, f"The exchange's answer is not a readable order list ({exc}). Sync will ask for each leg.")
        except BinanceError as exc:
            note_legs(legs, f"The list was answered but its trades could not be read ({type(exc).__name__}).")
        return {}

    def _post_list(self, order_list: OrderList, legs: list[PaperOrder]) -> dict:
        def terms(leg: PaperOrder) -> dict:
            timed = leg.order_type in (OrderType.LIMIT, *STOP_LIMIT_TYPES)
            return dict(
                side=leg.side,
                type=leg.order_type,
                quantity=leg.quantity,
                price=leg.price if leg.order_type in PRICED_TYPES else None,
                stop_price=leg.stop_price if leg.order_type in ALGO_TYPES else None,
                trailing_delta=leg.trailing_delta,
                time_in_force=(leg.time_in_force or "GTC") if timed else None,
                iceberg_quantity=leg.iceberg_quantity,
                client_order_id=leg.venue_order_ref,
            )

        by_leg = {leg.list_leg: leg for leg in legs}
        kind, client_id = order_list.contingency_type, order_list.list_client_order_id
        if kind == OrderList.ContingencyType.OCO:
            above, below = by_leg[Leg.ABOVE], by_leg[Leg.BELOW]
            return self.client.place_order_list_oco(
                order_list.symbol,
                above.side,
                above.quantity,
                above=terms(above),
                below=terms(below),
                list_client_order_id=client_id,
            )
        working = terms(by_leg[Leg.WORKING])
        if kind == OrderList.ContingencyType.OTO:
            return self.client.place_order_list_oto(
                order_list.symbol, working=working, pending=terms(by_leg[Leg.PENDING]), list_client_order_id=client_id
            )
        above, below = by_leg[Leg.ABOVE], by_leg[Leg.BELOW]
        return self.client.place_order_list_otoco(
            order_list.symbol,
            working=working,
            pending_side=above.side,
            pending_quantity=above.quantity,
            pending_above=terms(above),
            pending_below=terms(below),
            list_client_order_id=client_id,
        )

    def _list_reports(self, legs: list[PaperOrder], data) -> dict[int, ExecutionReport]:
        """The answer's orderReports, each on its leg (by the client order id it was sent with, or the exchange's
        id), with their trades; MalformedAnswer when the answer is not an order list."""
        entries = data.get("orderReports") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise MalformedAnswer("the answer has no orderReports")
        reports = {}
        for entry in entries:
            report = report_from_order(entry)
            client_ids = {str(entry.get(key)) for key in ("origClientOrderId", "clientOrderId") if entry.get(key)}
            leg = next(
                (
                    leg
                    for leg in legs
                    if leg.venue_order_ref in client_ids or leg.binance_order_id == report.exchange_order_id
                ),
                None,
            )
            if leg is not None:
                reports[leg.pk] = self.complete_fills(
                    report, symbol=leg.symbol, stored=self.stored_fill_quantity(leg.pk)
                )
        return reports

    def record_list_answer(
        self, order_list: OrderList, reports: dict[int, ExecutionReport], *, source: str, actor: str
    ) -> ListOutcome | None:
        """Apply the exchange's answer on the legs in one transaction; an answer the database refuses leaves the
        legs as they were (UNKNOWN for sync), with a note, instead of an error."""
        try:
            return apply_list_reports(order_list.pk, reports, source=source, actor=actor)
        except DatabaseError as exc:
            logger.warning("list %s: the exchange's answer could not be stored (%s)", order_list.pk, type(exc).__name__)
            note_legs(
                list(order_list.orders.all()),
                f"The exchange's answer could not be recorded ({type(exc).__name__}); sync will ask again.",
            )
            return None

    def _close_unsent_list(self, order_list: OrderList, legs: list[PaperOrder], refusal: ExecutionReport) -> None:
        """Every leg provably never placed: REJECTED, the funds back."""
        last = legs[0].events.order_by("-id").first()
        apply_list_reports(
            order_list.pk,
            {leg.pk: refusal for leg in legs},
            source=last.source if last else OrderEvent.Source.API,
            actor=last.actor if last else "",
        )

    def cancel_list(self, order_list: OrderList, *, source: str, actor: str) -> list[PaperOrder]:
        """DELETE the list (by its listClientOrderId) and record every leg's final state, releasing its funds once.

        A leg the exchange does not report (or a cancel that failed: -2011 when the list had already finished, a
        lost answer) is asked for by itself, and what the exchange says is recorded, a fill included. A list none
        of whose legs ended CANCELLED (one filled meanwhile) is answered with OrderNotWorking after recording it.
        """
        legs = list(PaperOrder.objects.filter(order_list_id=order_list.pk).order_by("id"))
        order_list = OrderList.objects.get(pk=order_list.pk)
        if not any(leg.is_working for leg in legs):
            raise OrderNotWorking(
                f"Order list {order_list.pk} is {order_list.list_order_status}; only an executing list can be "
                "cancelled."
            )
        self._require_configured()
        failure: Exception | None = None
        with exchange_errors():
            try:
                data = self.client.cancel_order_list(
                    order_list.symbol, list_client_order_id=order_list.list_client_order_id
                )
                reports = self._list_reports(legs, data)
            except (BinanceRejected, BinanceNoSuchOrder, BinanceOutcomeUnknown, MalformedAnswer) as exc:
                # -2011: the list had already finished (a leg filled); a lost answer may or may not have cancelled
                # it. Either way, each leg's state on the exchange is the answer.
                failure, reports = exc, {}
            for leg in legs:
                if leg.status not in PaperOrder.OPEN_STATUSES or leg.pk in reports:
                    continue
                if (report := self._leg_now(leg)) is not None:
                    reports[leg.pk] = report
        outcome = apply_list_reports(order_list.pk, reports, source=source, actor=actor)
        if any(leg.is_working for leg in outcome.legs) and failure is not None:
            if isinstance(failure, BinanceAPIError):
                raise OrderRejected(failure.code, failure.msg or str(failure), order=outcome.legs[0])
            raise VenueUnavailable("The exchange did not confirm the cancel and the list is still working; try again.")
        if not any(leg.status == Status.CANCELLED for leg in outcome.legs):
            raise OrderNotWorking(
                f"Order list {order_list.pk} is {outcome.order_list.list_order_status} on the exchange; it could not "
                "be cancelled."
            )
        return outcome.legs

    def _leg_now(self, leg: PaperOrder) -> ExecutionReport | None:
        """One leg's state on the exchange, with its trades; None when the exchange does not know it yet."""
        try:
            report = self.fetch(leg.symbol, exchange_order_id=leg.binance_order_id, client_order_id=leg.venue_order_ref)
            return self.complete_fills(report, symbol=leg.symbol, stored=self.stored_fill_quantity(leg.pk))
        except BinanceNoSuchOrder:
            return reset_report() if leg.binance_order_id else None
        except MalformedAnswer:
            raise VenueUnavailable("The exchange's answer could not be read; sync will resolve the list.") from None

    # --- fills ---------------------------------------------------------------------------------------------
    def complete_fills(self, report: ExecutionReport, *, symbol: str, stored: Decimal = ZERO) -> ExecutionReport:
        """Make the report carry the order's trades, each with its trade id, whenever the exchange executed more
        than the `stored` fills and the answer's own fills do not account for it with ids (the spec's FULL fills
        carry no tradeId; a RESULT answer carries none): one myTrades call for the order, as Binance advises.

        The fills are part of the answer: when that call fails its error is raised (a BinanceError, or
        MalformedAnswer), so the caller keeps the order as it was (UNKNOWN, or still working) and the next sync
        asks again, instead of storing a finished order whose fills are missing for good.
        """
        if report.executed_quantity <= stored or report.exchange_order_id is None:
            report.fills = []
            return report
        inline = report.fills
        if (
            inline
            and all(f.trade_id for f in inline)
            and sum(f.quantity for f in inline) + stored >= (report.executed_quantity)
        ):
            return report
        report.fills = fills_from_trades(self.client.my_trades(symbol, order_id=report.exchange_order_id))
        return report

    @staticmethod
    def stored_fill_quantity(order_id: int | None) -> Decimal:
        if order_id is None:
            return ZERO
        return OrderFill.objects.filter(order_id=order_id).aggregate(q=MoneySum("quantity"))["q"] or ZERO

    # --- reading one order -----------------------------------------------------------------------------------
    def fetch(self, symbol: str, *, exchange_order_id: int | None, client_order_id: str) -> ExecutionReport:
        """The exchange's copy of one order, without fills: by its exchange id when known, else by client id.

        Raises BinanceNoSuchOrder (-2013), the client's other errors, or MalformedAnswer.
        """
        if exchange_order_id is not None:
            data = self.client.get_order(symbol, order_id=exchange_order_id)
        else:
            data = self.client.get_order(symbol, client_order_id=client_order_id)
        return report_from_order(data, fills=[])

    def query(self, order: PaperOrder) -> ExecutionReport | None:
        """The exchange's copy of one order and its trades, read only; None when it says -2013."""
        self._require_configured()
        with exchange_errors():
            try:
                report = self.fetch(
                    order.symbol, exchange_order_id=order.binance_order_id, client_order_id=order.venue_order_ref
                )
                if report.executed_quantity > 0:
                    trades = self.client.my_trades(order.symbol, order_id=report.exchange_order_id)
                    report.fills = fills_from_trades(trades)
            except BinanceNoSuchOrder:
                return None
            except MalformedAnswer as exc:
                raise VenueUnavailable(f"The exchange's answer about this order could not be read ({exc}).") from None
        return report

    # --- cancel --------------------------------------------------------------------------------------------
    def cancel(self, order: PaperOrder, *, source: str, actor: str) -> PaperOrder:
        """DELETE the order; if the exchange says it is unknown or final, re-query and record its real state.

        A final state other than CANCELLED (e.g. it filled meanwhile) is recorded, then answered with 409.
        """
        if not order.is_working:
            raise OrderNotWorking(f"Order {order.pk} is {order.status}; only working orders can be cancelled.")
        if order.order_list_id is not None:
            # Cancelling any leg of a list cancels the list.
            legs = self.cancel_list(order.order_list, source=source, actor=actor)
            return next(leg for leg in legs if leg.pk == order.pk)
        self._require_configured()
        order_id, client_id = order.binance_order_id, None if order.binance_order_id else order.venue_order_ref
        with exchange_errors():
            try:
                data = self.client.cancel_order(order.symbol, order_id=order_id, client_order_id=client_id)
                report = report_from_order(data, fills=[])
            except (BinanceRejected, BinanceNoSuchOrder, BinanceOutcomeUnknown, MalformedAnswer) as exc:
                # -2011 "Unknown order sent." usually means it already finished; a lost answer may or may not
                # have cancelled it. Either way, the exchange's current state is the answer.
                report = self._state_after_failed_cancel(order, exc)
            try:
                report = self.complete_fills(report, symbol=order.symbol, stored=self.stored_fill_quantity(order.pk))
            except MalformedAnswer:
                raise VenueUnavailable(
                    "The exchange's trades for this order could not be read; sync will retry."
                ) from None
        with transaction.atomic():
            order = PaperOrder.objects.select_for_update().get(pk=order.pk)
            order = apply_with_funds(order, report, source=source, actor=actor)
        if order.status != Status.CANCELLED:
            raise OrderNotWorking(f"Order {order.pk} is {order.status} on the exchange; it could not be cancelled.")
        return order

    def _state_after_failed_cancel(self, order: PaperOrder, exc: Exception) -> ExecutionReport:
        try:
            report = self.fetch(
                order.symbol, exchange_order_id=order.binance_order_id, client_order_id=order.venue_order_ref
            )
        except BinanceNoSuchOrder:
            if order.binance_order_id:
                return reset_report()
            raise VenueUnavailable("The exchange does not know this order yet; sync will resolve it.") from None
        except MalformedAnswer:
            raise VenueUnavailable("The exchange's answer could not be read; sync will resolve the order.") from None
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
        try:
            return balances_from_account(data)
        except MalformedAnswer as exc:
            raise VenueUnavailable(f"The exchange's account answer could not be read ({exc}).") from None

    # --- sync ----------------------------------------------------------------------------------------------
    def sync(self, *, source: str = OrderEvent.Source.SYNC, progress: SyncProgress | None = None) -> SyncReport:
        """Bring local testnet orders up to date: one openOrders call per symbol with working/unknown orders.

        Counts each change under its outcome: filled, partially_filled, cancelled, expired, rejected, resolved
        (unknown → found working), reset_closed (the exchange no longer knows an order it confirmed), imported
        (open on the account, not placed here). `progress` is called after each symbol.
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
                    TestnetSync(self, report, source, progress=progress).run()
        finally:
            report.request_weight = self.client.weight_used - start_weight
        logger.info("testnet sync: %s request_weight=%s", report.changed or "no changes", report.request_weight)
        return report

    def sync_orders(
        self,
        order_ids: Iterable[int],
        *,
        source: str,
        actor: str = "",
        statuses: Iterable[str] = PaperOrder.OPEN_STATUSES,
    ) -> SyncReport:
        """Sync chosen orders now (the admin's actions): each open one is queried once and applied as sync does.

        Same rules as :meth:`sync`, without the openOrders pass or the import of foreign orders. Not under the
        sync's job lock: every change is applied under the order's row lock, only while the order is still open,
        so a concurrent sync and this one cannot apply anything twice.
        """
        self._require_configured()
        report = SyncReport(venue=self.name)
        start_weight = self.client.weight_used
        try:
            with exchange_errors():
                TestnetSync(self, report, source, actor=actor).run_orders(
                    list(order_ids), statuses=tuple(statuses) or PaperOrder.OPEN_STATUSES
                )
        finally:
            report.request_weight = self.client.weight_used - start_weight
        return report
