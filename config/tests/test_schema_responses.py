"""Real answers of every API operation match what /api/schema/ documents for that path, method and status.

The schema is fetched from the running site, its OpenAPI 3.0 `nullable` turned into JSON Schema, and every
documented object made strict (no undocumented property), so a field sent but not documented fails as well.
"""

import uuid
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User
from django.test import Client
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from analysis.services import submit_decision
from conftest import api_client_for, make_user
from papertrading import selectors
from papertrading.accounts import issue_api_key
from papertrading.models import PaperOrder
from papertrading.services import default_account_for, place_order
from portfolio.services import snapshot_all_accounts

pytestmark = pytest.mark.django_db

ORDERS = "/api/paper-trading/orders"
RUNS = "/api/analysis/runs"
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"}
LIMIT_BUY = {**MARKET_BUY, "order_type": "LIMIT", "price": "60000", "time_in_force": "GTC"}
RUN = {"agent": "schema-bot", "symbol": "BTCUSDT", "decision": "BUY", "quantity": "0.01"}

# Every operation of the API; each one is exercised below with the statuses it can answer.
OPERATIONS = {
    ("get", "/api/paper-trading/orders"),
    ("post", "/api/paper-trading/orders"),
    ("get", "/api/paper-trading/orders/open"),
    ("post", "/api/paper-trading/orders/sync"),
    ("get", "/api/paper-trading/orders/{id}"),
    ("delete", "/api/paper-trading/orders/{id}"),
    ("get", "/api/paper-trading/account"),
    ("post", "/api/paper-trading/order-lists/oco"),
    ("post", "/api/paper-trading/order-lists/oto"),
    ("post", "/api/paper-trading/order-lists/otoco"),
    ("get", "/api/paper-trading/order-lists"),
    ("get", "/api/paper-trading/order-lists/{id}"),
    ("delete", "/api/paper-trading/order-lists/{id}"),
    ("get", "/api/analysis/runs"),
    ("post", "/api/analysis/runs"),
    ("get", "/api/analysis/runs/{run_id}"),
    ("get", "/api/analysis/leaderboard"),
    ("get", "/api/portfolio/positions"),
    ("get", "/api/portfolio/summary"),
    ("get", "/api/portfolio/trades"),
    ("get", "/api/accounts"),
    ("post", "/api/accounts"),
    ("get", "/api/accounts/{id}"),
    ("post", "/api/accounts/{id}/reset"),
    ("get", "/api/accounts/{id}/keys"),
    ("post", "/api/accounts/{id}/keys"),
    ("delete", "/api/accounts/{id}/keys/{key_id}"),
    ("get", "/api/accounts/{id}/limits"),
    ("put", "/api/accounts/{id}/limits"),
    ("post", "/api/accounts/{id}/halt"),
    ("post", "/api/accounts/{id}/resume"),
    ("get", "/api/accounts/{id}/risk-events"),
    ("get", "/api/leaderboard"),
    ("get", "/api/webhooks"),
    ("post", "/api/webhooks"),
    ("get", "/api/webhooks/{id}"),
    ("patch", "/api/webhooks/{id}"),
    ("delete", "/api/webhooks/{id}"),
    ("post", "/api/webhooks/{id}/test"),
    ("get", "/api/webhooks/{id}/deliveries"),
    ("post", "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver"),
    ("get", "/api/stream"),
    ("get", "/api/accounts/{id}/binance-keys"),
    ("post", "/api/accounts/{id}/binance-keys"),
    ("delete", "/api/accounts/{id}/binance-keys/{key_id}"),
}
ACCOUNTS = "/api/accounts"


# --- turning the OpenAPI 3.0 schema into JSON Schema ------------------------------------------------------------

SUBSCHEMA_KEYS = ("items", "additionalProperties", "not")
SUBSCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf")


