"""Signals for higher layers (the portfolio ledger) so papertrading never imports them."""

from django.dispatch import Signal

# Sent inside the transaction that stores new fills of an order: kwargs `order` and `fills` (the OrderFill rows
# just inserted, so no receiver has seen them before).
# A receiver that writes rows joins that transaction, so a fill and its ledger entry land together or not at all.
fills_recorded = Signal()

# Sent inside the transaction that changes an order's status: kwargs `order`, `from_status`, `to_status`.
# Lets a higher layer follow an order it caused (an agent's run) to its real outcome, e.g. an UNKNOWN order that
# sync later finds was never placed.
order_status_changed = Signal()

# Sent once per change written to an order (a new order, a status change, new fills, or several at once), inside
# its transaction: kwargs `order`, `from_status`, `to_status` and `fills` (the fills just inserted, maybe none).
# The live stream records one event per change with it, so whoever watches the account sees each step once.
order_changed = Signal()

# Sent inside the transaction that opens an account (or starts its next period on a reset), after its balances are
# written: kwargs `account` and `prices` (asset to its price in the valuation asset, where known). The portfolio
# books what the account holds as opening positions at those prices.
account_opened = Signal()

# Sent by `check_balances` (the command) to collect higher layers' own checks; each receiver returns a list of
# problems as sentences (the portfolio checks each account's ledger identity).
ledger_checks = Signal()
