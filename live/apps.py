from django.apps import AppConfig


class LiveConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "live"
    verbose_name = "Live stream"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from analysis.models import AnalysisRun
        from papertrading.models import RiskEvent
        from papertrading.signals import order_changed

        from . import receivers

        order_changed.connect(receivers.on_order_changed, dispatch_uid="live.order_changed")
        post_save.connect(receivers.on_run_saved, sender=AnalysisRun, dispatch_uid="live.run_saved")
        post_save.connect(receivers.on_risk_event_saved, sender=RiskEvent, dispatch_uid="live.risk_event_saved")
