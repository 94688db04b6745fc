from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from django.db.models.signals import post_save

        from analysis.models import AnalysisRun
        from papertrading.models import RiskEvent
        from papertrading.signals import order_changed

        from .receivers import on_order_changed, on_risk_event_saved, on_run_saved

        order_changed.connect(on_order_changed, dispatch_uid="webhooks.order_changed")
        post_save.connect(on_run_saved, sender=AnalysisRun, dispatch_uid="webhooks.run_saved")
        post_save.connect(on_risk_event_saved, sender=RiskEvent, dispatch_uid="webhooks.risk_event_saved")
