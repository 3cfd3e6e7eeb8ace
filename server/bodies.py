"""Request bodies read strictly: JSON only as JSON, one value per key, bounded nesting.

Litestar reads JSON bodies leniently by default (any content type, the last of two equal
keys, NaN, nesting until the interpreter's recursion limit); the app's requests read
them with the same reader as `scn worker` and `scn simulate` (runtime.wire.read_json).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures.state import State
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
