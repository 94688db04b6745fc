"""What every execution venue returns, so services, API, pages and portfolio never branch on the mode."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from ..models import OrderFill, PaperOrder, SymbolRule


@dataclass
class FillReport:
    price: Decimal
    quantity: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: str = ""
    rule: str = OrderFill.Rule.EXCHANGE
    market_price: Decimal | None = None
    slippage_rate: Decimal = Decimal("0")
    fee_rate: Decimal = Decimal("0")
    is_maker: bool = False


@dataclass
class ExecutionReport:
    """An order's state as the venue sees it after placing, cancelling, matching or querying it."""

    status: str
    executed_quantity: Decimal = Decimal("0")
    cumulative_quote_quantity: Decimal = Decimal("0")
    fills: list[FillReport] = field(default_factory=list)
    exchange_order_id: int | None = None
    reject_code: int | None = None
    reject_reason: str = ""
    detail: str = ""


@dataclass
class BalanceReport:
    asset: str
    free: Decimal
    locked: Decimal


@dataclass
class SyncReport:
    venue: str
    checked: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    request_weight: int = 0
    notes: list[str] = field(default_factory=list)

    def count(self, kind: str, n: int = 1) -> None:
        self.changed[kind] = self.changed.get(kind, 0) + n


class ExecutionVenue(Protocol):
    name: str
    # A remote venue is called outside database transactions and can leave an order's outcome unknown.
    is_remote: bool

    def symbol_rule(self, symbol: str) -> SymbolRule | None:
        """The filters orders on `symbol` must pass; None when the venue does not list it."""

    def market_price(self, symbol: str) -> Decimal | None: ...

    def place(self, order: PaperOrder, *, market_price: Decimal | None) -> ExecutionReport: ...

    def cancel(self, order: PaperOrder) -> ExecutionReport: ...

    def balances(self) -> list[BalanceReport]: ...
