from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self):
        from papertrading.signals import account_opened, fills_recorded, ledger_checks

        from .services import on_account_opened, on_fills_recorded, on_ledger_checks

        fills_recorded.connect(on_fills_recorded, dispatch_uid="portfolio.ledger.fills")
        account_opened.connect(on_account_opened, dispatch_uid="portfolio.ledger.opening")
        ledger_checks.connect(on_ledger_checks, dispatch_uid="portfolio.ledger.identity")