def to_json_schema(node):
    """OpenAPI 3.0 schema object -> JSON Schema: `nullable` becomes a null alternative, objects become strict."""
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "properties" in node:
        node["properties"] = {name: to_json_schema(sub) for name, sub in node["properties"].items()}
    for key in SUBSCHEMA_KEYS:
        if isinstance(node.get(key), dict):
            node[key] = to_json_schema(node[key])
    for key in SUBSCHEMA_LIST_KEYS:
        if key in node:
            node[key] = [to_json_schema(sub) for sub in node[key]]
    if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str) and "enum" not in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def assert_documented(schema, response, method: str, path: str):
    """`response` is an answer the schema documents for `method` on `path` (a template): its status and body."""
    operation = schema["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method.upper()} {path} answered {status}, documented: {sorted(operation['responses'])}: {response.content!r}"
    )
    content = operation["responses"][status].get("content")
    if content is None:
        assert not response.content, f"{method.upper()} {path} {status} sends a body it does not document"
        return
    assert response["Content-Type"].startswith("application/json")
    documented = content["application/json"]["schema"]
    # Refs are written as "#/components/...": keep the components beside the response schema so they resolve.
    validator = Draft202012Validator(
        {"allOf": [to_json_schema(documented)], "components": {"schemas": _components(schema)}},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.absolute_path))
    assert not errors, f"{method.upper()} {path} {status} does not match its schema:\n" + "\n".join(
        f"  at {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}" for e in errors[:10]
    )


@pytest.fixture
def agent_api(db):
    """May place orders and post runs."""
    return api_client_for(make_user("agent", "add_paperorder", "analysis.add_analysisrun"))


def _components(schema) -> dict:
    return {name: to_json_schema(sub) for name, sub in schema["components"]["schemas"].items()}


def test_schema_documents_exactly_the_operations_exercised_here(schema):
    documented = {(method, path) for path, operations in schema["paths"].items() for method in operations}

    assert documented == OPERATIONS


# --- paper trading ------------------------------------------------------------------------------------------------


def test_order_operations_answer_as_documented(api, account, market, schema):
    created = api.post(ORDERS, {**MARKET_BUY, "client_order_id": "schema-1"}, format="json")
    assert created.status_code == 201
    assert_documented(schema, created, "post", ORDERS)
    repeated = api.post(ORDERS, {**MARKET_BUY, "client_order_id": "schema-1"}, format="json")
    assert repeated.status_code == 200
    assert_documented(schema, repeated, "post", ORDERS)
    other_terms = api.post(ORDERS, {**MARKET_BUY, "client_order_id": "schema-1", "quantity": "0.02"}, format="json")
    assert other_terms.status_code == 409
    assert_documented(schema, other_terms, "post", ORDERS)
    resting = api.post(ORDERS, LIMIT_BUY, format="json")
    assert resting.status_code == 201
    assert_documented(schema, resting, "post", ORDERS)
    # Placed by nobody (as imported or system orders are): `placed_by` is null.
    place_order(account=account, symbol="ETHUSDT", side="SELL", order_type="LIMIT", quantity=D("0.1"),
                price=D("4000"), time_in_force="GTC", placed_by=None)  # fmt: skip

    for url, path in [
        (ORDERS, ORDERS),
        (f"{ORDERS}?status=PENDING&page_size=1", ORDERS),
        (f"{ORDERS}/open", f"{ORDERS}/open"),
        (f"{ORDERS}/{created.json()['id']}", f"{ORDERS}/{{id}}"),
        ("/api/paper-trading/account", "/api/paper-trading/account"),
    ]:
        response = api.get(url)
        assert response.status_code == 200, url
        assert_documented(schema, response, "get", path)

    cancelled = api.delete(f"{ORDERS}/{resting.json()['id']}")
    assert cancelled.status_code == 200
    assert_documented(schema, cancelled, "delete", f"{ORDERS}/{{id}}")
    synced = api.post(f"{ORDERS}/sync")
    assert synced.status_code == 200
    assert_documented(schema, synced, "post", f"{ORDERS}/sync")


def test_order_list_operations_answer_as_documented(api, account, market, schema):
    lists, oco = "/api/paper-trading/order-lists", "/api/paper-trading/order-lists/oco"
    body = {
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "list_client_order_id": "schema-oco",
        "above_type": "LIMIT_MAKER", "above_price": "70000",
        "below_type": "STOP_LOSS_LIMIT", "below_stop_price": "66000", "below_price": "65900",
        "below_time_in_force": "GTC",
    }  # fmt: skip
    for payload, status in [
        (body, 201),
        (body, 200),
        ({**body, "quantity": "0.2"}, 409),
        ({**body, "list_client_order_id": "", "above_price": "67000"}, 400),
        ({**body, "list_client_order_id": "", "quantity": "5"}, 400),
    ]:
        response = api.post(oco, payload, format="json")
        assert response.status_code == status, response.content
        assert_documented(schema, response, "post", oco)
    list_id = api.get(lists).json()["results"][0]["id"]
    for url, path in [(lists, lists), (f"{lists}/{list_id}", f"{lists}/{{id}}")]:
        response = api.get(url)
        assert response.status_code == 200, url
        assert_documented(schema, response, "get", path)
    for status in (200, 409):
        response = api.delete(f"{lists}/{list_id}")
        assert response.status_code == status
        assert_documented(schema, response, "delete", f"{lists}/{{id}}")
    assert_documented(schema, api.get(f"{lists}/0"), "get", f"{lists}/{{id}}")


