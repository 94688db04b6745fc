from django.urls import reverse

from .hub import streams_possible


def live_stream(request) -> dict:
    """`live_stream_url`: the stream a page of a signed-in user subscribes to (empty where this server cannot
    stream: pytest's in-memory database), for base.html, which adds the account the page shows."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not streams_possible():
        return {"live_stream_url": ""}
    return {"live_stream_url": reverse("live-api:stream")}
