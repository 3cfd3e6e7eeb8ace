"""Who may reach what: the Allow header of OPTIONS on every route, the API key in front
of the development mail sink, and the optional key of /metrics."""

from __future__ import annotations

import asyncio
import base64
import os
import pathlib
import subprocess
import sys
from pathlib import Path

from litestar.routes import HTTPRoute

from .server_harness import API_KEY, serving
from .test_server import FILES, is_problem, paid

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


DEV_PAGES = ("/dev/mails", "/dev/mails.json", "/dev/mails/1", "/dev/mails/1/raw")


async def test_the_development_sink_needs_the_api_key_when_one_is_set(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES, dev_sink=True) as s:
        await s.client.post("/api/events", json=paid("ann", "o1"))
        for _ in range(200):
            if (await s.client.get("/dev/mails.json")).json():
                break
            await asyncio.sleep(0.02)
        for page in DEV_PAGES:
            wrong: list[list[tuple[bytes, bytes]]] = [
                [],
                [(b"X-API-Key", b"wrong")],
                [(b"Authorization", b"Basic " + base64.b64encode(b"ann:wrong"))],
                [(b"Authorization", "Basic ë".encode())],
            ]
            for headers in wrong:
                answer = await s.public.get(page, headers=headers)
                is_problem(answer, 401)
                # A browser asks for the password (the key) instead of showing the problem.
                assert answer.headers["www-authenticate"] == 'Basic realm="scn", charset="UTF-8"', page
            assert (await s.client.get(page)).status_code == 200, page
            assert (await s.public.get(page, auth=("any name", API_KEY))).status_code == 200, page
            assert (await s.public.get(page, headers={"Authorization": f"Bearer {API_KEY}"})).status_code == 200


async def test_the_development_sink_is_open_without_an_api_key(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES, dev_sink=True, api_key=None) as s:
        for page in DEV_PAGES[:2]:
            assert (await s.public.get(page)).status_code == 200, page


async def test_metrics_are_open_by_default_even_with_an_api_key(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        answer = await s.public.get("/metrics")
        assert answer.status_code == 200 and "scn_up 1" in answer.text
        is_problem(await s.public.get("/api/runs"), 401)


async def test_protected_metrics_need_the_api_key(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES, protect_metrics=True) as s:
        is_problem(await s.public.get("/metrics"), 401)
        is_problem(await s.public.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)
        # Prometheus sends `authorization: credentials` as a bearer token, `basic_auth` as Basic.
        for allowed in ({"Authorization": f"Bearer {API_KEY}"}, {"X-API-Key": API_KEY}):
            answer = await s.public.get("/metrics", headers=allowed)
            assert answer.status_code == 200 and "scn_up 1" in answer.text
        assert (await s.public.get("/metrics", auth=("prometheus", API_KEY))).status_code == 200
        assert (await s.public.get("/healthz")).status_code == 200, "health stays open for probes"


def test_serve_refuses_to_protect_metrics_without_an_api_key(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "SCN_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "scn", "serve", "--protect-metrics", "--db", str(tmp_path / "scn.db"), "--port", "1"],
        capture_output=True, text=True, timeout=60, env=environ,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--protect-metrics needs an API key" in done.stderr
    assert not (tmp_path / "scn.db").exists(), "nothing was started"
