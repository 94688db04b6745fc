from django.urls import path

from . import views

app_name = "accounts-api"

urlpatterns = [
    path("accounts", views.AccountListCreateApi.as_view(), name="accounts"),
    path("accounts/<int:pk>", views.AccountDetailApi.as_view(), name="account-detail"),
    path("accounts/<int:pk>/reset", views.AccountResetApi.as_view(), name="account-reset"),
    path("accounts/<int:pk>/keys", views.AccountKeyListCreateApi.as_view(), name="account-keys"),
    path("accounts/<int:pk>/keys/<int:key_id>", views.AccountKeyRevokeApi.as_view(), name="account-key-revoke"),
    path("accounts/<int:pk>/limits", views.AccountLimitsApi.as_view(), name="account-limits"),
    path("accounts/<int:pk>/halt", views.AccountHaltApi.as_view(), name="account-halt"),
    path("accounts/<int:pk>/resume", views.AccountResumeApi.as_view(), name="account-resume"),
    path("accounts/<int:pk>/risk-events", views.AccountRiskEventListApi.as_view(), name="account-risk-events"),
    path("leaderboard", views.LeaderboardApi.as_view(), name="leaderboard"),
]
