"""Templates: each declared template, a preview in any of its languages for a chosen
contact (with named samples for what a run would add), and a test send."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template

from ...interpreter import program as p
from ..core import Core
from ..deps import not_found
from ..models import Preview
from ..problems import Problem
from ..services import CommerceService, ContactService, TemplateService, dependencies
from .frame import page
from .samples import preview_context
from .text import _


def _bundle(templates: TemplateService) -> p.Bundle:
    current = templates.current()
    if current is None:
        raise Problem(409, "conflict", _("no workspace is deployed yet: upload one first"))
    return current


def _template(templates: TemplateService, name: str) -> p.Template:
    found = _bundle(templates).templates.get(name)
    if found is None:
        raise not_found(f"template {name!r}")
    return found


def _senders(bundle: p.Bundle, name: str) -> list[tuple[str, str]]:
    """(scenario, step) of every send of the template."""
    return [(s, i.id) for s, program in sorted(bundle.scenarios.items()) for i in program.instructions
            if isinstance(i, p.Send) and i.template == name]  # fmt: skip


@get("/templates")
async def templates(request: Request[Any, Any, Any], templates: NamedDependency[TemplateService]) -> Template:
    bundle = _bundle(templates)
    shown = [{"template": t, "senders": _senders(bundle, n)} for n, t in sorted(bundle.templates.items())]
    return page(request, "templates.html", templates=shown)


class Previews:
    """What a template page reads: the templates, and for a preview's samples (samples.py) a
    contact's orders and codes, the catalogue and the time."""

    def __init__(
        self, core: NamedDependency[Core], templates: NamedDependency[TemplateService],
        contacts: NamedDependency[ContactService], commerce: NamedDependency[CommerceService],
    ) -> None:  # fmt: skip
        self.core, self.templates, self.contacts, self.commerce = core, templates, contacts, commerce

    async def context(
        self, template: p.Template, contact: str, language: str | None
    ) -> tuple[dict[str, Any], list[str]]:
        """A preview's variables beyond the contact, and which of them are samples."""
        return await preview_context(self.contacts, self.commerce, _bundle(self.templates), template, contact,
                                     language, self.core.clock.now())  # fmt: skip


async def _preview(
    previews: Previews, template: p.Template, contact: str, lang: str | None
) -> tuple[Preview | None, list[str], str | None]:
    """The preview, what in it is a sample, and why there is none (when there is none)."""
    record = await previews.contacts.record(contact)
    if record is None:
        return None, [], _("There is no contact %(id)s.") % {"id": contact}
    language = lang or record.get("language")
    extra, samples = await previews.context(template, contact, language)
    try:
        shown = await previews.templates.preview(template.name, contact, lang=lang, extra=extra)
    except Problem as error:
        return None, samples, str(error.detail)
    return shown, samples, None


def _languages(template: p.Template) -> list[str]:
    return [v.lang for v in template.variants if v.lang]


@get("/templates/{name:str}")
async def template(
    request: Request[Any, Any, Any], previews: NamedDependency[Previews], name: FromPath[str],
    contact: FromQuery[str | None] = None, lang: FromQuery[str | None] = None,
) -> Template:  # fmt: skip
    """A template rendered for a contact in a language of the template's."""
    found = _template(previews.templates, name)
    languages = _languages(found)
    if lang and lang not in languages:
        raise Problem(
            400, "invalid-request", f"template {name} has no language {lang!r}; it has {', '.join(languages)}"
        )
    chosen = (contact or "").strip() or await previews.contacts.first_id()
    shown, samples, problem = await _preview(previews, found, chosen, lang or None) if chosen else (None, [], None)
    return page(request, "template.html", template=found, languages=languages, contact=chosen, lang=lang or "",
                preview=shown, samples=samples, problem=problem, senders=_senders(_bundle(previews.templates), name),
                sent=None, to="")  # fmt: skip


class TestForm(msgspec.Struct, kw_only=True):
    contact: str = ""
    lang: str = ""
    to: str = ""


@post("/templates/{name:str}/test", status_code=200)
async def test(
    request: Request[Any, Any, Any], previews: NamedDependency[Previews], name: FromPath[str],
    data: Annotated[TestForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template:  # fmt: skip
    """Send the preview to an address now (not recorded against the contact)."""
    found = _template(previews.templates, name)
    lang = data.lang or None
    if not data.to.strip():
        raise Problem(400, "invalid-request", _("say where to send the test: an address or a phone number"))
    shown, samples, problem = await _preview(previews, found, data.contact.strip(), lang)
    sent = None
    if shown is not None:
        record = await previews.contacts.record(data.contact.strip()) or {}
        extra, _samples = await previews.context(found, data.contact.strip(), lang or record.get("language"))
        try:
            sent = await previews.templates.send_test(name, data.contact.strip(), data.to.strip(), lang=lang,
                                                      extra=extra)  # fmt: skip
        except Problem as error:
            problem = str(error.detail)
    return page(request, "template.html", template=found, languages=_languages(found), contact=data.contact.strip(),
                lang=data.lang, preview=shown, samples=samples, problem=problem,
                senders=_senders(_bundle(previews.templates), name),
                sent=sent, to=data.to.strip())  # fmt: skip


router = Router(
    "/", route_handlers=[templates, template, test],
    dependencies={**dependencies(), "previews": Provide(Previews, sync_to_thread=False)},
)  # fmt: skip
