"""The API's documentation pages, with their viewers served from the package.

`/schema` (Redoc, also at `/schema/redoc`), `/schema/swagger`, `/schema/elements` and
`/schema/rapidoc` show the OpenAPI document; Litestar's render plugins load each viewer
from a CDN by default, so on a machine without internet access they stayed blank. Here
every script and style sheet comes from docs_assets/ (package data, see its README.md)
at /schema/assets, and nothing on the pages names another host: no CDN favicon, no
Google Fonts for Redoc, and RapiDoc told not to fetch its font.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.openapi.plugins import (
    OpenAPIRenderPlugin,
    RapidocRenderPlugin,
    RedocRenderPlugin,
    StoplightRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.static_files import create_static_files_router

ASSETS = Path(__file__).resolve().parent / "docs_assets"
#: Where the viewers' files are served (under the OpenAPI pages' own path).
ASSETS_PATH = "/schema/assets"
#: An empty icon: the default one is Litestar's logo on a CDN, and none at all makes the
#: browser ask for /favicon.ico.
NO_FAVICON = '<link rel="icon" href="data:,">'


class OfflineRapidocRenderPlugin(RapidocRenderPlugin):
    """RapiDoc that does not load its Open Sans font from Google (`load-fonts="false"`)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        page = super().render(request, openapi_schema)
        return page.replace(b"<rapi-doc ", b'<rapi-doc load-fonts="false" ', 1)


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The documentation pages; the first (Redoc) is also the one at /schema."""
    asset = f"{ASSETS_PATH}/{{}}".format
    return [
        RedocRenderPlugin(js_url=asset("redoc/redoc.standalone.js"), google_fonts=False, favicon=NO_FAVICON),
        SwaggerRenderPlugin(
            js_url=asset("swagger-ui/swagger-ui-bundle.js"),
            css_url=asset("swagger-ui/swagger-ui.css"),
            standalone_preset_js_url=asset("swagger-ui/swagger-ui-standalone-preset.js"),
            favicon=NO_FAVICON,
        ),
        StoplightRenderPlugin(
            js_url=asset("elements/web-components.min.js"),
            css_url=asset("elements/styles.min.css"),
            favicon=NO_FAVICON,
        ),
        OfflineRapidocRenderPlugin(js_url=asset("rapidoc/rapidoc-min.js"), favicon=NO_FAVICON),
        YamlRenderPlugin(path=["/openapi.yaml", "/openapi.yml"]),
    ]


#: The pages may load and call only this server: a viewer that still reaches out (Redoc's
#: footer logo comes from its CDN) is stopped by the browser rather than leaking the visit.
#: Inline scripts and styles are how the pages start their viewers; Redoc searches in a
#: worker made from a blob.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


def docs_router() -> Router:
    """The router the documentation pages are served on (Litestar adds the pages to it)."""
    return Router(
        "/schema", route_handlers=[], include_in_schema=False,
        response_headers=[ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY)],
    )  # fmt: skip


def assets_router() -> Router:
    """The viewers' scripts and style sheets. They change only with scn itself: a day's caching."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[ASSETS], name="docs-assets", include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
    )  # fmt: skip
