from django.conf import settings

from ..errors import VenueUnavailable
from .base import ExecutionVenue


def get_venue(mode: str | None = None) -> ExecutionVenue:
    """The venue of the configured mode (PAPER_TRADING_MODE), or of `mode`."""
    mode = mode or settings.PAPER_TRADING_MODE
    if mode == "simulation":
        from .simulator import SimulatorVenue

        return SimulatorVenue()
    if mode == "testnet":
        try:
            from .testnet import TestnetVenue
        except ImportError as exc:  # pragma: no cover - only when the module is missing
            raise VenueUnavailable("The testnet venue is not available in this build.") from exc
        return TestnetVenue()
    raise VenueUnavailable(f"Unknown paper trading mode {mode!r}.")
