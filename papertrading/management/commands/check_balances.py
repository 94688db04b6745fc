from django.core.management.base import BaseCommand, CommandError

from papertrading.balances import check_balances
from papertrading.signals import ledger_checks


class Command(BaseCommand):
    help = (
        "Recompute every account from its history, and check its ledger identity (equity = starting equity + "
        "P&L); exit non-zero when anything drifted."
    )

    def handle(self, *args, **options):
        problems = [str(drift) for drift in check_balances()]
        for _receiver, found in ledger_checks.send(sender=None):
            problems += found or []
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} problem(s): the stored state drifted from what the history says.")
        self.stdout.write(
            self.style.SUCCESS("Balances match the history of orders, fills and adjustments; every ledger adds up.")
        )
