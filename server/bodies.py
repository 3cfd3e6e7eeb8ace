"""Requests read strictly: JSON only as JSON, one value per key, bounded nesting; a form's
fields as text; a query parameter that takes one value given once.

Litestar reads JSON bodies leniently by default (any content type, the last of two equal
keys, NaN, nesting until the interpreter's recursion limit), and converts them to the
handler's types with msgspec's lax rules (a number becomes a time, "true" a boolean); the
app's requests read them with the same reader as `scn worker` and `scn simulate`
(runtime.wire.read_json) and check them against the handler's `data` type strictly, as
the OpenAPI document describes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.datastructures.state import State
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.types import Empty

from ..interpreter.runtime.events import Amount
from ..interpreter.runtime.wire import WireError, read_json
from .problems import Problem


def is_json(content_type: str) -> bool:
    """application/json, or a JSON-based type such as application/merge-patch+json."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


class StrictRequest(Request[Any, Any, State]):
    async def json(self) -> Any:
        """The body read as strict JSON and converted to the handler's `data` type: 415
        unless it is sent as JSON, 400 when it is not valid strict JSON or not that type."""
        if self._json is Empty and (cached := self._connection_state.json) is not Empty:
            self._json = cached
        if self._json is Empty:
            body = await self.body()
            kind = self.content_type[0].lower()
            if not is_json(kind):
                came = kind or "no content type"
                raise Problem(415, "unsupported-media-type", f"send the body as application/json (it came as {came})")
            self._json = self._connection_state.json = self._read(body or b"null")
        return self._json

    def _read(self, body: bytes) -> Any:
        """The body as the handler's `data` type. A handler may name a reader of its own
        (its `opt["read_body"]`) that decodes straight into that type and returns None when
        it cannot vouch for what it made: then, and for every other handler, the body is
        read as a JSON document and converted, which says what is wrong."""
        reader = self.route_handler.opt.get("read_body")
        if reader is not None and (value := reader(body)) is not None:
            return value
        try:
            document = read_json(body)
        except WireError as error:
            raise Problem(400, "invalid-request", f"the body: {error}") from None
        return self._strictly(document)

    def _strictly(self, document: Any) -> Any:
        """``document`` as the handler's `data` type, converted without coercions, or
        ValidationException (a 400 naming the place, as Litestar's own). Litestar converts
        what this returns again, laxly: msgspec passes the structs it made through as they
        are, so the events of a request are converted once, not twice."""
        parameter = self.route_handler.parsed_fn_signature.parameters.get("data")
        if parameter is None:
            return document
        try:
            return msgspec.convert(document, parameter.annotation, strict=True, dec_hook=decoded)
        except msgspec.ValidationError as error:
            message, _, place = str(error).partition(" - at `$")
            where = place.rstrip("`").removeprefix(".")
            raise ValidationException(extra=[{"message": message, "key": where or "data", "source": "body"}]) from None

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


def decoded(kind: Any, value: Any) -> Any:
    """What Litestar does for a type msgspec does not know (events.Amount): its `_decoder`."""
    if kind is Amount:  # the one such type in events, by the thousand: no look-up
        return Amount._decoder(kind, value)
    decoder = getattr(kind, "_decoder", None)
    if decoder is None:
        raise NotImplementedError(f"cannot read {kind}")
    return decoder(kind, value)


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
