"""Public endpoints: open pixel, click redirect, one-click unsubscribe, health and metrics.

No API key here: links in messages carry HMAC-signed tokens instead, and anything that
does not verify gets a 404 (a click never redirects anywhere but to a URL stored with
the message at send time). Opens, clicks and unsubscribes become events, so they are
durable before the answer and feed scenarios and reports like any other event.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from litestar import MediaType, Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import Redirect

from ..interpreter.views import CHANNELS
from ..stdlib.subscriptions import read_link
from .core import Core
from .deps import KEYED, require_key_for_metrics
from .pages import page
from .problems import Problem, problems
from .services import HealthService, LinkService, dependencies

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private"}


@get("/o/{token:str}", media_type="image/gif", responses=problems(400, 404))
async def open_pixel(links: NamedDependency[LinkService], token: FromPath[str]) -> Response[bytes]:
    """The invisible image in an email: counts the first open of each message."""
    await links.opened(token)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@get("/c/{token:str}", status_code=302, responses=problems(400, 404))
async def click(links: NamedDependency[LinkService], token: FromPath[str]) -> Redirect:
    """A tracked link: counts the click, then redirects to the URL the message was sent with."""
    url = await links.clicked(token)
    return Redirect(path=url, status_code=302, headers=NO_STORE)


@get("/unsubscribe/{channel:str}/{contact:str}/{token:str}", media_type=MediaType.HTML, responses=problems(400, 404))
async def unsubscribe_page(
    core: NamedDependency[Core], channel: FromPath[str], contact: FromPath[str], token: FromPath[str]
) -> str:
    """Asks to confirm; changes nothing (mail scanners follow links with GET)."""
    if read_link(core.settings, "unsubscribe", channel, contact, token) is None:
        raise Problem(404, "not-found", "this unsubscribe link is not valid")
    return page(
        "Unsubscribe",
        f"<h1>Unsubscribe</h1><p>Stop receiving {html.escape(channel)} messages from us?</p>"
        '<form method="post"><button type="submit">Unsubscribe</button></form>',
    )


@post(
    "/unsubscribe/{channel:str}/{contact:str}/{token:str}", status_code=200, media_type=MediaType.HTML,
    responses=problems(400, 404, 413),
)  # fmt: skip
async def unsubscribe(
    core: NamedDependency[Core],
    links: NamedDependency[LinkService],
    request: Request[Any, Any, Any],
    channel: FromPath[str],
    contact: FromPath[str],
    token: FromPath[str],
) -> str:
    """One-click unsubscribe (RFC 8058): unsubscribes and answers 200, without a redirect."""
    contact_id = read_link(core.settings, "unsubscribe", channel, contact, token)
    if contact_id is None:
        raise Problem(404, "not-found", "this unsubscribe link is not valid")
    await request.body()  # "List-Unsubscribe=One-Click", or the form: nothing in it matters
    await links.unsubscribe(contact_id, channel)
    return page("Unsubscribed", f"<h1>Unsubscribed</h1><p>You will get no more {html.escape(channel)} messages.</p>")


@get("/preferences/{channel:str}/{contact:str}/{token:str}", media_type=MediaType.HTML, responses=problems(400, 404))
async def preferences_page(
    core: NamedDependency[Core], links: NamedDependency[LinkService], channel: FromPath[str], contact: FromPath[str],
    token: FromPath[str],
) -> str:  # fmt: skip
    """The contact's subscriptions, one checkbox per channel they have an address for."""
    contact_id = read_link(core.settings, "preferences", channel, contact, token)
    if contact_id is None:
        raise Problem(404, "not-found", "this preferences link is not valid")
    subscribed, reachable = await links.subscriptions(contact_id)
    boxes = "".join(
        f'<p><label><input type="checkbox" name="{c}" value="on"{" checked" if subscribed[c] else ""}> '
        f"{html.escape(c)}</label></p>"
        for c in CHANNELS
        if reachable[c] or subscribed[c]
    )
    return page(
        "Your subscriptions",
        f'<h1>Your subscriptions</h1><form method="post">{boxes}<button type="submit">Save</button></form>',
    )


@post(
    "/preferences/{channel:str}/{contact:str}/{token:str}", status_code=200, media_type=MediaType.HTML,
    responses=problems(400, 404, 413),
)  # fmt: skip
async def preferences(
    core: NamedDependency[Core], links: NamedDependency[LinkService], request: Request[Any, Any, Any],
    channel: FromPath[str], contact: FromPath[str], token: FromPath[str],
) -> str:  # fmt: skip
    """Saves the form: checked channels subscribed, the others unsubscribed (a `contact.updated` event)."""
    contact_id = read_link(core.settings, "preferences", channel, contact, token)
    if contact_id is None:
        raise Problem(404, "not-found", "this preferences link is not valid")
    form = await request.form()
    subscribed, reachable = await links.subscriptions(contact_id)
    shown = [c for c in CHANNELS if reachable[c] or subscribed[c]]
    wanted = {c: form.get(c) == "on" for c in shown}
    await links.save_subscriptions(contact_id, wanted)
    chosen = ", ".join(c for c, on in wanted.items() if on) or "nothing"
    return page("Saved", f"<h1>Saved</h1><p>You are subscribed to: {html.escape(chosen)}.</p>")


@get("/healthz", responses={503: ResponseSpec(dict[str, Any], description="a loop has stopped: `status` is failing")})
async def healthz(health: NamedDependency[HealthService]) -> Response[dict[str, Any]]:
    """200 while the engine (and the sender) loops run; 503 when one has stopped, or when
    the engine has been busy for 30 s without handling an event or a run."""
    ok, body = await health.status()
    return Response(body, status_code=200 if ok else 503)


_NOT_NOW = {503: ResponseSpec(dict[str, Any], description="`status` is failing: see `loops`")}


@get("/healthz/live", responses=_NOT_NOW)
async def live(health: NamedDependency[HealthService]) -> Response[dict[str, Any]]:
    """Liveness: 503 when the server should be restarted (one of its loops stopped, or the
    engine is stuck); an engine process being restarted by the server is not a reason."""
    ok, body = health.live()
    return Response(body, status_code=200 if ok else 503)


@get("/healthz/ready", responses=_NOT_NOW)
async def ready(health: NamedDependency[HealthService]) -> Response[dict[str, Any]]:
    """Readiness: 503 while any loop is down (the engine process restarting too) or the
    server is stopping; before migrations and the deploy are done it does not listen."""
    ok, body = health.ready()
    return Response(body, status_code=200 if ok else 503)


@get(
    "/metrics", media_type="text/plain; version=0.0.4", guards=[require_key_for_metrics], responses=problems(401),
    security=[{}, *KEYED],  # open unless the server protects it
)  # fmt: skip
async def metrics(health: NamedDependency[HealthService]) -> str:
    """Prometheus text format (open, unless the server was started with `--protect-metrics`:
    then it needs the API key, as a bearer token or the password of basic auth)."""
    return (await health.metrics()).decode()


router = Router(
    "/",
    route_handlers=[
        open_pixel,
        click,
        unsubscribe_page,
        unsubscribe,
        preferences_page,
        preferences,
        healthz,
        live,
        ready,
        metrics,
    ],  # fmt: skip
    dependencies=dependencies(),
    tags=["public"],
)
