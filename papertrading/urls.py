from django.urls import path

from . import views

app_name = "papertrading"

urlpatterns = [
    path("", views.desk, name="desk"),
    path("account/", views.account, name="account"),
    path("account/choose/", views.choose_account, name="choose_account"),
    path("orders/", views.orders, name="orders"),
    path("orders/new/", views.order_form, name="order_form"),
    path("orders/sync/", views.sync_orders, name="sync"),
    path("orders/<int:pk>/cancel/", views.cancel_order, name="cancel"),
    path("order-lists/<int:pk>/cancel/", views.cancel_order_list, name="cancel_list"),
    path("risk/", views.risk_panel, name="risk"),
    path("risk/halt/", views.halt, name="halt"),
    path("risk/resume/", views.resume, name="resume"),
]
