from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from papertrading.acting import account_in_request, request_account
from papertrading.api.serializers import ErrorSerializer
from papertrading.api.views import INVALID_INPUT

from .. import log
from ..hub import StreamUnavailable, get_hub
from ..stream import open_stream

RETRY_AFTER_SECONDS = 5


class EventStreamRenderer(renderers.BaseRenderer):
    """`text/event-stream` for the stream itself; its errors are still JSON."""

    media_type = "text/event-stream"
    format = "event-stream"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)


class StreamApi(APIView):
    renderer_classes = [renderers.JSONRenderer, EventStreamRenderer]

    @extend_schema(
        summary="Server-sent events of the account: its orders, balances, runs and risk events as they happen",
        description=(
            "A `text/event-stream`. Events: `order` (created, each status change, each fill: `change`, `status`, "
            "`fills` and `order` as `GET /api/paper-trading/orders/{id}` shows it), `balance` (the account's "
            "balances, after each batch of order events and when the stream opens), `run` (an analysis run "
            "recorded or its outcome), `risk` (a refusal, a halt, a resume, new limits) and `reset` (too much "
            "was missed to replay: reload). Every event but `balance` has an `id`; reconnecting with the header "
            "`Last-Event-ID` (or `?last_event_id=`) replays what was missed, without gaps or repeats. A comment "
            "line is sent after 15 s of silence; the stream ends after a few minutes and the client reconnects."
        ),
        parameters=[
            OpenApiParameter("last_event_id", str, description="Resume after this event (as `Last-Event-ID`)."),
            OpenApiParameter(
                "account", int, description="The account to watch (as `X-Account`; an API key: its own only)."
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR, description="The event stream."),
            400: INVALID_INPUT,
            503: OpenApiResponse(ErrorSerializer, description="This process serves all the streams it can; poll."),
        },
    )
    def get(self, request):
        account = self._account(request)
        text = request.META.get("HTTP_LAST_EVENT_ID") or request.query_params.get("last_event_id") or ""
        last = log.parse_position(text) if text else None
        if text and last is None:
            raise ValidationError({"last_event_id": [f"{text[:50]!r} is not an event id of this stream."]})
        try:
            body = open_stream(get_hub(), account, last)
        except StreamUnavailable as refusal:
            response = Response({"detail": str(refusal)}, status=503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        response = StreamingHttpResponse(body, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache, no-transform"
        response["X-Accel-Buffering"] = "no"  # nginx and the like: pass each event on at once
        return response

    @staticmethod
    def _account(request):
        # EventSource cannot send X-Account, so a page names its account in the query.
        requested = request.query_params.get("account", "").strip()
        return account_in_request(request, requested) if requested else request_account(request)
