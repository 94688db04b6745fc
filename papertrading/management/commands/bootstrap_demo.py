from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from papertrading.balances import ensure_account
from papertrading.services import refresh_prices


class Command(BaseCommand):
    help = "Create the demo login (and its API token), open the simulated account and fetch first prices."

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
        ensure_account()
        refresh_prices()
        shown = password if created else "(unchanged)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: {username} / {shown}  —  API token: {token.key}\n"
                "Desk: http://127.0.0.1:8000/paper-trading/   API docs: http://127.0.0.1:8000/api/docs/"
            )
        )
