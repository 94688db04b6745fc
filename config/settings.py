"""Settings for the paper trading desk, read from the environment (django-environ).

Every variable has an offline default, so a fresh clone runs on SQLite with synthetic prices. Nonsense values
fail loudly at start-up with ImproperlyConfigured instead of surfacing later as odd behaviour.
"""

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
if not DEBUG and SECRET_KEY.startswith("dev-only"):
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "papertrading",
    "portfolio",
    "analysis",
    "webhooks",
    "live",
    "gateway",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside the rest, so error pages they produce under /api/ are turned into JSON too.
    "config.api_errors.JsonErrorsForApiMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "papertrading.context_processors.account_switcher",
                "live.context_processors.live_stream",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# No DATABASE_URL -> a SQLite file in WAL mode, so the web server and a worker can write at once.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/paper-trading/"
LOGOUT_REDIRECT_URL = "login"

# Shared by every process (web, worker, beat): rate-limit state and job locks live here.
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{BASE_DIR / 'var' / 'cache'}")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # Django's own console handler would print every request warning a second time.
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

# --- API -------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # An account's API key ("ptk_..."), then a user's own token, then the session.
        "papertrading.api.authentication.AccountKeyAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "papertrading.api.pagination.OrderPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every answer under /api/ is JSON (the schema and docs views choose their own renderers).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api_errors.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Paper trading desk API",
    "DESCRIPTION": "Place, track and cancel paper orders on the local simulator or the Binance Spot Testnet.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_errors.document_common_errors",
    ],
}
# A request body above this answers 413 (the API's inputs are a few hundred bytes; the admin's largest form,
# an action on a thousand selected rows, is about 30 KB). File uploads are not counted against it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# --- Paper trading -----------------------------------------------------------------------------------------
PAPER_TRADING_ENABLED = env.bool("PAPER_TRADING_ENABLED", default=True)
PAPER_TRADING_MODE = env("PAPER_TRADING_MODE", default="simulation")
if PAPER_TRADING_MODE not in {"simulation", "testnet"}:
    raise ImproperlyConfigured(f"PAPER_TRADING_MODE must be 'simulation' or 'testnet', not {PAPER_TRADING_MODE!r}.")

BINANCE_TESTNET_API_KEY = env("BINANCE_TESTNET_API_KEY", default="")
# An HMAC secret, or an Ed25519 private key in PEM form. Never logged, rendered or stored.
BINANCE_TESTNET_API_SECRET = env("BINANCE_TESTNET_API_SECRET", default="")
BINANCE_TESTNET_BASE_URL = env("BINANCE_TESTNET_BASE_URL", default="https://testnet.binance.vision").rstrip("/")
# The WebSocket API the user data stream (manage.py user_stream) subscribes on, in testnet mode.
BINANCE_TESTNET_WS_URL = env("BINANCE_TESTNET_WS_URL", default="wss://ws-api.testnet.binance.vision/ws-api/v3")
# /healthz turns red when the user data stream has been down (reconnecting or not running) longer than this.
USER_STREAM_DOWN_AFTER_SECONDS = env.int("USER_STREAM_DOWN_AFTER_SECONDS", default=120)
BINANCE_RECV_WINDOW_MS = env.int("BINANCE_RECV_WINDOW_MS", default=5000)
if not 0 < BINANCE_RECV_WINDOW_MS <= 60000:
    raise ImproperlyConfigured("BINANCE_RECV_WINDOW_MS must be between 1 and 60000.")
BINANCE_CONNECT_TIMEOUT = env.float("BINANCE_CONNECT_TIMEOUT", default=3.05)
BINANCE_READ_TIMEOUT = env.float("BINANCE_READ_TIMEOUT", default=10.0)

MARKET_DATA_SOURCE = env("MARKET_DATA_SOURCE", default="synthetic")
if MARKET_DATA_SOURCE not in {"synthetic", "binance"}:
    raise ImproperlyConfigured(f"MARKET_DATA_SOURCE must be 'synthetic' or 'binance', not {MARKET_DATA_SOURCE!r}.")
