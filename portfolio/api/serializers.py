from rest_framework import serializers

from papertrading.api.serializers import amount_field

from ..models import EquitySnapshot, Trade


class PositionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    asset = serializers.CharField(source="base_asset")
    quote_asset = serializers.CharField()
    quantity = amount_field()
    average_cost = amount_field(allow_null=True)
    cost_basis = amount_field()
    price = amount_field(allow_null=True, help_text="The last market price.")
    market_value = amount_field(allow_null=True)
    unrealized_pnl = amount_field(allow_null=True)
    realized_pnl = amount_field()
    fees_paid = amount_field(help_text="In the quote asset.")
    trade_count = serializers.IntegerField()


class PnLSerializer(serializers.Serializer):
    trade_count = serializers.IntegerField()
    realized_pnl = amount_field(help_text="Realized P&L of the sells, at the portfolio's average cost.")
    pnl = amount_field(
        help_text="Marked to market: quote received minus quote paid (fees included), plus the base left at the "
        "last price."
    )
    fees_paid = amount_field()
    last_trade_at = serializers.DateTimeField(allow_null=True)


class AgentPnLSerializer(PnLSerializer):
    agent = serializers.CharField(source="key")


class EquitySnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = EquitySnapshot
        fields = ["taken_at", "equity", "cash", "market_value", "realized_pnl", "unrealized_pnl", "total_pnl"]


class SummarySerializer(serializers.Serializer):
    starting_cash = amount_field()
    cash = amount_field()
    market_value = amount_field()
    equity = amount_field()
    cost_basis = amount_field()
    realized_pnl = amount_field()
    unrealized_pnl = amount_field()
    total_pnl = amount_field()
    fees_paid = amount_field()
    open_positions = serializers.IntegerField()
    trade_count = serializers.IntegerField()
    positions = PositionSerializer(many=True)
    agents = AgentPnLSerializer(many=True)
    equity_curve = EquitySnapshotSerializer(many=True)


class TradeSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField(allow_null=True, read_only=True)
    fill_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Trade
        fields = [
            "id",
            "executed_at",
            "symbol",
            "side",
            "quantity",
            "price",
            "fee",
            "fee_asset",
            "fee_in_quote",
            "base_delta",
            "quote_delta",
            "realized_pnl",
            "source",
            "order_id",
            "fill_id",
            "run_id",
            "agent",
        ]
        read_only_fields = fields
