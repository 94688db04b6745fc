from django.core.management.base import BaseCommand, CommandError

from papertrading.balances import check_balances


class Command(BaseCommand):
    help = "Recompute the simulated account from its history; exit non-zero when a stored balance drifted."

    def handle(self, *args, **options):
        drifts = check_balances()
        if drifts:
            for drift in drifts:
                self.stderr.write(str(drift))
            raise CommandError(f"{len(drifts)} asset(s) drifted from what the history says.")
        self.stdout.write(self.style.SUCCESS("Balances match the history of orders, fills and adjustments."))
