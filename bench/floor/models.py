from decimal import Decimal

from django.db import models


class FloorOrder(models.Model):
    """The same columns and indexes as PaperOrder, with none of its rules: the framework's floor."""

    symbol = models.CharField(max_length=20, db_index=True)
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=12)
    quantity = models.DecimalField(max_digits=28, decimal_places=8)
    price = models.DecimalField(max_digits=28, decimal_places=8, null=True)
    stop_price = models.DecimalField(max_digits=28, decimal_places=8, null=True)
    time_in_force = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=16, default="PENDING", db_index=True)
    client_order_id = models.CharField(max_length=36, unique=True)
    run_id = models.UUIDField(null=True, db_index=True)
    executed_quantity = models.DecimalField(max_digits=28, decimal_places=8, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "floor"

    def __str__(self) -> str:
        return self.client_order_id
