"""The floor under P1: the same HTTP stack as `scn serve` doing nothing but the HTTP.

uvicorn (httptools, uvloop) and Litestar with the API's own request and answer types:
the handler decodes the batch of events into `EventInput`s and answers with the same
`EventsAccepted` body, without storing anything. No server on this stack answers the
benchmark's requests faster than this one, which is what bounds P1 with one client
(where nothing overlaps: each request is parsed, committed and answered in turn).

Run: python bench/http_floor.py PORT (bench_http.py starts it).
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from litestar import Litestar, get, post
from litestar.params import JSONBody

from scn.interpreter.runtime.events import EventInput
from scn.server.event_loop import loop_factory
from scn.server.models import Accepted, EventsAccepted


@post("/api/events", status_code=202)
async def post_events(data: JSONBody[EventInput | list[EventInput]]) -> EventsAccepted:
    events = data if isinstance(data, list) else [data]
    return EventsAccepted(accepted=[Accepted(key=e.key or "", id=i, duplicate=False) for i, e in enumerate(events)])


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main() -> int:
    app = Litestar([post_events, healthz], logging_config=None)
    config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(uvicorn.Server(config).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
