"""Helpers for data migrations (they receive historical models, never this app's current ones)."""

from django.conf import settings
from django.utils import timezone

DEFAULT_ACCOUNT_NAME = "Desk"


def default_account(apps):
    """The account that rows written before accounts existed move into: the first superuser's default account
    (first user's, or no owner on a database without users), opened with the configured starting balances."""
    Account = apps.get_model("papertrading", "Account")
    account = Account.objects.filter(is_default=True).order_by("id").first()
    if account is not None:
        return account
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    owner = User.objects.order_by("-is_superuser", "id").first()
    return Account.objects.create(
        owner=owner,
        name=DEFAULT_ACCOUNT_NAME,
        venue=settings.PAPER_TRADING_MODE,
        starting_balances={asset: str(amount) for asset, amount in settings.SIMULATOR_STARTING_BALANCES.items()},
        is_default=True,
        period_started_at=timezone.now(),
    )


def move_rows_into_default_account(apps, app_label: str, *model_names: str) -> None:
    """Give every row of these models without an account the default account (opened only when there are rows)."""
    models = [apps.get_model(app_label, name) for name in model_names]
    if not any(model.objects.filter(account=None).exists() for model in models):
        return
    account = default_account(apps)
    for model in models:
        model.objects.filter(account=None).update(account=account)
