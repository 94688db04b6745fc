import time

from django.core.management.base import BaseCommand, CommandError

from papertrading.errors import VenueUnavailable
from papertrading.services import sync_orders


class Command(BaseCommand):
    help = (
        "Sync the active venue's orders now, as the scheduled task does: testnet orders with the exchange (one "
        "openOrders call per symbol, one query per changed order), simulated ones with the stored prices."
    )

    def handle(self, *args, verbosity=1, **options):
        started = time.monotonic()

        def progress(done: int, total: int, symbol: str, orders: int) -> None:
            if verbosity >= 1 and total > 1:
                self.stdout.write(f"[{done}/{total}] {symbol}: {orders} order(s) checked")

        try:
            report = sync_orders(progress=progress)
        except VenueUnavailable as exc:
            raise CommandError(f"Sync failed: {exc.message}") from None
        seconds = time.monotonic() - started
        self.stdout.write(
            f"Synced {report.venue}: {report.summary()}; request weight {report.request_weight}; {seconds:.1f} s."
        )
        for note in report.notes:
            self.stderr.write(note)
