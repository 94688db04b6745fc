from django.core.management.base import BaseCommand

from portfolio.services import rebuild_positions


class Command(BaseCommand):
    help = "Replay the trade ledger and rewrite every position and realized P&L (average cost, fees included)."

    def handle(self, *args, **options):
        count = rebuild_positions()
        self.stdout.write(self.style.SUCCESS(f"Rebuilt positions from {count} trades."))
