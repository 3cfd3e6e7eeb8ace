"""The API's documentation pages, with their viewer served from an installed package.

`/schema` (also `/schema/swagger`) shows the OpenAPI document in Swagger UI; Litestar's
render plugins load each viewer from a CDN by default, so on a machine without internet
access the page stayed blank. Here Swagger UI's script and style sheet come from the
`swagger-ui-bundle` package (maintained for Connexion, which ships Swagger UI's release
files) at /schema/assets, and nothing on the page names another host: no CDN favicon.
The document itself is at /schema/openapi.json and /schema/openapi.yaml.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS = Path(str(swagger_ui_path))
#: Where the viewer's files are served (under the OpenAPI pages' own path).
ASSETS_PATH = "/schema/assets"
#: An empty icon: the default one is Litestar's logo on a CDN, and none at all makes the
#: browser ask for /favicon.ico.
NO_FAVICON = '<link rel="icon" href="data:,">'


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The documentation pages: Swagger UI, also the one at /schema, and the YAML document."""
    asset = f"{ASSETS_PATH}/{{}}".format
    return [
        SwaggerRenderPlugin(
            js_url=asset("swagger-ui-bundle.js"),
            css_url=asset("swagger-ui.css"),
            standalone_preset_js_url=asset("swagger-ui-standalone-preset.js"),
            favicon=NO_FAVICON,
            path=["/", "/swagger"],
        ),
        YamlRenderPlugin(path=["/openapi.yaml", "/openapi.yml"]),
    ]


#: The pages may load and call only this server: a viewer that still reaches out is
#: stopped by the browser rather than leaking the visit. Inline scripts and styles are
#: how the pages start their viewer.
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
    """The viewer's scripts and style sheets. They change only with the package: a day's caching."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[ASSETS], name="docs-assets", include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
    )  # fmt: skip
