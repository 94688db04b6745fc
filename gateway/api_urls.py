from django.urls import path

from . import api

app_name = "gateway-api"

urlpatterns = [
    path("<int:pk>/binance-keys", api.BinanceKeyListCreateApi.as_view(), name="binance-keys"),
    path("<int:pk>/binance-keys/<int:key_id>", api.BinanceKeyRevokeApi.as_view(), name="binance-key-revoke"),
]
