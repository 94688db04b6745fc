"""Every answer under /api/ is JSON: unknown paths, unreadable or oversized bodies, refused methods, crashes."""

import logging

import pytest
from rest_framework.test import APIClient

from conftest import api_client_for, make_user
from papertrading import selectors
from papertrading.models import PaperOrder
from papertrading.tests.support import MARKET_BUY

pytestmark = pytest.mark.django_db

ORDERS = "/api/paper-trading/orders"
RUNS = "/api/analysis/runs"


def assert_json(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    return response.json()


# --- paths ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/nope",
        "/api/",
        "/api",
        f"{ORDERS}/abc",
        f"{ORDERS}/1.5",
        f"{ORDERS}/",
        f"{RUNS}/not-a-uuid",
        "/api/portfolio/positions/extra",
    ],
)
def test_unknown_api_path_answers_json_404(api, url):
    assert assert_json(api.get(url), 404) == {"detail": "Not found."}


def test_unknown_api_path_answers_json_404_without_debug_too(api, settings):
    settings.DEBUG = False

    assert assert_json(api.delete(f"{ORDERS}/abc"), 404) == {"detail": "Not found."}


def test_missing_order_answers_json_404(api):
    assert assert_json(api.get(f"{ORDERS}/999999"), 404) == {"detail": "No PaperOrder matches the given query."}
    assert assert_json(api.delete(f"{ORDERS}/99999999999999999999999"), 404)["detail"]


def test_pages_outside_the_api_keep_djangos_html_404(api):
    response = api.get("/paper-trading/nope")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- bodies ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"symbol": "BTCUSDT",', "JSON parse error - Expecting property name enclosed in double quotes"),
        (b"\xff\xfe{}", "JSON parse error - 'utf-8' codec can't decode byte 0xff"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON parse error - nested too deeply."),
        (b'{"side": ' + b"[" * 500 + b"]" * 500 + b"}", "JSON parse error - nested deeper than 32 levels."),
        (b'{"quantity": NaN}', "JSON parse error - Out of range float values are not JSON compliant"),
        (b"", None),
    ],
    ids=["malformed", "not-utf8", "huge-nesting", "deep-field", "nan", "empty"],
)
def test_unreadable_body_answers_json_400_and_places_nothing(api, market, body, detail):
    data = assert_json(api.post(ORDERS, body, content_type="application/json"), 400)

    if detail is None:
        assert data["symbol"] == ["This field is required."]
    else:
        assert data["detail"].startswith(detail)
    assert PaperOrder.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[1, 2]", "list"), (b"5", "int"), (b'"BTCUSDT"', "str"), (b"true", "bool")],
)
def test_json_that_is_not_an_object_answers_json_400(api, market, body, kind):
    data = assert_json(api.post(ORDERS, body, content_type="application/json"), 400)

    assert data == {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
    assert PaperOrder.objects.count() == 0


def test_json_null_answers_json_400(api, market):
    data = assert_json(api.post(ORDERS, b"null", content_type="application/json"), 400)

    assert data == {"non_field_errors": ["No data provided"]}


def test_fields_of_the_wrong_type_answer_a_message_per_field(api, market):
    body = b'{"symbol": 5, "side": true, "order_type": {}, "quantity": [], "price": "1e999999"}'

    data = assert_json(api.post(ORDERS, body, content_type="application/json"), 400)

    assert set(data) == {"side", "order_type", "quantity", "price"}
    assert all(isinstance(messages, list) and messages for messages in data.values())


def test_body_that_is_not_json_answers_json_415(api, market):
    data = assert_json(api.post(ORDERS, b"symbol=BTCUSDT", content_type="text/plain"), 415)

    assert data == {"detail": 'Unsupported media type "text/plain" in request.'}


def test_too_many_form_fields_answer_json_400(api, market):
    body = "&".join(f"f{n}=1" for n in range(1_500))

    data = assert_json(api.post(ORDERS, body, content_type="application/x-www-form-urlencoded"), 400)

    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in data["detail"]


def test_multipart_without_boundary_answers_json_400(api, market):
    data = assert_json(api.post(ORDERS, b"--x\r\n", content_type="multipart/form-data"), 400)

    assert data["detail"].startswith("Multipart form parse error")


@pytest.mark.parametrize("url", [ORDERS, RUNS])
def test_oversized_body_answers_json_413_and_writes_nothing(market, settings, url):
    agent_api = api_client_for(make_user("agent", "add_paperorder", "analysis.add_analysisrun"))
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = b'{"symbol": "BTCUSDT", "rationale": "' + b"x" * limit + b'"}'

    data = assert_json(agent_api.post(url, body, content_type="application/json"), 413)

    assert data == {"detail": f"Request body too large: at most {limit} bytes."}
    assert PaperOrder.objects.count() == 0


def test_body_just_under_the_limit_is_read(api, market, settings):
    padding = settings.DATA_UPLOAD_MAX_MEMORY_SIZE - 200
    body = b'{"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01", "x": "'
    body += b"x" * padding + b'"}'

    response = api.post(ORDERS, body, content_type="application/json")

    assert response.status_code == 201, response.content[:300]


# --- methods, authentication, permissions ---------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [("put", ORDERS), ("patch", f"{ORDERS}/1"), ("delete", RUNS)])
def test_unsupported_method_answers_json_405(api, method, url):
    data = assert_json(getattr(api, method)(url, {}, format="json"), 405)

    assert data == {"detail": f'Method "{method.upper()}" not allowed.'}


def test_anonymous_request_answers_json_401():
    data = assert_json(APIClient().get("/api/portfolio/summary"), 401)

    assert data == {"detail": "Authentication credentials were not provided."}


def test_missing_permission_answers_json_403(viewer_api, market):
    data = assert_json(viewer_api.post(ORDERS, MARKET_BUY, format="json"), 403)

    assert data == {"detail": "You do not have permission to perform this action."}


def test_session_post_without_csrf_token_answers_json_403(trader, market):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(trader)

    data = assert_json(client.post(ORDERS, MARKET_BUY, format="json"), 403)

    assert data["detail"].startswith("CSRF Failed")
    assert PaperOrder.objects.count() == 0


# --- crashes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_unexpected_error_in_an_api_view_answers_json_500_and_is_logged(trader, settings, monkeypatch, caplog, debug):
    settings.DEBUG = debug

    def broken(account):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "order_list", broken)
    client = api_client_for(trader)
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get(ORDERS)

    assert assert_json(response, 500) == {"detail": "Internal server error."}
    assert b"boom" not in response.content
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert logged and isinstance(logged[0].exc_info[1], RuntimeError)
