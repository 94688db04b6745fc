from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        from django.db.models.signals import post_save

        from papertrading import services as papertrading_services
        from papertrading.models import MarketPrice
        from papertrading.signals import order_status_changed
        from portfolio.signals import trades_recorded

        from .services import on_market_price_saved, on_order_status_changed, on_trades_recorded, run_belongs_to

        trades_recorded.connect(on_trades_recorded, dispatch_uid="analysis.label_trades")
        order_status_changed.connect(on_order_status_changed, dispatch_uid="analysis.follow_order_outcome")
        # Every stored price becomes a sample for the demo agents' indicators.
        post_save.connect(on_market_price_saved, sender=MarketPrice, dispatch_uid="analysis.price_samples")
        if run_belongs_to not in papertrading_services.RUN_OWNERSHIP_CHECKS:
            papertrading_services.RUN_OWNERSHIP_CHECKS.append(run_belongs_to)
