"""The API's documentation pages work offline: every page names only this server, and
every script, style sheet and document it loads is served by it, from the package."""

from __future__ import annotations

import re
from pathlib import Path

from .server_harness import serving
from .test_server import FILES

#: Swagger UI at the root and under its name, and its OAuth2 page.
PAGES = ("/schema", "/schema/swagger", "/schema/oauth2-redirect.html")
#: Attributes through which the pages load something.
REFERENCES = re.compile(r"""\b(?:src|href|spec-url|apiDescriptionUrl)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
#: Anything that would reach another host: a scheme, or a protocol-relative URL.
EXTERNAL = re.compile(r"""\b(?:https?|wss?|ftp):|["'(]//[^/]""", re.IGNORECASE)
KINDS = {".js": "javascript", ".css": "text/css", ".json": "application/"}


async def test_every_docs_page_loads_only_from_this_server(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        loaded: set[str] = set()
        for page in PAGES:
            answer = await s.public.get(page)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), page
            assert not EXTERNAL.findall(answer.text), (page, EXTERNAL.findall(answer.text))
            # And if a viewer's script reaches out all the same, the browser stops it.
            policy = answer.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "img-src 'self' data:" in policy, page
            for reference in REFERENCES.findall(answer.text):
                if reference.startswith("data:"):  # the favicon: none, so the browser asks for none
                    continue
                assert reference.startswith("/"), (page, reference)
                asset = await s.public.get(reference)
                kind = next((k for suffix, k in KINDS.items() if reference.endswith(suffix)), "")
                assert asset.status_code == 200 and kind in asset.headers["content-type"], (page, reference)
                assert len(asset.content) > 1000, (page, reference)
                loaded.add(reference)
        # Swagger UI's own script and preset, not a stand-in.
        assert {r.rsplit("/", 1)[-1] for r in loaded if r.endswith(".js")} == {
            "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
        }, sorted(loaded)  # fmt: skip
        document = await s.public.get("/schema/openapi.json")
        assert document.status_code == 200 and document.json()["info"]["title"] == "scn"
        is_missing = await s.public.get("/schema/assets/nope.js")
        assert is_missing.status_code == 404


def test_other_viewers_are_not_served_rather_than_loaded_from_a_cdn() -> None:
    """Redoc, Elements and RapiDoc would load from the internet: they are not offered."""
    from scn.server.api_docs import render_plugins

    paths = {path for plugin in render_plugins() for path in plugin.paths}
    assert paths == {"/", "/swagger", "/openapi.yaml", "/openapi.yml"}
