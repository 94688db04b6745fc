"""The local venue: Binance's rules, statuses and error messages, executed against the price table.

Every method runs inside the caller's transaction and moves balances together with the order. Liquidity is
unlimited at the market price, so a marketable order fills completely; slippage and fees make it realistic.
"""

from decimal import Decimal

import requests
from django.conf import settings

from .. import errors
from ..balances import InsufficientBalance, lock_balances, release, reservation, reserve_free_amount, save_balances
from ..models import OrderFill, OrderType, PaperOrder, Side, SimulatedBalance, SymbolRule, TimeInForce
from ..money import round_to_step, to_money
from ..symbols import get_symbol_rule
from ..validation import fires_at_or_below
from .base import BalanceReport, ExecutionReport, FillReport

Status = PaperOrder.Status


class SimulatorVenue:
    name = "simulation"
    is_remote = False

    def symbol_rule(self, symbol: str) -> SymbolRule | None:
        return get_symbol_rule(symbol)

    def market_price(self, symbol: str) -> Decimal | None:
        from ..prices import ensure_price

        try:
            row = ensure_price(symbol)
        except requests.RequestException as exc:
            # The price source (MARKET_DATA_SOURCE=binance) is down: a clear 503, not a crash.
            raise errors.VenueUnavailable("Market data is unavailable now; try again in a moment.") from exc
        return row.price if row else None

    def place(self, order: PaperOrder, *, market_price: Decimal | None) -> ExecutionReport:
        if market_price is None:
            # validate_order asks for a price only for MARKET; the simulator needs one to decide every type.
            raise errors.OrderValidationError(
                {"symbol": [f"No market price for {order.symbol} yet; try again in a moment."]}
            )
        rule = get_symbol_rule(order.symbol)
        try:
            if self._rests(order, market_price):
                return self._rest(order, rule)
            balances = lock_balances(rule.base_asset, rule.quote_asset)
            if order.order_type == OrderType.MARKET:
                return self._fill_at_market(order, rule, balances, market_price, OrderFill.Rule.MARKETABLE_ON_ARRIVAL)
            if order.order_type == OrderType.LIMIT and self._is_marketable(order, market_price):
                return self._fill_marketable_limit(order, rule, balances, market_price)
            # A LIMIT that neither rests nor crosses is an IOC or FOK: it takes only what is there at once, and
            # with no cross there is nothing to take.
            self._require_funds(order, rule, balances, market_price)
            return ExecutionReport(
                status=Status.EXPIRED,
                detail=f"{order.time_in_force} limit not marketable at {market_price}: expired unfilled.",
            )
        except InsufficientBalance:
            return ExecutionReport(
                status=Status.REJECTED,
                reject_code=errors.INSUFFICIENT_BALANCE[0],
                reject_reason=errors.INSUFFICIENT_BALANCE[1],
            )

    def trigger(self, order: PaperOrder, *, market_price: Decimal) -> ExecutionReport:
        """Fill a resting order that the market reached: a limit at its own price, a stop at the market."""
        rule = get_symbol_rule(order.symbol)
        balances = lock_balances(rule.base_asset, rule.quote_asset)
        self._release_reservation(order, balances)
        try:
            if order.order_type == OrderType.LIMIT:
                fill = self._fill(
                    order, rule, balances, order.price, market_price, OrderFill.Rule.LIMIT_CROSSED, maker=True
                )
                return self._filled(order, [fill], f"Limit crossed: market {market_price}.")
            return self._fill_at_market(order, rule, balances, market_price, OrderFill.Rule.STOP_TRIGGERED)
        except InsufficientBalance:
            # The market gapped past the stop and the account cannot pay the higher price.
            save_balances(balances)
            return ExecutionReport(
                status=Status.EXPIRED,
                reject_code=errors.INSUFFICIENT_BALANCE[0],
                reject_reason=errors.INSUFFICIENT_BALANCE[1],
                detail=f"Stop triggered at {market_price} but the account could not pay.",
            )

    def cancel(self, order: PaperOrder) -> ExecutionReport:
        rule = get_symbol_rule(order.symbol)
        balances = lock_balances(rule.base_asset, rule.quote_asset)
        self._release_reservation(order, balances)
        save_balances(balances)
        return ExecutionReport(
            status=Status.CANCELLED,
            executed_quantity=order.executed_quantity,
            cumulative_quote_quantity=order.cumulative_quote_quantity,
        )

    def balances(self) -> list[BalanceReport]:
        from ..balances import ensure_account

        ensure_account()
        return [BalanceReport(b.asset, b.free, b.locked) for b in SimulatedBalance.objects.order_by("asset")]

    # --- internals -------------------------------------------------------------------------------------------

    @staticmethod
    def _is_marketable(order: PaperOrder, market_price: Decimal) -> bool:
        return order.price >= market_price if order.side == Side.BUY else order.price <= market_price

    @staticmethod
    def _slipped(side: str, market_price: Decimal, rule: SymbolRule) -> Decimal:
        """A taker pays a little worse than the last price, snapped to the tick grid against the taker."""
        rate = settings.SIMULATOR_SLIPPAGE_RATE
        if side == Side.BUY:
            return round_to_step(market_price * (1 + rate), rule.tick_size, up=True)
        return round_to_step(market_price * (1 - rate), rule.tick_size, up=False)

    def _require_funds(self, order, rule, balances, market_price) -> None:
        """Binance checks the whole order against free balance before matching, even for IOC/FOK."""
        if order.side == Side.SELL:
            needed, asset = order.quantity, rule.base_asset
        else:
            needed, asset = to_money(order.quantity * (order.price or market_price)), rule.quote_asset
        if balances[asset].free < needed:
            raise InsufficientBalance(asset)

    def _fill_at_market(self, order, rule, balances, market_price, fill_rule) -> ExecutionReport:
        price = self._slipped(order.side, market_price, rule)
        fill = self._fill(order, rule, balances, price, market_price, fill_rule, maker=False)
        return self._filled(order, [fill], f"Filled at {price} (market {market_price}).")

    def _fill_marketable_limit(self, order, rule, balances, market_price) -> ExecutionReport:
        self._require_funds(order, rule, balances, market_price)
        slipped = self._slipped(order.side, market_price, rule)
        # A marketable limit takes the market but never trades through its own limit.
        price = min(slipped, order.price) if order.side == Side.BUY else max(slipped, order.price)
        fill = self._fill(order, rule, balances, price, market_price, OrderFill.Rule.MARKETABLE_ON_ARRIVAL, maker=False)
        return self._filled(order, [fill], f"Marketable on arrival: filled at {price} (market {market_price}).")

    def _rests(self, order: PaperOrder, market_price: Decimal) -> bool:
        """Stops wait for their trigger (any already reached was refused); a GTC limit waits unless it crosses."""
        if order.order_type == OrderType.LIMIT:
            return order.time_in_force == TimeInForce.GTC and not self._is_marketable(order, market_price)
        return order.order_type != OrderType.MARKET

    def _rest(self, order, rule) -> ExecutionReport:
        asset, amount = reservation(order, rule)
        if not reserve_free_amount(asset, amount):
            raise InsufficientBalance(asset)
        order.locked_asset, order.locked_amount = asset, amount
        order.trigger_price = order.price if order.order_type == OrderType.LIMIT else order.stop_price
        order.trigger_direction = (
            PaperOrder.Trigger.AT_OR_BELOW
            if fires_at_or_below(order.order_type, order.side)
            else PaperOrder.Trigger.AT_OR_ABOVE
        )
        return ExecutionReport(status=Status.PENDING, detail=f"Resting; locked {amount} {asset}.")

    def _fill(self, order, rule, balances, price, market_price, fill_rule, *, maker: bool) -> FillReport:
        """Move the balances of one fill of the order's remaining quantity; fees in the asset received."""
        quantity = order.remaining_quantity
        quote_amount = to_money(quantity * price)
        fee_rate = settings.SIMULATOR_FEE_RATE
        base, quote = balances[rule.base_asset], balances[rule.quote_asset]
        if order.side == Side.BUY:
            commission, commission_asset = to_money(quantity * fee_rate), rule.base_asset
            if quote.free < quote_amount:
                raise InsufficientBalance(quote.asset)
            quote.free -= quote_amount
            base.free += quantity - commission
        else:
            commission, commission_asset = to_money(quote_amount * fee_rate), rule.quote_asset
            if base.free < quantity:
                raise InsufficientBalance(base.asset)
            base.free -= quantity
            quote.free += quote_amount - commission
        save_balances(balances)
        slippage = ZERO_RATE if maker else abs(price - market_price) / market_price
        return FillReport(
            price=price,
            quantity=quantity,
            commission=commission,
            commission_asset=commission_asset,
            rule=fill_rule,
            market_price=market_price,
            slippage_rate=to_money(slippage),
            fee_rate=fee_rate,
            is_maker=maker,
        )

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

    @staticmethod
    def _release_reservation(order: PaperOrder, balances: dict[str, SimulatedBalance]) -> None:
        if order.locked_amount:
            release(balances[order.locked_asset], order.locked_amount)
            order.locked_amount = Decimal("0")


ZERO_RATE = Decimal("0")
