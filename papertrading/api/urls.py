from django.urls import path

from . import views

urlpatterns = [
    path("orders", views.OrderListCreateApi.as_view(), name="orders"),
    path("orders/open", views.OpenOrderListApi.as_view(), name="orders-open"),
    path("orders/sync", views.OrderSyncApi.as_view(), name="orders-sync"),
    path("orders/<int:pk>", views.OrderDetailApi.as_view(), name="order-detail"),
    path("order-lists", views.OrderListsApi.as_view(), name="order-lists"),
    path("order-lists/oco", views.OcoCreateApi.as_view(), name="order-lists-oco"),
    path("order-lists/oto", views.OtoCreateApi.as_view(), name="order-lists-oto"),
    path("order-lists/otoco", views.OtocoCreateApi.as_view(), name="order-lists-otoco"),
    path("order-lists/<int:pk>", views.OrderListDetailApi.as_view(), name="order-list-detail"),
    path("account", views.AccountApi.as_view(), name="account"),
]
