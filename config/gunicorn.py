"""gunicorn's settings for the production shape (Dockerfile, docker-compose.yml).

Threads, not processes, serve the requests: a live stream (/api/stream) is a thread that sleeps until its
account changes, holding no database connection, so one process serves dozens of open pages beside the site.
Each process takes at most LIVE_MAX_STREAMS streams (the rest of its threads stay free for pages and the API;
a page beyond it is told 503 and polls until a stream frees up).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "64"))
# Keep-alive connections of the browsers' polling and API clients; streams end on their own (LIVE_STREAM_SECONDS).
keepalive = 5
graceful_timeout = 10
accesslog = "-"
