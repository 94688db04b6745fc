from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from papertrading.accounts import issue_api_key
from papertrading.models import Account
from papertrading.services import default_account_for, open_account, refresh_prices

# The demo agents' account names (analysis.agents.demo_account_name); papertrading cannot import the analysis app.
DEMO_AGENT_ACCOUNTS = ("Demo agent ma-crossover", "Demo agent mean-reversion", "Demo agent demo-consensus")
# The demo agents start with cash only, so their returns are their trading, not the market's move of starting coins.
DEMO_AGENT_STARTING_BALANCES = {"USDT": "10000"}


class Command(BaseCommand):
    help = (
        "Create the demo login (and its API token) with its desk account, open an account per demo agent, and fetch "
        "first prices. Each new account's API key is printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-trader")

    def handle(self, *args, username, password, **options):
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(password)
            user.save()
        token, _ = Token.objects.get_or_create(user=user)
        refresh_prices()
        desk = default_account_for(user)
        new_keys = []
        if not desk.api_keys.exists():
            new_keys.append((desk, issue_api_key(desk, name="demo", created_by=user).raw))
        if settings.DEMO_AGENTS_ENABLED:
            for name in DEMO_AGENT_ACCOUNTS:
                if not Account.objects.filter(owner=user, name=name).exists():
                    account = open_account(owner=user, name=name, starting_balances=DEMO_AGENT_STARTING_BALANCES)
                    new_keys.append((account, issue_api_key(account, name="demo agent", created_by=user).raw))
        shown = password if created else "(unchanged)"
        lines = [f"Demo login: {username} / {shown}  —  API token: {token.key} (acts on {desk.name!r})"]
        lines += [f"Account #{account.pk} {account.name!r} API key (shown once): {raw}" for account, raw in new_keys]
        lines.append("Desk: http://127.0.0.1:8000/paper-trading/   API docs: http://127.0.0.1:8000/api/docs/")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
