from rest_framework import serializers

from papertrading.api.serializers import OrderSerializer, amount_field
from portfolio.api.serializers import PnLSerializer, TradeSerializer

from ..models import AnalysisRun


class RunCreateSerializer(serializers.Serializer):
    """Shapes and types; whether the size is tradable is decided by the order rules (validate_order)."""

    agent = serializers.CharField(max_length=100)
    symbol = serializers.CharField(max_length=20)
    decision = serializers.ChoiceField(choices=AnalysisRun.Decision.choices)
    quantity = amount_field(required=False, allow_null=True, help_text="Size in the base asset (e.g. BTC).")
    quote_amount = amount_field(
        required=False,
        allow_null=True,
        help_text="Size in the quote asset (e.g. USDT), converted at the current price, snapped down to the lot.",
    )
    confidence = serializers.DecimalField(
        max_digits=5, decimal_places=4, min_value=0, max_value=1, required=False, allow_null=True
    )
    rationale = serializers.CharField(required=False, allow_blank=True, default="")
    run_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Your own id: posting it again returns the same run."
    )

    def validate(self, attrs):
        errors = {
            name: ["Must be greater than zero."]
            for name in ("quantity", "quote_amount")
            if attrs.get(name) is not None and attrs[name] <= 0
        }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class RunSerializer(serializers.ModelSerializer):
    """An agent's decision, what became of it (status, error code and reason), its orders, trades and P&L."""

    posted_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who posted it; null for the built-in agents.",
    )
    orders = OrderSerializer(many=True, read_only=True)
    trades = TradeSerializer(many=True, read_only=True)
    pnl = PnLSerializer(read_only=True, allow_null=True)

    class Meta:
        model = AnalysisRun
        fields = [
            "run_id",
            "agent",
            "symbol",
            "decision",
            "quantity",
            "quote_amount",
            "reference_price",
            "confidence",
            "rationale",
            "signals",
            "status",
            "error_code",
            "reason",
            "mode",
            "posted_by",
            "created_at",
            "updated_at",
            "orders",
            "trades",
            "pnl",
        ]
        read_only_fields = fields


class LeaderboardRowSerializer(serializers.Serializer):
    agent = serializers.CharField()
    runs = serializers.IntegerField()
    executed = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    trade_count = serializers.IntegerField()
    realized_pnl = amount_field()
    pnl = amount_field()
