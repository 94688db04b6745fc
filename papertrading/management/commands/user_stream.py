import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from papertrading.models import Venue
from papertrading.services import sync_orders
from papertrading.venues import get_venue
from papertrading.venues.testnet.stream import UserStream

logger = logging.getLogger(__name__)
# A REST sync skipped because another one (the beat's) holds the lock is retried this many times, this far apart:
# the one running may have read the exchange before the gap's changes.
SKIPPED_SYNC_RETRIES = 5
SKIPPED_SYNC_WAIT_SECONDS = 2.0


def reconcile() -> None:
    """The REST sync after a (re)connect, run once; again when another sync held the lock and skipped it."""
    for _ in range(SKIPPED_SYNC_RETRIES):
        report = sync_orders()
        if not any("Another sync is running" in note for note in report.notes):
            logger.info("user data stream: REST sync after (re)connecting: %s", report.summary())
            return
        time.sleep(SKIPPED_SYNC_WAIT_SECONDS)
    logger.warning("user data stream: the REST sync kept being skipped; the periodic sync will reconcile")


class Command(BaseCommand):
    help = (
        "Testnet mode: subscribe to the account's user data stream over Binance's WebSocket API and apply each "
        "order change as it happens; reconnects with backoff and runs a REST sync after every (re)connect. Runs "
        "until stopped (Ctrl-C or SIGTERM)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--idle-unless-testnet",
            action="store_true",
            help="In simulation mode, idle quietly instead of refusing (for `make run`'s process list).",
        )
        parser.add_argument("--max-backoff", type=float, default=60.0, help="Longest wait between reconnects (s).")

    def handle(self, *args, idle_unless_testnet=False, max_backoff=60.0, **options):
        stopping = threading.Event()

        def stop(signum, frame):
            stopping.set()

        previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.run(stopping, idle_unless_testnet=idle_unless_testnet, max_backoff=max_backoff)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def run(self, stopping: threading.Event, *, idle_unless_testnet: bool, max_backoff: float) -> None:
        if settings.PAPER_TRADING_MODE != Venue.TESTNET:
            if not idle_unless_testnet:
                raise CommandError(
                    "The user data stream is for testnet mode only (PAPER_TRADING_MODE=testnet); "
                    f"this site runs in {settings.PAPER_TRADING_MODE} mode."
                )
            self.stdout.write("Simulation mode: no user data stream to run; idling.")
            stopping.wait()
            return
        venue = get_venue()
        if not venue.client.is_configured():
            raise CommandError(
                "Set BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_API_SECRET to run the user data stream."
            )
        self.stdout.write(f"User data stream: {settings.BINANCE_TESTNET_WS_URL} (key {venue.client.masked_api_key}).")
        UserStream(venue, reconcile=reconcile, max_backoff=max_backoff).run(stop=stopping.is_set)
        self.stdout.write("User data stream stopped.")
