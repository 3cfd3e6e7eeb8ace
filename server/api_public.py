"""Public endpoints: open pixel, click redirect, one-click unsubscribe, health and metrics.

No API key here: links in messages carry HMAC-signed tokens instead, and anything that
does not verify gets a 404 (a click never redirects anywhere but to a URL stored with
the message at send time). Opens, clicks and unsubscribes become events, so they are
durable before the answer and feed scenarios and reports like any other event.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from typing import Any

from litestar import MediaType, Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import Redirect

from ..interpreter.runtime import EventInput
from ..interpreter.runtime.events import ContactIn, convert_event
from ..interpreter.store import OutboxRow
from ..interpreter.views import CHANNELS, channel_flags
from ..stdlib.failures import FAILURE_CLASSES
from ..stdlib.subscriptions import read_link, unsubscribe_event
from ..stdlib.tracking import read_token
from .core import Core
from .deps import KEYED, get_core, require_key_for_metrics
from .pages import page
from .problems import Problem, problems

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private"}


async def _tracked(core: Core, kind: str, token: str) -> tuple[OutboxRow, int]:
    found = read_token(core.settings, kind, token)
    if found is None:
        raise Problem(404, "not-found", "this link is not valid")
    key, index = found
    run_id, _, step = key.partition(":")
    message = await core.store.message_by_step(int(run_id), step) if run_id.isdigit() else None
    if message is None:
        raise Problem(404, "not-found", "this link's message does not exist")
    return message, index


async def _record(core: Core, message: OutboxRow, event_type: str, key: str, **data: Any) -> None:
    event = EventInput(
        type=event_type,
        key=key,
        at=core.clock.now(),
        contact=ContactIn(id=message.contact_id),
        data={"channel": message.channel, "template": message.template or "", "scenario": message.scenario or "",
              **data},
    )  # fmt: skip
    await core.engine.accept([core.engine.event_in(event)])


@get("/o/{token:str}", media_type="image/gif", responses=problems(400, 404))
async def open_pixel(core: NamedDependency[Core], token: FromPath[str]) -> Response[bytes]:
    """The invisible image in an email: counts the first open of each message."""
    message, _ = await _tracked(core, "o", token)
    await _record(core, message, "message.opened", f"open:{message.id}")
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@get("/c/{token:str}", status_code=302, responses=problems(400, 404))
async def click(core: NamedDependency[Core], token: FromPath[str]) -> Redirect:
    """A tracked link: counts the click, then redirects to the URL the message was sent with."""
    message, index = await _tracked(core, "c", token)
    links = json.loads(message.message or "{}").get("links") or []
    if index >= len(links):
        raise Problem(404, "not-found", "this link is not in its message")
    url = str(links[index])
    await _record(core, message, "message.clicked", f"click:{message.id}:{index}", url=url)
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
    document = unsubscribe_event(contact_id, channel, at=core.clock.now().isoformat())
    event = convert_event(document)
    await core.engine.accept([core.engine.event_in(event)])
    return page("Unsubscribed", f"<h1>Unsubscribed</h1><p>You will get no more {html.escape(channel)} messages.</p>")


@get("/preferences/{channel:str}/{contact:str}/{token:str}", media_type=MediaType.HTML, responses=problems(400, 404))
async def preferences_page(
    core: NamedDependency[Core], channel: FromPath[str], contact: FromPath[str], token: FromPath[str]
) -> str:
    """The contact's subscriptions, one checkbox per channel they have an address for."""
    contact_id = read_link(core.settings, "preferences", channel, contact, token)
    if contact_id is None:
        raise Problem(404, "not-found", "this preferences link is not valid")
    record = (await core.store.contacts([contact_id])).get(contact_id) or {}
    subscribed, reachable = channel_flags(record)
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
    core: NamedDependency[Core], request: Request[Any, Any, Any], channel: FromPath[str], contact: FromPath[str],
    token: FromPath[str],
) -> str:  # fmt: skip
    """Saves the form: checked channels subscribed, the others unsubscribed (a `contact.updated` event)."""
    contact_id = read_link(core.settings, "preferences", channel, contact, token)
    if contact_id is None:
        raise Problem(404, "not-found", "this preferences link is not valid")
    form = await request.form()
    record = (await core.store.contacts([contact_id])).get(contact_id) or {}
    subscribed, reachable = channel_flags(record)
    shown = [c for c in CHANNELS if reachable[c] or subscribed[c]]
    wanted = {c: form.get(c) == "on" for c in shown}
    event = EventInput(
        type="contact.updated", at=core.clock.now(), contact=ContactIn(id=contact_id, subscriptions=wanted)
    )
    await core.engine.accept([core.engine.event_in(event)])
    chosen = ", ".join(c for c, on in wanted.items() if on) or "nothing"
    return page("Saved", f"<h1>Saved</h1><p>You are subscribed to: {html.escape(chosen)}.</p>")


@get("/healthz", responses={503: ResponseSpec(dict[str, Any], description="a loop has stopped: `status` is failing")})
async def healthz(core: NamedDependency[Core]) -> Response[dict[str, Any]]:
    """200 while the engine (and the sender) loops run; 503 when one has stopped, or when
    the engine has been busy for 30 s without handling an event or a run."""
    loops = core.healthy()
    ok = all(loops.values())
    body = {
        "status": "ok" if ok else "failing",
        "loops": loops,
        "engine_stalled_s": round(core.engine_stalled_for(), 1),
        "schema": await core.store.schema_version(),
        "scenarios": len(core.engine.scenarios),
        "uptime_s": int((dt.datetime.now(dt.UTC) - core.started_at).total_seconds()),
    }
    return Response(body, status_code=200 if ok else 503)


@get(
    "/metrics", media_type="text/plain; version=0.0.4", guards=[require_key_for_metrics], responses=problems(401),
    security=[{}, *KEYED],  # open unless the server protects it
)  # fmt: skip
async def metrics(core: NamedDependency[Core]) -> str:
    """Prometheus text format (open, unless the server was started with `--protect-metrics`:
    then it needs the API key, as a bearer token or the password of basic auth)."""
    counts = await core.store.metrics()
    lines = [
        "# HELP scn_up 1 while the engine loop runs.",
        "# TYPE scn_up gauge",
        f"scn_up {int(all(core.healthy().values()))}",
    ]
    for family, label, help_text in (
        ("events", "state", "Events by processing state."),
        ("runs", "status", "Runs by status."),
        ("messages", "status", "Outbox messages by status."),
    ):
        lines += [f"# HELP scn_{family} {help_text}", f"# TYPE scn_{family} gauge"]
        lines += [f'scn_{family}{{{label}="{k}"}} {v}' for k, v in sorted(counts[family].items())]
    lines += [
        "# HELP scn_messages_failed_total Failed messages by channel and class of failure "
        f"({', '.join(FAILURE_CLASSES)}).",
        "# TYPE scn_messages_failed_total counter",
    ]
    lines += [f'scn_messages_failed_total{{channel="{channel}",reason="{failure}"}} {count}'
              for channel, failure, count in await core.store.failed_counts()]  # fmt: skip
    return "\n".join(lines) + "\n"


router = Router(
    "/",
    route_handlers=[open_pixel, click, unsubscribe_page, unsubscribe, preferences_page, preferences, healthz, metrics],
    dependencies={"core": Provide(get_core, sync_to_thread=False)},
    tags=["public"],
)
