"""The API's documentation pages work offline: every page names only this server, and
every script, style sheet and document it loads is served by it, from the package."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from .conftest import ROOT
from .server_harness import serving
from .test_server import FILES

#: Redoc at the root and under its name, Swagger UI (and its OAuth2 page), Stoplight Elements, RapiDoc.
PAGES = ("/schema", "/schema/redoc", "/schema/swagger", "/schema/oauth2-redirect.html", "/schema/elements",
         "/schema/rapidoc")  # fmt: skip
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
        # Each viewer's own files, not one shared stand-in.
        assert len([r for r in loaded if r.endswith(".js")]) == 5, sorted(loaded)
        # RapiDoc would fetch its font from Google; the page tells it not to.
        assert 'load-fonts="false"' in (await s.public.get("/schema/rapidoc")).text
        is_missing = await s.public.get("/schema/assets/redoc/nope.js")
        assert is_missing.status_code == 404


def test_the_viewers_files_are_package_data() -> None:
    """A wheel carries only what pyproject.toml lists (an editable install hides a gap)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = config["package-data"]["scn.server"]
    files = [p.relative_to(ROOT / "server").as_posix() for p in (ROOT / "server" / "docs_assets").rglob("*")
             if p.is_file() and p.name != "README.md"]  # fmt: skip
    assert len([f for f in files if f.endswith(".js")]) == 5, files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []
