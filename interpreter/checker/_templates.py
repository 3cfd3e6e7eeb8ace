"""Checking message templates: their settings, their files, and what their Jinja reads."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import msgspec

from ...stdlib.addresses import address_error
from ...stdlib.catalog import (
    LANGUAGES,
    TEMPLATE_ALWAYS,
    TEMPLATE_FILTERS,
    TEMPLATE_TESTS,
    TEMPLATE_WITH_BONUS,
    TEMPLATE_WITH_COUPON,
    TEMPLATE_WITH_EVENT,
    TEMPLATE_WITH_ORDER,
    TEMPLATE_WITH_PRODUCTS,
)
from .. import ast, codes
from ..diagnostics import DiagnosticSink, Related
from ..span import Span, span_of_offsets
from ..suggest import closest_name, suggested
from ..types import Type
from ..views import CHANNEL_PARTS
from ..workspace import Workspace
from ._blank import BlankCheck, Printing
from ._outline import Node, outline
from ._symbols import Symbols
from ._template_links import dead_links
from ._template_signatures import Finding
from ._template_types import Typer

FILE_PARTS = frozenset({"html", "plain"})
#: Parts that are links the provider opens or fetches (Viber, push and web push).
LINK_PARTS = frozenset({"url", "image"})
#: A link filled in by the template: the scheme and the whole site are written, so what a
#: contact's values fill in can only be the path, the query or the fragment.
_LINK_START = re.compile(r"https://[^\s/?#{}@\\]+[/?#]")
#: Where template code starts: in a setting that is not a template it would be sent as it is.
TEMPLATE_MARK = re.compile(r"{{|{%|{#")


def link_ok(text: str) -> bool:
    """An https link, or a template of one whose site is written before anything is filled in."""
    start = TEMPLATE_MARK.split(text, maxsplit=1)[0]
    if any(c.isspace() for c in start):
        return False
    if start != text:
        return _LINK_START.match(start) is not None
    parts = urlsplit(text)
    return parts.scheme == "https" and bool(parts.hostname) and "{" not in text and "}" not in text


ALL_TEMPLATE_VARIABLES: dict[str, Type] = {
    **TEMPLATE_ALWAYS,
    **TEMPLATE_WITH_ORDER,
    **TEMPLATE_WITH_COUPON,
    **TEMPLATE_WITH_PRODUCTS,
    **TEMPLATE_WITH_BONUS,
    **TEMPLATE_WITH_EVENT,
}
_UNKNOWN_FILTER = re.compile(r"No (filter|test) named '([^']*)'(?: found)?\.")
_SMS_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}")
#: What a header cannot hold (line breaks of every kind, other control characters).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class TemplateInfo(msgspec.Struct):
    """What a template reads: each top-level variable and where it is first used."""

    decl: ast.TemplateDecl
    uses: dict[str, Span] = msgspec.field(default_factory=dict)


class TemplateChecker:
    def __init__(self, workspace: Workspace, symbols: Symbols, sink: DiagnosticSink) -> None:
        self.workspace = workspace
        self.symbols = symbols
        self.sink = sink
        self.infos: dict[str, TemplateInfo] = {}
        #: Each template's parts, kept to type them again for each send.
        self.parts: dict[str, list[_Part]] = {}

    # ------------------------------------------------------------ declarations

    def check_all(self) -> dict[str, TemplateInfo]:
        for decl in self.symbols.of_kind("template"):
            assert isinstance(decl, ast.TemplateDecl)
            self.infos[decl.name.name] = self._check(decl, self.symbols.decl_files[decl.name.name])
        return self.infos

    def _check(self, decl: ast.TemplateDecl, source: str) -> TemplateInfo:
        info = TemplateInfo(decl)
        allowed, required = CHANNEL_PARTS[decl.channel]
        shared: dict[str, ast.TemplatePart] = {}
        seen_settings: dict[type, ast.Node] = {}
        for setting in decl.settings:
            if isinstance(setting, ast.TemplatePart):
                self._part_key(setting, allowed, shared, decl.channel)
                continue
            previous = seen_settings.get(type(setting))
            if previous is not None:
                self._duplicate(setting, previous, "this setting")
                continue
            seen_settings[type(setting)] = setting
            self._setting(setting, decl.channel)
        variants: list[tuple[ast.Node, dict[str, ast.TemplatePart]]] = []
        langs: dict[str, ast.TemplateLang] = {}
        for lang in decl.langs:
            if lang.lang.name not in LANGUAGES:
                self.sink.report(codes.UNKNOWN_LANGUAGE, f"unknown language `{lang.lang.name}`", lang.lang.span)
            if lang.lang.name in langs:
                self._duplicate(lang.lang, langs[lang.lang.name].lang, f"language `{lang.lang.name}`")
                continue
            langs[lang.lang.name] = lang
            own: dict[str, ast.TemplatePart] = {}
            for part in lang.parts:
                self._part_key(part, allowed, own, decl.channel)
            variants.append((lang, {**shared, **own}))
        if not langs:
            variants.append((decl.name, shared))
        fallback = seen_settings.get(ast.TemplateFallback)
        if langs and fallback is None:
            self.sink.report(
                codes.MISSING_FALLBACK,
                f"template `{decl.name.name}` has languages but no fallback",
                decl.name.span,
            )
        elif isinstance(fallback, ast.TemplateFallback) and langs and fallback.lang.name not in langs:
            self.sink.report(
                codes.MISSING_FALLBACK,
                f"the fallback `{fallback.lang.name}` has no `lang {fallback.lang.name}` block",
                fallback.lang.span,
            )
        for where, parts in variants:
            missing = sorted(set(required) - parts.keys())
            if missing:
                label = (
                    f"`lang {where.lang.name}`"
                    if isinstance(where, ast.TemplateLang)
                    else f"template `{decl.name.name}`"
                )
                self.sink.report(
                    codes.MISSING_TEMPLATE_PART,
                    f"{label} has no {' or '.join(missing)}",
                    where.span if isinstance(where, ast.TemplateLang) else decl.name.span,
                )
        checked: set[int] = set()
        for _, parts in variants:
            for part in parts.values():
                if id(part) not in checked:
                    checked.add(id(part))
                    self._compile_part(part, source, info, decl)
        return info

    def _part_key(
        self, part: ast.TemplatePart, allowed: frozenset[str], into: dict[str, ast.TemplatePart], channel: str
    ) -> None:
        if part.key not in allowed:
            self.sink.report(codes.PART_NOT_FOR_CHANNEL, f"{channel} templates have no `{part.key}`", part.span)
            return
        if part.key in into:
            self._duplicate(part, into[part.key], f"`{part.key}`")
            return
        into[part.key] = part
        if part.key in LINK_PARTS and not link_ok(part.value.value):
            self.sink.report(
                codes.BAD_URL,
                f"the {part.key} of a {channel} message is not an https:// link with its site written here",
                part.value.span,
                f'write the link with its site, and fill in only what follows it: {part.key} "https://shop.example/sale"'
                ' or "https://shop.example/p/{{ contact.id }}"',
            )

    def _duplicate(self, node: ast.Node, previous: ast.Node, what: str) -> None:
        self.sink.report(
            codes.DUPLICATE_SETTING,
            f"{what} is given twice",
            node.span,
            related=(Related(previous.span, "first given here"),),
        )

    def _setting(self, setting: ast.TemplateSetting, channel: str) -> None:
        if isinstance(setting, ast.TemplateFrom) and setting.name is not None:
            if _CONTROL.search(setting.name.value):
                self.sink.report(
                    codes.BAD_ADDRESS,
                    "a sender's name is one line of text: a line break or control character in it would fail "
                    "every message at sending",
                    setting.name.span,
                )
            elif TEMPLATE_MARK.search(setting.name.value):
                self.sink.report(
                    codes.BAD_ADDRESS,
                    "a sender's name is not a template: it would be sent as it is written",
                    setting.name.span,
                    "write the name itself; a template may vary the subject and the body, not the sender",
                )
        if isinstance(setting, ast.TemplateFrom):
            if channel == "email":
                if setting.address is None:
                    self.sink.report(
                        codes.BAD_ADDRESS,
                        "an email sender needs an address",
                        setting.span,
                        'from "Shop" <shop@example.com>',
                    )
                else:
                    self._address(setting.address)
            elif setting.address is not None:
                self.sink.report(
                    codes.BAD_ADDRESS, f"{channel} senders have a name, not an address", setting.address.span
                )
            elif setting.name is None or not setting.name.value.strip():
                self.sink.report(codes.BAD_ADDRESS, f"a {channel} sender needs a name", setting.span, 'from "Shop"')
            elif channel == "sms" and not _SMS_SENDER.fullmatch(setting.name.value):
                self.sink.report(
                    codes.BAD_ADDRESS,
                    "an SMS sender name is 1 to 11 Latin letters, digits or spaces",
                    setting.span,
                )
        elif isinstance(setting, ast.TemplateReplyTo):
            if channel != "email":
                self.sink.report(codes.PART_NOT_FOR_CHANNEL, f"{channel} templates have no reply-to", setting.span)
            else:
                self._address(setting.address)

    def _address(self, address: ast.StringLit) -> None:
        """A sender or reply-to address: one the sender takes (stdlib.addresses, the rules it
        builds the message by: any other fails every message of the template at sending),
        with a dot in its domain (mail from a bare host name does not reach inboxes)."""
        why = address_error(address.value)
        if why is None and "." in address.value.rpartition("@")[2]:
            return
        reason = f": {why}" if why is not None else ": its domain has no dot"
        self.sink.report(codes.BAD_ADDRESS, f"`{address.value}` is not an email address{reason}", address.span)

    # ------------------------------------------------------------ Jinja

    def _compile_part(self, part: ast.TemplatePart, source: str, info: TemplateInfo, decl: ast.TemplateDecl) -> None:
        if part.key in FILE_PARTS:
            text = self.workspace.read_resource(source, part.value.value)
            shown = self.workspace.resource_path(source, part.value.value)
            if text is None:
                self.sink.report(
                    codes.TEMPLATE_FILE_MISSING,
                    f"template file `{shown}` does not exist or is not UTF-8 text",
                    part.value.span,
                )
                return
            locate: _FileLocator | _InlineLocator = _FileLocator(shown, text)
        else:
            text = part.value.value
            locate = _InlineLocator(part.value.span, self._scn_text(source))
        found = outline(text, part.key == "html")
        if found.root is None:
            unknown = _UNKNOWN_FILTER.fullmatch(found.error)
            if unknown is not None:
                kind, name = unknown.groups()
                names = TEMPLATE_FILTERS if kind == "filter" else TEMPLATE_TESTS
                guess = closest_name(name, names)
                where = locate.line(found.error_line, name)
                self.sink.report(
                    codes.TEMPLATE_NOT_ALLOWED,
                    f"templates have no {kind} `{name}`" + (f": did you mean `{guess}`?" if guess else ""),
                    where,
                    f"the {kind}s templates may use: " + ", ".join(sorted(names)),
                    fix=suggested(where, guess),
                )
                return
            where = locate.line(found.error_line, None)
            self.sink.report(codes.TEMPLATE_SYNTAX, f"template error: {found.error}", where)
            return
        seen: set[tuple[int, str | None, str]] = set()

        def report(finding: Finding) -> None:
            seen.add((finding.line, finding.word, finding.message))
            hints = (finding.hint,) if finding.hint else ()
            where = locate.line(finding.line, finding.word)
            self.sink.report(finding.code, finding.message, where, *hints, fix=suggested(where, finding.guess))

        typer = Typer(self.symbols, ALL_TEMPLATE_VARIABLES, report)
        typer.template(found.root)
        for name, (line, word) in typer.used.items():
            info.uses.setdefault(name, locate.line(line, word))
        self.parts.setdefault(decl.name.name, []).append(_Part(found.root, locate, frozenset(seen)))
        if part.key in CHANNEL_PARTS[decl.channel][1]:
            self._prints_something(found.root, part, decl)
        if decl.channel == "email" and part.key == "html" and "unsubscribe_url" not in found.names:
            self.sink.report(
                codes.MISSING_UNSUBSCRIBE,
                f"email template `{decl.name.name}` has no unsubscribe link",
                part.value.span,
            )
        if decl.channel == "email" and part.key == "html":
            for dead in dead_links(text):
                self.sink.report(
                    codes.BAD_URL,
                    f'`{dead.attribute}="{{{{ {dead.path} }}}}"` goes nowhere when `{dead.path}` is unset'
                    f' ({dead.record}s without one): it would be sent as {dead.attribute}=""',
                    locate.line(dead.line, dead.path),
                    f"show it only when it is there: {{% if {dead.path} %}}…{{% endif %}},"
                    f' or give it a default: {{{{ {dead.path}|default("https://…") }}}}',
                )

    def _prints_something(self, root: Node, part: ast.TemplatePart, decl: ast.TemplateDecl) -> None:
        """A required part must print something: the runtime fails a message whose part is blank."""
        printing = BlankCheck(ALL_TEMPLATE_VARIABLES, self.symbols.fields_of).printing(root)
        what = f"the {part.key} of template `{decl.name.name}`"
        if printing is Printing.NOTHING:
            self.sink.report(
                codes.MISSING_TEMPLATE_PART,
                f"{what} prints nothing: every message of it would fail",
                part.value.span,
                f"write what the {part.key} says",
            )
        elif printing is Printing.SOMETIMES:
            self.sink.report(
                codes.MAY_PRINT_NOTHING,
                f"{what} may print nothing: it prints only values that may be unset, or text inside "
                "`{% if %}` or `{% for %}`",
                part.value.span,
            )

    def _scn_text(self, source: str) -> str:
        for f in self.workspace.files:
            if f.path == source:
                return f.text
        return ""

    # ------------------------------------------------------------ sends

    def check_send(self, send: ast.Send, context: dict[str, Type], why_missing: dict[str, str]) -> None:
        """Report what the template reads that this send does not give, and what does not
        fit the types this send gives (its `event`, a coupon without an order to price)."""
        info = self.infos.get(send.template.name)
        if info is None:
            return
        for name, used_at in info.uses.items():
            if name in context or name not in ALL_TEMPLATE_VARIABLES:
                continue
            why = why_missing.get(name, "this send has none")
            self.sink.report(
                codes.TEMPLATE_UNKNOWN_VARIABLE,
                f"template `{send.template.name}` uses `{name}`, but {why}",
                send.span,
                related=(Related(used_at, f"`{name}` is used here"),),
            )
        no_prices = why_missing.get("order") if "coupon" in context and "order" not in context else None
        if "event" not in info.uses and not (no_prices and "coupon" in info.uses):
            return
        variables = {**ALL_TEMPLATE_VARIABLES, **context}
        for part in self.parts.get(send.template.name, []):

            def report(finding: Finding, part: _Part = part) -> None:
                if (finding.line, finding.word, finding.message) in part.seen:
                    return  # said at the template already
                self.sink.report(
                    finding.code,
                    f"template `{send.template.name}`: {finding.message}",
                    send.span,
                    *((finding.hint,) if finding.hint else ()),
                    related=(Related(part.locate.line(finding.line, finding.word), "here in the template"),),
                )

            Typer(self.symbols, variables, report, coupon_prices=no_prices).template(part.root)


class _Part(msgspec.Struct, frozen=True):
    """A template part's outline, where its lines are, and what was found in it alone."""

    root: Node
    locate: _FileLocator | _InlineLocator
    seen: frozenset[tuple[int, str | None, str]]


class _FileLocator:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.split("\n")

    def line(self, lineno: int, word: str | None) -> Span:
        index = min(max(lineno, 1), len(self.lines)) - 1
        found = self.lines[index].find(word) if word else -1
        column = found + 1 if found >= 0 else 1
        width = len(word) if word and found >= 0 else 1
        start = sum(len(x) + 1 for x in self.lines[:index]) + column - 1
        return Span(self.path, index + 1, column, index + 1, column + width, start, start + width)


class _InlineLocator:
    def __init__(self, span: Span, scn_text: str) -> None:
        self.span = span
        self.raw = scn_text[span.start : span.end] if scn_text else ""
        self.scn_text = scn_text

    def line(self, lineno: int, word: str | None) -> Span:
        offset = self.raw.find(word) if word else -1
        if offset < 0 or not self.scn_text:
            return self.span
        start = self.span.start + offset
        return span_of_offsets(self.span.file, self.scn_text, start, start + len(word or ""))
