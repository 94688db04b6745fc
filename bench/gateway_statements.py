"""SQL statements of one order through the Binance-compatible gateway next to the same order through /api/.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/paper_trading_bench .venv/bin/python bench/gateway_statements.py

Both paths authenticate every request from scratch (a user's token on /api/, a signed Binance-style key on the
gateway) and answer with the order and its fills. The target: the gateway costs at most 2 statements more than
/api/ for a resting LIMIT and for a filled MARKET. Prints the counts and the statements of each gateway order.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Permission, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

TARGET = 2
ORDERS = {
    "resting LIMIT": (
        {"order_type": "LIMIT", "time_in_force": "GTC", "price": "60000"},
        {"type": "LIMIT", "timeInForce": "GTC", "price": "60000"},
    ),
    "filled MARKET": ({"order_type": "MARKET"}, {"type": "MARKET"}),
}
COMMON = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01"}


def captured(send) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = send()
    assert response.status_code in (200, 201), response.content
    return [query["sql"] for query in ctx.captured_queries]


def run() -> int:
    from gateway.services import create_binance_key
    from gateway.tests.support import BinanceTestClient
    from papertrading.services import default_account_for, refresh_prices

    refresh_prices()
    user = User.objects.create_user(username="bench-gateway")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="papertrading", codename__in=["add_paperorder", "change_paperorder"]
        )
    )
    account = default_account_for(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    issued = create_binance_key(account=account, kind="HMAC")
    gateway = BinanceTestClient(Client(), issued.key.api_key, issued.secret)

    def through_api(terms):
        return captured(lambda: api.post("/api/paper-trading/orders", {**COMMON, **terms}, format="json"))

    def through_gateway(params):
        return captured(lambda: gateway.signed("POST", "order", **COMMON, **params))

    # Warm up both: the first fill opens the position; the symbol rule is cached.
    through_api(ORDERS["filled MARKET"][0])
    through_gateway(ORDERS["filled MARKET"][1])
    extras = []
    print(f"{'order':<16}{'/api/':>8}{'gateway':>10}{'extra':>8}")
    details = {}
    for label, (api_terms, gateway_params) in ORDERS.items():
        api_count = len(through_api(api_terms))
        details[label] = through_gateway(gateway_params)
        extra = len(details[label]) - api_count
        extras.append(extra)
        print(f"{label:<16}{api_count:>8}{len(details[label]):>10}{extra:>+8}")
    for label, statements in details.items():
        print(f"\n{label} through the gateway:")
        for sql in statements:
            print("  " + sql[:110])
    worst = max(extras)
    verdict = "within" if worst <= TARGET else "OVER"
    print(f"\nAt most {worst:+} statements against /api/: {verdict} the target of +{TARGET}.")
    return 0 if worst <= TARGET else 1


def main() -> int:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        return run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