# Public market data comes from this host when MARKET_DATA_SOURCE=binance.
MARKET_DATA_BASE_URL = env("MARKET_DATA_BASE_URL", default=BINANCE_TESTNET_BASE_URL).rstrip("/")
SYNTHETIC_PRICE_SEED = env.int("SYNTHETIC_PRICE_SEED", default=42)
PRICE_STALE_AFTER_SECONDS = env.int("PRICE_STALE_AFTER_SECONDS", default=120)
# How often the desk's balances and orders table refresh themselves.
DESK_POLL_SECONDS = env.int("DESK_POLL_SECONDS", default=5)

# Every amount is stored with this many decimals (Binance reports 8) and this many digits in all.
MONEY_DECIMAL_PLACES = 8
MONEY_MAX_DIGITS = 28

SIMULATOR_FEE_RATE = Decimal(env.str("SIMULATOR_FEE_RATE", default="0.001"))


def _optional_decimal(name: str) -> Decimal | None:
    value = env.str(name, default="").strip()
    return Decimal(value) if value else None


def _optional_int(name: str) -> int | None:
    value = env.str(name, default="").strip()
    return int(value) if value else None


# Risk limits every account has unless its own are set (papertrading.risk); empty means no limit. An owner may
# tighten them for an account; only staff may loosen an account's limits past these.
RISK_DEFAULTS = {
    "max_order_notional": _optional_decimal("RISK_MAX_ORDER_NOTIONAL"),
    "max_position_notional": _optional_decimal("RISK_MAX_POSITION_NOTIONAL"),
    "max_open_orders": _optional_int("RISK_MAX_OPEN_ORDERS"),
    "max_orders_per_minute": _optional_int("RISK_MAX_ORDERS_PER_MINUTE"),
    "max_daily_loss": _optional_decimal("RISK_MAX_DAILY_LOSS"),
    "allowed_symbols": [s.strip().upper() for s in env.list("RISK_ALLOWED_SYMBOLS", default=[]) if s.strip()] or None,
    "halt_on_daily_loss": env.bool("RISK_HALT_ON_DAILY_LOSS", default=False),
}
SIMULATOR_SLIPPAGE_RATE = Decimal(env.str("SIMULATOR_SLIPPAGE_RATE", default="0.0005"))
if not (
    Decimal("0") <= SIMULATOR_FEE_RATE < Decimal("0.1") and Decimal("0") <= SIMULATOR_SLIPPAGE_RATE < Decimal("0.1")
):
    raise ImproperlyConfigured("SIMULATOR_FEE_RATE and SIMULATOR_SLIPPAGE_RATE must be between 0 and 0.1.")
# "ASSET=amount,ASSET=amount": what a fresh simulated account holds.
SIMULATOR_STARTING_BALANCES = {
    asset.strip().upper(): Decimal(amount)
    for asset, amount in env.dict(
        "SIMULATOR_STARTING_BALANCES",
        default={"USDT": "100000", "BTC": "1", "ETH": "10", "BNB": "50", "SOL": "100", "XRP": "10000"},
    ).items()
}
# The simulator's liquidity model (papertrading.liquidity): off, every marketable order fills whole at once. On,
# a resting order takes at most SHARE of the synthetic volume traded at each new price (VOLUME, in the quote
# asset, on average), and a taker walks a book of LEVELS levels one tick apart, each BOOK_NOTIONAL deep (quote).
SIMULATOR_LIQUIDITY = env.bool("SIMULATOR_LIQUIDITY", default=False)


