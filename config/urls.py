from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from papertrading.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(url="/paper-trading/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin, the API docs).
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("paper-trading/", include("papertrading.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/paper-trading/", include(("papertrading.api.urls", "papertrading-api"))),
    path("api/analysis/", include("analysis.api.urls")),
    path("api/portfolio/", include("portfolio.api.urls")),
    path("api/accounts/", include("gateway.api_urls")),
    # Accounts, their keys and the leaderboard: /api/accounts..., /api/leaderboard.
    path("api/", include("portfolio.api.account_urls")),
    path("api/", include("webhooks.api.urls")),
    path("api/", include("live.api.urls")),
    path("portfolio/", include("portfolio.urls")),
    path("analysis/", include("analysis.urls")),
    path("binance/api/v3/", include("gateway.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
