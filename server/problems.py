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

    def __init__(
        self, status: int, slug: str, detail: str, *, headers: dict[str, str] | None = None, **members: Any
    ) -> None:
        super().__init__(detail=detail, status_code=status, headers=headers)
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
    response = problem_response(error.status_code, error.slug, error.detail, request, **error.members)
    if error.headers:
        response.headers.update(error.headers)
    return response


def handle_http(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    status = error.status_code
    if isinstance(error, ValidationException):
        errors = [_named_choices(request, e) for e in error.extra] if isinstance(error.extra, list) else []
        errors = [{**e, "message": explain(str(e.get("message")))} if isinstance(e, dict) else e for e in errors]
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        if first.get("choices"):  # the message says it all: no "(at status)" after it
            return problem_response(status, "invalid-request", first["message"], request, errors=errors)
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


def _named_choices(request: Request[Any, Any, Any], error: Any) -> Any:
    """A validation error about a value outside an enumeration, with the allowed values
    named (Litestar says only "Invalid enum value 'bogus'"); other errors as they are.

    The values come from the handler's own annotation (`Literal[...]`), so every
    enumerated parameter is covered without a list to keep in step."""
    if not isinstance(error, dict) or not str(error.get("message", "")).startswith("Invalid enum value"):
        return error
    key = error.get("key")
    if not isinstance(key, str):
        return error
    parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    if parameter is None:
        return error
    choices = next((t.args for t in (parameter, *parameter.inner_types) if t.is_literal), ())
    if not choices:
        return error
    given = request.query_params.get(key) if error.get("source") == "query" else None
    allowed = ", ".join(str(c) for c in choices)
    message = f"{key} must be one of {allowed}" + (f", not {given!r}" if given is not None else "")
    return {**error, "message": message, "choices": list(choices)}


def handle_internal(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    logger.exception("internal error on %s %s", request.method, request.url.path)
    return problem_response(
        500, "internal-error", "the server failed on this request; it is logged, and nothing was changed", request
    )
