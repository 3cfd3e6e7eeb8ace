"""Public endpoints: open pixel, click redirect, one-click unsubscribe, preferences, health and metrics.

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
from .contact_words import words_for
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
    core: NamedDependency[Core], links: NamedDependency[LinkService], channel: FromPath[str], contact: FromPath[str],
    token: FromPath[str],
) -> str:  # fmt: skip
    """Asks to confirm, in the contact's language; changes nothing (mail scanners follow links with GET)."""
    contact_id = read_link(core.settings, "unsubscribe", channel, contact, token)
    if contact_id is None:
        raise Problem(404, "not-found", "this unsubscribe link is not valid")
    words = words_for(await links.language(contact_id))
    title = words.text("unsubscribe.title")
    question = html.escape(words.text("unsubscribe.question", messages=words.messages(channel)))
    button = html.escape(words.text("unsubscribe.button"))
    form = f'<form method="post"><button type="submit">{button}</button></form>'
    return page(title, f"<h1>{html.escape(title)}</h1><p>{question}</p>{form}", words.language)


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
    words = words_for(await links.unsubscribe(contact_id, channel))
    title = words.text("unsubscribed.title")
    done = html.escape(words.text("unsubscribed.text", messages=words.messages(channel)))
    return page(title, f"<h1>{html.escape(title)}</h1><p>{done}</p>", words.language)


@get("/preferences/{channel:str}/{contact:str}/{token:str}", media_type=MediaType.HTML, responses=problems(400, 404))
async def preferences_page(
    core: NamedDependency[Core], links: NamedDependency[LinkService], channel: FromPath[str], contact: FromPath[str],
    token: FromPath[str],
) -> str:  # fmt: skip
    """The contact's subscriptions, one checkbox per channel they have an address for, in their language."""
    contact_id = read_link(core.settings, "preferences", channel, contact, token)
    if contact_id is None:
        raise Problem(404, "not-found", "this preferences link is not valid")
    subscribed, reachable, language, _ = await links.subscriptions(contact_id)
    words = words_for(language)
    title = words.text("preferences.title")
    boxes = "".join(
        f'<p><label><input type="checkbox" name="{c}" value="on"{" checked" if subscribed[c] else ""}> '
        f"{html.escape(words.label(c))}</label></p>"
        for c in CHANNELS
        if reachable[c] or subscribed[c]
    )
    if not boxes:  # nothing to choose: a form of no checkboxes would only unsubscribe from nothing
        body = f"<p>{html.escape(words.text('preferences.unreachable'))}</p>"
    else:
        intro = html.escape(words.text("preferences.intro"))
        save = html.escape(words.text("preferences.button"))
        body = f'<p>{intro}</p><form method="post">{boxes}<button type="submit">{save}</button></form>'
    return page(title, f"<h1>{html.escape(title)}</h1>{body}", words.language)


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
    current = await links.subscriptions(contact_id)
    shown = [c for c in CHANNELS if current.reachable[c] or current.subscribed[c]]
    wanted = {c: form.get(c) == "on" for c in shown}
    await links.save_subscriptions(contact_id, wanted, current)
    words = words_for(current.language)
    chosen = [words.channel(c) for c, on in wanted.items() if on]
    said = words.text("saved.subscribed", channels=", ".join(chosen)) if chosen else words.text("saved.nothing")
    title = words.text("saved.title")
    return page(title, f"<h1>{html.escape(title)}</h1><p>{html.escape(said)}</p>", words.language)


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
