from django.urls import path

from .views import StreamApi

app_name = "live-api"

urlpatterns = [
    path("stream", StreamApi.as_view(), name="stream"),
]
