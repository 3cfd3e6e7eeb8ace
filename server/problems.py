"""RFC 9457 problem details for every error the API returns.

Each problem has a `type` URI under /problems/, a short `title`, the HTTP `status`, a
`detail` that says what was wrong and how to fix it, and, where useful, more members
(`errors` for invalid fields, `diagnostics` for a workspace that does not check).
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from ..interpreter.runtime.events import explain

logger = logging.getLogger("scn.server")
PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Missing or wrong API key",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(HTTPException):
    """An error the API answers with as problem details."""

    def __init__(self, status: int, slug: str, detail: str, **members: Any) -> None:
        super().__init__(detail=detail, status_code=status)
        self.slug = slug
        self.members = members


def problem_response(
    status: int, slug: str, detail: str, request: Request[Any, Any, Any], **members: Any
) -> Response[Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **members,
    }
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def handle_problem(request: Request[Any, Any, Any], error: Problem) -> Response[Any]:
    return problem_response(error.status_code, error.slug, error.detail, request, **error.members)


def handle_http(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    status = error.status_code
    if isinstance(error, ValidationException):
        errors = error.extra if isinstance(error.extra, list) else []
        errors = [{**e, "message": explain(str(e.get("message")))} if isinstance(e, dict) else e for e in errors]
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        where = f" (at {first.get('key') or first.get('source')})" if first.get("key") or first.get("source") else ""
        detail = f"{first.get('message') or error.detail}{where}" if first else error.detail
        return problem_response(status, "invalid-request", detail, request, errors=errors)
    slug = {401: "unauthorized", 404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
        status, "http-error"
    )
    detail = error.detail
    if status == 413:
        detail = f"{error.detail}: send at most {request.app.request_max_body_size} bytes per request"
    headers = dict(error.headers or {})
    response = problem_response(status, slug, detail, request)
    response.headers.update(headers)
    return response


def handle_internal(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    logger.exception("internal error on %s %s", request.method, request.url.path)
    return problem_response(
        500, "internal-error", "the server failed on this request; it is logged, and nothing was changed", request
    )
