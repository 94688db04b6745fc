from django.urls import path

from . import views

app_name = "portfolio-api"

urlpatterns = [
    path("positions", views.PositionListApi.as_view(), name="positions"),
    path("summary", views.SummaryApi.as_view(), name="summary"),
    path("trades", views.TradeListApi.as_view(), name="trades"),
]