def test_order_errors_answer_as_documented(api, viewer_api, market, schema):
    filled = api.post(ORDERS, MARKET_BUY, format="json").json()
    answers = [
        ("post", ORDERS, api.post(ORDERS, {**LIMIT_BUY, "price": None}, format="json"), 400),
        ("post", ORDERS, api.post(ORDERS, b"{not json", content_type="application/json"), 400),
        ("post", ORDERS, api.post(ORDERS, {**MARKET_BUY, "quantity": "2"}, format="json"), 400),
        ("post", ORDERS, viewer_api.post(ORDERS, MARKET_BUY, format="json"), 403),
        ("post", ORDERS, APIClient().post(ORDERS, MARKET_BUY, format="json"), 401),
        ("post", ORDERS, api.post(ORDERS, b"symbol", content_type="text/plain"), 415),
        ("get", ORDERS, api.get(ORDERS, {"status": "BOGUS"}), 400),
        ("get", ORDERS, api.get(ORDERS, {"page": 99}), 404),
        ("get", ORDERS, APIClient().get(ORDERS), 401),
        ("get", f"{ORDERS}/open", api.get(f"{ORDERS}/open", {"page": 99}), 404),
        ("get", f"{ORDERS}/{{id}}", api.get(f"{ORDERS}/999999"), 404),
        ("delete", f"{ORDERS}/{{id}}", api.delete(f"{ORDERS}/999999"), 404),
        ("delete", f"{ORDERS}/{{id}}", api.delete(f"{ORDERS}/{filled['id']}"), 409),
        ("delete", f"{ORDERS}/{{id}}", viewer_api.delete(f"{ORDERS}/{filled['id']}"), 403),
        ("post", f"{ORDERS}/sync", viewer_api.post(f"{ORDERS}/sync"), 403),
        ("get", "/api/paper-trading/account", APIClient().get("/api/paper-trading/account"), 401),
    ]
    for method, path, response, status in answers:
        assert response.status_code == status, (method, path, response.content)
        assert_documented(schema, response, method, path)


def test_unexpected_error_answers_as_documented(api, schema, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "order_list", broken)
    api.raise_request_exception = False

    response = api.get(ORDERS)

    assert response.status_code == 500
    assert_documented(schema, response, "get", ORDERS)


def test_oversized_body_answers_as_documented(api, schema, settings):
    body = b'{"symbol": "' + b"X" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'

    response = api.post(ORDERS, body, content_type="application/json")

    assert response.status_code == 413
    assert_documented(schema, response, "post", ORDERS)


def test_venue_errors_answer_as_documented(api, account, agent_api, market, schema, settings):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = ""
    settings.BINANCE_TESTNET_API_SECRET = ""

    answers = [
        ("post", ORDERS, api.post(ORDERS, MARKET_BUY, format="json")),
        ("post", f"{ORDERS}/sync", api.post(f"{ORDERS}/sync")),
        ("post", RUNS, agent_api.post(RUNS, RUN, format="json")),
    ]
    for method, path, response in answers:
        assert response.status_code == 503, (method, path, response.content)
        assert_documented(schema, response, method, path)
    assert PaperOrder.objects.count() == 0
    # An open account's balances are its own rows: reading them needs no venue.
    balances = api.get("/api/paper-trading/account")
    assert balances.status_code == 200, balances.content
    assert_documented(schema, balances, "get", "/api/paper-trading/account")


# --- analysis and portfolio -----------------------------------------------------------------------------------


