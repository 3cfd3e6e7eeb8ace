"""Source text as the console shows it: scn highlighted (keywords from the grammar itself),
numbered lines, and each diagnostic under the line it is about, with carets under its span.

Everything from the file is escaped (Markup); a template or a pool is shown as plain text.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from markupsafe import Markup

_TOKEN = re.compile(
    r"""(?P<com>\#[^\n]*)
    |(?P<str>"(?:[^"\\\n]|\\.)*"?)
    |(?P<label>(?<![\w.])@[A-Za-z_]\w*)
    |(?P<num>\d[\d_]*(?:\.\d+)?(?:%|[a-z]+(?:\d+[a-z]+)*)?)
    |(?P<word>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
    |(?P<other>[^#"@\w]+|.)""",
    re.VERBOSE,
)
_CSS = {"com": "tok-com", "str": "tok-str", "label": "tok-label", "num": "tok-num"}


@cache
def keywords() -> frozenset[str]:
    """The words the grammar spells out (`scenario`, `wait`, `send`...), read from scn.lark."""
    grammar = resources.files("scn.grammar").joinpath("scn.lark").read_text(encoding="utf-8")
    code = "\n".join(line.split("//", 1)[0] for line in grammar.splitlines())
    return frozenset(re.findall(r'"([a-z]{2,})"', code))


def highlight_line(line: str) -> Markup:
    """One line of scn with its tokens in spans."""
    out: list[Markup] = []
    words = keywords()
    for match in _TOKEN.finditer(line):
        kind, text = match.lastgroup or "other", match.group()
        css = _CSS.get(kind) or ("tok-kw" if kind == "word" and text in words else None)
        out.append(Markup('<span class="{}">{}</span>').format(css, text) if css else Markup("{}").format(text))
    return Markup("").join(out)


def source_view(text: str, diagnostics: list[dict[str, Any]] | None = None, scn: bool = True) -> Markup:
    """A numbered listing of ``text``; ``diagnostics`` (records as `scn check --format json`
    makes them) are shown under their lines."""
    by_line: dict[int, list[dict[str, Any]]] = {}
    for d in diagnostics or []:
        by_line.setdefault(int(d["location"]["row"]), []).append(d)
    lines = text.split("\n")
    out: list[Markup] = [Markup('<pre class="source">')]
    for number, line in enumerate(lines, start=1):
        found = by_line.pop(number, [])
        severity = "error" if any(d["severity"] == "error" for d in found) else "warning" if found else ""
        body = highlight_line(line) if scn else Markup("{}").format(line)
        out.append(Markup('<span class="row{}" id="L{}"><span class="ln">{}</span>{}</span>').format(
            f" has-{severity}" if severity else "", number, number, body))  # fmt: skip
        for d in found:
            out.append(_diagnostic(d, line))
    for rest in by_line.values():  # past the end of the text (a missing `end`)
        out += [_diagnostic(d, "") for d in rest]
    out.append(Markup("</pre>"))
    return Markup("").join(out)


def _diagnostic(d: dict[str, Any], line: str) -> Markup:
    column = max(int(d["location"]["column"]), 1)
    end = d.get("end_location") or d["location"]
    stop = int(end["column"]) if int(end["row"]) == int(d["location"]["row"]) else len(line) + 1
    carets = " " * (column - 1) + "^" * max(stop - column, 1)
    helps = "".join(f"\n= help: {h}" for h in d.get("help") or [] if h)
    return Markup('<span class="diag {}" role="note"><span class="caret">{}</span> {} {}{}</span>').format(
        d["severity"], carets, d["code"], d["message"], helps)  # fmt: skip
