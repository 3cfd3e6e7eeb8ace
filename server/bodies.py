"""Requests read strictly: JSON only as JSON, one value per key, bounded nesting; a form's
fields as text; a query parameter that takes one value given once.

Litestar reads JSON bodies leniently by default (any content type, the last of two equal
keys, NaN, nesting until the interpreter's recursion limit); the app's requests read
them with the same reader as `scn worker` and `scn simulate` (runtime.wire.read_json).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.datastructures.state import State
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.types import Empty

from ..interpreter.runtime.wire import WireError, read_json
from .problems import Problem


def is_json(content_type: str) -> bool:
    """application/json, or a JSON-based type such as application/merge-patch+json."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


class StrictRequest(Request[Any, Any, State]):
    async def json(self) -> Any:
        """The body as JSON: 415 unless it is sent as JSON, 400 when it is not valid strict JSON."""
        if self._json is Empty and (cached := self._connection_state.json) is not Empty:
            self._json = cached
        if self._json is Empty:
            body = await self.body()
            kind = self.content_type[0].lower()
            if not is_json(kind):
                came = kind or "no content type"
                raise Problem(415, "unsupported-media-type", f"send the body as application/json (it came as {came})")
            try:
                self._json = self._connection_state.json = read_json(body or b"null")
            except WireError as error:
                raise Problem(400, "invalid-request", f"the body: {error}") from None
        return self._json

    def cached_json(self) -> Any:
        """The body as `json()` read it, or None before it was read (problems.py, which
        answers after the handler, cannot wait for it)."""
        cached = self._connection_state.json
        return None if cached is Empty else cached

    async def form(self) -> FormMultiDict:
        """The form, or 400 when a field is not text in its charset: Litestar's parser decodes
        each field (UTF-8 unless the part names a charset) and let the error through as a 500."""
        try:
            return await super().form()
        except UnicodeDecodeError as error:
            raise Problem(
                400, "invalid-request",
                f"a field of the form is not {error.encoding} text (byte {error.start}): send text fields as UTF-8, "
                "and files as file parts (with a filename)",
            ) from None  # fmt: skip
        except LookupError as error:  # the part names a charset Python does not know
            raise Problem(400, "invalid-request", f"a field of the form: {error}; send it as UTF-8") from None


async def single_query_values(request: Request[Any, Any, Any]) -> None:
    """400 for a query parameter that takes one value given more than once (`?limit=1&limit=2`):
    Litestar would take one of them silently, the first or the last depending on the type."""
    if b"&" not in request.scope.get("query_string", b""):
        return
    names = [name for name, _ in request.query_params.multi_items()]
    parameters = request.route_handler.parsed_fn_signature.parameters
    for name in dict.fromkeys(names):
        times = names.count(name)
        parameter = parameters.get(name)
        if times > 1 and parameter is not None and not parameter.is_non_string_sequence:
            raise Problem(400, "invalid-request", f"{name}: give it once, not {times} times")


def body_operation(description: str, content: dict[str, Schema]) -> type[Operation]:
    """The OpenAPI operation of a handler that reads its body itself (CSV, or an upload in one
    of several forms): Litestar documents a body only for a `data` parameter."""
    body = RequestBody(
        content={kind: OpenAPIMediaType(schema=schema) for kind, schema in content.items()},
        description=description, required=True,
    )  # fmt: skip

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    return WithBody
