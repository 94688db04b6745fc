"""Every answer under /api/ is JSON, whatever went wrong and whatever the body was.

- `api_exception_handler` (DRF's EXCEPTION_HANDLER): the services' errors, DRF's own, and the request-level ones
  Django raises while the body is read (too big: 413; too many fields: 400).
- `JSONParser`: a body nested deeper than anything the API takes is a parse error (400), not a RecursionError.
- `JsonErrorsForApiMiddleware`: what never reaches a DRF view (an unknown path or id, an uncaught exception,
  DEBUG's error pages) is answered as `{"detail": ...}` with the same status under /api/; other pages keep
  Django's behaviour.
- `document_common_errors`: drf-spectacular hook that documents the answers every operation shares.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import JsonResponse
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

API_PREFIX = "/api/"
# No input of the API nests at all; this leaves room and keeps every later step (validation, error messages
# that repeat the input) far from Python's recursion limit.
MAX_JSON_DEPTH = 32

DETAILS = {
    400: "Bad request.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Internal server error.",
}


def too_large_detail() -> str:
    return f"Request body too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."


def api_exception_handler(exc, context):
    # Imported here: DRF reads this module for its parser setting while rest_framework.views is being imported.
    from papertrading.api.exception_handler import paper_trading_exception_handler

    response = paper_trading_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": too_large_detail()}, status=413)
    if isinstance(exc, SuspiciousOperation):
        # Too many fields or files: what Django answers with a 400 page, logged where Django logs it.
        logging.getLogger(f"django.security.{exc.__class__.__name__}").warning(str(exc))
        return Response({"detail": str(exc) or DETAILS[400]}, status=400)
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing nesting deeper than MAX_JSON_DEPTH as a parse error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        return data


def _depth_exceeds(data, limit: int) -> bool:
    # Iterative: a recursive walk would hit the very limit it guards against.
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    return False


class JsonErrorsForApiMiddleware:
    """Under /api/, an error answer that is not JSON (Django's 404/400/500 pages) becomes `{"detail": ...}`.

    The exception itself still goes through Django's handling first, so it is logged and signalled as usual.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code >= 400 and is_api_path(request.path_info) and not _is_json(response):
            return _as_json(response)
        return response


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")


def _is_json(response) -> bool:
    media_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _as_json(response) -> JsonResponse:
    status = response.status_code
    detail = DETAILS.get(status) or f"{response.reason_phrase}."
    replacement = JsonResponse({"detail": detail}, status=status)
    for header, value in response.headers.items():
        if header.lower() not in {"content-type", "content-length"}:
            replacement[header] = value
    replacement.cookies = response.cookies
    return replacement


# --- schema -------------------------------------------------------------------------------------------------------

ERROR_COMPONENT = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


# Operations that act on the request's account, which `X-Account` may name.
ACCOUNT_SCOPED_PATHS = ("/api/paper-trading/", "/api/portfolio/", "/api/analysis/")
ACCOUNT_HEADER = {
    "in": "header",
    "name": "X-Account",
    "required": False,
    "schema": {"type": "integer"},
    "description": "Act on this account of yours (staff: any) instead of your default one. With an account's API "
    "key it may only name the key's own account. Another account answers 404.",
}


def document_account_header(operation: dict) -> None:
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name") == "X-Account" for p in parameters):
        parameters.append(ACCOUNT_HEADER)
    operation.setdefault("responses", {}).setdefault(
        "404",
        {
            "description": "No such account for `X-Account`, or no such object in the account.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    )


def document_common_errors(result, generator, request, public):
    """Document on every operation the answers no view decides: 401 (unless anonymous is allowed), 403 for
    writes (permissions, CSRF), 413 and 415 where a body is read, 500."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_COMPONENT)
    common = {
        "401": "Not signed in: no token, or a bad one.",
        "403": "Signed in without the permission this needs.",
        "413": too_large_detail(),
        "415": "The body is not JSON (nor a form).",
        "500": "An unexpected error; nothing to fix on your side.",
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if path.startswith(ACCOUNT_SCOPED_PATHS):
                document_account_header(operation)
            wanted = {"500"}
            if {} not in operation.get("security", []):
                wanted.add("401")
            if method != "get":
                wanted.add("403")
            if "requestBody" in operation:
                wanted |= {"413", "415"}
            responses = operation.setdefault("responses", {})
            for status in sorted(wanted):
                responses.setdefault(
                    status,
                    {
                        "description": common[status],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
            operation["responses"] = dict(sorted(responses.items()))
    return result
