"""Rendering a message from a template for one contact, in their language."""

from __future__ import annotations

import functools
import html
import re
from typing import Any

from jinja2 import Template as JinjaTemplate

from ..interpreter.program import Template, TemplateVariant
from .templates import environment

_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/tr|/h[1-6]|/li|/table)\b[^>]*>", re.IGNORECASE)
_LINK = re.compile(r"<a\s[^>]*href\s*=\s*\"([^\"]*)\"[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_HEAD = re.compile(r"<(head|style|script)\b.*?</\1>", re.IGNORECASE | re.DOTALL)


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


@functools.lru_cache(maxsize=2048)
def _compiled(text: str, html_part: bool) -> JinjaTemplate:
    return environment(html=html_part).from_string(text)


def render_variant(variant: TemplateVariant, context: dict[str, Any]) -> dict[str, str]:
    """Every part of a variant, rendered; an email without `plain` gets text from its HTML."""
    parts = {key: _compiled(text, key == "html").render(context) for key, text in variant.parts.items()}
    if "html" in parts and "plain" not in parts:
        parts["plain"] = html_to_text(parts["html"])
    for key in ("subject", "title"):
        if "\r" in parts.get(key, "") or "\n" in parts.get(key, ""):
            # A value from the contact's data must not be able to add a header.
            raise ValueError(f"the {key} contains a line break once rendered: {parts[key][:60]!r}")
    return parts


def html_to_text(markup: str) -> str:
    """A readable plain-text version of an HTML email: paragraphs kept, links spelled out."""
    text = _HEAD.sub("", markup)
    text = _LINK.sub(lambda m: f"{_TAG.sub('', m.group(2)).strip()} ({m.group(1)})", text)
    text = _BLOCK_TAGS.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"
