"""The one interface of every execution venue, and the types it returns.

Services, selectors, reconciliation, the admin and the pages talk to a venue only through `ExecutionVenue` and
these types, so none of them branches on the mode or reads an exchange's field names.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from ..models import OrderFill, PaperOrder, SymbolRule

# Sync progress: (symbols done, symbols in all, the symbol just synced, its local orders checked).
SyncProgress = Callable[[int, int, str, int], None]

# The outcome kinds a sync counts, each under its own name (SyncReport.changed).
SYNC_KINDS = {
    PaperOrder.Status.FILLED: "filled",
    PaperOrder.Status.PARTIALLY_FILLED: "partially_filled",
    PaperOrder.Status.CANCELLED: "cancelled",
    PaperOrder.Status.EXPIRED: "expired",
    PaperOrder.Status.REJECTED: "rejected",
}


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
    """An order's state as the venue sees it after placing, cancelling, matching or querying it.

    `venue_status` is the venue's own word for the state (e.g. Binance's "CANCELED"), for people to read;
    `locked_amount` is what the venue holds for the order, when the venue says (None: it does not).
    """

    status: str
    executed_quantity: Decimal = Decimal("0")
    cumulative_quote_quantity: Decimal = Decimal("0")
    fills: list[FillReport] = field(default_factory=list)
    exchange_order_id: int | None = None
    reject_code: int | None = None
    reject_reason: str = ""
    detail: str = ""
    venue_status: str = ""
    locked_asset: str = ""
    locked_amount: Decimal | None = None

    @classmethod
    def as_it_stands(cls, order: PaperOrder, status: str | None = None, **fields) -> "ExecutionReport":
        """The order with what it executed so far and no new fill: closed (`status`), or still as it is."""
        return cls(
            status=status or order.status,
            executed_quantity=order.executed_quantity,
            cumulative_quote_quantity=order.cumulative_quote_quantity,
            **fields,
        )


@dataclass
class BalanceReport:
    asset: str
    free: Decimal
    locked: Decimal


@dataclass
class SyncReport:
    """What one sync did: orders and symbols looked at, changes counted by outcome, exchange weight, notes."""

    venue: str
    orders_checked: int = 0
    symbols_checked: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    request_weight: int = 0
    notes: list[str] = field(default_factory=list)

    def count(self, kind: str, n: int = 1) -> None:
        if n:
            self.changed[kind] = self.changed.get(kind, 0) + n

    def count_outcome(self, status: str, *, was_unknown: bool = False) -> None:
        """Count a changed order under the name of where it ended (filled, expired, ...), or "updated"."""
        if was_unknown and status not in SYNC_KINDS:
            self.count("resolved")
        else:
            self.count(SYNC_KINDS.get(status, "updated"))

    def summary(self) -> str:
        """One line for people: what was checked and what changed, e.g. "checked 3 orders on 2 symbols; 1 filled"."""
        orders = f"{self.orders_checked} order{'' if self.orders_checked == 1 else 's'}"
        symbols = f"{self.symbols_checked} symbol{'' if self.symbols_checked == 1 else 's'}"
        changes = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(self.changed.items()))
        return f"checked {orders} on {symbols}; {changes or 'nothing changed'}"


@dataclass
class VenueStatus:
    """What a person or a health check should know about the venue now.

    `error` says why the venue cannot be used at all (no credentials); `notices` are things worth telling a
    trader (a rate-limit pause, orders closed by a testnet reset); `paused_until` is set during a rate-limit pause.
    """

    venue: str
    label: str
    masked_api_key: str = ""
    error: str = ""
    retry_after: int | None = None
    notices: list[str] = field(default_factory=list)
    paused: bool = False
    banned: bool = False
    paused_until: datetime | None = None
    used_weight_1m: int | None = None


class ExecutionVenue(Protocol):
    """Every method answers with the types above; `submit`, `cancel` and the syncs write through
    `papertrading.execution`, each under the venue's own exactly-once rules."""

    name: str
    label: str
    weight_used: int  # exchange request weight this venue object has spent (0 without an exchange)

    def symbol_rule(self, symbol: str) -> SymbolRule | None:
        """The filters orders on `symbol` must pass; None when the venue does not list it."""

    def market_price(self, symbol: str) -> Decimal | None: ...

    def taker_price(self, symbol: str, side: str) -> Decimal | None:
        """The price a MARKET order on `side` would fill at now, as well as the venue can tell."""

    def submit(self, fields: dict, *, market_price: Decimal | None, source: str, actor: str) -> PaperOrder:
        """Write the order (PaperOrder `fields`, validated) and execute it once; the stored order is returned."""

    def cancel(self, order: PaperOrder, *, source: str, actor: str) -> PaperOrder:
        """Cancel a working order; OrderNotWorking when it has finished."""

    def query(self, order: PaperOrder) -> ExecutionReport | None:
        """The venue's own copy of an order, read only, fills included; None when the venue has no such order."""

    def sync(self, *, source: str, progress: SyncProgress | None = None) -> SyncReport: ...

    def sync_orders(
        self, order_ids: Iterable[int], *, source: str, actor: str = "", statuses: Iterable[str] = ()
    ) -> SyncReport:
        """Sync the chosen orders now (those still in `statuses`, default every open one)."""

    def balances(self) -> list[BalanceReport]: ...

    def status(self) -> VenueStatus: ...
