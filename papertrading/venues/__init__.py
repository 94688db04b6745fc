from django.conf import settings

from ..errors import VenueUnavailable
from ..models import Venue
from .base import ExecutionVenue


def get_venue(mode: str | None = None) -> ExecutionVenue:
    """The venue of the configured mode (PAPER_TRADING_MODE), or of `mode` (an order's `venue`)."""
    mode = mode or settings.PAPER_TRADING_MODE
    if mode == Venue.SIMULATION:
        from .simulator import SimulatorVenue

        return SimulatorVenue()
    if mode == Venue.TESTNET:
        from .testnet import TestnetVenue

        return TestnetVenue()
    raise VenueUnavailable(f"Unknown paper trading mode {mode!r}.")
