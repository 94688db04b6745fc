"""The local venue: Binance's rules, statuses and error messages, executed against the price table.

Every write moves balances together with the order in one transaction. Liquidity is unlimited at the market
price, so a marketable order fills completely; slippage and fees make it realistic. With SIMULATOR_LIQUIDITY on,
papertrading.liquidity decides how much fills and at what price instead: orders then fill in slices.
"""

import copy
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from .. import errors, liquidity
from ..balances import (
    InsufficientBalance,
    lock_balances,
    move_free_amounts,
    open_missing_balances,
    open_order_limits,
    open_orders_on,
    release,
    require_free_amount,
    reservation,
    reserve_free_amount,
    save_balances,
)
from ..fees import fill_moves
from ..models import (
    OrderEvent,
    OrderFill,
    OrderList,
    OrderType,
    PaperOrder,
    Side,
    SimulatedBalance,
    SymbolRule,
    TimeInForce,
    Venue,
)
from ..money import ZERO, format_decimal, round_to_step, to_money
from ..prices import ensure_price, last_price
from ..risk import RiskCheck, lock_for_order
from ..signals import order_changed
from ..symbols import get_symbol_rule
from ..validation import (
    ALGO_TYPES,
    LIMIT_TYPES,
    PRICED_TYPES,
    STOP_LIMIT_TYPES,
    STOP_TYPES,
    fires_at_or_below,
    trailing_trigger,
    validate_order,
)
from .base import BalanceReport, ExecutionReport, FillReport, SyncProgress, SyncReport, VenueStatus
from .recording import apply_report, finish_list, lock_order_list, record_event

Status = PaperOrder.Status
# The legs of an OCO pair: an OCO's, or an OTOCO's pending pair once it works.
OCO_PAIR = (PaperOrder.ListLeg.ABOVE, PaperOrder.ListLeg.BELOW)


