"""The testnet's one exchange account against the desk accounts it backs: per asset, what the exchange holds, what
the desk accounts hold of it, and the rest no account has been given.

Each desk account on the testnet is an allocation of the one exchange account, so the accounts together should
never hold more than the exchange does; a row where they do (`differs`) needs a look: funds left the exchange
account from elsewhere, or the testnet was reset.
"""

from dataclasses import dataclass
from decimal import Decimal

from .money import ZERO
from .services import testnet_holdings


@dataclass(frozen=True)
class AllocationRow:
    asset: str
    exchange_total: Decimal  # free + locked on the exchange account
    accounts_total: Decimal  # free + locked of every desk account on the testnet
    unallocated: Decimal  # what no desk account holds (negative when they hold more than the exchange)
    differs: bool  # the desk accounts hold more than the exchange


def allocation_rows() -> list[AllocationRow]:
    """One row per asset the exchange or a desk account holds, by asset; VenueUnavailable when the exchange
    cannot be asked. The external account holds nothing: its orders are paid from the unallocated rest."""
    held, allocated = testnet_holdings()
    rows = []
    for asset in sorted(set(held) | set(allocated)):
        exchange_total, accounts_total = held.get(asset, ZERO), allocated.get(asset, ZERO)
        if not exchange_total and not accounts_total:
            continue
        rows.append(
            AllocationRow(
                asset=asset,
                exchange_total=exchange_total,
                accounts_total=accounts_total,
                unallocated=exchange_total - accounts_total,
                differs=accounts_total > exchange_total,
            )
        )
    return rows
