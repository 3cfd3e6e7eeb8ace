"""Rendering a message from a template for one contact, in their language."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale

from ..interpreter.program import Template, TemplateVariant
from ..interpreter.values import Money, Percent
from ..interpreter.views import CouponView
from . import formatting
from .render_context import Budget, RenderInfo
from .templates import compile_template, render_text

#: Tags that start and end a line in the text version of an email.
_BREAKS = frozenset({"br", "p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "li", "table"})
#: Tags whose content is not text for a reader.
_HIDDEN = frozenset({"head", "style", "script", "title"})
#: Where a table cell starts, until the lines are made (the text itself never holds it):
#: cells side by side are kept apart by `_CELL_GAP` (a quantity and a price run together
#: would read as one number).
_CELL_EDGE = "\x1f"
_CELL_GAP = " | "
#: The no-break spaces CLDR puts in money ("UAH 2.00"), numbers ("1 250") and times
#: ("4:30 PM"), as plain spaces in the `text` of an SMS, Viber or push message: an SMS
#: with any character outside GSM-7 goes as UCS-2, 70 characters a segment instead of 160,
#: and a short text on a phone has no line to keep whole.
_PLAIN_SPACES = str.maketrans(dict.fromkeys("\u00a0\u202f\u2007", " "))


def language_candidates(language: str) -> tuple[str, str]:
    """What a language tag is looked for as, in order: itself, then its base ("uk-UA",
    "uk_UA" -> "uk-ua", "uk")."""
    wanted = language.lower().replace("_", "-")
    return wanted, wanted.split("-")[0]


def choose_variant(template: Template, language: str | None) -> TemplateVariant:
    """The variant for ``language``: exact, then its base ("uk-UA" -> "uk"), then the fallback."""
    by_lang = {v.lang: v for v in template.variants}
    if language:
        for candidate in language_candidates(language):
            if candidate in by_lang:
                return by_lang[candidate]
    if template.fallback and template.fallback in by_lang:
        return by_lang[template.fallback]
    return template.variants[0]


def coupon_view(
    code: str, name: str, percent: Percent | None, amount: Money | None, valid_until: dt.datetime | None,
    order_total: Money | None, locale: Locale,
) -> CouponView:  # fmt: skip
    """`coupon` in a template: its `discount` written as the message's language writes it."""
    if percent is not None:
        discount = formatting.percent(percent, locale)
    else:
        discount = formatting.money(amount, locale) if amount is not None else ""
    return CouponView(code, name, percent, amount, valid_until, order_total, discount)


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
    if "text" in parts:
        parts["text"] = parts["text"].translate(_PLAIN_SPACES)
    for key in ("subject", "title", "preheader"):
        if key in parts:
            # One line: a line break from the data (a name, a code) must not be able to add
            # a header, so every kind of line break becomes a space.
            parts[key] = " ".join(parts[key].splitlines())
    return parts


#: What changes the text version: comments, and the tags of `_BREAKS`, `_HIDDEN` and `a`
#: (their name whole: `<p>`, not `<param>`; ASCII letters only, in any case).
_MARK = re.compile(
    r"<!--(?:.*?-->|.*)|<\s*+(/?)\s*+("
    + "|".join(sorted(_BREAKS | _HIDDEN | {"a"}, key=len, reverse=True))
    + r")(?![A-Za-z0-9])[^<>]*+>",
    re.DOTALL | re.IGNORECASE | re.ASCII,
)
#: The markup cut at those tags: `re.split` gives each tag whole and its two groups.
_PIECES = re.compile(f"({_MARK.pattern})", _MARK.flags)
#: Any other tag, and what a mail client does not show either (`<!DOCTYPE html>`, `<?xml ...?>`,
#: any `<!...>` that is no comment): left out. Markup that is not a tag (`<1>`, a lone `<`,
#: a `<!` never closed) is text.
_OTHER_TAG = re.compile(r"<\s*+/?\s*+[A-Za-z][A-Za-z0-9]*+[^<>]*+>|<[!?][^<>]*+>")
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
#: A table cell's opening tag (found in the text between `_MARK`'s tags, which it does not
#: cut at: fewer pieces for the loop of `html_to_text`).
_CELL_TAG = re.compile(r"<\s*+(?:td|th)(?![A-Za-z0-9])[^<>]*+>", re.IGNORECASE | re.ASCII)


def _text(markup: str) -> str:
    """The text of markup that holds no tag of `_MARK`: other tags left out, entities
    resolved (in each run of text between two tags on its own, as a browser reads them)."""
    if "<" in markup:
        markup = _CELL_TAG.sub(_CELL_EDGE, markup)
        if "&" not in markup:
            return _OTHER_TAG.sub("", markup)
        return _CELL_EDGE.join("".join(map(html.unescape, _OTHER_TAG.split(run))) for run in markup.split(_CELL_EDGE))
    return html.unescape(markup) if "&" in markup else markup


def html_to_text(markup: str) -> str:
    """A readable plain-text version of an HTML email: paragraphs kept, links spelled out.

    One pass over the markup, in time linear in its length whatever it holds (the
    standard library's HTMLParser takes quadratic time on some unclosed constructs,
    and a template's output is not to be trusted to be well formed): the regular
    expression cuts the markup at the tags that matter, and the text between them is
    taken whole."""
    if _CELL_EDGE in markup:
        markup = markup.replace(_CELL_EDGE, " ")
    pieces = _PIECES.split(markup)  # text, then (tag, closing slash, name, text) per tag
    out: list[str] = []
    hidden = 0
    link: str | None = None
    link_text: list[str] = []
    if pieces[0]:
        out.append(_text(pieces[0]))
    for tag, closing, name, text in zip(pieces[1::4], pieces[2::4], pieces[3::4], pieces[4::4], strict=True):
        if name is not None:  # not a comment
            name = name.lower()
            if name in _HIDDEN:
                hidden = max(hidden - 1, 0) if closing else hidden + 1
            elif name != "a":  # a block starts and ends on a line of its own
                out.append("\n")
            elif not closing:
                found = _HREF.search(tag)
                link = html.unescape(next((g for g in found.groups() if g is not None), "")) if found else ""
                link_text = []
            elif link is not None:
                words = " ".join("".join(link_text).split())
                out.append(f"{words} ({link})" if link else words)
                link = None
        if text and not hidden:
            (link_text if link is not None else out).append(_text(text))
    if link is not None:  # an <a> never closed: keep its text
        out.append("".join(link_text))
    kept: list[str] = []
    for line in "".join(out).splitlines():
        if _CELL_EDGE in line:
            line = _CELL_GAP.join(filter(None, [" ".join(cell.split()) for cell in line.split(_CELL_EDGE)]))
        else:
            line = " ".join(line.split())
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip() + "\n"
