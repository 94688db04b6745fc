from django.urls import path

from . import views

app_name = "webhooks-api"

urlpatterns = [
    path("webhooks", views.WebhookListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<int:pk>", views.WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/test", views.WebhookTestApi.as_view(), name="webhook-test"),
    path("webhooks/<int:pk>/deliveries", views.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/redeliver",
        views.WebhookRedeliverApi.as_view(),
        name="webhook-redeliver",
    ),
]
