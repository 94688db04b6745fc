"""Signals for the layer above (analysis), so portfolio never imports it."""

from django.dispatch import Signal

# Sent after new ledger rows are written (inside the same transaction as a fill): kwarg `trades` (Trade rows).
trades_recorded = Signal()
