"""The average-cost book as pure functions, so the ledger, a rebuild and the tests share one set of rules."""

from dataclasses import dataclass
from decimal import Decimal

from papertrading.models import Side
from papertrading.money import ZERO, to_money


@dataclass
class Flows:
    """What one trade did to the holdings, fees included."""

    base_delta: Decimal
    quote_delta: Decimal
    fee_in_quote: Decimal


def trade_flows(
    *,
    side: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_asset: str,
    base_asset: str,
    quote_asset: str,
    third_asset_fee_in_quote: Decimal = ZERO,
) -> Flows:
    """BUY: +base received (less a base fee), -quote paid (plus a quote fee); SELL the mirror.

    A fee in a third asset (e.g. BNB) is counted at its quote value `third_asset_fee_in_quote`, like a quote fee.
    """
    notional = to_money(quantity * price)
    base_fee = quote_fee = ZERO
    if fee_asset == base_asset:
        base_fee = fee
    elif fee_asset == quote_asset:
        quote_fee = fee
    elif fee:
        quote_fee = third_asset_fee_in_quote
    fee_in_quote = to_money(base_fee * price) if base_fee else to_money(quote_fee)
    if side == Side.BUY:
        return Flows(quantity - base_fee, -(notional + quote_fee), fee_in_quote)
    return Flows(-(quantity + base_fee), notional - quote_fee, fee_in_quote)


@dataclass
class Book:
    """One symbol's position under the average-cost method."""

    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO

    @property
    def average_cost(self) -> Decimal | None:
        return self.cost_basis / self.quantity if self.quantity else None

    def apply(self, *, side: str, flows: Flows) -> Decimal | None:
        """Book one trade; returns the realized P&L of a SELL (None for a BUY).

        A SELL of more than the book holds (coins the account had before the ledger, such as the simulator's
        starting balance) has no known cost for the excess: only the covered part realizes P&L and the position
        stops at zero, never short.
        """
        self.fees_paid += flows.fee_in_quote
        if side == Side.BUY:
            self.quantity += flows.base_delta
            self.cost_basis += -flows.quote_delta
            return None
        sold = -flows.base_delta
        covered = min(sold, self.quantity)
        if covered <= 0:
            return ZERO
        # Closing takes the whole basis, so no rounding residue stays behind on an empty position.
        closing = covered == self.quantity
        cost_out = self.cost_basis if closing else to_money(self.cost_basis * covered / self.quantity)
        proceeds = flows.quote_delta if covered == sold else to_money(flows.quote_delta * covered / sold)
        realized = proceeds - cost_out
        self.quantity -= covered
        self.cost_basis -= cost_out
        self.realized_pnl += realized
        return realized
