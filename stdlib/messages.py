"""Rendering a message from a template for one contact, in their language."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

from ..interpreter.program import Template, TemplateVariant
from .render_context import Budget, RenderInfo
from .templates import compile_template, render_text

#: Tags whose end (or the tag itself) starts a new line in the text version of an email.
_BREAKS = frozenset({"br", "p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "li", "table"})
#: Tags whose content is not text for a reader.
_HIDDEN = frozenset({"head", "style", "script", "title"})


def choose_variant(template: Template, language: str | None) -> TemplateVariant:
    """The variant for ``language``: exact, then its base ("uk-UA" -> "uk"), then the fallback."""
    by_lang = {v.lang: v for v in template.variants}
    if language:
        wanted = language.lower().replace("_", "-")
        for candidate in (wanted, wanted.split("-")[0]):
            if candidate in by_lang:
                return by_lang[candidate]
    if template.fallback and template.fallback in by_lang:
        return by_lang[template.fallback]
    return template.variants[0]


def message_language(variant: TemplateVariant, contact_language: str | None) -> str | None:
    """The language whose conventions a message follows: its variant's, else the contact's."""
    return variant.lang or contact_language


def render_variant(
    variant: TemplateVariant, context: dict[str, Any], language: str | None = None, zone: ZoneInfo | None = None
) -> dict[str, str]:
    """Every part of a variant, rendered under one budget; an email without `plain` gets
    text from its HTML. A render over budget raises RenderBudgetError, with a reason a
    marketer can read."""
    info = RenderInfo(message_language(variant, language), zone or ZoneInfo("UTC"), Budget())
    parts = {
        key: render_text(compile_template(text, key == "html"), context, info) for key, text in variant.parts.items()
    }
    if "html" in parts and "plain" not in parts:
        parts["plain"] = html_to_text(parts["html"])
    for key in ("subject", "title", "preheader"):
        if key in parts:
            # One line: a line break from the data (a name, a code) must not be able to add
            # a header, so every kind of line break becomes a space.
            parts[key] = " ".join(parts[key].splitlines())
    return parts


class _TextOf(HTMLParser):
    """The readable text of an HTML email, in one pass: paragraphs kept, links spelled out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.link: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "a":
            self.link = dict(attrs).get("href") or ""
            self.link_text = []
        elif tag == "br":
            self.out.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag == "a" and self.link is not None:
            text = " ".join("".join(self.link_text).split())
            self.out.append(f"{text} ({self.link})" if self.link else text)
            self.link = None
        elif tag in _BREAKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        (self.link_text if self.link is not None else self.out).append(data)


def html_to_text(markup: str) -> str:
    """A readable plain-text version of an HTML email: paragraphs kept, links spelled out."""
    parser = _TextOf()
    parser.feed(markup)
    parser.close()
    if parser.link is not None:  # an <a> never closed: keep its text
        parser.out.append("".join(parser.link_text))
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"
