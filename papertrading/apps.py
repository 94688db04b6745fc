from django.apps import AppConfig


class PapertradingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "papertrading"
