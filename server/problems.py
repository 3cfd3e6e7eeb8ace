"""RFC 9457 problem details for every error the API returns.

Each problem has a `type` URI under /problems/, a short `title`, the HTTP `status`, a
`detail` that says what was wrong and how to fix it, and, where useful, more members
(`errors` for invalid fields, `diagnostics` for a workspace that does not check). Each
`type` resolves: /problems/{slug} is a page that explains it (problem_types.py). Route
handlers declare the problems they answer with (`responses=problems(404, 409)`), so the
OpenAPI document shows every error with this schema.

Litestar's ProblemDetailsPlugin is not used: it turns exceptions into the same shape, but
its converters see only the exception, and these answers need the request (`instance`,
the allowed values of the parameter a validation error is about, the body limit), so
the handlers below would stay, behind one more indirection; nor does it touch OpenAPI.
"""

from __future__ import annotations

import html
import logging
from typing import Annotated, Any

import msgspec
from litestar import MediaType, Request, Response, Router, get
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from msgspec import Meta

from ..interpreter.runtime.events import explain
from ..interpreter.store.unavailable import unavailable
from .pages import page
from .problem_types import PROBLEM_TYPES, Slug, slugs_for

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
        self, status: int, slug: Slug, detail: str, *, headers: dict[str, str] | None = None, **members: Any
    ) -> None:
        super().__init__(detail=detail, status_code=status, headers=headers)
        self.slug = slug
        self.members = members


def _said(text: str) -> Meta:
    return Meta(description=text)


class ProblemDetails(msgspec.Struct, kw_only=True):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    type: Annotated[str, _said("the problem type, a path: the page there explains it and what to do")]
    title: Annotated[str, _said("the status in words")]
    status: int
    detail: Annotated[str, _said("what was wrong and how to fix it")]
    instance: Annotated[str, _said("the path of the request")]
    errors: Annotated[list[dict[str, Any]], _said(
        "each invalid field: `field` (or `key` and `source`) and `message`; in a batch, `event`"
    )] | msgspec.UnsetType = msgspec.UNSET  # fmt: skip
    diagnostics: Annotated[list[dict[str, Any]], _said(
        "a workspace that does not check: its findings, as `scn check --format json` gives them"
    )] | msgspec.UnsetType = msgspec.UNSET  # fmt: skip
    index: Annotated[int, _said("the first refused event of a batch")] | msgspec.UnsetType = msgspec.UNSET
    key: Annotated[str, _said("an idempotency key accepted before with other content")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    reason: Annotated[str, _said("why a coupon code cannot be used")] | msgspec.UnsetType = msgspec.UNSET


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The `responses=` of a route handler that answers with problems of these statuses."""
    return {status: ResponseSpec(
        ProblemDetails, media_type=PROBLEM_JSON, generate_examples=False,
        description=f"{TITLES[status]}: " + ", ".join(f"/problems/{slug}" for slug in slugs_for(status)),
    ) for status in statuses}  # fmt: skip


def problem_response(
    status: int, slug: Slug, detail: str, request: Request[Any, Any, Any], **members: Any
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
    if status >= 500:
        return handle_internal(request, error)
    slug = HTTP_SLUGS.get(status, "http-error")
    detail = error.detail
    if status == 413:
        detail = f"{error.detail}: send at most {request.app.request_max_body_size} bytes per request"
    headers = dict(error.headers or {})
    response = problem_response(status, slug, detail, request)
    response.headers.update(headers)
    return response


#: The problem types of Litestar's own refusals, by status.
HTTP_SLUGS: dict[int, Slug] = {
    400: "invalid-request", 401: "unauthorized", 404: "not-found", 405: "method-not-allowed", 409: "conflict",
    413: "too-large", 415: "unsupported-media-type",
}  # fmt: skip


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


#: Seconds a client is asked to wait before sending again a request the store could not take.
STORE_RETRY_AFTER_S = 5


def handle_internal(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    why = unavailable(error)
    if why is not None:  # not a defect: the operator's to see, in one line, and the client's to retry
        logger.warning("%s %s: %s (%s)", request.method, request.url.path, why, error)
        detail = f"{why}: nothing of this request was changed; send it again in a moment"
        response = problem_response(503, "store-unavailable", detail, request)
        response.headers["Retry-After"] = str(STORE_RETRY_AFTER_S)
        return response
    logger.exception("internal error on %s %s", request.method, request.url.path)
    return problem_response(
        500, "internal-error", "the server failed on this request; it is logged, and nothing was changed", request
    )


@get("/problems/{slug:str}", media_type=MediaType.HTML, responses=problems(400, 404))
async def problem_page(slug: FromPath[str]) -> str:
    """What a problem type means and what to do about it (the page its `type` names)."""
    kind = next((k for known, k in PROBLEM_TYPES.items() if known == slug), None)
    if kind is None:
        raise Problem(404, "not-found", f"there is no problem type {slug!r}: /problems lists them")
    statuses = ", ".join(str(s) for s in kind.statuses) or "any without a type of its own"
    members = f"<h2>Also in the answer</h2><p>{_markup(kind.members)}</p>" if kind.members else ""
    return page(kind.name, (
        f"<h1>{html.escape(kind.name)}</h1><p><code>/problems/{html.escape(slug)}</code>, HTTP {statuses}</p>"
        f"<h2>What happened</h2><p>{_markup(kind.means)}</p><h2>What to do</h2><p>{_markup(kind.fix)}</p>{members}"
        '<p><a href="/problems">Every problem type</a></p>'
    ))  # fmt: skip


@get("/problems", media_type=MediaType.HTML)
async def problem_index() -> str:
    """Every problem type the API answers with."""
    rows = "".join(
        f'<li><a href="/problems/{slug}">{html.escape(kind.name)}</a> ({", ".join(map(str, kind.statuses))})</li>'
        for slug, kind in PROBLEM_TYPES.items()
    )
    return page(
        "Problem types", f"<h1>Problem types</h1><p>The <code>type</code> of every error answer.</p><ul>{rows}</ul>"
    )


def _markup(text: str) -> str:
    """Plain text with `code` spans, as HTML."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


#: Public: the pages explain errors to whoever got one.
router = Router("/", route_handlers=[problem_index, problem_page], tags=["problems"])
