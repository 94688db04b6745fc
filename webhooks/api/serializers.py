from rest_framework import serializers

from ..destinations import UnsafeDestination, check_destination
from ..models import EventType, Webhook, WebhookDelivery


class EventTypesField(serializers.ListField):
    """A list of event types; its errors as one flat list of messages, like every other field's."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.ChoiceField(choices=EventType.choices), **kwargs)

    def run_child_validation(self, data):
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as invalid:
            detail = invalid.detail
            raise serializers.ValidationError(
                [message for messages in detail.values() for message in messages]
                if isinstance(detail, dict)
                else detail
            ) from None


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook as it stands; never its secret."""

    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))

    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class CreatedWebhookSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="Signs every delivery; shown in this answer only.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="http or https; a public address unless allowed otherwise.")
    events = EventTypesField(min_length=1, help_text="The events to send.")
    is_active = serializers.BooleanField(default=True, help_text="A paused webhook is sent nothing.")

    def validate_url(self, value: str) -> str:
        try:
            check_destination(value)
        except UnsafeDestination as refused:
            raise serializers.ValidationError(str(refused)) from None
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class DeliverySerializer(serializers.ModelSerializer):
    """One attempt to deliver an event: its answer (status, excerpt) or why there was none (error)."""

    event_type = serializers.CharField(source="event.type", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_type",
            "trigger",
            "attempt",
            "succeeded",
            "status_code",
            "latency_ms",
            "response_excerpt",
            "error",
            "created_at",
        ]
        read_only_fields = fields
