from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self):
        from papertrading.signals import fills_recorded

        from .services import on_fills_recorded

        fills_recorded.connect(on_fills_recorded, dispatch_uid="portfolio.ledger.fills")
