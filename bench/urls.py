from django.urls import include, path
from rest_framework import generics, serializers

from bench.floor.models import FloorOrder


class FloorSerializer(serializers.ModelSerializer):
    class Meta:
        model = FloorOrder
        fields = "__all__"


class FloorCreate(generics.CreateAPIView):
    queryset = FloorOrder.objects.all()
    serializer_class = FloorSerializer


urlpatterns = [
    path("floor/orders", FloorCreate.as_view()),
    path("", include("config.urls")),
]