def _number(name: str, default: str, kind=Decimal):
    value = env.str(name, default=default).strip()
    try:
        return kind(value)
    except (ArithmeticError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None


SIMULATOR_SEED = _number("SIMULATOR_SEED", str(SYNTHETIC_PRICE_SEED), int)
SIMULATOR_LIQUIDITY_SHARE = _number("SIMULATOR_LIQUIDITY_SHARE", "0.25")
SIMULATOR_LIQUIDITY_VOLUME = _number("SIMULATOR_LIQUIDITY_VOLUME", "100000")
SIMULATOR_BOOK_NOTIONAL = _number("SIMULATOR_BOOK_NOTIONAL", "50000")
SIMULATOR_BOOK_LEVELS = _number("SIMULATOR_BOOK_LEVELS", "20", int)
if not (SIMULATOR_LIQUIDITY_SHARE.is_finite() and Decimal("0") < SIMULATOR_LIQUIDITY_SHARE <= Decimal("1")):
    raise ImproperlyConfigured("SIMULATOR_LIQUIDITY_SHARE must be above 0 and at most 1.")
if not (SIMULATOR_LIQUIDITY_VOLUME.is_finite() and SIMULATOR_LIQUIDITY_VOLUME > 0):
    raise ImproperlyConfigured("SIMULATOR_LIQUIDITY_VOLUME must be a positive amount of the quote asset.")
if not (SIMULATOR_BOOK_NOTIONAL.is_finite() and SIMULATOR_BOOK_NOTIONAL > 0):
    raise ImproperlyConfigured("SIMULATOR_BOOK_NOTIONAL must be a positive amount of the quote asset.")
if not 1 <= SIMULATOR_BOOK_LEVELS <= 1000:
    raise ImproperlyConfigured("SIMULATOR_BOOK_LEVELS must be between 1 and 1000.")

# --- Celery ------------------------------------------------------------------------------------------------
# No CELERY_BROKER_URL -> kombu's filesystem transport: no server, and safe with a worker and the web server
# writing at once (each message is its own file, moved atomically). Production sets redis://.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = BASE_DIR / "var" / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
# The queue tasks go to and workers consume: deployments (or test runs) sharing one broker keep apart by name.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

PRICE_REFRESH_SECONDS = env.int("PRICE_REFRESH_SECONDS", default=5)
TESTNET_SYNC_SECONDS = env.int("TESTNET_SYNC_SECONDS", default=15)
# Each entry expires before its next run, so a backlog never piles up behind a stopped worker.
CELERY_BEAT_SCHEDULE = {
    "refresh-prices": {
        "task": "papertrading.tasks.refresh_prices",
        "schedule": PRICE_REFRESH_SECONDS,
        "options": {"expires": PRICE_REFRESH_SECONDS},
    },
    "sync-testnet-orders": {
        "task": "papertrading.tasks.sync_testnet_orders",
        "schedule": TESTNET_SYNC_SECONDS,
        "options": {"expires": TESTNET_SYNC_SECONDS},
    },
    # Each account's equity at 00:00 UTC, for the daily loss limit (acts once a day, just after midnight).
    "mark-day-start": {"task": "papertrading.tasks.mark_day_start", "schedule": 60, "options": {"expires": 60}},
}

# --- Webhooks ---------------------------------------------------------------------------------------------------
# True sends webhooks to private, loopback and link-local addresses too (a receiver on this machine); the
# production shape (docker-compose.yml) turns it off, so a webhook cannot reach the internal network.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=True)

# --- Binance-compatible gateway (/binance/api/v3/) ----------------------------------------------------------
# A Fernet key (Fernet.generate_key()) that encrypts the HMAC secrets of Binance-style keys at rest; empty derives
# one from SECRET_KEY.
GATEWAY_KEY_ENCRYPTION_KEY = env.str("GATEWAY_KEY_ENCRYPTION_KEY", default="")
# Binance's figures, per key: request weight per minute, new orders per 10 seconds and per day.
GATEWAY_WEIGHT_LIMIT_1M = env.int("GATEWAY_WEIGHT_LIMIT_1M", default=6000)
GATEWAY_ORDER_LIMIT_10S = env.int("GATEWAY_ORDER_LIMIT_10S", default=50)
GATEWAY_ORDER_LIMIT_1D = env.int("GATEWAY_ORDER_LIMIT_1D", default=160000)

# --- Live stream (GET /api/stream) ---------------------------------------------------------------------------
# One reader per process: woken by PostgreSQL's notifications (and at least every LIVE_SAFETY_SECONDS), or, on
# SQLite, reading every LIVE_POLL_SECONDS. Each stream is a thread of the web server that holds no database
# connection while it waits; LIVE_MAX_STREAMS per process leaves the rest of the server's threads to the site
# (beyond it a page polls). A stream ends after LIVE_STREAM_SECONDS and the page reconnects where it was.
LIVE_POLL_SECONDS = env.float("LIVE_POLL_SECONDS", default=0.25)
LIVE_SAFETY_SECONDS = env.float("LIVE_SAFETY_SECONDS", default=1.0)
LIVE_HEARTBEAT_SECONDS = env.float("LIVE_HEARTBEAT_SECONDS", default=15.0)
LIVE_STREAM_SECONDS = env.float("LIVE_STREAM_SECONDS", default=300.0)
LIVE_MAX_STREAMS = env.int("LIVE_MAX_STREAMS", default=200)
# How long the log keeps events for a page to replay (the beat prunes older ones hourly).
LIVE_RETENTION_HOURS = env.int("LIVE_RETENTION_HOURS", default=24)

# --- Analysis and portfolio --------------------------------------------------------------------------------
# The built-in demo agents (analysis.tasks.run_demo_agents) trade on the stored prices when this is on.
DEMO_AGENTS_ENABLED = env.bool("DEMO_AGENTS_ENABLED", default=True)
DEMO_AGENTS_INTERVAL_SECONDS = env.int("DEMO_AGENTS_INTERVAL_SECONDS", default=30)
# What one demo BUY spends, in the quote asset; a demo SELL sells what the demo agent holds.
DEMO_AGENT_ORDER_QUOTE = Decimal(env.str("DEMO_AGENT_ORDER_QUOTE", default="500"))
EQUITY_SNAPSHOT_INTERVAL_SECONDS = env.int("EQUITY_SNAPSHOT_INTERVAL_SECONDS", default=60)
# The asset every account is valued in (its cash); holdings of other assets are valued at their price in it.
PORTFOLIO_VALUATION_ASSET = env.str("PORTFOLIO_VALUATION_ASSET", default="USDT").upper()
# Price samples kept per symbol for the demo agents' indicators.
PRICE_SAMPLES_KEPT = env.int("PRICE_SAMPLES_KEPT", default=500)
if DEMO_AGENTS_INTERVAL_SECONDS <= 0 or EQUITY_SNAPSHOT_INTERVAL_SECONDS <= 0 or DEMO_AGENT_ORDER_QUOTE <= 0:
    raise ImproperlyConfigured(
        "DEMO_AGENTS_INTERVAL_SECONDS, EQUITY_SNAPSHOT_INTERVAL_SECONDS and DEMO_AGENT_ORDER_QUOTE must be positive."
    )
# Two models name their states `Status`; the schema keeps the analysis run's apart from the order's.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "AnalysisRunStatusEnum": "analysis.models.AnalysisRun.Status",
        "OrderStatusEnum": "papertrading.models.PaperOrder.Status",
        "OrderEventSourceEnum": "papertrading.models.OrderEvent.Source",
        "RiskEventKindEnum": "papertrading.models.RiskEvent.Kind",
        "BinanceKeyKindEnum": "gateway.models.BinanceKey.Kind",
        "WebhookEventTypeEnum": "webhooks.models.EventType",
        "RiskLimitCodeEnum": ["RISK_LIMIT"],
        "RiskLimitNameEnum": [
            "max_order_notional",
            "max_position_notional",
            "max_daily_loss",
            "max_open_orders",
            "max_orders_per_minute",
            "allowed_symbols",
            "halted",
        ],
    }
)
CELERY_BEAT_SCHEDULE.update(
    {
        "prune-live-events": {"task": "live.tasks.prune_live_events", "schedule": 3600, "options": {"expires": 3600}},
        "run-demo-agents": {
            "task": "analysis.tasks.run_demo_agents",
            "schedule": DEMO_AGENTS_INTERVAL_SECONDS,
            "options": {"expires": DEMO_AGENTS_INTERVAL_SECONDS},
        },
        "snapshot-equity": {
            "task": "portfolio.tasks.snapshot_equity",
            "schedule": EQUITY_SNAPSHOT_INTERVAL_SECONDS,
            "options": {"expires": EQUITY_SNAPSHOT_INTERVAL_SECONDS},
        },
    }
)
