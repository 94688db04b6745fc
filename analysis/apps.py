from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        from django.db.models.signals import post_save

        from papertrading.models import MarketPrice
        from portfolio.signals import trades_recorded

        from .services import on_market_price_saved, on_trades_recorded

        trades_recorded.connect(on_trades_recorded, dispatch_uid="analysis.label_trades")
        # Every stored price becomes a sample for the demo agents' indicators.
        post_save.connect(on_market_price_saved, sender=MarketPrice, dispatch_uid="analysis.price_samples")
