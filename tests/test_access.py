"""Who may reach what: the Allow header of OPTIONS on every route, the API key in front
of the development mail sink, and the optional key of /metrics."""

from __future__ import annotations

import pathlib
from pathlib import Path

from litestar.routes import HTTPRoute

from .server_harness import serving
from .test_server import FILES

#: A value of each path parameter type, to make a concrete path of every route.
SAMPLES: dict[type, str] = {int: "1", str: "x", pathlib.Path: "x"}


async def test_options_allows_every_method_of_every_route(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        routes = [r for r in s.app.routes if isinstance(r, HTTPRoute)]
        assert any({"GET", "POST"} <= r.methods for r in routes), "a path with two methods is among them"
        wrong = []
        for route in routes:
            path = route.path_format.format(**{n: SAMPLES[p.type] for n, p in route.path_parameters.items()})
            answer = await s.client.options(path)
            allowed = sorted(m.strip() for m in answer.headers.get("allow", "").split(","))
            if answer.status_code != 204 or allowed != sorted(route.methods):
                wrong.append((route.path_format, answer.status_code, allowed, sorted(route.methods)))
        assert not wrong, wrong
