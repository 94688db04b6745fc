import time

from django.core.management.base import BaseCommand

from papertrading.prices import refresh_prices


class Command(BaseCommand):
    help = "Fetch the next market prices (MARKET_DATA_SOURCE) and fill the simulated orders they reach."

    def add_arguments(self, parser):
        parser.add_argument("--symbol", action="append", dest="symbols", help="Only this symbol (repeatable).")
        parser.add_argument("--loop", type=float, metavar="SECONDS", help="Keep refreshing every SECONDS.")

    def handle(self, *args, symbols=None, loop=None, **options):
        while True:
            rows = refresh_prices(symbols=symbols)
            self.stdout.write(" ".join(f"{row.symbol}={row.price.normalize():f}" for row in rows))
            if not loop:
                return
            time.sleep(loop)
