from django.urls import path

from . import views

app_name = "analysis-api"

urlpatterns = [
    path("runs", views.RunListCreateApi.as_view(), name="runs"),
    path("runs/<uuid:run_id>", views.RunDetailApi.as_view(), name="run-detail"),
    path("leaderboard", views.LeaderboardApi.as_view(), name="leaderboard"),
]
