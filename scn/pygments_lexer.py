"""A Pygments lexer for .scn files, for documentation (Sphinx, MkDocs), `pygmentize` and
anything else that highlights with Pygments.

It is registered under the `pygments.lexers` entry point (pyproject.toml), so with scn
installed ```` ```scn ```` blocks and `*.scn` files are highlighted without configuration.
Its rules follow the VS Code extension's TextMate grammar
(editors/vscode/syntaxes/scn.tmLanguage.json): the same words are keywords, and
durations, money, percentages, dates, times, addresses and step labels are tokens of
their own. Pygments is not a dependency of scn: this module is imported only by Pygments.
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from . import DOCS_URL

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: Not a field (`.end`), not a function call (`end(`), not a path's start (`contact.`).
_KEYWORD = {"prefix": r"(?<![.\w])", "suffix": r"(?![\w])(?!\s*[.(])"}

DECLARATIONS = (
    "scenario",
    "broadcast",
    "template",
    "program",
    "group",
    "list",
    "segment",
    "coupon",
    "attribute",
    "currency",
)
STEP_KEYWORDS = (
    "on", "where", "entry", "every", "time", "once", "per", "at", "local", "most", "frequency", "exit", "when", "quiet",
    "hours", "attribution", "wait", "until", "for", "up", "to", "timeout", "if", "elif", "else", "bands", "from",
    "below", "above", "split", "variant", "control", "stop", "unless", "send", "with", "products", "add", "remove",
    "issue", "valid", "award", "bonus", "set", "call", "webhook", "end", "ignore", "orders", "older", "than", "all",
    "any", "items", "item", "are", "date", "once", "plus", "minus", "next", "weekday", "of", "month", "only",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "wed", "thu", "fri", "sat", "sun",
)  # fmt: skip
SETTING_KEYWORDS = (
    "discount", "code", "pool", "warn", "generated", "offer", "reply", "fallback", "lang", "subject", "preheader",
    "html", "plain", "text", "title", "url", "image", "tier", "default", "contact", "order", "transactional",
    "second", "minute", "hour",
)  # fmt: skip
CHANNELS = ("email", "sms", "viber", "push", "webpush")
TYPES = ("string", "number", "money", "percent", "duration", "datetime", "date", "time", "bool")
WORD_OPERATORS = ("and", "or", "not", "in", "is")
RECORDS = ("contact", "order", "item", "event", "run", "trigger")


class ScnLexer(RegexLexer):  # type: ignore[misc]  # Pygments has no type information
    """The scn scenario language."""

    name = "scn"
    aliases: ClassVar[list[str]] = ["scn"]
    filenames: ClassVar[list[str]] = ["*.scn"]
    mimetypes: ClassVar[list[str]] = ["text/x-scn"]
    url = DOCS_URL

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            # A declaration starts its line: `list vip`, `event lesson.done(...)`.
            (
                rf"^([ \t]*)(event)([ \t]+)({_NAME}(?:\.{_NAME})*)",
                bygroups(Whitespace, Keyword.Declaration, Whitespace, Name.Class),
            ),
            (
                rf"^([ \t]*)({'|'.join(DECLARATIONS)})([ \t]+)({_NAME})",
                bygroups(Whitespace, Keyword.Declaration, Whitespace, Name.Class),
            ),
            (r"^([ \t]*)(policy)(?![\w])", bygroups(Whitespace, Keyword.Declaration)),
            (r"[ \t]+|\n", Whitespace),
            # A reference to a declaration: `add to list vip`, `with coupon WELCOME`.
            (
                rf"(to|from|for|with|issue|set)([ \t]+)(list|coupon|group|program|attribute)([ \t]+)({_NAME})",
                bygroups(Keyword, Whitespace, Keyword.Reserved, Whitespace, Name.Variable),
            ),
            (r"#.*$", Comment.Single),
            (r'"', String.Double, "string"),
            (r"<[^<>\s@\"]+@[^<>\s@\"]+>", String.Other),
            (rf"@{_NAME}", Name.Label),
            (r"\d{4}-\d{2}-\d{2}(?![0-9])", Literal.Date),
            (r"\d{1,2}:\d{2}(?![0-9])", Literal.Date),
            (r"\d{1,2}(?:st|nd|rd|th)(?![\w])", Literal.Date),
            (r"\d+(?:\.\d+)? ?[A-Z]{3}(?![A-Za-z0-9_])", Number.Money),
            (r"(?:\d+(?:ms|s|m|h|d|w))+(?![A-Za-z0-9_])", Number.Duration),
            (r"\d+(?:\.\d+)?%", Number.Percent),
            (r"\d+\.\d+", Number.Float),
            (r"\d+", Number.Integer),
            (rf"(:)([ \t]*)({'|'.join(TYPES)})(?![\w])", bygroups(Punctuation, Whitespace, Keyword.Type)),
            (words(("true", "false"), **_KEYWORD), Keyword.Constant),
            (words(WORD_OPERATORS, **_KEYWORD), Operator.Word),
            (words(CHANNELS, **_KEYWORD), Keyword.Type),
            (words(STEP_KEYWORDS, **_KEYWORD), Keyword),
            (words(SETTING_KEYWORDS, **_KEYWORD), Keyword.Reserved),
            (rf"{_NAME}(?=\s*\()", Name.Function),
            (rf"(?:{'|'.join(RECORDS)})(?=\.)", Name.Builtin),
            (rf"(\.)({_NAME})", bygroups(Punctuation, Name.Attribute)),
            (_NAME, Name),
            (r"==|!=|<=|>=|<|>|\+|-|\*|/|=", Operator),
            (r"[,:.()\[\]]", Punctuation),
        ],
        "string": [
            (r'\\(?:["\\nt]|u[0-9a-fA-F]{4})', String.Escape),
            (r"\{\{.*?\}\}", String.Interpol),
            (r'"', String.Double, "#pop"),
            (r"\n", Whitespace, "#pop"),  # an unclosed string ends with its line (SCN003)
            (r'[^"\\{\n]+', String.Double),
            (r"[\\{]", String.Double),
        ],
    }
