"""A console user over real HTTP without a browser: signs in, follows forms with their CSRF
token, reads pages (the browser tests in test_console_browser.py do the rest)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from .server_harness import API_KEY, Served

_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def token_of(page: str) -> str:
    found = _TOKEN.search(page)
    assert found, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


class ConsoleUser:
    """A browser-like client: keeps cookies, does not follow redirects unless told."""

    def __init__(self, s: Served) -> None:
        self.http = httpx.AsyncClient(base_url=s.base, timeout=20, follow_redirects=False)

    async def __aenter__(self) -> ConsoleUser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def sign_in(self, password: str = API_KEY, user: str = "") -> httpx.Response:
        form = await self.http.get("/sign-in")
        return await self.http.post(
            "/sign-in", data={"_csrf_token": token_of(form.text), "password": password, "user": user, "next": "/"}
        )

    async def submit(self, page_path: str, action: str, data: dict[str, Any] | None = None,
                     files: Any = None) -> httpx.Response:  # fmt: skip
        """POST ``data`` to ``action`` with the CSRF token of the page at ``page_path``."""
        page = await self.http.get(page_path)
        assert page.status_code == 200, (page_path, page.status_code)
        return await self.http.post(action, data={"_csrf_token": token_of(page.text), **(data or {})}, files=files)
