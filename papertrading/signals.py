"""Signals for higher layers (the portfolio ledger) so papertrading never imports them."""

from django.dispatch import Signal

# Sent inside the transaction that stores new fills of an order: kwargs `order` and `fills` (OrderFill rows).
# A receiver that writes rows joins that transaction, so a fill and its ledger entry land together or not at all.
fills_recorded = Signal()
