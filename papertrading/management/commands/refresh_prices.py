import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from papertrading.errors import VenueUnavailable
from papertrading.services import refresh_prices


class Command(BaseCommand):
    help = "Fetch the next market prices (MARKET_DATA_SOURCE) and fill the simulated orders they reach."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", action="append", dest="symbols", help="Only this symbol (repeatable).")
        parser.add_argument("--loop", type=float, metavar="SECONDS", help="Keep refreshing every SECONDS.")

    def handle(self, *args, symbols=None, loop=None, **options):
        refreshes = 0
        while True:
            try:
                rows = refresh_prices(symbols=symbols)
            except VenueUnavailable as exc:
                # The market-data source (Binance's public ticker) is unreachable or answered an error.
                if not loop:
                    raise CommandError(f"Prices not refreshed: {exc.message}") from None
                self.stderr.write(f"{timezone.now():%H:%M:%S} prices not refreshed: {exc.message}")
                rows = None
            refreshes += 1
            if rows is not None:
                line = " ".join(f"{row.symbol}={row.price.normalize():f}" for row in rows)
                # In a loop each line says which refresh it is and when, so a long run shows its progress.
                self.stdout.write(f"#{refreshes} {timezone.now():%H:%M:%S} {line}" if loop else line)
            if not loop:
                return
            try:
                time.sleep(loop)
            except KeyboardInterrupt:
                self.stdout.write(f"Stopped after {refreshes} refresh(es).")
                return