def test_analysis_operations_answer_as_documented(agent_api, viewer_api, market, schema):
    agent_account = default_account_for(User.objects.get(username="agent"))
    run_id = str(uuid.uuid4())
    created = agent_api.post(RUNS, {**RUN, "run_id": run_id, "confidence": "0.7"}, format="json")
    assert created.status_code == 201
    assert_documented(schema, created, "post", RUNS)
    repeated = agent_api.post(RUNS, {**RUN, "run_id": run_id, "confidence": "0.7"}, format="json")
    assert repeated.status_code == 200
    assert_documented(schema, repeated, "post", RUNS)
    for body in [{**RUN, "decision": "HOLD"}, {**RUN, "quantity": "100"}, {**RUN, "decision": "SELL"}]:
        response = agent_api.post(RUNS, body, format="json")
        assert response.status_code == 201, response.content
        assert_documented(schema, response, "post", RUNS)
    assert {run["status"] for run in agent_api.get(RUNS).json()["results"]} == {"executed", "skipped", "failed"}
    # Posted by no user, with signals, as the built-in agents' consensus does.
    vote = {"agent": "ma-crossover", "decision": "BUY", "confidence": "0.6"}
    submit_decision(account=agent_account, agent="demo-consensus", symbol="ETHUSDT", decision="BUY", quantity=D("0.1"),
                    signals=[vote])  # fmt: skip

    for url, path in [
        (RUNS, RUNS),
        (f"{RUNS}?agent=schema-bot&status=executed", RUNS),
        (f"{RUNS}/{run_id}", f"{RUNS}/{{run_id}}"),
        ("/api/analysis/leaderboard", "/api/analysis/leaderboard"),
    ]:
        response = agent_api.get(url)
        assert response.status_code == 200, url
        assert_documented(schema, response, "get", path)
    # A user who may only read, on their own (empty) account.
    for url, path in [(RUNS, RUNS), ("/api/analysis/leaderboard", "/api/analysis/leaderboard")]:
        response = viewer_api.get(url)
        assert response.status_code == 200, url
        assert_documented(schema, response, "get", path)


def test_analysis_errors_answer_as_documented(agent_api, viewer_api, market, schema):
    answers = [
        ("post", RUNS, agent_api.post(RUNS, {**RUN, "decision": "MAYBE"}, format="json"), 400),
        ("post", RUNS, agent_api.post(RUNS, b"[1, 2]", content_type="application/json"), 400),
        ("post", RUNS, viewer_api.post(RUNS, RUN, format="json"), 403),
        ("post", RUNS, APIClient().post(RUNS, RUN, format="json"), 401),
        ("get", RUNS, viewer_api.get(RUNS, {"decision": "MAYBE"}), 400),
        ("get", RUNS, viewer_api.get(RUNS, {"page": 99}), 404),
        ("get", f"{RUNS}/{{run_id}}", viewer_api.get(f"{RUNS}/{uuid.uuid4()}"), 404),
        ("get", "/api/analysis/leaderboard", APIClient().get("/api/analysis/leaderboard"), 401),
    ]
    for method, path, response, status in answers:
        assert response.status_code == status, (method, path, response.content)
        assert_documented(schema, response, method, path)


def test_portfolio_operations_answer_as_documented(agent_api, viewer_api, market, schema):
    assert agent_api.post(RUNS, RUN, format="json").status_code == 201
    assert agent_api.post(RUNS, {**RUN, "symbol": "ETHUSDT", "quantity": "0.5"}, format="json").status_code == 201
    assert agent_api.post(RUNS, {**RUN, "decision": "SELL", "quantity": "0.005"}, format="json").status_code == 201
    market.set("BTCUSDT", D("69000"))
    snapshot_all_accounts()

    for client in (agent_api, viewer_api):  # the agent's account has traded; the viewer's holds what it opened with
        for url, path in [
            ("/api/portfolio/positions", "/api/portfolio/positions"),
            ("/api/portfolio/positions?include_closed=true", "/api/portfolio/positions"),
            ("/api/portfolio/summary", "/api/portfolio/summary"),
            ("/api/portfolio/trades", "/api/portfolio/trades"),
            ("/api/portfolio/trades?symbol=btcusdt&page_size=1", "/api/portfolio/trades"),
        ]:
            response = client.get(url)
            assert response.status_code == 200, url
            assert_documented(schema, response, "get", path)