class SimulatorVenue:
    name = Venue.SIMULATION.value
    label = Venue.SIMULATION.label
    weight_used = 0  # no exchange behind it
    # The simulator keeps no copy of an order apart from the database: `query` answers what its fills imply.
    copy_note = "Simulated orders have no exchange copy: compared with what their fills and terms imply."

    def symbol_rule(self, symbol: str) -> SymbolRule | None:
        return get_symbol_rule(symbol)

    def market_price(self, symbol: str) -> Decimal | None:
        """The stored last price; the first one is fetched (VenueUnavailable, a 503, when the source is down)."""
        row = ensure_price(symbol)
        return row.price if row else None

    def taker_price(self, symbol: str, side: str) -> Decimal | None:
        rule, market = get_symbol_rule(symbol), self.market_price(symbol)
        if rule is None or market is None:
            return None
        return taker_price(side=side, market_price=market, tick_size=rule.tick_size)

    def status(self) -> VenueStatus:
        return VenueStatus(venue=self.name, label=self.label)

    # --- orders --------------------------------------------------------------------------------------------

    def submit(self, fields: dict, *, market_price: Decimal | None, source: str, actor: str) -> PaperOrder:
        """Decide and insert the order in one transaction, in its final state (the row is written once)."""
        try:
            with transaction.atomic():
                order = PaperOrder(status=Status.PENDING, **fields)
                check = lock_for_order(order, market_price)
                report = self.decide(order, market_price=market_price, risk=check)
                return apply_report(order, report, source=source, actor=actor, from_status="")
        except InsufficientBalance:
            pass
        # Refused for funds, with nothing moved (the transaction was undone): kept as REJECTED, as Binance answers.
        rule = get_symbol_rule(fields["symbol"])
        open_missing_balances(fields["account"].pk, rule.base_asset, rule.quote_asset)
        with transaction.atomic():
            order = PaperOrder(status=Status.PENDING, **fields)
            report = ExecutionReport(
                status=Status.REJECTED,
                reject_code=errors.INSUFFICIENT_BALANCE[0],
                reject_reason=errors.INSUFFICIENT_BALANCE[1],
            )
            return apply_report(order, report, source=source, actor=actor, from_status="")

    def cancel(self, order: PaperOrder, *, source: str, actor: str) -> PaperOrder:
        if order.order_list_id is not None:
            # Cancelling either leg of a list cancels the list.
            legs = self.cancel_list(order.order_list, source=source, actor=actor)
            return next(leg for leg in legs if leg.pk == order.pk)
        with transaction.atomic():
            # The row lock makes a cancel and a fill of the same order take turns; the loser sees the final state.
            order = PaperOrder.objects.select_for_update().get(pk=order.pk)
            if not order.is_working:
                raise errors.OrderNotWorking(
                    f"Order {order.pk} is {order.status}; only working orders can be cancelled."
                )
            rule = get_symbol_rule(order.symbol)
            balances = lock_balances(order.account_id, rule.base_asset, rule.quote_asset)
            self._release_reservation(order, balances)
            save_balances(balances)
            report = ExecutionReport.as_it_stands(order, Status.CANCELLED)
            return apply_report(order, report, source=source, actor=actor)

    # --- order lists (OCO, OTO, OTOCO) -------------------------------------------------------------------------

    def submit_list(
        self, list_fields: dict, legs: list[dict], *, market_price: Decimal, source: str, actor: str
    ) -> tuple[OrderList, list[PaperOrder]]:
        """Write a list and its legs in one transaction (legs in the interface's order: an OCO's above and below;
        an OTO's working and pending; an OTOCO's working, pending above and pending below). Every leg counts toward
        the open-order limits and the account's risk limits, as Binance counts them. Raises InsufficientBalance,
        RiskLimitExceeded or OrderRejected (a LIMIT_MAKER working order that would take) with nothing written."""
        with transaction.atomic():
            order_list = OrderList.objects.create(**list_fields)
            orders = [PaperOrder(status=Status.PENDING, order_list=order_list, **fields) for fields in legs]
            if order_list.contingency_type == OrderList.ContingencyType.OCO:
                check = lock_for_order(max(orders, key=self._list_need), market_price)
                self._rest_pair(order_list, orders, market_price, check, source=source, actor=actor)
            else:
                self._start_triggering_list(order_list, orders, market_price, source=source, actor=actor)
        return order_list, orders

    @staticmethod
    def _list_need(leg: PaperOrder) -> Decimal:
        return reservation(leg, get_symbol_rule(leg.symbol))[1]

    def _rest_pair(self, order_list, pair, market_price, check: RiskCheck | None, *, source, actor) -> None:
        """Put an OCO pair to work, both resting (their prices were checked to be on either side of the market),
        with the funds held once: by the leg that needs more (for a SELL both need the quantity). `check` (None
        for an OTOCO's pair going to work: the list was judged when placed) is the holder's risk check, taken
        under the account's lock. A leg already written (an OTOCO's) is updated in place."""
        rule = get_symbol_rule(order_list.symbol)
        # The holder is written last: its reservation's statement then counts the other leg as working.
        holder = max(pair, key=self._list_need)
        other = next(leg for leg in pair if leg is not holder)
        if check is not None:
            # The limits that read the account are judged again by the holder's reservation, which then counts the
            # other leg as a working order and an order of the last minute: the list counts as its two orders.
            check.judged = False
            # The holder's reservation counts both legs against MAX_NUM_ORDERS, and against MAX_NUM_ALGO_ORDERS
            # when it is a stop; the other leg, when only it is one, is judged here (under the account's lock).
            if other.order_type in ALGO_TYPES and holder.order_type not in ALGO_TYPES and rule.max_num_algo_orders:
                self._refuse_at_open_order_limits(other, rule, open_order_limits(other, rule))
        kind = order_list.contingency_type
        for leg in pair:
            leg.waits_for_list = False
        other.trigger_price, other.trigger_direction = self._resting_trigger(other)
        self._apply_leg(
            other,
            ExecutionReport(
                status=Status.PENDING, detail=f"Resting; leg of {kind} list {order_list.pk}, funds held once."
            ),
            source=source,
            actor=actor,
        )
        try:
            # A pair going to work (no check) was counted toward the open-order limits when its list was placed.
            report = self._rest(holder, rule, check, market_price, count_limits=check is not None)
        except InsufficientBalance:
            if check is not None:
                check.enforce_by_reading()  # a limit, rather than the funds, may be what refuses it
            raise
        report.detail = f"{report.detail} Leg of {kind} list {order_list.pk}: holds the list's funds."
        self._apply_leg(holder, report, source=source, actor=actor)

    @staticmethod
    def _apply_leg(leg: PaperOrder, report: ExecutionReport, *, source: str, actor: str) -> None:
        """Write a new leg, or put a waiting one to work (same status: an event says so, and the pages hear it)."""
        if leg.pk is None:
            apply_report(leg, report, source=source, actor=actor, from_status="")
            return
        previous = leg.status
        apply_report(leg, report, source=source, actor=actor)
        if leg.status == previous:
            detail = f"Now working. {report.detail}"
            record_event(leg, previous, previous, source=source, actor=actor, detail=detail)
            order_changed.send(sender=PaperOrder, order=leg, from_status=previous, to_status=previous, fills=[])

    def _start_triggering_list(self, order_list, orders, market_price, *, source: str, actor: str) -> None:
        """An OTO / OTOCO arrives: its pending legs are written waiting (no funds, no trigger), then the working
        order is decided as a new order would be; if it fills at once, the pending legs go to work at once."""
        working, pending = orders[0], orders[1:]
        rule = get_symbol_rule(order_list.symbol)
        check = lock_for_order(working, market_price)
        # Judged again by the working order's reservation, which then counts the pending legs as open orders.
        check.judged = False
        for leg in pending:
            if leg.order_type in ALGO_TYPES and rule.max_num_algo_orders:
                self._refuse_at_open_order_limits(leg, rule, open_order_limits(leg, rule))
            apply_report(
                leg,
                ExecutionReport(
                    status=Status.PENDING,
                    detail=(
                        f"Pending leg of {order_list.contingency_type} list {order_list.pk}: goes to "
                        "work once the working order has filled."
                    ),
                ),
                source=source,
                actor=actor,
                from_status="",
            )
        report = self.decide(working, market_price=market_price, risk=check)
        if report.status == Status.REJECTED:
            raise errors.OrderRejected(report.reject_code, report.reject_reason)  # undoes the list: nothing written
        report.detail = f"{report.detail} Working order of list {order_list.pk}.".strip()
        apply_report(working, report, source=source, actor=actor, from_status="")
        self._after_working_leg(order_list, working, pending, market_price, source=source, actor=actor)

    def _after_working_leg(self, order_list, working, pending, market_price, *, source: str, actor: str) -> None:
        """The working order of an OTO / OTOCO moved: once it has filled its pending legs go to work (an OTOCO's as
        an OCO pair), judged at `market_price`; if it ended otherwise they expire with it. Their funds come from what
        the working order bought: when the account cannot pay them, they are rejected and the list is done."""
        waiting = [leg for leg in pending if leg.waits_for_list and leg.is_working]
        if working.is_working or not waiting:
            return
        if working.status != Status.FILLED:
            for leg in waiting:
                self._end_leg(
                    leg,
                    Status.EXPIRED,
                    f"List {order_list.pk}: the working order {working.status.lower()}.",
                    source=source,
                    actor=actor,
                )
            finish_list(order_list)
            return
        savepoint = transaction.savepoint()
        try:
            if order_list.contingency_type == OrderList.ContingencyType.OTOCO:
                self._rest_pair(order_list, waiting, market_price, None, source=source, actor=actor)
            else:
                (leg,) = waiting
                leg.waits_for_list = False
                report = self.decide(leg, market_price=market_price, count_limits=False)
                self._apply_leg(leg, report, source=source, actor=actor)
        except InsufficientBalance:
            transaction.savepoint_rollback(savepoint)
            for leg in waiting:
                self._end_leg(
                    leg,
                    Status.REJECTED,
                    f"List {order_list.pk}: the account cannot pay for this leg now that the working order filled.",
                    source=source,
                    actor=actor,
                    code=errors.INSUFFICIENT_BALANCE,
                )
        else:
            transaction.savepoint_commit(savepoint)
        if not any(leg.is_working for leg in waiting):
            finish_list(order_list)

    @staticmethod
    def _end_leg(leg, status, detail: str, *, source: str, actor: str, code: tuple | None = None) -> None:
        leg.waits_for_list = False  # it ends without ever working
        report = ExecutionReport.as_it_stands(leg, status, detail=detail)
        if code:
            report.reject_code, report.reject_reason = code
        apply_report(leg, report, source=source, actor=actor)

    def cancel_list(self, order_list: OrderList, *, source: str, actor: str) -> list[PaperOrder]:
        """Cancel every working leg of the list and release what it holds, once; OrderNotWorking when none works."""
        with transaction.atomic():
            order_list, legs = lock_order_list(order_list.pk)
            working = [leg for leg in legs if leg.is_working]
            if not working:
                raise errors.OrderNotWorking(
                    f"Order list {order_list.pk} is {order_list.list_order_status}; only an executing list can be "
                    "cancelled."
                )
            rule = get_symbol_rule(order_list.symbol)
            balances = lock_balances(order_list.account_id, rule.base_asset, rule.quote_asset)
            for leg in working:
                self._release_reservation(leg, balances)
            save_balances(balances)
            for leg in working:
                leg.waits_for_list = False  # a pending leg ends without ever working
                apply_report(
                    leg,
                    ExecutionReport.as_it_stands(
                        leg,
                        Status.CANCELLED,
                        detail=f"{order_list.contingency_type} list {order_list.pk} cancelled.",
                    ),
                    source=source,
                    actor=actor,
                )
            finish_list(order_list)
        return legs

    def _take_over_list(self, order: PaperOrder, legs: list[PaperOrder]) -> list[PaperOrder]:
        """A leg fills or triggers: it takes over what the list holds, keeping only what it needs itself; the
        other working legs are returned, holding nothing (the caller expires them)."""
        rule = get_symbol_rule(order.symbol)
        others = [leg for leg in legs if leg.pk != order.pk and leg.is_working]
        balances = lock_balances(order.account_id, rule.base_asset, rule.quote_asset)
        for leg in others:
            self._release_reservation(leg, balances)
        self._release_reservation(order, balances)
        if not self._hold(order, rule, balances):
            raise InsufficientBalance(order.locked_asset)  # cannot happen: the list held at least what it needs
        save_balances(balances)
        return others

    @staticmethod
    def _resting_trigger(order: PaperOrder) -> tuple[Decimal, str]:
        price = order.price if order.order_type in LIMIT_TYPES else order.stop_price
        at_or_below = fires_at_or_below(order.order_type, order.side)
        return price, PaperOrder.Trigger.AT_OR_BELOW if at_or_below else PaperOrder.Trigger.AT_OR_ABOVE

    def query(self, order: PaperOrder) -> ExecutionReport:
        """What the order's own fills and terms imply: the simulator keeps no copy apart from the database."""
        fills = list(order.fills.all())
        filled = sum((f.quantity for f in fills), ZERO)
        if filled >= order.quantity:
            status = Status.FILLED
        elif filled > 0 and order.is_working:
            status = Status.PARTIALLY_FILLED
        else:
            status = order.status
        rule = get_symbol_rule(order.symbol)
        locked_asset, locked_amount = reservation(order, rule) if order.is_working and rule else ("", ZERO)
        if order.waits_for_list:
            locked_amount = ZERO  # a pending leg holds nothing until its list's working order has filled
        elif order.order_list_id is not None and order.is_working and rule and order.list_leg in OCO_PAIR:
            # An OCO pair holds its funds once, what its neediest working leg needs: this leg should hold what the
            # other does not.
            legs = [
                leg
                for leg in order.order_list.orders.all()
                if leg.is_working and leg.list_leg in OCO_PAIR and not leg.waits_for_list
            ]
            held_by_others = sum((leg.locked_amount for leg in legs if leg.pk != order.pk), ZERO)
            locked_amount = max(reservation(leg, rule)[1] for leg in legs) - held_by_others
        return ExecutionReport(
            status=status,
            executed_quantity=filled,
            cumulative_quote_quantity=sum((to_money(f.quantity * f.price) for f in fills), ZERO),
            fills=[
                FillReport(f.price, f.quantity, f.commission, f.commission_asset, trade_id=f.trade_id) for f in fills
            ],
            detail=self.copy_note,
            locked_asset=locked_asset,
            locked_amount=locked_amount,
        )

    def balances(self) -> list[BalanceReport]:
        """Every simulated account's balances added up per asset (the simulator has no account of its own)."""
        totals: dict[str, BalanceReport] = {}
        for b in SimulatedBalance.objects.filter(account__venue=self.name).order_by("asset"):
            row = totals.setdefault(b.asset, BalanceReport(b.asset, ZERO, ZERO))
            row.free += b.free
            row.locked += b.locked
        return list(totals.values())

    # --- matching ------------------------------------------------------------------------------------------

    def sync(self, *, source: str = OrderEvent.Source.SYNC, progress: SyncProgress | None = None) -> SyncReport:
        """Match every symbol with working orders against its stored price now."""
        report = SyncReport(venue=self.name)
        symbols = dict(
            PaperOrder.objects.filter(venue=Venue.SIMULATION, status__in=PaperOrder.WORKING_STATUSES)
            # Without order_by() the model's default ordering (created_at, id) joins the GROUP BY and repeats symbols.
            .order_by("symbol")
            .values("symbol")
            .annotate(orders=Count("id"))
            .values_list("symbol", "orders")
        )
        for done, symbol in enumerate(sorted(symbols), start=1):
            report.symbols_checked += 1
            report.orders_checked += symbols[symbol]
            self.match(symbol=symbol, report=report, source=source)
            if progress is not None:
                progress(done, len(symbols), symbol, symbols[symbol])
        return report

    def sync_orders(
        self, order_ids: Iterable[int], *, source: str, actor: str = "", statuses: Iterable[str] = ()
    ) -> SyncReport:
        """Match the chosen working orders (only those) against the stored prices."""
        report = SyncReport(venue=self.name)
        chosen: dict[str, set[int]] = defaultdict(set)
        working = PaperOrder.objects.filter(
            pk__in=list(order_ids), venue=Venue.SIMULATION, status__in=PaperOrder.WORKING_STATUSES
        )
        for pk, symbol in working.values_list("pk", "symbol"):
            chosen[symbol].add(pk)
        for symbol, ids in sorted(chosen.items()):
            report.symbols_checked += 1
            report.orders_checked += len(ids)
            self.match(symbol=symbol, report=report, source=source, actor=actor, only=ids)
        return report

    def match(
        self,
        *,
        symbol: str,
        market_price: Decimal | None = None,
        report: SyncReport | None = None,
        source: str = OrderEvent.Source.MATCHER,
        actor: str = "",
        only: set[int] | None = None,
    ) -> SyncReport:
        """Fill the working orders on `symbol` that the market price reaches; counts each outcome in the report.

        Two indexed range queries find the candidates (see PaperOrder.Meta); each candidate is then re-read under
        a row lock, so a cancel that got there first wins and the order is skipped.
        """
        report = report or SyncReport(venue=self.name)
        if market_price is None:
            market_price = last_price(symbol)
            if market_price is None:
                return report
        observation = liquidity.observe(symbol, market_price) if liquidity.enabled() else None
        self._trail(symbol=symbol, market_price=market_price, only=only)
        triggered = self.triggered_order_ids(symbol=symbol, market_price=market_price)
        # Legs of order lists among them (one query for the pass): they lock their list first.
        list_ids = dict(
            PaperOrder.objects.filter(pk__in=triggered, order_list__isnull=False).values_list("pk", "order_list_id")
            if triggered
            else ()
        )
        for order_id in triggered:
            if only is not None and order_id not in only:
                continue
            with transaction.atomic():
                list_id = list_ids.get(order_id)
                others, savepoint = [], None
                if list_id is not None:
                    # A leg of a list: lock the list and its legs first, as a cancel of the list does.
                    order_list, legs = lock_order_list(list_id)
                    order = next((leg for leg in legs if leg.pk == order_id and leg.is_working), None)
                else:
                    order = (
                        PaperOrder.objects.select_for_update()
                        .filter(pk=order_id, status__in=PaperOrder.WORKING_STATUSES)
                        .first()
                    )
                if order is None:
                    continue
                previous = order.status
                # The first leg reached (filled or triggered) of an executing OCO pair expires the other.
                settles_list = list_id is not None and order_list.is_executing and order.list_leg in OCO_PAIR
                if settles_list:
                    savepoint = transaction.savepoint()
                    others = self._take_over_list(order, legs)
                outcome = self.trigger(order, market_price=market_price, observation=observation)
                if outcome is None:
                    if savepoint is not None:
                        transaction.savepoint_rollback(savepoint)  # nothing happened: the list holds as it did
                    continue  # the liquidity model has nothing more for it at this price
                apply_report(order, outcome, source=source, actor=actor)
                if settles_list:
                    for other in others:
                        apply_report(
                            other,
                            ExecutionReport.as_it_stands(
                                other,
                                Status.EXPIRED,
                                detail=(
                                    f"{order_list.contingency_type} list {list_id}: order {order.pk} was reached, "
                                    "so this leg expired."
                                ),
                            ),
                            source=source,
                            actor=actor,
                        )
                        report.count_outcome(other.status)
                    finish_list(order_list)
                elif list_id is not None and order_list.is_executing:
                    # An OTO / OTOCO's working order (its pending legs go to work once it has filled), or an OTO's
                    # pending order, the last of its list.
                    others = [leg for leg in legs if leg.pk != order.pk]
                    if order.list_leg == PaperOrder.ListLeg.WORKING:
                        self._after_working_leg(order_list, order, others, market_price, source=source, actor=actor)
                    elif not any(leg.is_working for leg in legs):
                        finish_list(order_list)
                if order.is_working and order.status == previous:
                    # A stop-limit whose stop was reached and whose limit now rests, or another slice of a partly
                    # filled order: no new status, but an event.
                    record_event(order, order.status, order.status, source=source, actor=actor, detail=outcome.detail)
            if order.is_working and not outcome.fills:
                report.count("triggered")
            else:
                report.count_outcome(order.status)
        return report

    @staticmethod
    def triggered_order_ids(*, symbol: str, market_price: Decimal) -> list[int]:
        """Working simulated orders the price reaches, oldest first: one range scan per trigger direction."""
        working = PaperOrder.objects.filter(
            symbol=symbol, venue=Venue.SIMULATION, status__in=PaperOrder.WORKING_STATUSES
        )
        below = working.filter(trigger_direction=PaperOrder.Trigger.AT_OR_BELOW, trigger_price__gte=market_price)
        above = working.filter(trigger_direction=PaperOrder.Trigger.AT_OR_ABOVE, trigger_price__lte=market_price)
        rows = list(below.values_list("created_at", "pk")) + list(above.values_list("created_at", "pk"))
        return [pk for _, pk in sorted(rows)]

    # --- deciding --------------------------------------------------------------------------------------------

    def decide(
        self,
        order: PaperOrder,
        *,
        market_price: Decimal | None,
        risk: RiskCheck | None = None,
        count_limits: bool = True,
    ) -> ExecutionReport:
        """What happens to a new order on arrival: rest, fill or expire, with its balances moved.

        Raises InsufficientBalance when the account cannot pay, or RiskLimitExceeded when one of the account's
        `risk` limits refuses (judged on what the funds' statement read): the caller's transaction must be undone,
        since a fill moves both assets in one statement.
        """
        try:
            return self._decide(order, market_price, risk, count_limits)
        except InsufficientBalance:
            if risk is not None:
                risk.enforce_by_reading()  # a limit, rather than the funds, may be what refuses it
            raise

    def _decide(
        self, order: PaperOrder, market_price: Decimal | None, risk: RiskCheck | None, count_limits: bool = True
    ) -> ExecutionReport:
        if market_price is None:
            # validate_order asks for a price only for MARKET; the simulator needs one to decide every type.
            raise errors.OrderValidationError(
                {"symbol": [f"No market price for {order.symbol} yet; try again in a moment."]}
            )
        rule = get_symbol_rule(order.symbol)
        if order.order_type == OrderType.LIMIT_MAKER and self._is_marketable(order, market_price):
            # Post-only: an order that would take liquidity is refused, as Binance does.
            if risk is not None:
                risk.enforce_by_reading()
            return ExecutionReport(
                status=Status.REJECTED, reject_code=errors.WOULD_TAKE[0], reject_reason=errors.WOULD_TAKE[1]
            )
        if self._rests(order, market_price):
            return self._rest(order, rule, risk, market_price, count_limits=count_limits)
        if order.order_type == OrderType.MARKET and liquidity.enabled():
            return self._take_on_arrival(order, rule, market_price, risk)
        if order.order_type == OrderType.MARKET:
            price = self._slipped(order.side, market_price, rule)
            fill, deltas = self._fill_terms(order, rule, price, market_price, OrderFill.Rule.MARKETABLE_ON_ARRIVAL)
            move_free_amounts(order.account_id, deltas, risk=risk)
            return self._filled(
                order, [fill], f"Filled at {format_decimal(price)} (market {format_decimal(market_price)})."
            )
        asset, needed = self._whole_order_cost(order, rule, market_price)
        if order.order_type == OrderType.LIMIT and self._is_marketable(order, market_price) and liquidity.enabled():
            return self._take_on_arrival(order, rule, market_price, risk, needs={asset: needed})
        if order.order_type == OrderType.LIMIT and self._is_marketable(order, market_price):
            # A marketable limit takes the market but never trades through its own limit.
            slipped = self._slipped(order.side, market_price, rule)
            price = min(slipped, order.price) if order.side == Side.BUY else max(slipped, order.price)
            fill, deltas = self._fill_terms(order, rule, price, market_price, OrderFill.Rule.MARKETABLE_ON_ARRIVAL)
            move_free_amounts(order.account_id, deltas, needs={asset: needed}, risk=risk)
            return self._filled(
                order,
                [fill],
                f"Marketable on arrival: filled at {format_decimal(price)} (market {format_decimal(market_price)}).",
            )
        # A LIMIT that neither rests nor crosses is an IOC or FOK: it takes only what is there at once, and with no
        # cross there is nothing to take. Binance still checks the whole order against the free balance first.
        require_free_amount(order.account_id, asset, needed)
        if risk is not None:
            risk.enforce_by_reading()
        return ExecutionReport(
            status=Status.EXPIRED,
            detail=f"{order.time_in_force} limit not marketable at {format_decimal(market_price)}: expired unfilled.",
        )

    def trigger(
        self, order: PaperOrder, *, market_price: Decimal, observation: liquidity.Observation | None = None
    ) -> ExecutionReport | None:
        """Act on a resting order that the market reached: a limit (or a stop-limit's working limit) fills at its
        own price, a stop fills at the market, and a stop-limit's stop puts its limit to work.

        With the liquidity model on, a resting limit fills one slice of the `observation` (None: nothing more at
        this price) and a stop walks the book.
        """
        rule = get_symbol_rule(order.symbol)
        if order.trailing_delta and order.trailing_started_at is None:
            return self._activate_trailing(order, rule, market_price)
        stop_reached = order.order_type in STOP_LIMIT_TYPES and order.stop_triggered_at is None
        if stop_reached:
            order.stop_triggered_at = timezone.now()
            if not self._is_marketable(order, market_price):
                return self._work_limit(order, rule, market_price)
        maker = not stop_reached and order.order_type in (*LIMIT_TYPES, *STOP_LIMIT_TYPES)
        if liquidity.enabled():
            if maker:
                return self._fill_slice(order, rule, market_price, observation)
            return self._take_on_trigger(order, rule, market_price)
        balances = lock_balances(order.account_id, rule.base_asset, rule.quote_asset)
        self._release_reservation(order, balances)
        if maker:
            # A resting limit (a stop-limit's too, once working) fills at its own price, as a maker.
            price, fill_rule = order.price, OrderFill.Rule.LIMIT_CROSSED
            detail = f"Limit crossed: market {format_decimal(market_price)}."
        elif stop_reached:
            # The stop was reached and its limit is marketable: it takes the market, never through its limit.
            slipped = self._slipped(order.side, market_price, rule)
            price = min(slipped, order.price) if order.side == Side.BUY else max(slipped, order.price)
            fill_rule = OrderFill.Rule.STOP_TRIGGERED
            detail = (
                f"Stop reached at {format_decimal(market_price)}: its limit {format_decimal(order.price)} "
                f"filled at {format_decimal(price)}."
            )
        else:
            price, fill_rule = self._slipped(order.side, market_price, rule), OrderFill.Rule.STOP_TRIGGERED
            detail = f"Filled at {format_decimal(price)} (market {format_decimal(market_price)})."
        fill, deltas = self._fill_terms(order, rule, price, market_price, fill_rule, maker=maker)
        if any(balances[asset].free + delta < 0 for asset, delta in deltas.items()):
            # The market gapped past the stop and the account cannot pay the higher price.
            save_balances(balances)
            return ExecutionReport(
                status=Status.EXPIRED,
                reject_code=errors.INSUFFICIENT_BALANCE[0],
                reject_reason=errors.INSUFFICIENT_BALANCE[1],
                detail=f"Stop triggered at {format_decimal(market_price)} but the account could not pay.",
            )
        for asset, delta in deltas.items():
            balances[asset].free += delta
        save_balances(balances)
        return self._filled(order, [fill], detail)

    def _work_limit(self, order: PaperOrder, rule: SymbolRule, market_price: Decimal) -> ExecutionReport:
        """A stop-limit whose stop was reached and whose limit does not cross the market: a GTC limit rests at its
        price (its funds stay locked: they were reserved at that price), an IOC or FOK expires."""
        if order.time_in_force == TimeInForce.GTC:
            order.trigger_price = order.price
            order.trigger_direction = (
                PaperOrder.Trigger.AT_OR_BELOW if order.side == Side.BUY else PaperOrder.Trigger.AT_OR_ABOVE
            )
            return ExecutionReport.as_it_stands(
                order,
                detail=(
                    f"Stop reached at {format_decimal(market_price)}: limit {format_decimal(order.price)} GTC now "
                    "working."
                ),
            )
        balances = lock_balances(order.account_id, rule.base_asset, rule.quote_asset)
        self._release_reservation(order, balances)
        save_balances(balances)
        return ExecutionReport.as_it_stands(
            order,
            Status.EXPIRED,
            detail=(
                f"Stop reached at {format_decimal(market_price)}: {order.time_in_force} limit "
                f"{format_decimal(order.price)} not marketable."
            ),
        )

    # --- trailing stops ---------------------------------------------------------------------------------------------

    def _trail(self, *, symbol: str, market_price: Decimal, only: set[int] | None = None) -> None:
        """Tracking trailing stops whose best price the new price beats follow it: a SELL's trigger rises with a
        new high, a BUY's falls with a new low (and a BUY stop then holds less). One indexed scan finds them."""
        tracking = PaperOrder.objects.filter(
            symbol=symbol,
            venue=Venue.SIMULATION,
            status__in=PaperOrder.WORKING_STATUSES,
            trailing_price__isnull=False,
            stop_triggered_at__isnull=True,
        )
        beaten = Q(side=Side.SELL, trailing_price__lt=market_price) | Q(side=Side.BUY, trailing_price__gt=market_price)
        for order_id in tracking.filter(beaten).values_list("pk", flat=True):
            if only is not None and order_id not in only:
                continue
            with transaction.atomic():
                # Re-read under the row lock: a cancel or a fill that got there first wins.
                order = tracking.filter(beaten, pk=order_id).select_for_update().first()
                if order is None:
                    continue
                rule = get_symbol_rule(symbol)
                order.trailing_price = market_price
                order.trigger_price = trailing_trigger(
                    side=order.side,
                    trailing_delta=order.trailing_delta,
                    best_price=market_price,
                    tick_size=rule.tick_size,
                )
                fields = ["trailing_price", "trigger_price", "updated_at"]
                if order.side == Side.BUY and order.order_type not in PRICED_TYPES:
                    balances = lock_balances(order.account_id, rule.base_asset, rule.quote_asset)
                    self._hold(order, rule, balances)  # its trigger fell: it frees part of what it held
                    save_balances(balances)
                    fields.append("locked_amount")
                order.save(update_fields=fields)

    def _activate_trailing(self, order: PaperOrder, rule: SymbolRule, market_price: Decimal) -> ExecutionReport:
        """A trailing stop's stop price was reached: it starts tracking from this price (a BUY stop then holds what
        it would pay at its trigger; EXPIRED when the account cannot)."""
        balances = lock_balances(order.account_id, rule.base_asset, rule.quote_asset)
        self._start_trailing(order, rule, market_price)
        if not self._hold(order, rule, balances):
            return self._expire_unpaid(
                order,
                balances,
                f"Stop price reached at {format_decimal(market_price)} but the account could not hold what "
                "the trailing stop would pay.",
            )
        save_balances(balances)
        return ExecutionReport.as_it_stands(
            order,
            detail=f"Stop price reached at {format_decimal(market_price)}. {self._trailing_detail(order)}",
        )

    @staticmethod
    def _start_trailing(order: PaperOrder, rule: SymbolRule, price: Decimal) -> None:
        order.trailing_price, order.trailing_started_at = price, timezone.now()
        order.trigger_price = trailing_trigger(
            side=order.side, trailing_delta=order.trailing_delta, best_price=price, tick_size=rule.tick_size
        )
        order.trigger_direction = (
            PaperOrder.Trigger.AT_OR_BELOW if order.side == Side.SELL else PaperOrder.Trigger.AT_OR_ABOVE
        )

    @staticmethod
    def _hold(order: PaperOrder, rule: SymbolRule, balances: dict[str, SimulatedBalance]) -> bool:
        """Make what the order holds what it needs now, on locked balance rows; False (nothing moved) when the
        account cannot hold more."""
        asset, needed = reservation(order, rule)
        change = needed - order.locked_amount
        if change > balances[asset].free:
            return False
        balances[asset].free -= change
        balances[asset].locked += change
        order.locked_asset, order.locked_amount = asset, needed
        return True

    @staticmethod
    def _trailing_detail(order: PaperOrder) -> str:
        return (
            f"Trailing {order.trailing_delta} bps from {format_decimal(order.trailing_price)}: triggers at "
            f"{format_decimal(order.trigger_price)}."
        )

    # --- the liquidity model (SIMULATOR_LIQUIDITY) ---------------------------------------------------------------

    def _take_on_arrival(
        self,
        order: PaperOrder,
        rule: SymbolRule,
        market_price: Decimal,
        risk: RiskCheck | None,
        needs: dict[str, Decimal] | None = None,
    ) -> ExecutionReport:
        """A MARKET order or a marketable LIMIT walks the book: what it takes fills, slice by slice; a GTC limit
        rests with the rest, an IOC or MARKET expires it, and a FOK that the book cannot fill whole fills nothing."""
        slices = self._walk(order, rule, market_price)
        taken = sum((part.quantity for part in slices), ZERO)
        if order.time_in_force == TimeInForce.FOK and taken < order.remaining_quantity:
            # Binance still checks the whole order against the free balance first.
            ((asset, needed),) = needs.items()
            require_free_amount(order.account_id, asset, needed)
            if risk is not None:
                risk.enforce_by_reading()
            return ExecutionReport(
                status=Status.EXPIRED,
                detail=(
                    f"FOK: the book holds {format_decimal(taken)} of {format_decimal(order.remaining_quantity)} "
                    f"within {format_decimal(order.price)}: expired unfilled."
                ),
            )
        fills, deltas = self._taker_fills(order, rule, slices, market_price, OrderFill.Rule.MARKETABLE_ON_ARRIVAL)
        move_free_amounts(order.account_id, deltas, needs=needs, risk=risk)
        detail = self._walk_detail(fills, market_price)
        if taken == order.remaining_quantity:
            return self._report(order, Status.FILLED, fills, detail)
        if order.order_type == OrderType.LIMIT and order.time_in_force == TimeInForce.GTC:
            report = self._report(order, Status.PARTIALLY_FILLED, fills, f"{detail} The rest rests.")
            rest = self._after(order, report)
            asset, amount = reservation(rest, rule)
            limits = open_order_limits(order, rule)
            if not reserve_free_amount(order.account_id, asset, amount, limits=limits):
                self._refuse_at_open_order_limits(order, rule, limits)
                raise InsufficientBalance(asset)
            order.locked_asset, order.locked_amount = asset, amount
            order.trigger_price, order.trigger_direction = order.price, self._limit_direction(order)
            return report
        return self._report(order, Status.EXPIRED, fills, f"{detail} {self._expiry_reason(order)}")

    def _take_on_trigger(self, order: PaperOrder, rule: SymbolRule, market_price: Decimal) -> ExecutionReport:
        """A stop that triggered (or a stop-limit whose limit is marketable once its stop is reached) walks the book,
        paying from what it held; a GTC stop-limit keeps working with the rest."""
        balances = lock_balances(order.account_id, rule.base_asset, rule.quote_asset)
        slices = self._walk(order, rule, market_price)
        taken = sum((part.quantity for part in slices), ZERO)
        is_limit = order.order_type in STOP_LIMIT_TYPES
        if is_limit and order.time_in_force == TimeInForce.FOK and taken < order.remaining_quantity:
            self._release_reservation(order, balances)
            save_balances(balances)
            return self._report(
                order,
                Status.EXPIRED,
                [],
                f"Stop reached at {format_decimal(market_price)}: FOK limit {format_decimal(order.price)} could not "
                f"fill whole (the book holds {format_decimal(taken)}).",
            )
        fills, deltas = self._taker_fills(order, rule, slices, market_price, OrderFill.Rule.STOP_TRIGGERED)
        detail = f"Stop reached at {format_decimal(market_price)}: {self._walk_detail(fills, market_price)}"
        keeps_working = is_limit and order.time_in_force == TimeInForce.GTC and taken < order.remaining_quantity
        if taken == order.remaining_quantity:
            report = self._report(order, Status.FILLED, fills, detail)
        elif keeps_working:
            report = self._report(order, Status.PARTIALLY_FILLED, fills, f"{detail} The rest works as a limit.")
        else:
            report = self._report(order, Status.EXPIRED, fills, f"{detail} {self._expiry_reason(order)}")
        if not self._settle(order, rule, balances, deltas, report):
            # The market gapped past the stop and the account cannot pay the book's prices.
            return self._expire_unpaid(
                order, balances, f"Stop triggered at {format_decimal(market_price)} but the account could not pay."
            )
        save_balances(balances)
        if keeps_working:
            order.trigger_price, order.trigger_direction = order.price, self._limit_direction(order)
        return report

    def _fill_slice(
        self,
        order: PaperOrder,
        rule: SymbolRule,
        market_price: Decimal,
        observation: liquidity.Observation | None,
    ) -> ExecutionReport | None:
        """A resting limit fills, at its own price, its share of the volume traded at this price (an iceberg at
        most its visible part), once per observation and only of a price stored since it rests (a stop-limit's
        limit: since its stop was reached); None when it gets nothing."""
        if observation is None or not observation.is_after(order.stop_triggered_at or order.created_at):
            return None
        if order.fills.filter(trade_id=observation.trade_id).exists():
            return None
        quantity = liquidity.maker_quantity(
            rule=rule, market_price=market_price, remaining=order.remaining_quantity, visible=order.iceberg_quantity
        )
        if quantity <= 0:
            return None
        fill, deltas = self._fill_terms(
            order,
            rule,
            order.price,
            market_price,
            OrderFill.Rule.LIMIT_CROSSED,
            maker=True,
            quantity=quantity,
            trade_id=observation.trade_id,
        )
        status = Status.FILLED if quantity == order.remaining_quantity else Status.PARTIALLY_FILLED
        report = self._report(
            order,
            status,
            [fill],
            f"Limit crossed: market {format_decimal(market_price)}; filled {format_decimal(quantity)} of the volume "
            "traded there.",
        )
        balances = lock_balances(order.account_id, rule.base_asset, rule.quote_asset)
        if not self._settle(order, rule, balances, deltas, report):
            return None  # cannot happen while the reservation covers the limit price; never move half of it
        save_balances(balances)
        return report

    def _walk(self, order: PaperOrder, rule: SymbolRule, market_price: Decimal) -> list[liquidity.Level]:
        """What a taker of the order's remaining quantity gets from the book, never through its limit."""
        levels = liquidity.book(rule=rule, side=order.side, taker_price=self._slipped(order.side, market_price, rule))
        limit = None if order.order_type in (OrderType.MARKET, *STOP_TYPES) else order.price
        return liquidity.take(levels, order.remaining_quantity, side=order.side, limit=limit)

    def _taker_fills(self, order, rule, slices, market_price, fill_rule) -> tuple[list[FillReport], dict]:
        """One fill per level taken, and what they move together."""
        fills, deltas = [], defaultdict(lambda: ZERO)
        for part in slices:
            fill, moves = self._fill_terms(order, rule, part.price, market_price, fill_rule, quantity=part.quantity)
            fills.append(fill)
            for asset, delta in moves.items():
                deltas[asset] += delta
        return fills, dict(deltas)

    def _settle(self, order, rule, balances: dict[str, SimulatedBalance], deltas: dict, report) -> bool:
        """Move a fill's amounts on locked balance rows: release what the order held, pay and receive, and hold
        again what a still-working order needs for its rest; False (nothing moved) when a balance would go below
        zero."""
        working = report.status in PaperOrder.WORKING_STATUSES
        hold_asset, hold = reservation(self._after(order, report), rule) if working else ("", ZERO)
        moves: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])  # asset: [free change, locked change]
        if order.locked_amount:
            moves[order.locked_asset][0] += order.locked_amount
            moves[order.locked_asset][1] -= order.locked_amount
        for asset, delta in deltas.items():
            moves[asset][0] += delta
        if hold:
            moves[hold_asset][0] -= hold
            moves[hold_asset][1] += hold
        if any(balances[a].free + free < 0 or balances[a].locked + held < 0 for a, (free, held) in moves.items()):
            return False
        for asset, (free, held) in moves.items():
            balances[asset].free += free
            balances[asset].locked += held
        order.locked_amount = hold
        if hold:
            order.locked_asset = hold_asset
        return True

    @staticmethod
    def _after(order: PaperOrder, report: ExecutionReport) -> PaperOrder:
        """The order as the report leaves it (unsaved): what it still holds is read from it."""
        after = copy.copy(order)
        after.executed_quantity = report.executed_quantity
        return after

    @staticmethod
    def _report(order: PaperOrder, status: str, fills: list[FillReport], detail: str) -> ExecutionReport:
        return ExecutionReport(
            status=status,
            executed_quantity=order.executed_quantity + sum((f.quantity for f in fills), ZERO),
            cumulative_quote_quantity=order.cumulative_quote_quantity
            + sum((to_money(f.quantity * f.price) for f in fills), ZERO),
            fills=fills,
            detail=detail,
        )

    @staticmethod
    def _walk_detail(fills: list[FillReport], market_price: Decimal) -> str:
        if not fills:
            return f"The book held nothing within the limit (market {format_decimal(market_price)})."
        quantity = sum((f.quantity for f in fills), ZERO)
        prices = f"{format_decimal(fills[0].price)}" + (
            f" to {format_decimal(fills[-1].price)}" if len(fills) > 1 else ""
        )
        level_word = "level" if len(fills) == 1 else "levels"
        return (
            f"Took {format_decimal(quantity)} from {len(fills)} book {level_word} at {prices} "
            f"(market {format_decimal(market_price)})."
        )

    @staticmethod
    def _expiry_reason(order: PaperOrder) -> str:
        if order.order_type in (OrderType.MARKET, *STOP_TYPES):
            return "The book ran out: the rest expired."
        return f"{order.time_in_force}: the rest expired."

    @staticmethod
    def _limit_direction(order: PaperOrder) -> str:
        """A working limit is reached when the market falls to it (BUY) or rises to it (SELL)."""
        return PaperOrder.Trigger.AT_OR_BELOW if order.side == Side.BUY else PaperOrder.Trigger.AT_OR_ABOVE

    @staticmethod
    def _is_marketable(order: PaperOrder, market_price: Decimal) -> bool:
        return order.price >= market_price if order.side == Side.BUY else order.price <= market_price

    @staticmethod
    def _slipped(side: str, market_price: Decimal, rule: SymbolRule) -> Decimal:
        """A taker pays a little worse than the last price, snapped to the tick grid against the taker."""
        return taker_price(side=side, market_price=market_price, tick_size=rule.tick_size)

    @staticmethod
    def _whole_order_cost(order, rule, market_price) -> tuple[str, Decimal]:
        """What Binance checks against the free balance before matching: the whole order at its limit."""
        if order.side == Side.SELL:
            return rule.base_asset, order.quantity
        return rule.quote_asset, to_money(order.quantity * (order.price or market_price))

    def _rests(self, order: PaperOrder, market_price: Decimal) -> bool:
        """Stops wait for their trigger (any already reached was refused); a GTC limit waits unless it crosses."""
        if order.order_type == OrderType.LIMIT:
            return order.time_in_force == TimeInForce.GTC and not self._is_marketable(order, market_price)
        return order.order_type != OrderType.MARKET  # stops, and a LIMIT_MAKER that would not take

    def _rest(
        self, order, rule, risk: RiskCheck | None = None, market_price: Decimal | None = None, *, count_limits=True
    ) -> ExecutionReport:
        """Reserve what the order holds and arm its trigger. `count_limits` False: the order was already counted
        toward the open-order limits (a list's pending leg going to work), so they cannot refuse it now."""
        if order.trailing_delta and order.stop_price is None:
            # A trailing stop without a stop price tracks the market from placement.
            self._start_trailing(order, rule, market_price)
        asset, amount = reservation(order, rule)
        limits = open_order_limits(order, rule) if count_limits else []
        if not reserve_free_amount(order.account_id, asset, amount, limits=limits, risk=risk):
            self._refuse_at_open_order_limits(order, rule, limits)
            raise InsufficientBalance(asset)
        order.locked_asset, order.locked_amount = asset, amount
        detail = f"Resting; locked {format_decimal(amount)} {asset}."
        if order.trailing_started_at is not None:
            detail += f" {self._trailing_detail(order)}"
        else:
            # Not tracking: a limit waits for its price, a stop (a trailing one too) for its stop price.
            order.trigger_price = order.price if order.order_type in LIMIT_TYPES else order.stop_price
            order.trigger_direction = (
                PaperOrder.Trigger.AT_OR_BELOW
                if fires_at_or_below(order.order_type, order.side)
                else PaperOrder.Trigger.AT_OR_ABOVE
            )
        return ExecutionReport(status=Status.PENDING, detail=detail)

    @staticmethod
    def _refuse_at_open_order_limits(order, rule, limits: list) -> None:
        """The reservation was refused: if an open-order limit is why, say so as validate_order words it."""
        if not limits:
            return
        working = open_orders_on(order.account_id, order.symbol)
        validate_order(
            rule=rule,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            price=order.price,
            stop_price=order.stop_price,
            time_in_force=order.time_in_force,
            market_price=None,
            open_orders=working.count(),
            open_algo_orders=working.filter(order_type__in=ALGO_TYPES).count(),
            trailing_delta=order.trailing_delta,
        )

    @staticmethod
    def _fill_terms(
        order, rule, price, market_price, fill_rule, *, maker: bool = False, quantity=None, trade_id: str = ""
    ) -> tuple[FillReport, dict]:
        """One fill (of the order's remaining quantity unless told) and what it moves: the fee is paid in the asset
        received."""
        quantity = order.remaining_quantity if quantity is None else quantity
        fee_rate = settings.SIMULATOR_FEE_RATE
        commission, commission_asset, deltas = fill_moves(
            side=order.side,
            quantity=quantity,
            price=price,
            base_asset=rule.base_asset,
            quote_asset=rule.quote_asset,
            rate=fee_rate,
        )
        slippage = ZERO if maker else abs(price - market_price) / market_price
        fill = FillReport(
            price=price,
            quantity=quantity,
            commission=commission,
            commission_asset=commission_asset,
            rule=fill_rule,
            market_price=market_price,
            slippage_rate=to_money(slippage),
            fee_rate=fee_rate,
            is_maker=maker,
            trade_id=trade_id,
        )
        return fill, deltas

    @staticmethod
    def _filled(order: PaperOrder, fills: list[FillReport], detail: str) -> ExecutionReport:
        executed = order.executed_quantity + sum(f.quantity for f in fills)
        quote = order.cumulative_quote_quantity + sum(to_money(f.quantity * f.price) for f in fills)
        return ExecutionReport(
            status=Status.FILLED,
            executed_quantity=executed,
            cumulative_quote_quantity=quote,
            fills=fills,
            detail=detail,
        )

    def _expire_unpaid(self, order: PaperOrder, balances: dict[str, SimulatedBalance], detail: str) -> ExecutionReport:
        """A stop reached that the account cannot pay for: it expires with -2010, releasing what it held."""
        self._release_reservation(order, balances)
        save_balances(balances)
        return ExecutionReport.as_it_stands(
            order,
            Status.EXPIRED,
            reject_code=errors.INSUFFICIENT_BALANCE[0],
            reject_reason=errors.INSUFFICIENT_BALANCE[1],
            detail=detail,
        )

    @staticmethod
    def _release_reservation(order: PaperOrder, balances: dict[str, SimulatedBalance]) -> None:
        if order.locked_amount:
            release(balances[order.locked_asset], order.locked_amount)
            order.locked_amount = Decimal("0")


def taker_price(*, side: str, market_price: Decimal, tick_size: Decimal) -> Decimal:
    """The price a taker pays: a little worse than the last price (slippage), snapped to the tick against it."""
    rate = settings.SIMULATOR_SLIPPAGE_RATE
    if side == Side.BUY:
        return round_to_step(market_price * (1 + rate), tick_size, up=True)
    return round_to_step(market_price * (1 - rate), tick_size, up=False)
