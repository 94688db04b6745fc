from django.core.management.base import BaseCommand, CommandError

from papertrading.models import Account
from portfolio.services import rebuild_positions


class Command(BaseCommand):
    help = (
        "Replay the trade ledger of the current P&L period and rewrite the positions and realized P&L (average cost, "
        "fees included): of every account, or of the one --account names."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, metavar="ID", help="Rebuild this account only (its id).")

    def handle(self, *args, account=None, **options):
        if account is None:
            accounts = list(Account.objects.order_by("id"))
        else:
            accounts = list(Account.objects.filter(pk=account))
            if not accounts:
                raise CommandError(f"No account #{account}.")
        count = rebuild_positions(accounts)
        if account is not None:
            which = f"account #{account}"
        else:
            which = f"{len(accounts)} account" + ("" if len(accounts) == 1 else "s")
        self.stdout.write(self.style.SUCCESS(f"Rebuilt the positions of {which} from {count} trades."))