def test_portfolio_errors_answer_as_documented(viewer_api, schema):
    answers = [
        ("get", "/api/portfolio/trades", viewer_api.get("/api/portfolio/trades", {"page": 99}), 404),
        ("get", "/api/portfolio/trades", viewer_api.get("/api/portfolio/trades", {"side": "UP"}), 400),
        ("get", "/api/portfolio/positions", APIClient().get("/api/portfolio/positions"), 401),
        ("get", "/api/portfolio/summary", APIClient().get("/api/portfolio/summary"), 401),
    ]
    for method, path, response, status in answers:
        assert response.status_code == status, (method, path, response.content)
        assert_documented(schema, response, method, path)


# --- accounts, their keys and the leaderboard ---------------------------------------------------------------------


def test_account_operations_answer_as_documented(api, account, market, schema):
    created = api.post(ACCOUNTS, {"name": "schema", "starting_balances": {"USDT": "5000"}}, format="json")
    assert created.status_code == 201, created.content
    assert_documented(schema, created, "post", ACCOUNTS)
    new = created.json()["id"]
    as_key = APIClient()  # the new account's own key, acting as that account alone
    as_key.credentials(HTTP_AUTHORIZATION=f"Token {created.json()['api_key']}")
    assert as_key.post(ORDERS, MARKET_BUY, format="json").status_code == 201
    issued = api.post(f"{ACCOUNTS}/{new}/keys", {"name": "second"}, format="json")
    assert issued.status_code == 201, issued.content
    assert_documented(schema, issued, "post", f"{ACCOUNTS}/{{id}}/keys")

    for client, url, path in [
        (api, ACCOUNTS, ACCOUNTS),
        (api, f"{ACCOUNTS}?page_size=1", ACCOUNTS),
        (as_key, ACCOUNTS, ACCOUNTS),
        (api, f"{ACCOUNTS}/{account.pk}", f"{ACCOUNTS}/{{id}}"),
        (as_key, f"{ACCOUNTS}/{new}", f"{ACCOUNTS}/{{id}}"),
        (api, f"{ACCOUNTS}/{new}/keys", f"{ACCOUNTS}/{{id}}/keys"),
        (api, "/api/leaderboard", "/api/leaderboard"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_documented(schema, response, "get", path)

    revoked = api.delete(f"{ACCOUNTS}/{new}/keys/{issued.json()['id']}")
    assert revoked.status_code == 200, revoked.content
    assert_documented(schema, revoked, "delete", f"{ACCOUNTS}/{{id}}/keys/{{key_id}}")
    reset = api.post(f"{ACCOUNTS}/{new}/reset")
    assert reset.status_code == 200, reset.content
    assert_documented(schema, reset, "post", f"{ACCOUNTS}/{{id}}/reset")


def test_account_errors_answer_as_documented(api, account, rival_account, viewer, viewer_api, market, schema):
    keyed = api.post(ACCOUNTS, {"name": "keyed"}, format="json").json()
    as_key = APIClient()
    as_key.credentials(HTTP_AUTHORIZATION=f"Token {keyed['api_key']}")
    keys = f"{ACCOUNTS}/{keyed['id']}/keys"
    own = default_account_for(viewer).pk  # the viewer's own account, which they may read but not reset
    stranger = rival_account.pk  # another user's account: answered like one that does not exist
    key_path = f"{ACCOUNTS}/{{id}}/keys/{{key_id}}"
    answers = [
        ("post", ACCOUNTS, api.post(ACCOUNTS, {"name": "", "starting_balances": {"USDT": "-1"}}, format="json"), 400),
        ("post", ACCOUNTS, api.post(ACCOUNTS, b"{not json", content_type="application/json"), 400),
        ("post", ACCOUNTS, as_key.post(ACCOUNTS, {"name": "minted"}, format="json"), 403),
        ("post", ACCOUNTS, viewer_api.post(ACCOUNTS, {"name": "mine"}, format="json"), 403),
        ("post", ACCOUNTS, APIClient().post(ACCOUNTS, {"name": "anonymous"}, format="json"), 401),
        ("get", ACCOUNTS, api.get(ACCOUNTS, {"page": 99}), 404),
        ("get", ACCOUNTS, APIClient().get(ACCOUNTS), 401),
        ("get", f"{ACCOUNTS}/{{id}}", api.get(f"{ACCOUNTS}/{stranger}"), 404),
        ("get", f"{ACCOUNTS}/{{id}}", as_key.get(f"{ACCOUNTS}/{account.pk}"), 404),
        ("post", f"{ACCOUNTS}/{{id}}/reset", api.post(f"{ACCOUNTS}/{stranger}/reset"), 404),
        ("post", f"{ACCOUNTS}/{{id}}/reset", viewer_api.post(f"{ACCOUNTS}/{own}/reset"), 403),
        ("get", f"{ACCOUNTS}/{{id}}/keys", api.get(f"{ACCOUNTS}/{stranger}/keys"), 404),
        ("post", f"{ACCOUNTS}/{{id}}/keys", api.post(keys, {"name": "x" * 101}, format="json"), 400),
        ("post", f"{ACCOUNTS}/{{id}}/keys", api.post(f"{ACCOUNTS}/{stranger}/keys", {}, format="json"), 404),
        ("post", f"{ACCOUNTS}/{{id}}/keys", as_key.post(keys, {}, format="json"), 403),
        ("delete", key_path, api.delete(f"{keys}/999999"), 404),
        ("delete", key_path, as_key.delete(f"{keys}/{keyed['key']['id']}"), 403),
        ("get", "/api/leaderboard", APIClient().get("/api/leaderboard"), 401),
    ]
    for method, path, response, status in answers:
        assert response.status_code == status, (method, path, response.content)
        assert_documented(schema, response, method, path)


# --- risk limits and the kill switch ------------------------------------------------------------------------------


def test_risk_operations_answer_as_documented(api, account, agent_api, market, schema):
    limits = f"{ACCOUNTS}/{account.pk}/limits"
    tightened = api.put(
        limits,
        {
            "max_order_notional": "1000",
            "max_open_orders": 5,
            "allowed_symbols": ["BTCUSDT"],
            "halt_on_daily_loss": True,
        },
        format="json",
    )
    assert tightened.status_code == 200, tightened.content
    assert_documented(schema, tightened, "put", f"{ACCOUNTS}/{{id}}/limits")
    # Refused by a limit: the order's 400 and a run's failure.
    refused = api.post(ORDERS, {**MARKET_BUY, "quantity": "0.1"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "RISK_LIMIT", refused.content
    assert_documented(schema, refused, "post", ORDERS)
    agent_account = default_account_for(User.objects.get(username="agent"))
    agent_account.allowed_symbols = ["ETHUSDT"]
    agent_account.save(update_fields=["allowed_symbols"])
    failed = agent_api.post(RUNS, RUN, format="json")
    assert failed.status_code == 201 and failed.json()["status"] == "failed", failed.content
    assert_documented(schema, failed, "post", RUNS)
    resting = api.post(ORDERS, LIMIT_BUY, format="json")
    assert resting.status_code == 201, resting.content
    # An order whose outcome is not known yet stays working: `not_cancelled` names it.
    unknown = api.post(ORDERS, {**LIMIT_BUY, "price": "59000"}, format="json").json()
    PaperOrder.objects.filter(pk=unknown["id"]).update(status=PaperOrder.Status.UNKNOWN)

    for client, url, path in [
        (api, limits, f"{ACCOUNTS}/{{id}}/limits"),
        (agent_api, f"{ACCOUNTS}/{agent_account.pk}/limits", f"{ACCOUNTS}/{{id}}/limits"),  # defaults only
        (api, f"{ACCOUNTS}/{account.pk}/risk-events", f"{ACCOUNTS}/{{id}}/risk-events"),
        (api, f"{ACCOUNTS}/{account.pk}/risk-events?kind=refused&page_size=1", f"{ACCOUNTS}/{{id}}/risk-events"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_documented(schema, response, "get", path)

    halted = api.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "schema check"}, format="json")
    assert halted.status_code == 200, halted.content
    assert halted.json()["cancelled"] == [resting.json()["id"]]
    assert list(halted.json()["not_cancelled"]) == [str(unknown["id"])]
    assert_documented(schema, halted, "post", f"{ACCOUNTS}/{{id}}/halt")
    on_halt = api.post(ORDERS, LIMIT_BUY, format="json")
    assert on_halt.status_code == 400 and on_halt.json()["limit"] == "halted", on_halt.content
    assert_documented(schema, on_halt, "post", ORDERS)
    for url, path in [
        (limits, f"{ACCOUNTS}/{{id}}/limits"),  # now with `halted`
        (f"{ACCOUNTS}/{account.pk}/risk-events", f"{ACCOUNTS}/{{id}}/risk-events"),
    ]:
        response = api.get(url)
        assert response.status_code == 200, url
        assert_documented(schema, response, "get", path)
    resumed = api.post(f"{ACCOUNTS}/{account.pk}/resume")
    assert resumed.status_code == 200, resumed.content
    assert_documented(schema, resumed, "post", f"{ACCOUNTS}/{{id}}/resume")
    PaperOrder.objects.filter(pk=unknown["id"]).update(status=PaperOrder.Status.PENDING)


def test_risk_errors_answer_as_documented(api, account, rival_account, viewer, viewer_api, market, schema):
    keyed = api.post(ACCOUNTS, {"name": "keyed"}, format="json").json()
    as_key = APIClient()
    as_key.credentials(HTTP_AUTHORIZATION=f"Token {keyed['api_key']}")
    own = default_account_for(viewer).pk
    stranger = rival_account.pk
    mine = account.pk
    limits, halt, resume, events = (f"{ACCOUNTS}/{{id}}/{name}" for name in ("limits", "halt", "resume", "risk-events"))
    answers = [
        ("get", limits, api.get(f"{ACCOUNTS}/{stranger}/limits"), 404),
        ("get", limits, as_key.get(f"{ACCOUNTS}/{mine}/limits"), 404),
        ("get", limits, APIClient().get(f"{ACCOUNTS}/{mine}/limits"), 401),
        ("put", limits, api.put(f"{ACCOUNTS}/{mine}/limits", {"max_open_orders": -1}, format="json"), 400),
        ("put", limits, api.put(f"{ACCOUNTS}/{mine}/limits", {"bogus": 1}, format="json"), 400),
        ("put", limits, api.put(f"{ACCOUNTS}/{mine}/limits", b"[1]", content_type="application/json"), 400),
        ("put", limits, api.put(f"{ACCOUNTS}/{mine}/limits", b"{x", content_type="application/json"), 400),
        ("put", limits, api.put(f"{ACCOUNTS}/{stranger}/limits", {}, format="json"), 404),
        ("put", limits, viewer_api.put(f"{ACCOUNTS}/{own}/limits", {}, format="json"), 403),
        ("put", limits, api.put(f"{ACCOUNTS}/{mine}/limits", b"x", content_type="text/plain"), 415),
        ("post", halt, api.post(f"{ACCOUNTS}/{mine}/halt", {"reason": " "}, format="json"), 400),
        ("post", halt, api.post(f"{ACCOUNTS}/{mine}/halt", {}, format="json"), 400),
        ("post", halt, api.post(f"{ACCOUNTS}/{stranger}/halt", {"reason": "x"}, format="json"), 404),
        ("post", halt, viewer_api.post(f"{ACCOUNTS}/{own}/halt", {"reason": "x"}, format="json"), 403),
        ("post", resume, as_key.post(f"{ACCOUNTS}/{keyed['id']}/resume"), 403),
        ("post", resume, viewer_api.post(f"{ACCOUNTS}/{own}/resume"), 403),
        ("post", resume, api.post(f"{ACCOUNTS}/{stranger}/resume"), 404),
        ("get", events, api.get(f"{ACCOUNTS}/{stranger}/risk-events"), 404),
        ("get", events, api.get(f"{ACCOUNTS}/{mine}/risk-events", {"page": 99}), 404),
        ("get", events, api.get(f"{ACCOUNTS}/{mine}/risk-events", {"kind": "bogus"}), 400),
        ("get", events, APIClient().get(f"{ACCOUNTS}/{mine}/risk-events"), 401),
    ]
    for method, path, response, status in answers:
        assert response.status_code == status, (method, path, response.content)
        assert_documented(schema, response, method, path)


# --- webhooks ---------------------------------------------------------------------------------------------------

WEBHOOKS = "/api/webhooks"


def test_webhook_operations_answer_as_documented(api, account, schema):
    # Port 9 (discard) on this machine: nothing listens, so the ping and redelivery fail fast and are recorded.
    created = api.post(WEBHOOKS, {"url": "http://127.0.0.1:9/hook", "events": ["order.filled"]}, format="json")
    assert created.status_code == 201, created.content
    assert_documented(schema, created, "post", WEBHOOKS)
    one = f"{WEBHOOKS}/{created.json()['id']}"
    pinged = api.post(f"{one}/test")
    assert pinged.status_code == 200, pinged.content
    assert_documented(schema, pinged, "post", f"{WEBHOOKS}/{{id}}/test")
    redelivered = api.post(f"{one}/deliveries/{pinged.json()['id']}/redeliver")
    assert redelivered.status_code == 200, redelivered.content
    assert_documented(schema, redelivered, "post", f"{WEBHOOKS}/{{id}}/deliveries/{{delivery_id}}/redeliver")

    for url, path in [
        (WEBHOOKS, WEBHOOKS),
        (one, f"{WEBHOOKS}/{{id}}"),
        (f"{one}/deliveries", f"{WEBHOOKS}/{{id}}/deliveries"),
    ]:
        response = api.get(url)
        assert response.status_code == 200, url
        assert_documented(schema, response, "get", path)

    changed = api.patch(one, {"is_active": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert_documented(schema, changed, "patch", f"{WEBHOOKS}/{{id}}")
    deleted = api.delete(one)
    assert deleted.status_code == 204
    assert_documented(schema, deleted, "delete", f"{WEBHOOKS}/{{id}}")


def test_webhook_errors_answer_as_documented(api, account, rival_api, rival_account, schema, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = api.post(WEBHOOKS, {"url": "http://169.254.169.254/", "events": ["order.filled"]}, format="json")
    assert refused.status_code == 400
    assert_documented(schema, refused, "post", WEBHOOKS)
    settings.WEBHOOK_ALLOW_PRIVATE = True
    created = api.post(WEBHOOKS, {"url": "http://127.0.0.1:9/hook", "events": ["order.filled"]}, format="json")
    one = f"{WEBHOOKS}/{created.json()['id']}"
    invalid = api.patch(one, {"events": ["order.exploded"]}, format="json")
    assert invalid.status_code == 400
    assert_documented(schema, invalid, "patch", f"{WEBHOOKS}/{{id}}")
    as_key = APIClient()
    as_key.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_key(account, name='bot').raw}")
    forbidden = as_key.post(WEBHOOKS, {"url": "http://127.0.0.1:9/x", "events": ["order.filled"]}, format="json")
    assert forbidden.status_code == 403
    assert_documented(schema, forbidden, "post", WEBHOOKS)
    assert_documented(schema, api.get(f"{WEBHOOKS}?page=9"), "get", WEBHOOKS)

    for method, url, path in [
        ("get", one, f"{WEBHOOKS}/{{id}}"),
        ("patch", one, f"{WEBHOOKS}/{{id}}"),
        ("delete", one, f"{WEBHOOKS}/{{id}}"),
        ("post", f"{one}/test", f"{WEBHOOKS}/{{id}}/test"),
        ("get", f"{one}/deliveries", f"{WEBHOOKS}/{{id}}/deliveries"),
        ("post", f"{one}/deliveries/1/redeliver", f"{WEBHOOKS}/{{id}}/deliveries/{{delivery_id}}/redeliver"),
    ]:
        response = getattr(rival_api, method)(url, {}, format="json")
        assert response.status_code == 404, url
        assert_documented(schema, response, method, path)


# --- live stream ------------------------------------------------------------------------------------------------


def test_stream_answers_as_documented(api, account, schema, settings, monkeypatch):
    from live.hub import Hub

    hub = Hub(reader=False)
    monkeypatch.setattr("live.api.views.get_hub", lambda: hub)
    settings.LIVE_STREAM_SECONDS = 0
    operation = schema["paths"]["/api/stream"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/event-stream"]

    streamed = api.get("/api/stream", HTTP_ACCEPT="text/event-stream")
    assert streamed.status_code == 200 and streamed["Content-Type"] == "text/event-stream"
    assert b"event: balance" in b"".join(streamed.streaming_content)

    assert_documented(schema, api.get("/api/stream", {"last_event_id": "soon"}), "get", "/api/stream")
    settings.LIVE_MAX_STREAMS = 0
    refused = api.get("/api/stream")
    assert refused.status_code == 503
    assert_documented(schema, refused, "get", "/api/stream")
